"""The instantiation trail's call sites: one block call -> the ``diagnostics.Site`` the reporter shows.

Takes a block, where it is called and the arguments as written; gives the ``Site``
that ``Reporter.within`` pushes while the block is built.  For a standard-library
block the site also maps a span inside the block to the caller's argument it reads
(``heads=heads`` -> the caller's ``12``), so a mistake that is the caller's argument
is reported in the caller's file.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import ast
from .diagnostics import Site, Span
from .walk import assigned_names

if TYPE_CHECKING:
    from .calls import TensorArgs
    from .evaluate import Keywords, Positional

STDLIB = Path(__file__).parent / "stdlib"


def call_site(block: ast.Block, call: Span, others: Positional, kwargs: Keywords, tensors: TensorArgs | None,
              uses_cache: dict[str, dict[Span, str]]) -> Site:
    """The call of ``block`` at ``call``; ``uses_cache`` keeps each library block's parameter uses."""
    if not in_stdlib(block.span.file):
        return Site(block.name, call)
    given: dict[str, Span] = {}
    tparams = [p.name for p in block.params if isinstance(p, ast.TensorParam)]
    cparams = [p.name for p in block.params if isinstance(p, ast.ConfigParam)]
    given.update(zip(tparams, [where for _, where in tensors or []]))
    given.update(zip(cparams, [where for _, where in others]))
    given.update({name: where for name, (_, where) in kwargs.items()})
    if block.name not in uses_cache:
        uses_cache[block.name] = _param_uses(block)
    uses = uses_cache[block.name]
    return Site(block.name, call, lambda span: given.get(uses.get(span, "")))


def _param_uses(block: ast.Block) -> dict[Span, str]:
    """Where the block's body reads a parameter it never reassigns (the name, or the keyword it is given as)."""
    params = {p.name for p in block.params} - set(assigned_names(block.body))
    uses: dict[Span, str] = {}
    for e in _nodes(block.body):
        if isinstance(e, ast.Name) and e.id in params:
            uses[e.span] = e.id
        elif isinstance(e, ast.Kwarg) and isinstance(e.value, ast.Name) and e.value.id in params:
            uses[e.span] = e.value.id
    return uses


@cache
def in_stdlib(file: str) -> bool:
    """Whether ``file`` is one of agqc's standard-library modules (text the user does not own)."""
    return Path(file).resolve().is_relative_to(STDLIB.resolve())


def _nodes(item: object) -> Iterator[object]:
    """Every AST node under ``item`` (a node, or a tuple of them), depth first."""
    if isinstance(item, (tuple, list)):
        for x in item:
            yield from _nodes(x)
    elif is_dataclass(item) and not isinstance(item, (Span, type)):
        yield item
        for fld in fields(item):
            yield from _nodes(getattr(item, fld.name))
