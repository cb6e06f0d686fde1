"""Smoke tests for benchmarks/check_speed.py and benchmarks/overhead.py.

A few runs each on one spec, so the benchmarks cannot rot.  No timing limit
is asserted (CI machines are noisy); what is asserted is that the harnesses
run, write their JSON, and that ``agqc check`` never imports torch.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CGAN = ROOT / "specs" / "cgan.agq"


def _load(name: str):
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check_speed():
    return _load("check_speed")


@pytest.fixture(scope="module")
def overhead():
    return _load("overhead")


def test_check_finds_the_shipped_specs(check_speed):
    specs = check_speed.find_specs()
    assert CGAN in specs
    assert all(p.suffix == ".agq" for p in specs)


def test_check_does_not_import_torch(check_speed):
    info = check_speed.torch_imported_by_check(CGAN)
    assert info["status"] == 0
    assert not info["torch_imported"], f"agqc check imported {info['torch_modules']}"


def test_check_speed_main_writes_json(check_speed, tmp_path):
    out = tmp_path / "check_speed.json"
    # A limit no machine misses, so only the harness is tested here, not the speed.
    status = check_speed.main(["--runs", "1", "--warmup", "0", "--probes", "1", "--no-profile",
                               "--limit", "60", "--json", str(out), str(CGAN)])
    assert status == 0
    result = json.loads(out.read_text())
    row = result["specs"]["specs/cgan.agq"]
    assert row["runs"] == 1 and 0 < row["median_s"] < 60
    assert "(python -c pass)" in result["specs"] and "(import agqc)" in result["specs"]
    assert result["in_process"]["specs/cgan.agq"]["torch_imported"] is False
    assert result["passed"] is True


def test_pair_stats(overhead):
    s = overhead.pair_stats([1.1, 2.2, 3.3], [1.0, 2.0, 3.0], boot=50)
    assert s["median_ratio"] == pytest.approx(1.1)
    assert s["ci95"][0] == pytest.approx(1.1) and s["ci95"][1] == pytest.approx(1.1)
    assert s["ratio_of_minima"] == pytest.approx(1.1)


def test_overhead_measures_cgan(overhead):
    import torch
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        res = overhead.measure_spec(CGAN, repeats=2, warmup=1, sample_ms=1, batch=8)
    finally:
        torch.set_num_threads(threads)
    assert set(res["networks"]) == {"G", "D"}
    for name, s in res["networks"].items():
        assert s["median_ratio"] > 0 and s["rounds"] == 2
        # Same weights (copied), same inputs, eval mode: the two networks agree.
        assert s["max_abs_output_diff"] < 1e-4, name
    assert res["total"]["median_ratio"] > 0


def test_overhead_main_writes_json(overhead, tmp_path):
    import torch
    out = tmp_path / "overhead.json"
    threads = torch.get_num_threads()
    try:
        status = overhead.main(["--repeats", "2", "--warmup", "1", "--sample-ms", "1", "--batch", "4",
                                "--tolerance", "100", "--json", str(out), str(CGAN)])
    finally:
        torch.set_num_threads(threads)
    assert status == 0
    result = json.loads(out.read_text())
    assert result["passed"] is True
    assert [r["spec"] for r in result["results"]] == ["specs/cgan.agq"]


def test_gpu_precision_benchmark_says_when_there_is_no_gpu(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: run benchmarks/gpu_precision.py itself")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gpu_precision
    assert gpu_precision.main(["--rounds", "1"]) == 1
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif("not __import__('torch').cuda.is_available()",
                    reason="needs an NVIDIA GPU and a CUDA build of torch")
def test_gpu_precision_benchmark_runs(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gpu_precision
    assert gpu_precision.main(["--rounds", "2", "--specs", "cnn_classifier", "--out", str(tmp_path / "g.json")]) == 0
