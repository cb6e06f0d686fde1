"""``--set NAME=VALUE``: a train setting, a const or the model's precision changed without editing the spec."""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc.cli import main
from agqc.diagnostics import AgqcError, render
from agqc.overrides import parse_override


def _errors(path, *sets) -> list[str]:
    with pytest.raises(AgqcError) as caught:
        agqc.load(path, list(sets))
    return [render(d) for d in caught.value.errors]


def test_a_setting_replaces_the_sections_and_every_stages():
    plan = agqc.load("specs/cnn_tf_best.agq").program.train
    assert [s.epochs for s in plan.stages] == [3, 3, 3]
    changed = agqc.load("specs/cnn_tf_best.agq", ["epochs=1"]).program.train
    assert [s.epochs for s in changed.stages] == [1, 1, 1]
    lr = agqc.load("specs/cnn_tf_best.agq", {"optimizer": "adam(lr=0.05)"}).program.train
    assert {dict(c.params)["lr"] for s in lr.stages for _, c in s.optimizers} == {0.05}  # finetune's 2e-4 too


def test_a_const_and_the_precision_change_the_built_model():
    wide = agqc.load("specs/bit1_classifier.agq", ["WIDTH=64"])
    assert wide.parameter_counts()["net"] < agqc.load("specs/bit1_classifier.agq").parameter_counts()["net"]
    model = agqc.load("specs/dnn_classifier.agq", ["precision=fp64"]).build()
    dtypes = {p.dtype for p in model.parameters()}
    assert torch.float64 in dtypes
    assert torch.bfloat16 in dtypes  # a layer's own @bf16 still wins over the model's precision


@pytest.mark.parametrize("sets, expected", [
    (["epoch=2"], ["--set epoch:1:1: error[unknown-setting]", "did you mean `epochs`?"]),
    (["precision=fp63"], ["--set precision:1:11: error[unknown-setting]: `--set precision=fp63`: no precision",
                          "did you mean `fp64`?"]),
    (["optimizer=adom(lr=1)"], ["--set optimizer:1:13: error[unknown-setting]: unknown optimizer `adom`",
                                "optimizer = adom(lr=1)", "did you mean `adam`?"]),
    (["epochs=2 +"], ["--set epochs:1:13: error[syntax]", "    1 | epochs = 2 +"]),
    (["WIDTH=1.5"], ["error[arg-type]: linear: `out` expects an integer, found `1.5`"]),
])
def test_a_bad_override_is_a_located_diagnostic(sets, expected):
    shown = "\n".join(_errors("specs/bit1_classifier.agq", *sets))
    for piece in expected:
        assert piece in shown


def test_a_setting_needs_a_train_section():
    assert "has no train section" in "\n".join(_errors("specs/gpt2.agq", "epochs=2"))


@pytest.mark.parametrize("text", ["epochs", "=3", "epochs=", "two words here=1", "9x=1", "epochs=1\nseed=2"])
def test_malformed_overrides_are_refused(text, capsys):
    with pytest.raises(ValueError):
        parse_override(text)
    with pytest.raises(SystemExit) as stop:
        main(["train", "specs/bit1_classifier.agq", f"--set={text}"])
    assert stop.value.code == 1 and "expected NAME=VALUE" in capsys.readouterr().err


def test_a_targeted_setting():
    plan = agqc.load("specs/model_compare.agq", ['optimizer tf=adamw(lr=1e-4)']).program.train
    chosen = {net: dict(c.params)["lr"] for net, c in plan.stages[0].optimizers}
    assert chosen["tf"] == 1e-4 and chosen["cnn"] == 1e-3


def test_check_summary_and_draw_take_set_too(tmp_path, capsys):
    assert main(["summary", "specs/seed_spread_bit1.agq", "--set", "precision=binary"]) == 0
    table = capsys.readouterr().out
    assert "binary     334,336" in table  # the first and last layers' weights are binary too now
    assert main(["check", "specs/bit1_classifier.agq", "--set", "WIDTH=5.5"]) == 1
    assert "expects an integer, found `5.5`" in capsys.readouterr().err
    assert main(["draw", "specs/bit1_classifier.agq", "--set", "WIDTH=64", "-o", str(tmp_path / "d.dot")]) == 0
    assert "linear 64" in (tmp_path / "d.dot").read_text()
