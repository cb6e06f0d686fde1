"""Drawings: golden DOT files, what each drawing shows, collapsing, and the CLI around it.

Golden files live in tests/golden/; after a deliberate change to the drawings,
regenerate them with `AGQC_UPDATE_GOLDEN=1 pytest tests/test_draw.py` and look
at the rendered pictures before committing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import agqc
from agqc.backends.drawing import DrawOptions, build_scene, have_dot, style
from conftest import ROOT, SPECS

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_SPECS = ["cgan", "vae", "gpt2", "particle_transformer"]
needs_dot = pytest.mark.skipif(not have_dot(), reason="Graphviz's dot is not installed: `make setup` installs it")


def scene_of(path, **options):
    return build_scene(agqc.load(path).program, DrawOptions(**options))


def items_by_id(scene):
    return {i.id: i for i in scene.items()}


@pytest.mark.parametrize("name", GOLDEN_SPECS)
def test_golden_dot(name):
    dot = agqc.load(ROOT / "specs" / f"{name}.agq").to_dot()
    golden = GOLDEN / f"{name}.dot"
    if os.environ.get("AGQC_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(dot)
    assert dot == golden.read_text(), f"drawing of {name} changed; see the module docstring to update"


@needs_dot
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
@pytest.mark.parametrize("options", [{}, {"depth": 0}, {"depth": 1, "direction": "LR"},
                                     {"shapes": False, "params": False}], ids=["auto", "d0", "d1-LR", "bare"])
def test_every_spec_renders_to_valid_svg(path, options, tmp_path):
    out = agqc.load(path).draw(tmp_path / "x.svg", **options)
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}g")) > 5


def test_cgan_draws_generator_and_discriminator_with_the_lecture_links():
    scene = scene_of(ROOT / "specs/cgan.agq")
    assert [b.id for b in scene.root.boxes] == ["G", "D"]  # D once, though the flow calls it twice
    items = items_by_id(scene)
    assert items["flow/normal"].kind == "noise" and items["in/y"].kind == "input"
    into_d = {(e.src, e.name) for e in scene.edges if e.dst == "D/flatten"}
    assert into_d == {("G/tanh", "fake"), ("in/real", "real")}
    link = next(e for e in scene.edges if e.src == "G/tanh")
    assert link.kind == "link" and str(link.type) == "[B, 1, 28, 28]"
    label_edges = {e.dst for e in scene.edges if e.src == "in/y"}
    assert label_edges == {"G/embedding", "D/embedding"}  # the label reaches both networks
    assert [i.title for i in scene.root.items if i.kind == "output"] == ["D(fake, y)", "D(real, y)"]
    assert next(e for e in scene.edges if e.src == "flow/normal").name == "z"  # named by G's input


def test_vae_draws_encoder_sampling_and_decoder():
    scene = scene_of(ROOT / "specs/vae.agq")
    assert [b.id for b in scene.root.boxes] == ["enc", "dec"]
    sample = items_by_id(scene)["flow/reparameterise"]
    assert sample.kind == "sample"
    assert {(e.src, e.name) for e in scene.edges if e.dst == sample.id} == {("enc/mu", "mu"), ("enc/logvar", "logvar")}
    assert any(e.src == sample.id and e.name == "z" and e.dst.startswith("dec/") for e in scene.edges)
    assert [i.title for i in scene.root.items if i.kind == "output"] == ["dec(z)", "mu", "logvar"]


def test_parameter_counts_match_the_summary():
    for path in SPECS:
        spec = agqc.load(path)
        summary = spec.summary()
        scene = build_scene(spec.program, DrawOptions(depth=1))
        assert scene.params == summary.total_params
        assert {b.id: b.params for b in scene.root.boxes} == summary.networks


RESIDUAL = """
import std.layers

block Mixer(x: [B, T, D]) -> [B, T, D] {
    @bf16 h = x -> layernorm() -> linear(D) -> softmax()
    x = x + h
    x = ResidualMLP(x, 4 * D)
    return x
}

block Tower(tokens: int[B, T], vocab = 1000, dim = 64, layers = 6) -> [B, T, vocab] {
    x = tokens -> embedding(vocab, dim)
    repeat layers as blocks {
        x = Mixer(x)
    }
    logits = x -> layernorm() -> linear(vocab)
    return logits
}

