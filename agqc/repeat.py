"""Repeat: ``repeat N as name { body }`` -> one body graph, N copies of weights.

Takes the ``Elaborator``, the statement, the enclosing frame and the
``Context`` in force (its precision is the body's).  Tensors that
the body assigns and that exist before it are *carried* from copy to copy
and must keep their shape; tensors it only reads are passed to every copy.
The body is checked once; the enclosing graph gets a ``repeat`` node that
the torch backend lowers to an ``nn.ModuleList`` of N independent copies.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast
from .errorcodes import Code
from .evaluate import kind_of
from .kinds import GraphKind, NodeKind
from .naming import finalize_graph
from .policy import MAX_REPEAT
from .values import POISON, Context, Draft, Frame, Poison, TVal, new_env, own_names
from .walk import assigned_names, read_names

if TYPE_CHECKING:
    from .elaborate import Elaborator
    from .ir import Graph


def elaborate_repeat(el: Elaborator, s: ast.Repeat, f: Frame, ctx: Context) -> None:
    """Adds the repeat node to ``f`` (and its body graph to ``el.graphs``); rebinds the carried names."""
    count = _count(el, s, f, ctx)
    # A tensor that failed to check (POISON) still counts as carried: its error is already reported.
    carried = [n for n in assigned_names(s.body) if isinstance(f.env.get(n), TVal) or f.env.get(n) is POISON]
    free = [n for n in read_names(s.body) if isinstance(f.env.get(n), TVal) and n not in carried]
    if not carried:
        el.reporter.error(Code.MISPLACED, "a repeat body must update a tensor defined before it, like `x = Layer(x)`",
                          s.span)
        return
    if any(f.env.get(n) is POISON for n in carried) or count is None:
        for n in carried:
            f.env[n] = POISON
        return
    f.reads.update(carried + free)
    key = f"{f.key}/repeat{sum(1 for d in f.drafts if d.kind == NodeKind.REPEAT)}"
    body = _body_graph(el, s, f, ctx, key, carried, free)
    if body is None:
        for n in carried:
            f.env[n] = POISON
        return
    ins = [_tensor(f, n) for n in carried + free]
    draft = Draft(f.new_id(), NodeKind.REPEAT, "repeat", {"count": count}, tuple(v.ref for v in ins),
                  tuple(v.type for v in ins[:len(carried)]), ctx.precision,
                  tuple(v.compute for v in ins[:len(carried)]), s.span, base="repeat", alias=s.alias,
                  alias_span=s.span, callee=key, count=count)
    values = f.add(draft, ctx)
    draft.hints = list(carried)
    for name, v in zip(carried, values):
        f.env[name] = v


def _count(el: Elaborator, s: ast.Repeat, f: Frame, ctx: Context) -> int | None:
    value = el.evaluator.eval(s.count, f, ctx)
    if value is POISON:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        el.reporter.error(Code.BAD_VALUE, f"repeat needs a positive integer count, found {kind_of(value)}",
                          s.count.span)
        return None
    if value > MAX_REPEAT:
        el.reporter.error(Code.LIMIT, f"repeat count {value:,} is over agqc's limit of {MAX_REPEAT:,}", s.count.span)
        return None
    return value


def _body_graph(el: Elaborator, s: ast.Repeat, f: Frame, ctx: Context, key: str, carried: list[str],
                free: list[str]) -> Graph | None:
    errors_before = el.reporter.error_count
    env = new_env(f.env.maps[-1], {k: v for k, v in own_names(f.env).items() if not isinstance(v, TVal)})
    body = Frame(key, f.name, GraphKind.REPEAT, s.span, env)
    for name in carried + free:
        outer = _tensor(f, name)
        el.add_input(body, name, outer.type, outer.compute, outer.span)
    el.stmts(s.body, body, ctx.precision)
    outs = [body.env[n] for n in carried]  # each is there: an input of the body, or reassigned in it
    if el.reporter.error_count > errors_before or any(v is POISON for v in outs):
        return None
    results: list[TVal | Poison] = []
    for name, out in zip(carried, outs):
        before = _tensor(f, name).type
        if not isinstance(out, TVal):  # `x = 3`: a carried tensor must stay a tensor
            el.reporter.error(Code.REPEAT_SHAPE, f"the repeat body changes `{name}` from {before} to {kind_of(out)}",
                              s.span, f"expected {before} (each copy feeds the next)")
        elif out.type != before:
            el.reporter.error(Code.REPEAT_SHAPE, f"the repeat body changes `{name}` from {before} to {out.type}",
                              s.span, f"expected {before} (each copy feeds the next)",
                              f"found {out.type} (from line {out.span.line})")
        else:
            results.append(out)
    if el.reporter.error_count > errors_before:
        return None
    body.outputs = results
    el.warn_unused(body)
    graph = finalize_graph(body, el.reporter, boundary=[_tensor(f, n).compute for n in carried])
    el.graphs[key] = graph
    return graph


def _tensor(f: Frame, name: str) -> TVal:
    """The tensor ``name`` holds in ``f`` (the caller has checked that it holds one)."""
    value = f.env[name]
    assert isinstance(value, TVal), f"`{name}` holds no tensor"
    return value
