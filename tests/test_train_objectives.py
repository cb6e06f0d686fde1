"""Each objective trains: tiny models on the embedded data for a few steps, through the real trainer.

What is checked is what the plan promises: the loss is finite and the step moved the
trained weights; frozen networks and layers stay bit for bit; side-by-side classifiers
each learn; a classifier trained for a few epochs on digits beats chance by far.
"""
from __future__ import annotations

import math

import pytest
import torch

import agqc
from agqc.train.session import make_trainer

MLP = """
block MLP(x: [B, 1, 8, 8], drop = 0.0) -> [B, 10] {
    h = x -> flatten() -> linear(32) -> relu() -> dropout(drop) -> linear(10)
    return h
}
"""


def _spec(tmp_path, text: str, name: str = "m.agq"):
    path = tmp_path / name
    path.write_text(text)
    return agqc.load(path)


def _weights(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_classifier_learns_digits(tmp_path):
    spec = _spec(tmp_path, MLP + """
model M {
    classifier net = MLP()
    train {
        data = digits()
        batch = 32
        optimizer = adam(lr=3e-3)
        epochs = 3
        seed = 1
    }
}
""")
    run = spec.train(progress=False)
    accuracy = [row["val_accuracy"] for row in run.history]
    assert accuracy[-1] > 0.85, accuracy  # chance is 0.1
    assert run.history[-1]["loss"] < run.history[0]["loss"]


def test_side_by_side_classifiers_each_train(tmp_path):
    spec = _spec(tmp_path, MLP + """
model Compare {
    classifier small = MLP()
    classifier dropped = MLP(drop=0.3)
    train {
        data = digits()
        optimizer = sgd(lr=0.05, momentum=0.9)
        steps = 5
        seed = 0
    }
}
""")
    trainer = make_trainer(spec, spec.program.train)
    before = _weights(trainer.model)
    trainer.run()
    after = trainer.model.state_dict()
    for net in ("small", "dropped"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), net
    assert trainer.steps == {"small": 5, "dropped": 5}


GAN = """
block Gen(z: [B, 16], y: int[B]) -> [B, 1, 8, 8] {
    h = (z * embedding(y, 10, 16)) -> linear(64) -> tanh() -> reshape(1, 8, 8)
    return h
}

block Disc(image: [B, 1, 8, 8], y: int[B]) -> [B, 1] {
    h = concat(image -> flatten(), y -> embedding(10, 8)) -> linear(32) -> leaky_relu(0.2) -> linear(1)
    return h
}

model CGAN {
    generator G = Gen()
    discriminator D = Disc()
    train {
        data = digits() -> scale(-1, 1)
        objective = adversarial(LOSS)
        init = dcgan()
        optimizer = adam(lr=2e-4, beta1=0.5)
        optimizer D = adam(lr=4e-4, beta1=0.5)
        clip D = norm(5.0)
        steps = 4
        seed = 0
    }
}
"""


@pytest.mark.parametrize("loss", ['loss="bce", real_label=0.9, instance_noise=0.1',
                                  'loss="hinge", d_steps=2', 'loss="wasserstein", gp=10'])
def test_adversarial_losses_train_both_networks(tmp_path, loss):
    spec = _spec(tmp_path, GAN.replace("LOSS", loss))
    plan = spec.program.train
    assert plan.stages[0].objective.generator.inputs[1].field == "labels"  # conditional: labels go to G
    trainer = make_trainer(spec, plan)
    before = _weights(trainer.model)
    history = trainer.run()
    assert all(math.isfinite(v) for row in history for v in row.values() if isinstance(v, float))
    after = trainer.model.state_dict()
    for net in ("G", "D"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), net
    assert dict(plan.stages[0].optimizers)["D"]["lr"] == 4e-4  # the network's own setting wins


VAE = """
block Enc(x: [B, 1, 8, 8]) -> ([B, 4], [B, 4]) {
    h = x -> flatten() -> linear(32) -> relu()
    mu = h -> linear(4)
    logvar = h -> linear(4)
    return mu, logvar
}

block Dec(z: [B, 4]) -> [B, 1, 8, 8] {
    image = z -> linear(64) -> sigmoid() -> reshape(1, 8, 8)
    return image
}

model VAE {
    encoder enc = Enc()
    decoder dec = Dec()
    input x: [B, 1, 8, 8]
    mu, logvar = enc(x)
    return dec(reparameterise(mu, logvar)), mu, logvar
    train {
        data = digits()
        optimizer = adam(lr=1e-2)
        ema = 0.9
        epochs = 2
        seed = 0
    }
}
"""


def test_vae_is_inferred_and_its_loss_falls(tmp_path):
    spec = _spec(tmp_path, VAE)
    objective = spec.program.train.stages[0].objective
    assert objective.kind == "vae" and objective.output("mu") == 1 and objective.output("logvar") == 2
    run = spec.train(progress=False)
    assert run.history[-1]["val_loss"] < run.history[0]["val_loss"]
    assert {"reconstruction", "kl"} <= set(run.history[0])


def test_stages_freeze_what_they_say(tmp_path):
    spec = _spec(tmp_path, """
block Enc(x: [B, 1, 8, 8]) -> [B, 16] {
    z = x -> flatten() -> linear(16) -> relu()
    return z
}
block Dec(z: [B, 16]) -> [B, 1, 8, 8] {
    image = z -> linear(64) -> sigmoid() -> reshape(1, 8, 8)
    return image
}
block Head(z: [B, 16]) -> [B, 10] {
    logits = z -> linear(10) as out
    return logits
}
model Staged {
    encoder enc = Enc()
    decoder dec = Dec()
    classifier head = Head()
    input x: [B, 1, 8, 8]
    z = x -> enc()
    return z -> dec(), z -> head()
    train {
        data = digits()
        optimizer = adam(lr=1e-3)
        steps = 3
        stage pretrain {
            objective = reconstruction(loss="bce")
            freeze = head
        }
        stage probe {
            objective = classification()
            freeze = enc
        }
    }
}
""")
    plan = spec.program.train
    assert [s.trained for s in plan.stages] == [("enc", "dec"), ("head",)]
    trainer = make_trainer(spec, plan)
    start = _weights(trainer.model)
    trainer.train_epoch()  # pretrain: enc and dec move, head does not
    mid = _weights(trainer.model)
    assert all(torch.equal(start[k], mid[k]) for k in start if k.startswith("head."))
    assert any(not torch.equal(start[k], mid[k]) for k in start if k.startswith("enc."))
    trainer.end_epoch()
    trainer._next_stage()
    trainer.train_epoch()  # probe: only the head moves; the encoder's weights stay
    end = trainer.model.state_dict()
    assert all(torch.equal(mid[k], end[k]) for k in mid if k.startswith(("enc.", "dec.")))
    assert any(not torch.equal(mid[k], end[k]) for k in mid if k.startswith("head."))


def test_sequences_next_value_and_next_token(tmp_path):
    sine = _spec(tmp_path, """
block Net(window: [B, T, 1]) -> [B, 1] {
    _, last = window -> lstm(16)
    return last -> linear(1)
}
model Sine {
    regressor net = Net()
    train {
        data = sine(window=12, count=256)
        optimizer = adam(lr=1e-2)
        epochs = 2
    }
}
""", "sine.agq")
    assert sine.program.train.stages[0].objective.kind == "next_value"
    history = sine.train(progress=False).history
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    tokens = _spec(tmp_path, """
block LM(tokens: int[B, T]) -> [B, T, 16] {
    logits = tokens -> embedding(16, 32) -> linear(16)
    return logits
}
model Tiny {
    generator lm = LM()
    train {
        data = sequences(vocab=16, context=8, count=256)
        optimizer = adam(lr=1e-2)
        epochs = 2
    }
}
""", "lm.agq")
    assert tokens.program.train.stages[0].objective.kind == "next_token"
    history = tokens.train(progress=False).history
    assert history[-1]["val_loss"] < history[0]["val_loss"]


def test_dead_neuron_monitor_reports_each_relu(tmp_path):
    spec = _spec(tmp_path, MLP + """
model M {
    classifier net = MLP()
    train {
        data = digits()
        optimizer = adam()
        monitor = dead_neurons()
        steps = 2
    }
}
""")
    row = spec.train(progress=False).history[0]
    dead = {k: v for k, v in row.items() if k.startswith("dead ")}
    assert len(dead) == 1 and all(0.0 <= v <= 1.0 for v in dead.values()), row


@pytest.mark.parametrize("target, changed", [("Hidden", {"net.hidden1", "net.hidden2"}), ("out", {"net.out"}),
                                             ("net", {"net.hidden1", "net.hidden2", "net.out"})])
def test_init_reaches_exactly_the_block_layer_or_network_named(tmp_path, target, changed):
    body = """
block Hidden(x: [B, F]) -> [B, 16] {
    h = x -> linear(16) -> relu()
    return h
}
block Net(x: [B, 1, 8, 8]) -> [B, 10] {
    h = x -> flatten() -> Hidden() -> Hidden() -> linear(10) as out
    return h
}
model M {
    classifier net = Net()
    train {
        data = digits()
        optimizer = adam()
        INIT
        steps = 1
    }
}
"""
    plain = make_trainer(*_spec_and_plan(tmp_path, body.replace("INIT", ""), "plain.agq"))
    inited = make_trainer(*_spec_and_plan(tmp_path, body.replace("INIT", f"init {target} = normal(std=0.5)"),
                                          "init.agq"))
    differ = {".".join(k.split(".")[:2]) for k, v in plain.model.state_dict().items()
              if k.endswith("weight") and not torch.equal(v, inited.model.state_dict()[k])}
    assert differ == changed


def _spec_and_plan(tmp_path, text, name):
    spec = _spec(tmp_path, text, name)
    return spec, spec.program.train


def test_freezing_one_layer_trains_the_rest_of_its_network(tmp_path):
    spec = _spec(tmp_path, """
block Net(x: [B, 1, 8, 8]) -> [B, 10] {
    h = x -> flatten() -> linear(16) as body -> relu() -> linear(10) as out
    return h
}
model M {
    classifier net = Net()
    train {
        data = digits()
        optimizer = sgd(lr=0.1)
        freeze = out
        steps = 2
    }
}
""", "partial.agq")
    trainer = make_trainer(spec, spec.program.train)
    before = _weights(trainer.model)
    trainer.run()
    after = trainer.model.state_dict()
    assert torch.equal(before["net.out.weight"], after["net.out.weight"])
    assert not torch.equal(before["net.body.weight"], after["net.body.weight"])


def test_a_data_path_is_read_from_the_specs_folder_wherever_agqc_runs(tmp_path, monkeypatch):
    import numpy as np
    folder = tmp_path / "course"
    folder.mkdir()
    np.savez(folder / "mine.npz", images=np.random.rand(40, 1, 8, 8).astype("float32"),
             labels=np.arange(40) % 10)
    (folder / "m.agq").write_text(MLP + """
model M {
    classifier net = MLP()
    train {
        data = npz(path="mine.npz")
        batch = 8
        optimizer = adam()
        steps = 1
    }
}
""")
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    spec = agqc.load("course/m.agq")
    assert spec.program.train.data.dataset["path"] == str(folder / "mine.npz")
    assert len(spec.train(progress=False).history) == 1
