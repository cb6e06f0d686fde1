"""Real plus generated data: a classifier trained on batches part drawn by a trained cGAN.

A tiny cGAN trains for a few steps; a classifier spec names it with
`augment = generated(...)`; the check resolves and validates it, and the batches the
trainer steps on hold the generator's images, for the labels they carry.
"""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc import AgqcError, cli
from agqc.train.session import make_trainer
from train_specs import tiny_cgan

CGAN = tiny_cgan()

CLASSIFIER = """
block MLP(x: [B, 1, 16, 16]) -> [B, 10] {
    h = x -> flatten() -> linear(32) -> relu() -> linear(10)
    return h
}

model M {
    classifier net = MLP()

    train {
        data = digits() -> resize(16, 16)
        optimizer = adam()
        augment = generated(spec="cgan.agq", weights=WEIGHTS)
        steps = 2
    }
}
"""


@pytest.fixture(scope="module")
def trained_cgan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    (folder / "cgan.agq").write_text(CGAN)
    agqc.load(folder / "cgan.agq").train(out=folder / "run", progress=False)
    return folder


def test_a_classifier_trains_on_real_plus_generated_images(trained_cgan):
    (trained_cgan / "m.agq").write_text(CLASSIFIER.replace("WEIGHTS", '"run/best.safetensors", fraction=0.5'))
    spec = agqc.load(trained_cgan / "m.agq")
    choice = spec.program.train.stages[0].augment[0]
    assert choice["network"] == "G" and (choice["low"], choice["high"]) == (-1.0, 1.0)
    trainer = make_trainer(spec, spec.program.train)
    real = {"images": torch.zeros(8, 1, 16, 16), "labels": torch.arange(8)}
    mixed = trainer.mix_generated(real, choice.kwargs)
    assert mixed["labels"].tolist() == list(range(8))
    assert mixed["images"][:4].abs().sum() > 0 and mixed["images"][4:].abs().sum() == 0  # half drawn, half real
    assert 0 <= mixed["images"].min() and mixed["images"].max() <= 1  # tanh's range mapped back to the data's
    assert len(trainer.run()) == 1
    assert cli.main(["emit", "--train", str(trained_cgan / "m.agq")]) == 1  # a script cannot build the other spec


@pytest.mark.parametrize("weights, code", [('"run/none.safetensors"', "data-missing"),
                                           ('"run/best.safetensors", fraction="half"', "arg-type")])
def test_what_the_check_refuses(trained_cgan, weights, code):
    (trained_cgan / "bad.agq").write_text(CLASSIFIER.replace("WEIGHTS", weights))
    with pytest.raises(AgqcError) as err:
        agqc.load(trained_cgan / "bad.agq")
    assert [d.code for d in err.value.diagnostics] == [code]


def test_a_generator_of_another_shape_is_refused(trained_cgan):
    text = CLASSIFIER.replace("WEIGHTS", '"run/best.safetensors"').replace("16, 16", "28, 28").replace(
        "digits() -> resize(28, 28)", "mnist()")
    (trained_cgan / "shape.agq").write_text(text)
    with pytest.raises(AgqcError) as err:
        agqc.load(trained_cgan / "shape.agq")
    assert "draws [B, 1, 8, 8]" in str(err.value.diagnostics[0].message)
