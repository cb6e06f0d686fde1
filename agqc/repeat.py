"""Repeat: ``repeat N as name { body }`` -> one body graph, N copies of weights.

Takes the elaborator, the statement and the enclosing frame.  Tensors that
the body assigns and that exist before it are *carried* from copy to copy
and must keep their shape; tensors it only reads are passed to every copy.
The body is checked once; the enclosing graph gets a ``repeat`` node that
the torch backend lowers to an ``nn.ModuleList`` of N independent copies.
"""
from __future__ import annotations

from . import ast
from .evaluate import kind_of
from .naming import finalize_graph
from .values import POISON, Draft, Frame, TVal
from .walk import assigned_names, read_names

MAX_REPEAT = 100_000


def elaborate_repeat(el, s: ast.Repeat, f: Frame) -> None:
    count = _count(el, s, f)
    # A tensor that failed to check (POISON) still counts as carried: its error is already reported.
    carried = [n for n in assigned_names(s.body) if isinstance(f.env.get(n), TVal) or f.env.get(n) is POISON]
    free = [n for n in read_names(s.body) if isinstance(f.env.get(n), TVal) and n not in carried]
    if not carried:
        el.rep.error("misplaced", "a repeat body must update a tensor defined before it, like `x = Layer(x)`",
                     s.span)
        return
    if any(f.env.get(n) is POISON for n in carried) or count is None:
        for n in carried:
            f.env[n] = POISON
        return
    f.reads.update(carried + free)
    key = f"{f.key}/repeat{sum(1 for d in f.drafts if d.kind == 'repeat')}"
    body = _body_graph(el, s, f, key, carried, free)
    if body is None:
        for n in carried:
            f.env[n] = POISON
        return
    ins = [f.env[n] for n in carried + free]
    draft = Draft(f.new_id(), "repeat", "repeat", {"count": count}, tuple(v.ref for v in ins),
                  tuple(v.type for v in ins[:len(carried)]), f.precision,
                  tuple(v.compute for v in ins[:len(carried)]), s.span, base="repeat", alias=s.alias,
                  alias_span=s.span, callee=key, count=count)
    values = f.add(draft)
    draft.hints = list(carried)
    for name, v in zip(carried, values):
        f.env[name] = v


def _count(el, s: ast.Repeat, f: Frame) -> int | None:
    value = el.ev.eval(s.count, f)
    if value is POISON:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        el.rep.error("bad-value", f"repeat needs a positive integer count, found {kind_of(value)}", s.count.span)
        return None
    if value > MAX_REPEAT:
        el.rep.error("limit", f"repeat count {value:,} is over agqc's limit of {MAX_REPEAT:,}", s.count.span)
        return None
    return value


def _body_graph(el, s: ast.Repeat, f: Frame, key: str, carried: list[str], free: list[str]):
    errors_before = el.rep.error_count
    env = {k: v for k, v in f.env.items() if not isinstance(v, TVal)}
    body = Frame(key, f.name, "repeat", s.span, env, f.precision)
    for name in carried + free:
        outer = f.env[name]
        el.add_input(body, name, outer.type, outer.compute, outer.span)
    el.stmts(s.body, body)
    outs = [body.env.get(n) for n in carried]
    if el.rep.error_count > errors_before or any(v is POISON for v in outs):
        return None
    for name, out in zip(carried, outs):
        before = f.env[name].type
        if out.type != before:
            el.rep.error("repeat-shape", f"the repeat body changes `{name}` from {before} to {out.type}", s.span,
                         f"expected {before} (each copy feeds the next)", f"found {out.type} (from line {out.span.line})")
    if el.rep.error_count > errors_before:
        return None
    body.outputs = outs
    el.warn_unused(body)
    graph = finalize_graph(body, el.rep, boundary=[f.env[n].compute for n in carried])
    el.graphs[key] = graph
    return graph
