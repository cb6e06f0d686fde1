"""`agqc train --nproc N` (agqc/train/ddp.py): torchrun + DistributedDataParallel on CPU (gloo)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from agqc.cli import _load
from agqc.cli import main as agqc_main
from agqc.train import checkpoint, ddp, session
from train_specs import tiny_classifier

ROOT = Path(__file__).resolve().parent.parent

# No batch norm: on CPU torch has no SyncBatchNorm, so each process would normalise by its own 16 examples.
# No dropout: each process draws its own masks.
CLASSIFIER = tiny_classifier(32, "batch = BATCH")

TWO_HEADS = """
block Two(x: [B, 1, 8, 8]) -> ([B, 10], [B, 3]) {
    h = x -> flatten() -> linear(16) -> batchnorm() -> relu()
    a = h -> linear(10) as used
    b = h -> linear(3) as unused
    return a, b
}

model Heads {
    classifier net = Two()
    train {
        data = digits()
        optimizer = adam(lr=1e-3)
        epochs = 1
        batch = 4
    }
}
"""


def spec_file(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.agq"
    path.write_text(text, encoding="utf-8")
    return path


# ---- the launcher ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, kept", [
    (["train", "s.agq", "--nproc", "2", "-o", "run"], ["train", "s.agq", "-o", "run"]),
    (["train", "--nproc=4", "s.agq"], ["train", "s.agq"]),
    (["train", "s.agq", "--epochs", "1", "--nproc", "3"], ["train", "s.agq", "--epochs", "1"]),
    (["train", "s.agq", "--npro", "2"], ["train", "s.agq"]),  # argparse takes abbreviations too
    (["train", "s.agq", "--", "--nproc"], ["train", "s.agq", "--", "--nproc"]),  # after `--`: not an option
    (["train", "s.agq", "-o", "nproc"], ["train", "s.agq", "-o", "nproc"]),
])
def test_launch_reruns_the_command_under_torchrun_without_nproc(monkeypatch, argv, kept):
    called = []

    class Launcher:
        def __init__(self, command):
            called.append(command)

        def wait(self):
            return 7

    monkeypatch.setattr(ddp.subprocess, "Popen", Launcher)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert ddp.launch(argv, 2) == 7
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert called == [[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                       "-m", "agqc", *kept]]


def test_python_dash_m_agqc_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "agqc", "train", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0 and "--nproc" in result.stdout


# ---- pieces that need no process group ------------------------------------------------------------------------------

def test_the_probe_finds_parameters_the_loss_never_reaches_and_leaves_the_draws_alone(tmp_path):
    trainer = session.make_trainer(_load(str(spec_file(tmp_path, "heads", TWO_HEADS))),
                                   _load(str(tmp_path / "heads.agq")).program.train)
    trainer.model.train()
    rng, gen = torch.get_rng_state(), trainer.gen.get_state()
    norm = trainer.model.net.batchnorm
    stats = norm.running_mean.clone()
    reached = ddp._reached(trainer)
    net = trainer.model.net
    assert {id(p) for p in net.unused.parameters()}.isdisjoint(reached)
    assert {id(p) for name, p in net.named_parameters() if not name.startswith("unused.")} <= reached
    assert torch.equal(torch.get_rng_state(), rng) and torch.equal(trainer.gen.get_state(), gen)
    assert torch.equal(norm.running_mean, stats) and all(m.training for m in trainer.model.modules())


def test_batch_norms_become_synchronised_in_place_on_gpus_and_stay_on_cpu(capsys):
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Sequential(nn.BatchNorm2d(3)))
    norms = [model[1], model[2][0]]
    keys = list(model.state_dict())
    ddp._sync_batchnorms(model, "cpu", 0)
    ddp._sync_batchnorms(model, "cpu", 0)
    assert capsys.readouterr().err.count("SyncBatchNorm runs on GPUs only") == 1
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    ddp._sync_batchnorms(model, "cuda:0", 0)  # the class changes; nothing runs on the GPU
    assert [model[1], model[2][0]] == norms and all(type(m) is nn.SyncBatchNorm for m in norms)
    assert list(model.state_dict()) == keys


# ---- two processes against one ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_processes_of_16_train_as_one_process_of_32(tmp_path):
    half = spec_file(tmp_path, "half", CLASSIFIER.replace("BATCH", "16"))
    whole = spec_file(tmp_path, "whole", CLASSIFIER.replace("BATCH", "32"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    two = subprocess.run([sys.executable, "-m", "agqc", "train", str(half), "--nproc", "2", "-o",
                          str(tmp_path / "run2")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("wrote ") == 1  # rank 0 alone
    assert agqc_main(["train", str(whole), "-o", str(tmp_path / "run1")]) == 0
    rows = {n: list(csv.DictReader((tmp_path / n / "metrics.csv").open())) for n in ("run1", "run2")}
    assert len(rows["run1"]) == len(rows["run2"]) == 1
    one, both = rows["run1"][0], rows["run2"][0]
    assert one["steps"] == both["steps"] == str(1437 // 32)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert float(both[column]) == pytest.approx(float(one[column]), rel=1e-4), column
    for name in ("best.safetensors", "last.safetensors"):
        a, b = (checkpoint.weights_only(load_file(tmp_path / run / name)) for run in ("run1", "run2"))
        assert a and a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-5, msg=k)
