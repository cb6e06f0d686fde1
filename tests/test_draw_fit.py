"""Drawings fit a slide: the automatic layout measured with Graphviz, and choosing what opens.

A drawing shown fitted to a 1920x1080 slide must have box text of at least 12 px (``fit.py``),
or ``agqc draw`` says it does not.  ``--expand`` opens one block or copy, ``--range`` draws a part.
"""
from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import agqc
from agqc.backends.drawing import DrawOptions, NotReadable, build_scene, have_dot
from agqc.backends.drawing.fit import MIN_TEXT_PX, measure
from conftest import ROOT, SPECS

needs_dot = pytest.mark.skipif(not have_dot(), reason="Graphviz's dot is not installed: `make setup` installs it")


def drawn(path, **options):
    """The DOT text and whether a NotReadable warning was given."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        dot = agqc.load(path).to_dot(**options)
    return dot, any(issubclass(w.category, NotReadable) for w in said)


@needs_dot
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_default_drawing_fits_a_slide_or_says_so(path):
    dot, warned = drawn(path)
    fit = measure(dot)
    assert fit.text_px >= MIN_TEXT_PX or warned, fit.describe()


@needs_dot
@pytest.mark.parametrize("name, options", [("gpt2", {"depth": 2}), ("llama3_8b", {}), ("llama3_8b", {"depth": 2}),
                                           ("gpt2", {"expand": "h.0"})])
def test_large_models_fit_or_say_so(name, options):
    dot, warned = drawn(ROOT / "specs" / f"{name}.agq", **options)
    fit = measure(dot)
    assert fit.text_px >= MIN_TEXT_PX or warned, fit.describe()
    if options.get("depth") == 2:
        assert warned  # every block open: no slide holds it


@needs_dot
def test_a_tall_chain_wraps_into_columns():
    dot, warned = drawn(ROOT / "specs/cnn_classifier.agq")
    assert not warned and "rank=same" in dot and 'constraint="false"' in dot
    assert measure(dot).width_pt > 400  # side by side, no longer one 1,400 pt column


def items(name, **options):
    return {i.id: i for i in build_scene(agqc.load(ROOT / "specs" / f"{name}.agq").program,
                                         DrawOptions(**options)).items()}


def test_expand_one_copy_keeps_the_other_copies_shut():
    shown = items("gpt2", expand=("h.3",))
    assert "lm/h.3/attn" in shown and "lm/h.4/attn" not in shown
    assert shown["lm/h.0"].title == "GPT2Block \u00d73" and shown["lm/h.4"].title == "GPT2Block \u00d78"
    assert sum(i.params for i in shown.values() if i.id.startswith("lm/h.") and "/" not in i.id[3:]) > 0


def test_expand_a_block_by_name_opens_its_first_copy_and_nested_names_open_their_blocks():
    by_name = items("gpt2", expand=("GPT2Block",))
    assert "lm/h.0/attn" in by_name and by_name["lm/h.1"].title == "GPT2Block \u00d711"
    nested = items("gpt2", expand=("attn",))
    assert "lm/h.0/attn/attention" in nested and "lm/h.1/attn/attention" not in nested


def test_range_draws_the_part_between_two_nodes():
    scene = build_scene(agqc.load(ROOT / "specs/gpt2.agq").program, DrawOptions(range=("wpe", "ln_f")))
    ids = {i.id for i in scene.items()}
    assert {"lm/wpe", "lm/h", "lm/ln_f"} <= ids and "lm/wte" not in ids and "lm/lm_head" not in ids
    assert any(i.startswith("in/range/") for i in ids) and any(i.startswith("out/range/") for i in ids)


@pytest.mark.parametrize("args, said", [
    (["--expand", "GPT2Blok"], "did you mean `GPT2Block`"),
    (["--range", "ln_f:wpe"], "no path leads from `ln_f` to `wpe`"),
    (["--range", "wpe"], "--range expects FROM:TO"),
    (["--range", "wpe:nowhere"], "--range `nowhere`"),
])
def test_unknown_names_are_a_message_not_a_traceback(args, said, tmp_path):
    run = subprocess.run([sys.executable, "-m", "agqc", "draw", str(ROOT / "specs/gpt2.agq"), "-o",
                          str(tmp_path / "x.dot"), *args], capture_output=True, text=True)
    assert run.returncode == 1 and said in run.stderr and "Traceback" not in run.stderr


@needs_dot
def test_the_cli_warns_when_a_drawing_cannot_fit(tmp_path):
    run = subprocess.run([sys.executable, "-m", "agqc", "draw", str(ROOT / "specs/gpt2.agq"), "--depth", "2", "-o",
                          str(tmp_path / "x.dot")], capture_output=True, text=True)
    assert run.returncode == 0 and "agqc: warning: this drawing does not fit a 16:9 slide" in run.stderr
