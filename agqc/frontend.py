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

from . import ast
from .diagnostics import Reporter
from .elaborate import elaborate
from .ir import Program
from .loader import load
from .passes.validate import validate
from .policy import RECURSION_LIMIT


def check(path: str | Path, overrides: tuple = (), buffers: dict[str, str] | None = None,
          parsed: dict | None = None) -> Program:
    """``overrides``: ``agqc.overrides.Override`` s (``--set NAME=VALUE``) applied to the main file.

    ``buffers``: resolved path -> text to check instead of that file's (an editor's unsaved buffer);
    ``parsed``: a cache of syntax trees the caller keeps between checks (``loader.load``).
    """
    reporter = Reporter()
    outer = sys.getrecursionlimit()
    sys.setrecursionlimit(max(outer, RECURSION_LIMIT))
    try:
        scope = load(path, reporter, overrides, buffers, parsed)
        program = elaborate(scope, reporter)
        if scope.model is not None and not reporter.errors and _has_train(scope.model):
            from .train.check import check_train  # only specs with a train section pay for importing it
            program.train = check_train(program, scope.model, scope.consts, reporter)
            program.diagnostics = list(reporter.items)
    finally:
        sys.setrecursionlimit(outer)
    reporter.raise_if_errors()
    validate(program)  # an IR invariant broken here is agqc's bug: exit 2
    return program


def _has_train(model: ast.Model) -> bool:
    return any(isinstance(s, ast.TrainSection) for s in model.body)