model Deep {
    classifier net = Tower()
}
"""


def test_depth_collapses_repeats_into_one_marked_box(write_spec):
    path = write_spec(RESIDUAL)
    collapsed = items_by_id(scene_of(path, depth=1))["net/blocks"]
    assert collapsed.kind == "repeat" and collapsed.title == "Mixer \u00d76"
    assert collapsed.shapes == "[B, T, 64] \u2192 [B, T, 64]"
    rows = {r.name: r for r in agqc.load(path).summary().rows}
    assert collapsed.params == rows["net.blocks"].params
    assert collapsed.mixed == ("fp32", "bf16")
    expanded = scene_of(path, depth=2)
    net = expanded.root.boxes[0]
    assert [b.title for b in net.boxes] == [f"Mixer [{i}/6]" for i in range(1, 7)]
    assert all(b.kind == "copy" and b.items[-1].kind == "block" for b in net.boxes)  # ResidualMLP still shut
    deepest = scene_of(path, depth=3)
    assert all(b.boxes and b.boxes[0].title == "ResidualMLP" for b in deepest.root.boxes[0].boxes)
    network_only = scene_of(path, depth=0)
    assert [i.kind for i in network_only.root.items] == ["input", "network", "output"]


def test_copies_chain_into_each_other(write_spec):
    scene = scene_of(write_spec(RESIDUAL), depth=2)
    into_second = {e.src for e in scene.edges
                   if e.dst.startswith("net/blocks.1/") and not e.src.startswith("net/blocks.1/")}
    assert into_second == {"net/blocks.0/residual_mlp"}


def test_skip_connections_and_kept_precision_are_marked(write_spec):
    scene = scene_of(write_spec(RESIDUAL), depth=3)
    skips = [e for e in scene.edges if e.kind == "skip"]
    assert ("net/embedding", "net/blocks.0/add") in {(e.src, e.dst) for e in skips}
    assert all(e.dst.endswith("add") for e in skips)  # x + ... : only the residual input is a skip
    items = items_by_id(scene)
    assert items["net/blocks.0/layernorm"].kept == "fp32" and items["net/blocks.0/linear"].kept == ""
    assert items["net/blocks.0/add"].kind == "merge"
    dot = agqc.load(write_spec(RESIDUAL)).to_dot(depth=3)
    assert "kept at higher precision" in dot and "skip / residual" in dot and style.KEPT_BORDER in dot


def test_precision_colours_and_legend():
    dot = agqc.load(ROOT / "specs/dnn_classifier.agq").to_dot()
    assert dot.count(f'fillcolor="{style.PRECISION_FILL["bf16"]}"') == 3  # linear, relu, dropout under @bf16
    assert "bf16: 16-bit brain float" in dot and "fp32: 32-bit float" in dot and "fp16:" not in dot


def test_options_drop_shapes_params_and_other_networks():
    spec = agqc.load(ROOT / "specs/cgan.agq")
    assert "[B, " not in spec.to_dot(shapes=False) and "params" not in spec.to_dot(params=False)
    alone = spec.to_dot(network="G")
    assert '"G/linear"' in alone and '"D/' not in alone and "noise" not in alone
    assert 'rankdir="LR"' in spec.to_dot(direction="LR")
    with pytest.raises(KeyError, match="no network named `encoder`; its networks are enc, dec .did you mean `enc`"):
        agqc.load(ROOT / "specs/vae.agq").to_dot(network="encoder")


@needs_dot
def test_notebooks_show_specs_and_networks_as_svg():
    spec = agqc.load(ROOT / "specs/cgan.agq")
    whole, generator = spec._repr_svg_(), spec.network("G")._repr_svg_()
    assert whole.lstrip().startswith("<?xml") and "<svg" in whole
    assert "Discriminator" in whole and "Discriminator" not in generator and "Generator" in generator


@needs_dot
@pytest.mark.parametrize("name,marker", [("llama3_8b", "LlamaBlock \u00d732"), ("gpt2", "GPT2Block \u00d712")])
def test_big_models_collapse_to_a_slide_quickly(name, marker, tmp_path):
    spec = agqc.load(ROOT / "specs" / f"{name}.agq")
    start = time.perf_counter()
    out = spec.draw(tmp_path / "big.svg", depth=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"drawing took {elapsed:.1f} s"
    assert marker in out.read_text()
    width, height = (float(ET.parse(out).getroot().get(k).removesuffix("pt")) for k in ("width", "height"))
    assert width < 1000 and height < 1000, (width, height)  # points: a slide at 100%


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "agqc", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT)


@needs_dot
@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_cli_draw_writes_each_format(tmp_path, fmt, magic):
    out = tmp_path / f"cgan.{fmt}"
    result = run_cli("draw", "specs/cgan.agq", "-o", out, "--depth", "1")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(magic) and f"wrote {out}" in result.stdout


def test_cli_draw_without_graphviz_writes_dot_and_says_how_to_install(tmp_path):
    bare = dict(os.environ, PATH=str(Path(sys.executable).parent))  # python, but no dot
    out = tmp_path / "vae.png"
    result = run_cli("draw", "specs/vae.agq", "-o", out, env=bare)
    assert result.returncode == 1 and not out.exists()
    assert (tmp_path / "vae.dot").read_text().startswith('digraph "VAE"')
    assert "dot` program was not found" in result.stderr and "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
    build = run_cli("build", "specs/vae.agq", "-o", tmp_path / "b", env=bare)
    assert build.returncode == 0 and "warning: no drawing rendered" in build.stderr
    assert (tmp_path / "b" / "vae.dot").exists() and not (tmp_path / "b" / "vae.svg").exists()


@pytest.mark.parametrize("args,message", [
    (["--network", "X"], "no network named `X`; its networks are G, D"),
    (["--depth", "-1"], "expected a depth of 0 or more"),
    (["--direction", "up"], "invalid choice"),
])
def test_cli_draw_usage_mistakes_exit_1(tmp_path, args, message):
    result = run_cli("draw", "specs/cgan.agq", "-o", tmp_path / "x.dot", *args)
    assert result.returncode == 1 and message in result.stderr and not (tmp_path / "x.dot").exists()


def test_build_uses_the_same_renderer(tmp_path):
    result = run_cli("build", "specs/cgan.agq", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cgan.dot").read_text() == agqc.load(ROOT / "specs/cgan.agq").to_dot()


GPT2_LIKE = """
block Attn(x: [B, T, D], heads) -> [B, T, D] {
    q, k, v = x -> linear(3 * D) -> split(D, D, D)
    return attention(q, k, v, heads=heads, causal=true) -> linear(D)
}

