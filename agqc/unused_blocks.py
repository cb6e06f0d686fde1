"""Blocks no network uses: checked for every mistake that does not need sizes.

Takes the elaborator after the model is done; instantiates each unused block
of the main file with its sizes left symbolic (and missing configuration
values symbolic too), keeping only diagnostics that cannot come from the
missing sizes: unknown names, ops and arguments, misplaced statements,
missing returns.  So a block library gets its typos reported too.
"""
from __future__ import annotations

from . import ast
from .ops.registry import Sym
from .types import FP32

SIZE_FREE = {"unknown-name", "unknown-op", "unknown-arg", "unknown-precision", "duplicate-name",
             "misplaced", "missing-return", "unused-input", "recursive-block", "too-many-args",
             "missing-arg", "tuple-value", "unpack-count", "syntax"}


def check_unused_blocks(el, main_file: str) -> None:
    for block in list(el.scope.blocks.values()):
        if block.name in el.attempted or block.span.file != main_file:
            continue
        config = {p.name: Sym(p.name) if p.default is None else el._default(p) for p in block.params
                  if isinstance(p, ast.ConfigParam)}
        with el.rep.only(SIZE_FREE.__contains__):
            el.instantiate(block, config, None, FP32, block.name_span, kind="network")
