"""Expressions: AST expressions -> values, adding nodes to the current frame.

Takes an ``Elaborator`` (for blocks and diagnostics) and a ``Frame``; gives
values (numbers, symbolic sizes, ``TVal`` tensors).  Integer arithmetic on
constants and sizes happens here; ``+`` and ``*`` on tensors become add and
mul nodes; a call goes to ``agqc.calls``.
"""
from __future__ import annotations

from . import ast
from .diagnostics import Reporter, did_you_mean
from .ops.registry import Sym
from .types import PRECISION_OPTIONS, PRECISIONS, Precision, dim_add, dim_mul
from .values import POISON, Frame, NetRef, TupleVal, TVal

MAX_INT = 2**40  # sizes beyond this are surely mistakes, and would overflow counts


def eval_const(expr, consts: dict, reporter: Reporter):
    """A top-level constant: numbers, strings, flags and arithmetic on earlier constants."""
    frame = Frame("<const>", "<const>", "const", expr.span, dict(consts))
    return Evaluator(None, reporter).eval(expr, frame)


class Evaluator:
    def __init__(self, elaborator, reporter: Reporter):
        self.el = elaborator
        self.rep = reporter

    # ---- dispatch ------------------------------------------------------------
    def eval(self, e, f: Frame):
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e, f)

    def _number(self, e: ast.Number, f: Frame):
        if isinstance(e.value, int) and e.value > MAX_INT:
            self.rep.error("limit", f"{e.value:,} is larger than agqc's size limit {MAX_INT:,}", e.span)
            return POISON
        return e.value

    def _string(self, e: ast.String, f: Frame):
        return e.value

    def _bool(self, e: ast.Bool, f: Frame):
        return e.value

    def _name(self, e: ast.Name, f: Frame):
        if e.id in f.env:
            f.reads.add(e.id)
            return f.env[e.id]
        note = did_you_mean(e.id, f.env) or _hint_for(e.id, f)
        self.rep.error("unknown-name", f"unknown name `{e.id}`", e.span, *([note] if note else []))
        return POISON

    def _neg(self, e: ast.Neg, f: Frame):
        v = self.eval(e.operand, f)
        if v is POISON:
            return POISON
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
        self.rep.error("arg-type", f"cannot negate {kind_of(v)}", e.span)
        return POISON

    def _annotated(self, e: ast.Annotated, f: Frame):
        outer = f.precision
        f.precision = self.precision(e.annotations, outer)
        try:
            return self.eval(e.expr, f)
        finally:
            f.precision = outer

    def _chain(self, e: ast.Chain, f: Frame):
        value = self.eval(e.head, f)
        for step in e.steps:
            value = self.step(step, value, f)
        return value

    def step(self, step, piped, f: Frame):
        if isinstance(step, ast.Annotated):
            outer = f.precision
            f.precision = self.precision(step.annotations, outer)
            try:
                return self.step(step.expr, piped, f)
            finally:
                f.precision = outer
        if not isinstance(step, ast.Call):
            self.rep.error("syntax", "after `->` comes an op or block call, like `relu()`", step.span,
                           f"found {type(step).__name__.lower()}")
            return POISON
        return self._call(step, f, piped)

    def _call(self, e: ast.Call, f: Frame, piped=None):
        if self.el is None:  # a `const`: there is nothing to call yet
            self.rep.error("misplaced", f"a constant cannot call `{e.func}`: constants are numbers, strings, "
                           "true/false and arithmetic on earlier constants", e.span)
            return POISON
        return self.el.calls.call(e, piped, f)

    def call_args(self, e: ast.Call, f: Frame):
        positional = [(self.eval(a, f), a.span) for a in e.args]
        kwargs = {k.name: (self.eval(k.value, f), k.span) for k in e.kwargs}
        return positional, kwargs

    # ---- arithmetic ----------------------------------------------------------------
    def _binop(self, e: ast.BinOp, f: Frame):
        left, right = self.eval(e.left, f), self.eval(e.right, f)
        if left is POISON or right is POISON:
            return POISON
        if isinstance(left, (TVal, TupleVal)) or isinstance(right, (TVal, TupleVal)):
            return self.el.calls.tensor_binop(e, left, right, f)
        if isinstance(left, Sym) or isinstance(right, Sym):
            return self._symbolic(e, left, right)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            self.rep.error("arg-type", f"`{e.op}` needs numbers, found {kind_of(left)} and {kind_of(right)}", e.span)
            return POISON
        return self._arith(e, left, right)

    def _arith(self, e: ast.BinOp, a, b):
        if e.op in ("//", "/") and b == 0:
            self.rep.error("bad-value", "division by zero", e.span)
            return POISON
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                  "//": lambda: a // b, "/": lambda: a / b}[e.op]()
        if isinstance(result, int) and abs(result) > MAX_INT:
            self.rep.error("limit", f"{result:,} is larger than agqc's size limit {MAX_INT:,}", e.span)
            return POISON
        return result

    def _symbolic(self, e: ast.BinOp, a, b):
        if e.op in ("*", "+") and all(isinstance(v, (Sym, int)) and not isinstance(v, bool) for v in (a, b)):
            combine = dim_mul if e.op == "*" else dim_add
            result = combine(*(v.name if isinstance(v, Sym) else v for v in (a, b)))
            return Sym(result) if isinstance(result, str) else result
        self.rep.error("symbolic-dim", f"`{e.op}` on a symbolic size: only sums and products of sizes are supported",
                       e.span, "give the size a number in the block's signature or the network's arguments")
        return POISON

    # ---- precision annotations ---------------------------------------------------------
    def precision(self, annotations, outer: Precision) -> Precision:
        """The innermost (last written) valid annotation wins."""
        result = outer
        for ann in annotations:
            if ann.name not in PRECISIONS:
                note = did_you_mean(ann.name, PRECISIONS) or ("precisions: " + ", ".join(PRECISIONS))
                self.rep.error("unknown-precision", f"unknown precision `@{ann.name}`", ann.span, note)
                continue
            options = []
            for arg in ann.args:
                word = arg.id if isinstance(arg, ast.Name) else None
                allowed = PRECISION_OPTIONS.get(ann.name, ())
                if word not in allowed:
                    self.rep.error("unknown-precision", f"`@{ann.name}` takes no option "
                                   f"`{word or type(arg).__name__}`", arg.span,
                                   "options: " + (", ".join(allowed) or "none"))
                else:
                    options.append(word)
            result = Precision(ann.name, tuple(options))
        return result


def kind_of(v) -> str:
    """A value described for a message: `a tensor [B, 10]`, `the number 3`, ..."""
    if isinstance(v, TVal):
        return f"a tensor {v.type}"
    if isinstance(v, TupleVal):
        return f"{len(v.items)} tensors"
    if isinstance(v, NetRef):
        return f"network `{v.name}`"
    if isinstance(v, Sym):
        return f"symbolic size `{v.name}`"
    if isinstance(v, bool):
        return "a flag"
    if isinstance(v, str):
        return "a string"
    return f"the number {v}"


def _hint_for(name: str, f: Frame) -> str | None:
    if f.kind == "repeat" and name in f.locals_defined:
        return f"`{name}` is defined inside the repeat body and is not visible after it"
    return None
