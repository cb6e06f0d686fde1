"""Drawing options: --dpi, --theme print / colorblind, and --frozen STAGE (issue 14, item 6)."""
from __future__ import annotations

import re
import struct

import pytest

import agqc
from agqc.backends.drawing import DrawOptions, build_scene, have_dot, style
from agqc.backends.drawing.frozen import frozen_ids
from agqc.cli import main
from conftest import ROOT

needs_dot = pytest.mark.skipif(not have_dot(), reason="Graphviz's dot is not installed: `make setup` installs it")
TF = ROOT / "specs" / "cnn_tf_best.agq"
MIXED = """
block Mix(x: [B, 8]) -> [B, 4] {
    h = x -> linear(8) -> relu()
    return h -> linear(4) @int8
}
model M {
    classifier net = Mix()
}
"""


def _png_width(path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


@needs_dot
def test_dpi_scales_the_png(tmp_path, capsys):
    small, big = tmp_path / "s.png", tmp_path / "b.png"
    assert main(["draw", "specs/vae.agq", "-o", str(small), "--dpi", "50"]) == 0
    assert main(["draw", "specs/vae.agq", "-o", str(big), "--dpi", "100"]) == 0
    assert abs(_png_width(big) / _png_width(small) - 2) < 0.05
    spec = agqc.load(ROOT / "specs/vae.agq")
    assert _png_width(spec.draw(tmp_path / "a.png", dpi=50)) == _png_width(small)


@pytest.mark.parametrize("dpi", ["0", "x", "5000"])
def test_a_bad_dpi_is_a_usage_error(tmp_path, dpi, capsys):
    with pytest.raises(SystemExit) as e:
        main(["draw", "specs/vae.agq", "-o", str(tmp_path / "x.png"), "--dpi", dpi])
    assert e.value.code != 0 and "dots per inch" in capsys.readouterr().err


def _fills(dot: str) -> set[str]:
    return set(re.findall(r'fillcolor="(#[0-9a-f]{6})"', dot))


def test_print_theme_is_grey_and_writes_each_precision(tmp_path):
    path = tmp_path / "mix.agq"
    path.write_text(MIXED)
    dot = agqc.load(path).to_dot(depth=1, theme="print")
    for colour in _fills(dot) | set(re.findall(r'\bcolor="(#[0-9a-f]{6})"', dot)):
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert r == g == b or colour in (style.INK, style.MUTED, "#7f8c8d", "#95a5a6"), colour  # greys, usual ink
    assert ">int8</font>" in dot and "written in each box" in dot  # precision told by text, not colour alone
    assert ">int8</font>" not in agqc.load(path).to_dot(depth=1)


def test_colorblind_theme_uses_okabe_ito_tints():
    dot = agqc.load(ROOT / "specs/cgan.agq").to_dot(theme="colorblind")
    assert style.THEMES["colorblind"].link in dot and style.LINK_COLOUR not in dot
    assert len({t.fill["fp16"] for t in style.THEMES.values()}) == 3
    for theme in style.THEMES.values():  # every precision its own fill in every theme
        assert len(set(theme.fill.values())) == len(theme.fill)


def test_an_unknown_theme_is_a_key_error():
    with pytest.raises(KeyError, match="themes are default, print, colorblind"):
        agqc.load(ROOT / "specs/vae.agq").to_dot(theme="neon")


def test_frozen_stage_marks_what_it_freezes():
    program = agqc.load(TF).program
    scene = build_scene(program, DrawOptions(depth=1))
    assert frozen_ids(program, scene, DrawOptions(depth=1, frozen="head")) == {"enc", "dec"}
    assert frozen_ids(program, scene, DrawOptions(depth=1, frozen="pretrain")) == {"head"}
    assert frozen_ids(program, scene, DrawOptions(depth=1)) == frozenset()
    dot = agqc.load(TF).to_dot(depth=1, frozen="finetune")
    assert dot.count(style.FROZEN_MARK) == 2  # dec's title and the legend
    assert "frozen in stage finetune" in dot and style.FROZEN_MARK not in agqc.load(TF).to_dot(depth=1)
    collapsed = agqc.load(TF).to_dot(depth=0, frozen="head")
    assert collapsed.count(f"{style.FROZEN_MARK} frozen") == 2  # enc and dec as single boxes


def test_frozen_blocks_and_layers_are_marked_wherever_drawn():
    program = agqc.load(TF).program
    scene = build_scene(program, DrawOptions(depth=2))
    ids = {i.id for i in scene.items()}
    blocks = [i for i in ids if i.startswith("head/blocks")]
    assert blocks
    train = program.train
    stage = train.stages[0]
    object.__setattr__(stage, "frozen", ("block:TransformerEncoderBlock", "layer:embed"))
    try:
        marked = frozen_ids(program, scene, DrawOptions(depth=2, frozen=stage.name))
    finally:
        object.__setattr__(stage, "frozen", ("network:head",))
    assert "head/embed" in marked and all(not m.startswith("enc") for m in marked)
    assert any(m.startswith("head/blocks") for m in marked)


def test_an_unknown_stage_exits_1_with_did_you_mean(tmp_path, capsys):
    assert main(["draw", str(TF), "-o", str(tmp_path / "x.dot"), "--frozen", "hed"]) == 1
    err = capsys.readouterr().err
    assert "no stage `hed`" in err and "did you mean `head`" in err and not (tmp_path / "x.dot").exists()
    assert main(["draw", "specs/gpt2.agq", "-o", str(tmp_path / "x.dot"), "--frozen", "a"]) == 1
    assert "no `train` section" in capsys.readouterr().err