block LM(tokens: int[B, T]) -> [B, T, 50] {
    x = tokens -> embedding(50, 16) as wte
    x = x + (x -> layernorm() -> Attn(4))
    return x -> linear(50, bias=false, tie="wte") as lm_head
}

model Tiny {
    generator lm = LM()
}
"""


def test_tied_weights_are_drawn_once_and_linked(write_spec):
    scene = scene_of(write_spec(GPT2_LIKE), depth=2)
    tie = [e for e in scene.edges if e.kind == "tie"]
    assert [(e.src, e.dst) for e in tie] == [("lm/wte", "lm/lm_head")]
    assert items_by_id(scene)["lm/lm_head"].params == 0
    assert scene.params == agqc.load(write_spec(GPT2_LIKE)).summary().total_params


def test_each_output_of_a_multi_output_op_is_its_own_named_edge(write_spec):
    scene = scene_of(write_spec(GPT2_LIKE), depth=2)
    into_attention = sorted(e.name for e in scene.edges if e.dst == "lm/attn/attention")
    assert into_attention == ["k", "q", "v"]


def test_a_block_drawn_alone(write_spec):
    spec = agqc.load(write_spec(GPT2_LIKE))
    scene = build_scene(spec.program, DrawOptions(block="Attn"))
    assert scene.title == "Tiny: Attn" and [b.title for b in scene.root.boxes] == ["Attn"]
    assert [i.title for i in scene.root.items if i.kind in ("input", "output")] == ["x", "output"]
    with pytest.raises(KeyError, match="uses no block named `Mlp`; it uses Attn, LM"):
        spec.to_dot(block="Mlp")


def test_the_cli_lists_the_formats_the_renderer_knows():
    from agqc import cli
    from agqc.backends.drawing import FORMATS
    assert cli.FORMATS == FORMATS


def test_a_flow_that_feeds_a_network_its_own_output_draws(write_spec):
    """The skip search runs on bit sets for acyclic drawings; a network fed its own output (one box
    with an arrow back to itself) is a cycle, drawn as before rather than crashing."""
    import agqc
    path = write_spec("block Net(x: [B, 4]) -> [B, 4] {\n    return x -> linear(4)\n}\n\n"
                      "model M {\n    network n = Net()\n    input x: [B, 4]\n    h = n(x)\n    return n(h)\n}\n")
    dot = agqc.load(path).to_dot()
    assert '"n/linear" -> "n/linear"' in dot
