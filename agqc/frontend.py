"""Front end: a spec path -> a checked ``Program`` (no torch involved).

Runs load (parse + imports), elaborate (names, blocks, shapes, precision;
then the size budget, once it found no error) and raises ``AgqcError`` with
every error found; warnings ride along in ``Program.diagnostics``.  Then the
validate pass checks the IR's invariants.  The annotate pass, which stores the
facts every backend reads, runs when a backend first asks
(``passes.annotate.annotate``): checking alone never pays for it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .diagnostics import Reporter
from .elaborate import elaborate
from .ir import Program
from .loader import load
from .passes.validate import validate
from .policy import RECURSION_LIMIT


def check(path: str | Path) -> Program:
    reporter = Reporter()
    outer = sys.getrecursionlimit()
    sys.setrecursionlimit(max(outer, RECURSION_LIMIT))
    try:
        scope = load(path, reporter)
        program = elaborate(scope, reporter)
    finally:
        sys.setrecursionlimit(outer)
    reporter.raise_if_errors()
    validate(program)  # an IR invariant broken here is agqc's bug: exit 2
    return program
