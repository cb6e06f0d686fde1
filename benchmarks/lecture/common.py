"""What every study driver shares: where results and figures go, and how a result is recorded.

Each driver (seed_spread.py, model_compare.py, cnn_tf_best.py, sinusoid.py, cgan_control.py) trains
from specs/ with agqc's Python API, writes benchmarks/results/lecture/<study>.json (the numbers, the
seconds it took, the machine) and PNGs under docs/images/lecture/; report.py turns the JSON into
docs/lecture4.md's tables.  ``--out DIR`` sends both somewhere else (the tests use a temporary folder).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from machine import machine_info  # noqa: E402

SPECS = ROOT / "specs"


def arguments(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings: checks that the study runs, measures nothing")
    ap.add_argument("--out", type=Path, help="write the JSON and figures here instead of benchmarks/ and docs/")
    ap.add_argument("--seed", type=int, default=0)
    return ap


class Study:
    """One study's outputs: ``png(name, data)``, ``save(result)``; the wall time since it began."""

    def __init__(self, name: str, args: argparse.Namespace):
        self.name, self.quick = name, args.quick
        self.results = (args.out or ROOT / "benchmarks" / "results" / "lecture")
        self.images = (args.out or ROOT / "docs" / "images" / "lecture")
        self.started = time.perf_counter()
        os.environ.setdefault("MKL_DYNAMIC", "FALSE")

    def png(self, name: str, data: bytes) -> Path:
        self.images.mkdir(parents=True, exist_ok=True)
        path = self.images / name
        path.write_bytes(data)
        print(f"wrote {path}")
        return path

    def save(self, result: dict) -> Path:
        import torch
        result = {"study": self.name, "quick": self.quick, "seconds": round(time.perf_counter() - self.started, 1),
                  **result, "machine": machine_info(torch=torch.__version__, threads=torch.get_num_threads())}
        self.results.mkdir(parents=True, exist_ok=True)
        path = self.results / f"{self.name}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path} ({result['seconds']} s)")
        return path


def test_images(spec):
    """The spec's test split as its training reads it (data transforms applied, no augmentation)."""
    fields = spec.data("test")
    return fields["images"], fields["labels"]
