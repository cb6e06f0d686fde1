"""`agqc train`, `eval` and `sample` as a user runs them: the run folder, Ctrl-C, resume, weights.

The resume test interrupts a real run with SIGINT part-way (wherever it happens to be),
resumes it, and compares the final weights with an uninterrupted run's, bit for bit.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import agqc
from agqc.train.checkpoint import weights_only
from train_specs import tiny_cgan

ROOT = Path(__file__).resolve().parent.parent

# Dropout, augmentation and an averaged copy: every source of randomness and state a resume must restore.
SPEC = """
block MLP(x: [B, 1, 8, 8]) -> [B, 10] {
    h = x -> flatten() -> linear(48) -> relu() -> dropout(0.2) -> linear(10)
    return h
}

model Digits {
    classifier net = MLP()

    train {
        data = digits()
        batch = 16
        optimizer = adam(lr=2e-3)
        schedule = cosine(warmup=10)
        augment = noise(0.05), shift(1)
        ema = 0.95
        epochs = 3
        seed = 4
    }
}
"""

GAN = tiny_cgan(" -> sigmoid()")


# One thread each: the runs compared bit for bit then do their sums in the same order whatever the load.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def agqc_cli(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agqc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=ENV, **kw)


def _rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_run_folder(tmp_path):
    (tmp_path / "digits.agq").write_text(SPEC)
    done = agqc_cli("train", "digits.agq", "--epochs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "runs" / "digits"
    assert {"spec.agq", "options.json", "metrics.csv", "loss.png", "best.safetensors", "last.safetensors"} <= {
        p.name for p in run.iterdir()}
    assert (run / "spec.agq").read_text() == SPEC
    assert "epoch 1 (train)" in done.stderr  # one plain line per epoch when not a terminal
    rows = _rows(run)
    assert len(rows) == 1 and float(rows[0]["val_accuracy"]) > 0.3
    model = agqc.load(tmp_path / "digits.agq").build()
    model.load_state_dict(load_file(run / "best.safetensors"))  # best holds weights alone, nothing else
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    evaluated = agqc_cli("eval", "digits.agq", "--weights", str(run / "best.safetensors"), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy" in evaluated.stdout
    built = agqc_cli("build", "digits.agq", "--weights", str(run / "last.safetensors"), "-o", "out", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    summary = agqc_cli("summary", "digits.agq", "--weights", str(run / "best.safetensors"), cwd=tmp_path)
    assert summary.returncode == 0 and "fits (4 tensors, 3,610 parameters" in summary.stdout, summary.stdout
    lowered = agqc_cli("lower", "digits.agq", "--target", "export", "--weights", str(run / "best.safetensors"),
                       "-o", "digits.pt2", cwd=tmp_path)
    assert lowered.returncode == 0, lowered.stderr
    program = torch.export.load(tmp_path / "digits.pt2").module()
    trained = load_file(run / "best.safetensors")
    assert torch.equal(program.state_dict()["net.linear2.weight"], trained["net.linear2.weight"])


def test_interrupt_then_resume_matches_an_uninterrupted_run(tmp_path):
    (tmp_path / "digits.agq").write_text(SPEC)
    whole = agqc_cli("train", "digits.agq", "-o", "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    process = subprocess.Popen([sys.executable, "-m", "agqc", "train", "digits.agq", "-o", "cut"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 120
    while not (tmp_path / "cut" / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the first epoch is written: interrupt somewhere in the second
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived (a very fast machine)")
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert len(_rows(tmp_path / "cut")) < 3
    resumed = agqc_cli("train", "digits.agq", "--resume", "cut", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = weights_only(load_file(tmp_path / "whole" / "last.safetensors"))
    b = weights_only(load_file(tmp_path / "cut" / "last.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run's"
    losses = [[row["loss"], row["val_loss"]] for row in _rows(tmp_path / "whole")]
    assert losses == [[row["loss"], row["val_loss"]] for row in _rows(tmp_path / "cut")]


def test_a_killed_run_leaves_a_whole_checkpoint(tmp_path):
    (tmp_path / "digits.agq").write_text(SPEC)
    process = subprocess.Popen([sys.executable, "-m", "agqc", "train", "digits.agq", "-o", "run"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "last.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)  # no handler runs: only the rename keeps the file whole
    process.wait(timeout=60)
    weights = weights_only(load_file(tmp_path / "run" / "last.safetensors"))
    agqc.load(tmp_path / "digits.agq").build().load_state_dict(weights)


def test_sample_grid_from_a_trained_generator(tmp_path):
    (tmp_path / "cgan.agq").write_text(GAN)
    assert agqc_cli("train", "cgan.agq", "-o", "run", cwd=tmp_path).returncode == 0
    assert (tmp_path / "run" / "samples.png").exists()
    made = agqc_cli("sample", "cgan.agq", "--weights", "run/best.safetensors", "--label", "3", "-n", "16", "-o",
                    "three.png", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "three.png").read_bytes()[:4] == b"\x89PNG"
    wrong = agqc_cli("sample", "cgan.agq", "--weights", "run/best.safetensors", "--label", "12", cwd=tmp_path)
    assert wrong.returncode == 1 and "classes 0 to 9" in wrong.stderr


def test_user_mistakes_exit_1_without_a_traceback(tmp_path):
    (tmp_path / "plain.agq").write_text(SPEC.split("    train {")[0] + "}\n")
    no_section = agqc_cli("train", "plain.agq", cwd=tmp_path)
    assert no_section.returncode == 1 and "no `train` section" in no_section.stderr
    (tmp_path / "digits.agq").write_text(SPEC)
    nothing = agqc_cli("train", "digits.agq", "--resume", "nowhere", cwd=tmp_path)
    assert nothing.returncode == 1 and "no last.safetensors" in nothing.stderr
    for device in ("cuda", "tpu", "gpu0"):
        if device == "cuda" and torch.cuda.is_available():
            continue
        wrong = agqc_cli("train", "digits.agq", "--device", device, cwd=tmp_path)
        assert wrong.returncode == 1 and f"--device {device}" in wrong.stderr, wrong.stderr
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    junk = agqc_cli("eval", "digits.agq", "--weights", "junk.safetensors", cwd=tmp_path)
    assert junk.returncode == 1 and "Traceback" not in junk.stderr
