"""Walks over AST statements: which names a body assigns and which it reads.

Takes statements; gives names in first-seen order.  ``agqc.repeat`` uses
them to find the tensors a repeat body carries from copy to copy.
"""
from __future__ import annotations

from . import ast


def assigned_names(body) -> list[str]:
    out: list[str] = []
    for s in body:
        if isinstance(s, ast.Assign):
            out += list(s.targets)
        elif isinstance(s, ast.Repeat):
            out += assigned_names(s.body)
    return list(dict.fromkeys(out))


def read_names(body) -> list[str]:
    out: list[str] = []
    for s in body:
        if isinstance(s, ast.Assign):
            out += _expr_names(s.value)
        elif isinstance(s, ast.Return):
            for v in s.values:
                out += _expr_names(v)
        elif isinstance(s, ast.Repeat):
            out += _expr_names(s.count) + read_names(s.body)
    return list(dict.fromkeys(out))


def expr_names(e) -> list[str]:
    """The names one expression reads, in first-seen order."""
    return list(dict.fromkeys(_expr_names(e)))


def _expr_names(e) -> list[str]:
    if isinstance(e, ast.Name):
        return [e.id]
    if isinstance(e, ast.BinOp):
        return _expr_names(e.left) + _expr_names(e.right)
    if isinstance(e, ast.Neg):
        return _expr_names(e.operand)
    if isinstance(e, ast.Annotated):
        return _expr_names(e.expr)
    if isinstance(e, ast.Chain):
        return _expr_names(e.head) + [n for s in e.steps for n in _expr_names(s)]
    if isinstance(e, ast.Call):
        return [n for a in e.args for n in _expr_names(a)] + [n for k in e.kwargs for n in _expr_names(k.value)]
    if isinstance(e, ast.Index):
        return _expr_names(e.value) + [n for i in e.items for n in _expr_names(i)]
    if isinstance(e, ast.Slice):
        return [n for end in (e.start, e.stop) if end is not None for n in _expr_names(end)]
    return []
