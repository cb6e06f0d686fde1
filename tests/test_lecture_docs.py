"""docs/lecture4.md: its tables are what the studies measured, and everything it points at exists."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "lecture4.md"
TEXT = DOC.read_text()


def test_the_tables_match_the_results_json():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lecture" / "report.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("image", sorted(set(re.findall(r"\]\((images/[^)]+\.png)\)", TEXT))))
def test_every_figure_is_there(image):
    data = (DOC.parent / image).read_bytes()
    assert data[:4] == b"\x89PNG"


@pytest.mark.parametrize("path", sorted(set(re.findall(r"`((?:specs|benchmarks/lecture)/[\w./]+\.(?:agq|py))`",
                                                       TEXT))))
def test_every_spec_and_driver_named_exists(path):
    assert (ROOT / path).is_file()


def test_every_study_has_its_table_and_no_placeholder_is_left():
    for study in ("seed_spread", "model_compare", "cnn_tf_best", "sinusoid", "cgan_control", "times"):
        table = re.search(rf"<!-- generated: {study} -->\n(.*?)<!-- end: {study} -->", TEXT, re.S)
        assert table and table[1].startswith("| "), f"no table for {study}: run make lecture"
    assert not re.search(r"\b[A-Z_]+_(DISCUSSION|SECTION|RESULT)\b", TEXT)
