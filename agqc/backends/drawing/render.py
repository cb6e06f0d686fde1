"""Render: DOT text -> SVG, PNG or PDF through Graphviz's ``dot`` program, driven by the ``graphviz`` package.

Takes DOT text, an output path and a format; writes the file or raises
``FileNotFoundError`` (carrying ``INSTALL_HINT``) when ``dot`` is missing.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import graphviz

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or the installer "
                "from https://graphviz.org/download/ (Windows); then check that `dot -V` works")
PNG_DPI = 150  # sharp enough for a projector

# `digraph "name" {`: where a graph-wide default such as dpi goes (what `dot -Gdpi=...` would set).
_HEADER = re.compile(r'^\s*(?:strict\s+)?(?:di)?graph\s*(?:"(?:[^"\\]|\\.)*"|[^\s{]+)?\s*\{', re.IGNORECASE)


def have_dot() -> bool:
    return shutil.which("dot") is not None


def _with_default(dot_text: str, attribute: str) -> str:
    """``dot_text`` with ``attribute`` as a graph default; attributes the text sets itself still win."""
    header = _HEADER.match(dot_text)
    return dot_text if header is None else f"{dot_text[:header.end()]} graph [{attribute}];{dot_text[header.end():]}"


def render_bytes(dot_text: str, fmt: str) -> bytes:
    if not have_dot():
        raise FileNotFoundError(INSTALL_HINT)
    source = _with_default(dot_text, f'dpi="{PNG_DPI}"') if fmt == "png" else dot_text
    try:
        out = graphviz.Source(source).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound as e:
        raise FileNotFoundError(INSTALL_HINT) from e
    except graphviz.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else str(e.stderr or "")
        raise RuntimeError(f"dot failed: {stderr.strip()}") from e
    assert isinstance(out, bytes)
    return out


def render(dot_text: str, out: Path, fmt: str) -> None:
    out.write_bytes(render_bytes(dot_text, fmt))
