"""Render: DOT text -> SVG, PNG or PDF through Graphviz's ``dot`` program.

Takes DOT text, an output path and a format; writes the file or raises
``FileNotFoundError`` (carrying ``INSTALL_HINT``) when ``dot`` is missing.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or the installer "
                "from https://graphviz.org/download/ (Windows); then check that `dot -V` works")


def have_dot() -> bool:
    return shutil.which("dot") is not None


def render_bytes(dot_text: str, fmt: str) -> bytes:
    if not have_dot():
        raise FileNotFoundError(INSTALL_HINT)
    extra = ["-Gdpi=150"] if fmt == "png" else []  # sharp enough for a projector
    result = subprocess.run(["dot", f"-T{fmt}", *extra], input=dot_text.encode(), capture_output=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def render(dot_text: str, out: Path, fmt: str) -> None:
    out.write_bytes(render_bytes(dot_text, fmt))
