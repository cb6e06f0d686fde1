"""Names a spec defines that generated Python cannot hold: one ``ast.Module`` -> located errors.

Takes a parsed file and the reporter; reports, at the name, every definition the
PyTorch backend could not write as the spec says: a Python keyword anywhere (a tensor
``lambda``, a block ``pass``, a model ``def``), and for the names that become module
attributes (networks, which are also the first part of every ``state_dict`` key, and
layers named with ``as``) an ``nn.Module`` member or a leading underscore (a network
``forward`` would replace the model's forward; ``as _modules`` its submodule table).
Names the generator can rename without the user noticing (block classes, local
variables that clash with ``F`` or ``torch``) are renamed there instead.
"""
from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterator

from . import ast
from .diagnostics import Reporter, Span
from .errorcodes import Code
from .naming import RESERVED

PYTHON_NAMES = set(keyword.kwlist)  # `match`, `case` and `type` are soft keywords: fine as names


def check_names(module: ast.Module, reporter: Reporter) -> None:
    from .ops.registry import all_ops
    ops = all_ops()
    for item in module.items:
        if isinstance(item, ast.Block) and item.name in ops:  # every call `relu()` would reach the op
            reporter.error(Code.DUPLICATE_NAME, f"the block name `{item.name}` is the name of an op: calls of it "
                           "would reach the op, and the block would never be used", item.name_span,
                           f"choose another name, such as `{item.name.title().replace('_', '')}Block`")
    for what, name, span in _definitions(module):
        problem = _problem(what, name)
        if problem:
            reporter.error(Code.RESERVED_NAME, f"the {what} name `{name}` {problem}", span,
                           f"choose another name, such as `{name.lstrip('_')}_{what.split()[-1]}`"
                           if name.lstrip("_") else "choose another name")


def _problem(what: str, name: str) -> str | None:
    if name in PYTHON_NAMES:
        return "is a Python keyword, which the generated PyTorch code cannot use as a name"
    if what in ("network", "layer") and (name in RESERVED or name.startswith("_")):
        return "would hide a member of PyTorch's nn.Module in the generated model"
    if what == "model" and (name in ("torch", "nn", "F") or name in dir(builtins)):
        return "would hide a name the generated PyTorch file uses"
    return None


def _definitions(module: ast.Module) -> Iterator[tuple[str, str, Span]]:
    for item in module.items:
        if isinstance(item, ast.Const):
            yield "constant", item.name, item.name_span
        elif isinstance(item, ast.Block):
            yield "block", item.name, item.name_span
            for p in item.params:
                yield ("input" if isinstance(p, ast.TensorParam) else "argument"), p.name, p.span
            yield from _statements(item.body)
        elif isinstance(item, ast.Model):
            yield "model", item.name, item.name_span
            yield from _statements(item.body)


def _statements(body: tuple[ast.Stmt, ...]) -> Iterator[tuple[str, str, Span]]:
    for s in body:
        if isinstance(s, ast.Assign):
            yield from (("tensor", t, s.span) for t in s.targets)
            yield from _layers(s.value)
        elif isinstance(s, ast.Return):
            for v in s.values:
                yield from _layers(v)
        elif isinstance(s, ast.Repeat):
            if s.alias:
                yield "layer", s.alias, s.span
            yield from _statements(s.body)
        elif isinstance(s, ast.InputDecl):
            yield "input", s.name, s.name_span
        elif isinstance(s, ast.NetworkDecl):
            yield "network", s.name, s.name_span


def _layers(e: ast.Expr) -> Iterator[tuple[str, str, Span]]:
    """Layers named with ``as`` inside an expression."""
    if isinstance(e, ast.Call):
        if e.alias:
            yield "layer", e.alias, e.span
        for a in e.args:
            yield from _layers(a)
        for k in e.kwargs:
            yield from _layers(k.value)
    elif isinstance(e, ast.Chain):
        yield from _layers(e.head)
        for step in e.steps:
            yield from _layers(step)
    elif isinstance(e, ast.BinOp):
        yield from _layers(e.left)
        yield from _layers(e.right)
    elif isinstance(e, (ast.Neg, ast.Annotated)):
        yield from _layers(e.operand if isinstance(e, ast.Neg) else e.expr)
    elif isinstance(e, ast.Index):
        yield from _layers(e.value)
