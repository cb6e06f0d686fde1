"""agqc.studies.sinusoid (rollout, errors, figure) and its driver, benchmarks/lecture/sinusoid.py, in quick mode."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agqc.studies import sinusoid as study

ROOT = Path(__file__).resolve().parent.parent
PERIOD = 25.0


class Recurrence(torch.nn.Module):
    """The exact next sample of a sampled sine, x[t+1] = 2 cos(w) x[t] - x[t-1], from a window [B, T, 1]."""

    def __init__(self, period: float):
        super().__init__()
        self.a = 2 * math.cos(2 * math.pi / period)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        assert not self.training, "rollout must run the model in eval mode"
        assert not torch.is_grad_enabled(), "rollout must run without gradients"
        return self.a * windows[:, -1] - windows[:, -2]


def test_true_series_is_the_sampled_sine():
    truth = study.true_series(PERIOD, 60)
    assert truth.shape == (60,) and truth.dtype == torch.float32
    assert truth[0] == 0 and abs(float(truth[25])) < 1e-6
    assert abs(float(truth[6]) - math.sin(2 * math.pi * 6 / 25)) < 1e-7


def test_rollout_of_the_exact_recurrence_reproduces_the_sine():
    net = Recurrence(PERIOD).train()  # rollout switches to eval mode and back
    truth64 = torch.sin(2 * math.pi * torch.arange(400, dtype=torch.float64) / PERIOD)
    predicted = study.rollout(net, truth64[:20], 380)
    assert predicted.shape == (400,) and net.training
    assert torch.equal(predicted[:20], truth64[:20])
    assert (predicted - truth64).abs().max() < 1e-12
    truth = study.true_series(PERIOD, 400)  # float32, as the models run: rounding errors add up, slowly
    assert (study.rollout(net, truth[:20], 380) - truth).abs().max() < 1e-5
    assert study.errors(study.rollout(net, truth[:20], 380), truth, 20, 200)["beyond"] < 1e-5
    wrong = Recurrence(PERIOD * 1.01).eval()  # a slightly wrong frequency drifts away: the bound can fail
    assert study.errors(study.rollout(wrong, truth[:20], 380), truth, 20, 200)["beyond"] > 0.1


def test_rollout_feeds_back_its_own_predictions():
    # a model that predicts the last value plus 1: fed back, the rollout counts up; fed the truth, it would not
    class PlusOne(torch.nn.Module):
        def forward(self, windows):
            return windows[:, -1] + 1
    predicted = study.rollout(PlusOne(), torch.zeros(5), 4)
    assert predicted.tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 4]
    assert study.one_step(PlusOne(), torch.zeros(9), 5).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_at_times_reads_the_model_at_every_t_in_eval_mode():
    class Sine(torch.nn.Module):  # the exact value at time t, [B, 1] -> [B, 1]
        def forward(self, t):
            assert not self.training and not torch.is_grad_enabled() and t.shape == (400, 1)
            return torch.sin(2 * math.pi * t / PERIOD)
    net = Sine().train()
    predicted = study.at_times(net, 400)
    assert predicted.shape == (400,) and net.training
    assert (predicted - study.true_series(PERIOD, 400)).abs().max() < 1e-5


def test_errors_split_the_series_at_the_span():
    truth = torch.zeros(10)
    predicted = torch.tensor([9.0, 9, 1, 1, 1, -2, -2, -2, -2, -2])  # the first two are the seed window's
    assert study.rmse(predicted, truth, 2, 5) == 1.0
    assert study.errors(predicted, truth, window=2, span=5) == {"inside": 1.0, "beyond": 2.0}
    assert study.errors(torch.tensor([0.0, 0, 3, 4]), torch.zeros(4), 1, 4)["inside"] == pytest.approx(
        math.sqrt(25 / 3))


def png_height(png: bytes) -> int:
    return int.from_bytes(png[20:24], "big")  # the IHDR chunk's height


def test_figure_is_a_png_with_a_panel_per_model():
    truth = study.true_series(PERIOD, 120)
    one = study.figure(truth, {"A": truth, "B": torch.full((120,), 5.0)}, span=60, window=20, title="t")
    three = study.figure(truth, {"A": truth, "B": truth, "C": truth}, span=60, window=20)
    assert one[:8] == b"\x89PNG\r\n\x1a\n" and three[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_height(three) > png_height(one)
    widened = study.figure(truth, {"A": truth, "B": torch.full((120,), 5.0)}, span=60, window=20, fit=("B",))
    assert widened[:8] == b"\x89PNG\r\n\x1a\n" and widened != one


def test_driver_quick_writes_the_results_and_figures(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lecture" / "sinusoid.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "sinusoid.json").read_text())
    assert result["quick"] and set(result["models"]) == {"DNN", "RNN", "LSTM", "Transformer", "DNN on time"}
    on_time = result["models"]["DNN on time"]
    assert on_time["note"] == "reads the time t; no rollout"
    for record in (on_time["main"], on_time["main"]["before"] and {"rmse": on_time["main"]["before"]},
                   *on_time["seeds"]):
        assert record["rmse"]["rollout"] == record["rmse"]["one_step"]  # its direct prediction stands for both
    for name, model in result["models"].items():
        main = model["main"]
        assert main["seed"] == 42 and main["epochs"] == 2 and math.isfinite(main["val_loss"]), name
        for record in (main["rmse"], main["before"]):
            assert all(math.isfinite(v) for kind in record.values() for v in kind.values()), name
        assert len(model["seeds"]) == 1 and model["spread"]["beyond"]["min"] >= 0
    assert [r["seed"] for r in result["models"]["RNN"]["lecture_seeds"]] == [42, 420]
    assert result["models"]["RNN"]["lecture_seeds"][0] == result["models"]["RNN"]["main"]
    for name in ("sinusoid_before.png", "sinusoid_after.png", "sinusoid_rnn_seeds.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
