"""Binding a train section's calls against a registry: ``adam(lr=2e-4)`` -> a ``Choice``.

Takes an AST expression, the registry it must come from and the spec's constants;
gives a ``Choice`` with every parameter filled in, or None after reporting a located
diagnostic (unknown word with did-you-mean, unknown or missing argument, a value of
the wrong kind or range, an enum-like text that is not one of its choices).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import ast
from ..diagnostics import Reporter, did_you_mean
from ..errorcodes import Code
from ..evaluate import eval_const
from .core.data import REQUIRED, Param
from .plan import Choice


class Word(str):
    """A bare name in a train section that is not a constant: a network, field or choice."""


def scalar(expr: ast.Expr, consts: dict, reporter: Reporter) -> Any:
    """A number, text, flag or bare word; None after reporting."""
    if isinstance(expr, ast.Name) and expr.id not in consts:
        return Word(expr.id)
    if isinstance(expr, (ast.Call, ast.Chain, ast.Index, ast.Annotated)):
        reporter.error(Code.ARG_TYPE, "expected a number, text or name here", expr.span)
        return None
    before = reporter.error_count
    value = eval_const(expr, consts, reporter)
    return None if reporter.error_count > before else value


def bind(expr: ast.Expr, registry: Mapping[str, Any], what: str, consts: dict, reporter: Reporter,
         choices: Mapping[str, Sequence[str]] | None = None) -> Choice | None:
    """A call of one registry word (a bare name is a call with no arguments)."""
    if isinstance(expr, ast.Name):
        expr = ast.Call(expr.id, (), (), None, expr.span, expr.span)
    if not isinstance(expr, ast.Call):
        reporter.error(Code.ARG_TYPE, f"expected {what}, a call such as `{next(iter(registry))}()`", expr.span,
                       f"{what}s: " + ", ".join(registry))
        return None
    entry = registry.get(expr.func)
    if entry is None:
        note = did_you_mean(expr.func, registry) or f"{what}s: " + ", ".join(registry)
        reporter.error(Code.UNKNOWN_SETTING, f"unknown {what} `{expr.func}`", expr.func_span, note)
        return None
    params: tuple[Param, ...] = entry.params
    if expr.alias:
        reporter.error(Code.MISPLACED, f"`as` names a layer; {what}s are not layers", expr.span)
    if len(expr.args) > len(params):
        reporter.error(Code.TOO_MANY_ARGS, f"`{expr.func}` takes {len(params)} argument(s), {len(expr.args)} given",
                       expr.args[len(params)].span)
        return None
    given: dict[str, tuple[Any, ast.Expr]] = {}
    for p, a in zip(params, expr.args):
        given[p.name] = (scalar(a, consts, reporter), a)
    names = [p.name for p in params]
    for k in expr.kwargs:
        if k.name not in names:
            note = did_you_mean(k.name, names) or (f"`{expr.func}` takes " + ", ".join(names) if names
                                                   else f"`{expr.func}` takes no arguments")
            reporter.error(Code.UNKNOWN_ARG, f"`{expr.func}` takes no argument `{k.name}`", k.span, note)
            return None
        if k.name in given:
            reporter.error(Code.DUPLICATE_NAME, f"`{k.name}` is given twice", k.span)
            return None
        given[k.name] = (scalar(k.value, consts, reporter), k.value)
    values: list[tuple[str, Any]] = []
    for p in params:
        if p.name not in given:
            if p.default is REQUIRED:
                reporter.error(Code.MISSING_ARG, f"`{expr.func}` needs `{p.name}`", expr.span,
                               f"write `{expr.func}({p.name}=...)`" + (f": {p.doc}" if p.doc else ""))
                return None
            values.append((p.name, p.default))
            continue
        value = _checked(p, *given[p.name], (choices or {}).get(f"{expr.func}.{p.name}"), reporter)
        if value is None:
            return None
        values.append((p.name, value))
    return Choice(expr.func, tuple(values), expr.span)


def _checked(p: Param, value: Any, expr: ast.Expr, options: Sequence[str] | None, reporter: Reporter) -> Any:
    """``value`` converted to the parameter's kind, or None after reporting."""
    if value is None:
        return None
    kind = p.kind
    if kind is str and isinstance(value, str):  # a text or a bare word
        if options is not None and value not in options:
            reporter.error(Code.BAD_VALUE, f"`{p.name}` is one of " + ", ".join(f"`{o}`" for o in options)
                           + f"; found `{value}`", expr.span, *filter(None, [did_you_mean(value, options)]))
            return None
        return str(value)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and not isinstance(value, Word):
        if value < 0:
            reporter.error(Code.BAD_VALUE, f"`{p.name}` cannot be negative; found {value}", expr.span)
            return None
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    found = ("the name" if isinstance(value, Word) else "the text" if isinstance(value, str) else
             "the flag" if isinstance(value, bool) else "the number")
    reporter.error(Code.ARG_TYPE, f"`{p.name}` is {_kind_name(kind)}; found {found} `{value}`", expr.span,
                   *([p.doc] if p.doc else []))
    return None


def _kind_name(kind: type) -> str:
    return {int: "a whole number", float: "a number", str: "a text or name", bool: "true or false"}.get(kind, str(kind))
