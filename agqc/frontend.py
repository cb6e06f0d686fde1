"""Front end: a spec path -> a checked ``Program`` (no torch involved).

Runs load (parse + imports), elaborate (names, blocks, shapes, precision)
and raises ``AgqcError`` with every error found; warnings ride along in
``Program.diagnostics``.
"""
from __future__ import annotations

from pathlib import Path

from .diagnostics import Reporter
from .elaborate import elaborate
from .ir import Program
from .loader import load


def check(path: str | Path) -> Program:
    reporter = Reporter()
    scope = load(path, reporter)
    program = elaborate(scope, reporter)
    reporter.raise_if_errors()
    return program
