"""Shared helpers for the test suite."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from agqc.policy import BUILD_WEIGHTS_LIMIT

if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs one worker per core (pytest-xdist): each computes on one thread, as do the agqc
    # processes it starts, so workers do not fight over cores and a child trains exactly as its parent.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

# Hypothesis profiles: `ci` (the default: a few hundred examples per property, minutes in all) and
# `fuzz` (`make fuzz`: at least 10,000 per property). Property tests take their size from the profile
# and must not pin max_examples themselves.
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.agq"))
LARGE_PARAMS = BUILD_WEIGHTS_LIMIT  # specs above this (GPT-2, Llama) are built on the meta device, as `agqc build` does


def _params(path: Path) -> int:
    import agqc
    return agqc.load(path).summary().total_params


SMALL_SPECS = [p for p in SPECS if _params(p) <= LARGE_PARAMS]
LARGE_SPECS = [p for p in SPECS if p not in SMALL_SPECS]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/reference_models.py


@pytest.fixture
def write_spec(tmp_path):
    """Write a spec (and optional extra files) into a temp folder; return its path."""
    def write(text: str, name: str = "spec.agq", **extra: str) -> Path:
        for other, body in extra.items():
            (tmp_path / other.replace("__", ".")).write_text(body)
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
