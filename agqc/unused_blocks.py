"""Blocks no network uses: checked for every mistake that does not need sizes.

Takes the ``Elaborator`` after the model is done; instantiates each unused block
of the main file with its sizes left symbolic (and missing configuration
values symbolic too), keeping only diagnostics that cannot come from the
missing sizes: unknown names, ops and arguments, misplaced statements,
missing returns.  So a block library gets its typos reported too.  Gives
nothing but diagnostics; the graphs it makes are probes (``elaborate`` drops them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast
from .errorcodes import Code
from .kinds import GraphKind
from .ops.registry import Sym
from .types import FP32

if TYPE_CHECKING:
    from .elaborate import Elaborator

SIZE_FREE = {Code.UNKNOWN_NAME, Code.UNKNOWN_OP, Code.UNKNOWN_ARG, Code.UNKNOWN_PRECISION, Code.DUPLICATE_NAME,
             Code.MISPLACED, Code.MISSING_RETURN, Code.UNUSED_INPUT, Code.RECURSIVE_BLOCK, Code.TOO_MANY_ARGS,
             Code.MISSING_ARG, Code.TUPLE_VALUE, Code.UNPACK_COUNT, Code.SYNTAX}


def check_unused_blocks(el: Elaborator, main_file: str) -> None:
    for block in list(el.scope.blocks.values()):
        if block.name in el.attempted or block.span.file != main_file:
            continue
        config = {p.name: Sym(p.name) if p.default is None else el.default_value(block, p) for p in block.params
                  if isinstance(p, ast.ConfigParam)}
        with el.reporter.only(SIZE_FREE.__contains__):
            el.instantiate(block, config, None, FP32, block.name_span, kind=GraphKind.NETWORK)
