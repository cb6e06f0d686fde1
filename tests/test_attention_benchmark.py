"""Quick version of benchmarks/attention.py: compiled attention vs naive softmax(QK^T/sqrt(d))V.

The full claim (a median speed-up of at least 1.3 over 100 ABBA rounds) lives
in the recorded run, benchmarks/results/attention.json.  Here: the equality
check passes on the compiled spec and fails when it should, the statistics
are right, and a short run at the real T = 512 writes its JSON.
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
    path = ROOT / "benchmarks" / "attention.py"
    spec = importlib.util.spec_from_file_location("bench_attention", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_compiled_equals_naive(bench):
    compiled, helper, text = bench.compile_spec(dim=64, heads=4)
    assert "attention(q, k, v, heads=heads)" in text
    result = bench.check_equal(compiled, helper, bench.hand_written(compiled, 4), heads=4, batch=2, seq=48)
    assert result["equal"], {n: c for n, c in result["checks"].items() if not c["allclose"]}
    # Outputs, q/k/v gradients of the core, and the input and every weight gradient of the module.
    assert {"core output", "module output", "core grad q", "module grad x", "module grad out.weight"} <= set(
        result["checks"])


def test_equality_check_sees_a_difference(bench):
    compiled, helper, _ = bench.compile_spec(dim=64, heads=4)
    # Wrong head count in the hand-written module: the same weights, another attention.
    wrong_heads = bench.check_equal(compiled, helper, bench.hand_written(compiled, 2), heads=4, batch=2, seq=48)
    assert not wrong_heads["equal"] and not wrong_heads["checks"]["module output"]["allclose"]
    # One weight of v nudged by 1e-3 (100x the absolute tolerance): the module output and its
    # gradients notice, while the core, which never sees the weights, stays equal.
    nudged = bench.hand_written(compiled, 4)
    with torch.no_grad():
        nudged.v.weight[0, 0] += 1e-3
    result = bench.check_equal(compiled, helper, nudged, heads=4, batch=2, seq=48)
    assert not result["equal"] and not result["checks"]["module output"]["allclose"]
    assert result["checks"]["core output"]["allclose"]


def test_speedup_stats(bench):
    s = bench.speedup_stats([1.0, 2.0, 4.0], [1.5, 3.0, 6.0], boot=50)
    assert s["median_speedup"] == pytest.approx(1.5)
    assert s["ci95"] == [pytest.approx(1.5), pytest.approx(1.5)]
    assert s["ratio_of_medians"] == pytest.approx(1.5) and s["ratio_of_minima"] == pytest.approx(1.5)
    assert s["rounds"] == 3


def test_short_run_writes_json(bench, tmp_path, one_thread):
    out = tmp_path / "attention.json"
    # --claim 0: the exit status must not depend on the speed here (see below).
    status = bench.main(["--repeats", "7", "--warmup", "1", "--sample-ms", "5", "--batch", "1",
                         "--claim", "0", "--json", str(out)])
    assert status == 0
    result = json.loads(out.read_text())
    run = result["runs"][0]
    assert run["config"] == {"batch": 1, "seq": 512, "dim": 256, "heads": 4, "head_dim": 64,
                             "dtype": "float32", "threads": 1}
    assert run["equality"]["equal"] and result["passed"]
    assert set(run["cases"]) == {f"{pre}{part}/{kind}" for pre in ("", "control: ")
                                 for part in ("core", "module") for kind in ("forward", "forward+backward")}
    for name, s in run["cases"].items():
        assert s["rounds"] == 7 and s["compiled_median_ms"] > 0 and s["naive_median_ms"] > 0, name
    # A weak bound, not the 1.3 claim.  7 rounds on a shared 2-core machine (other
    # tests may run beside this one) move a median far from its 100-round value:
    # in 16 short runs (9 rounds of 5 ms) with two copies competing, the A/A
    # control ranged over 0.76-1.27 and this speed-up over 1.10-1.96; with 5 rounds
    # of 2 ms it fell to 0.85 once.
    # A test that fails on a busy machine would only teach people to ignore it.
    # 0.8 still catches the likely regression: torch's unfused "math" SDPA path ran
    # at a median 0.50-0.58x the naive code's speed here (30 paired rounds, B = 1
    # and 2; single rounds 0.37-0.88), so a helper falling back to it fails.
    assert run["cases"]["core/forward"]["median_speedup"] > 0.8
