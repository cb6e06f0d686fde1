"""Render: DOT text -> SVG, PNG or PDF through Graphviz's ``dot`` program, driven by the ``graphviz`` package.

Takes DOT text, an output path and a format; writes the file or raises
``FileNotFoundError`` (carrying ``INSTALL_HINT``) when ``dot`` is missing, and
``RenderError`` when ``dot`` fails or runs past ``TIMEOUT_S`` (a drawing too
dense to lay out): both are the user's to act on, never agqc's bug.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import graphviz
from graphviz.backend import dot_command, execute

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or the installer "
                "from https://graphviz.org/download/ (Windows); then check that `dot -V` works")
PNG_DPI = 150  # sharp enough for a projector
TIMEOUT_S = 120  # Graphviz's layout can take minutes on a dense drawing: give up and say so


class RenderError(Exception):
    """Graphviz could not draw it (it failed, or took longer than ``TIMEOUT_S``)."""

# `digraph "name" {`: where a graph-wide default such as dpi goes (what `dot -Gdpi=...` would set).
_HEADER = re.compile(r'^\s*(?:strict\s+)?(?:di)?graph\s*(?:"(?:[^"\\]|\\.)*"|[^\s{]+)?\s*\{', re.IGNORECASE)


def have_dot() -> bool:
    return shutil.which("dot") is not None


def _with_default(dot_text: str, attribute: str) -> str:
    """``dot_text`` with ``attribute`` as a graph default; attributes the text sets itself still win."""
    header = _HEADER.match(dot_text)
    return dot_text if header is None else f"{dot_text[:header.end()]} graph [{attribute}];{dot_text[header.end():]}"


def render_bytes(dot_text: str, fmt: str, dpi: int | None = None) -> bytes:
    """``dpi``: a PNG's resolution (default ``PNG_DPI``); other formats are vectors and ignore it."""
    if not have_dot():
        raise FileNotFoundError(INSTALL_HINT)
    source = _with_default(dot_text, f'dpi="{dpi or PNG_DPI}"') if fmt == "png" else dot_text
    # The package's own command and runner, with a time limit its `pipe` does not offer.
    try:
        proc = execute.run_check(dot_command.command("dot", fmt), input=source.encode(), capture_output=True,
                                 quiet=True, timeout=TIMEOUT_S)
    except graphviz.ExecutableNotFound as e:
        raise FileNotFoundError(INSTALL_HINT) from e
    except graphviz.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else str(e.stderr or "")
        raise RenderError(f"Graphviz's dot failed: {stderr.strip()[:400]}") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz's dot took longer than {TIMEOUT_S} s to lay this drawing out; draw less of "
                          "it at once (--depth, --network or --block) or write the DOT text (--format dot)") from None
    assert isinstance(proc.stdout, bytes)
    return proc.stdout


def render(dot_text: str, out: Path, fmt: str, dpi: int | None = None) -> None:
    out.write_bytes(render_bytes(dot_text, fmt, dpi))
