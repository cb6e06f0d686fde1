"""Quick version of benchmarks/train_step.py: agqc train's step against a hand-written loop.

The full claim (a median ratio of steps per second of at least 0.97) lives in the recorded
run, benchmarks/results/train_step.json.  Here: the spec rewriting gives the plain train
section, the statistics are right, and a short run on the small MLP takes the same steps
as the hand-written loop (losses bit-identical) and writes its JSON.  No speed is asserted.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    path = ROOT / "benchmarks" / "train_step.py"
    spec = importlib.util.spec_from_file_location("bench_train_step", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("model", ["cnn", "dnn"])
def test_plain_train_section(bench, model, tmp_path):
    spec, plan = bench.load_model(bench.MODELS[model], tmp_path)
    stage, = plan.to_json()["stages"]
    (net, choice), = stage["optimizers"]
    assert (net, choice["name"], dict(choice["params"])["lr"]) == ("net", "adam", 1e-3)
    assert stage["augment"] == [] and stage["schedules"] == [] and plan.to_json()["inits"] == []
    assert plan.to_json()["data"]["batch"] == 64
    assert bench.with_plain_train(bench.MODELS[model].read_text()).count("train {") == 1


def test_pair_stats(bench):
    s = bench.pair_stats([9.0, 18.0, 27.0], [10.0, 20.0, 30.0], boot=50)
    assert s["median_ratio"] == pytest.approx(0.9)
    assert s["ci95"] == [pytest.approx(0.9), pytest.approx(0.9)]
    assert s["ratio_of_medians"] == pytest.approx(0.9)
    assert s["a_median_steps_per_s"] == 18.0 and s["b_median_steps_per_s"] == 20.0


def test_short_run_takes_the_hand_written_steps(bench, tmp_path, keep_threads):
    out = tmp_path / "train_step.json"
    # A limit no machine misses: the harness is tested here, not the speed.
    status = bench.main(["--models", "dnn", "--rounds", "2", "--warmup", "1", "--sample-ms", "1",
                         "--no-compile", "--limit", "0", "--json", str(out)])
    assert status == 0
    result = json.loads(out.read_text())
    res, = result["results"]
    assert res["model"] == "dnn" and res["losses_identical"] is True
    assert res["agqc_vs_hand"]["rounds"] == 2 and res["agqc_vs_hand"]["median_ratio"] > 0
    assert result["passed"] is True and result["compile"] is None
