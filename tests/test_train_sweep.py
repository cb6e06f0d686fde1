"""``agqc sweep``: one run per seed in child processes, a CSV and a strip plot, restarts skip done runs."""
from __future__ import annotations

import csv

import pytest

from agqc.cli import main
from agqc.train.sweep import parse_seeds
from train_specs import tiny_classifier

pytest.importorskip("sklearn")  # the digits ship with scikit-learn

TINY = tiny_classifier(16, "steps = 3", "batch = 32")


def _values(folder) -> dict[int, float]:
    with open(folder / "sweep.csv", newline="") as fh:
        return {int(r["seed"]): float(r["val_accuracy"]) for r in csv.DictReader(fh)}


def test_sweep_trains_each_seed_and_a_restart_retrains_only_what_is_missing(tmp_path, capsys):
    spec = tmp_path / "tiny.agq"
    spec.write_text(TINY)
    out = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--seeds", "0..2", "--jobs", "2", "-o", str(out)]) == 0
    first = _values(out)
    assert sorted(first) == [0, 1, 2]
    assert len(set(first.values())) > 1  # different seeds, different runs
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "mean" in capsys.readouterr().out

    import shutil
    kept = {k: (out / f"seed_{k}" / "best.safetensors").stat().st_mtime_ns for k in (0, 2)}
    shutil.rmtree(out / "seed_1")
    assert main(["sweep", str(spec), "--seeds", "0..2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "seed 0: skipped" in printed and "seed 2: skipped" in printed and "seed 1: training" in printed
    assert kept == {k: (out / f"seed_{k}" / "best.safetensors").stat().st_mtime_ns for k in (0, 2)}
    assert _values(out) == first  # seed 1 trained again gives the same value


@pytest.mark.parametrize("junk", ["x", "3..1", "1,,2", "0..", "1,1", "-2"])
def test_bad_seeds_exit_1_with_a_message(junk, tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.agq"), f"--seeds={junk}", "-o", str(tmp_path)]) == 1
    assert "--seeds" in capsys.readouterr().err


def test_seed_forms():
    assert parse_seeds("0..19") == list(range(20))
    assert parse_seeds("3") == [3]
    assert parse_seeds("1,5,9") == [1, 5, 9]


def test_a_grid_of_set_values_trains_each_point_in_its_own_folder(tmp_path, capsys):
    spec = tmp_path / "tiny.agq"
    spec.write_text(TINY)
    out = tmp_path / "grid"
    assert main(["sweep", str(spec), "--seeds", "4", "--jobs", "2", "-o", str(out),
                 "--set", "precision=fp64", "--set", "precision=fp32"]) == 0
    printed = capsys.readouterr().out
    assert "precision=fp64: val_accuracy over 1 seeds" in printed and "precision=fp32: val_accuracy" in printed
    with open(out / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["precision"], r["seed"], r["folder"]) for r in rows] == [
        ("fp64", "4", "precision=fp64/seed_4"), ("fp32", "4", "precision=fp32/seed_4")]
    from safetensors import safe_open
    for precision, dtype in (("fp64", "F64"), ("fp32", "F32")):
        with safe_open(str(out / f"precision={precision}" / "seed_4" / "best.safetensors"), "np") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {dtype}  # the override reached the run


def test_a_grid_point_that_does_not_check_is_a_diagnostic(tmp_path, capsys):
    spec = tmp_path / "tiny.agq"
    spec.write_text(TINY)
    assert main(["sweep", str(spec), "--seeds", "0", "-o", str(tmp_path / "g"), "--set", "precision=fp46"]) == 1
    assert "error[unknown-setting]: `--set precision=fp46`" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()  # nothing trained, nothing written
