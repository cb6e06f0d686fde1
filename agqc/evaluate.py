"""Expressions: AST expressions -> values, adding nodes to the current frame.

Takes an expression, the ``Frame`` it adds nodes to and the ``Context`` in
force (assignment target, precision); gives a ``Value`` (a number, symbolic
size, ``TVal`` tensor...).  Integer arithmetic on constants and sizes happens
here; a call, and ``+`` or ``*`` on tensors, go to the ``CallSite`` given
(``agqc.calls.Calls``); constants have none.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, TypeGuard, cast

from . import ast
from .diagnostics import Reporter, Span, did_you_mean
from .errorcodes import Code
from .kinds import GraphKind
from .ops.indexing import Subscript
from .ops.registry import OpDef, Sym, lookup
from .policy import MAX_INT
from .types import PRECISIONS, Dim, Precision, SizeTooComplex, dim_add, dim_mul, dim_sub
from .values import POISON, TOP_LEVEL, Context, Frame, NetRef, TupleVal, TVal, Value, new_env

Positional = list[tuple[Value, Span]]  # evaluated call arguments, each with where it was written
Keywords = dict[str, tuple[Value, Span]]


def eval_const(expr: ast.Expr, consts: dict[str, Value], reporter: Reporter) -> Value:
    """A top-level constant: numbers, strings, flags and arithmetic on earlier constants."""
    frame = Frame.for_constants("<const>", expr.span, new_env(consts))
    return Evaluator(reporter).eval(expr, frame, TOP_LEVEL)


class CallSite(Protocol):
    """What expressions need from elaboration: calls, ``+``/``*`` on tensors, and ops the syntax stands for."""

    def call(self, e: ast.Call, piped: Value | None, f: Frame, ctx: Context) -> Value: ...

    def tensor_binop(self, e: ast.BinOp, left: Value, right: Value, f: Frame, ctx: Context) -> Value: ...

    def op_call(self, op: OpDef, span: Span, alias: str | None, alias_span: Span | None, positional: Positional,
                kwargs: Keywords, f: Frame, ctx: Context, piped: bool) -> Value: ...


class Evaluator:
    """Expressions -> values; ``calls`` is None for top-level constants, which call nothing."""

    def __init__(self, reporter: Reporter, calls: CallSite | None = None):
        self.reporter = reporter
        self.calls = calls

    # ---- dispatch ------------------------------------------------------------
    def eval(self, e: ast.Expr, f: Frame, ctx: Context) -> Value:
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e, f, ctx)

    def _number(self, e: ast.Number, f: Frame, ctx: Context) -> Value:
        if isinstance(e.value, int) and e.value > MAX_INT:
            self.reporter.error(Code.LIMIT, f"{e.value:,} is larger than agqc's size limit {MAX_INT:,}", e.span)
            return POISON
        if isinstance(e.value, float) and not math.isfinite(e.value):
            self.reporter.error(Code.BAD_VALUE, "this number is too large: it overflows to infinity", e.span,
                                "numbers in a spec are finite (at most about 1.8e308)")
            return POISON
        return e.value

    def _string(self, e: ast.String, f: Frame, ctx: Context) -> Value:
        return e.value

    def _bool(self, e: ast.Bool, f: Frame, ctx: Context) -> Value:
        return e.value

    def _name(self, e: ast.Name, f: Frame, ctx: Context) -> Value:
        if e.id in f.env:
            f.reads.add(e.id)
            return f.env[e.id]
        note = did_you_mean(e.id, f.env) or _hint_for(e.id, f)
        self.reporter.error(Code.UNKNOWN_NAME, f"unknown name `{e.id}`", e.span, *([note] if note else []))
        return POISON

    def _neg(self, e: ast.Neg, f: Frame, ctx: Context) -> Value:
        v = self.eval(e.operand, f, ctx)
        if v is POISON:
            return POISON
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
        self.reporter.error(Code.ARG_TYPE, f"cannot negate {kind_of(v)}", e.span)
        return POISON

    def _annotated(self, e: ast.Annotated, f: Frame, ctx: Context) -> Value:
        return self.eval(e.expr, f, self.annotated(e.annotations, ctx))

    def _chain(self, e: ast.Chain, f: Frame, ctx: Context) -> Value:
        value = self.eval(e.head, f, ctx)
        for step in e.steps:
            value = self.step(step, value, f, ctx)
        return value

    def step(self, step: ast.Expr, piped: Value, f: Frame, ctx: Context) -> Value:
        """One ``-> step`` of a chain, given the value before the arrow."""
        if isinstance(step, ast.Annotated):
            return self.step(step.expr, piped, f, self.annotated(step.annotations, ctx))
        if isinstance(step, ast.Index):  # `x -> lstm(8)[:, -1]`: the call's result, indexed
            return self._subscripted(step, self.step(step.value, piped, f, ctx), f, ctx)
        if not isinstance(step, ast.Call):
            self.reporter.error(Code.SYNTAX, "after `->` comes an op or block call, like `relu()`", step.span,
                                f"found {type(step).__name__.lower()}")
            return POISON
        return self._call(step, f, ctx, piped)

    # ---- indexing ------------------------------------------------------------------------
    def _index(self, e: ast.Index, f: Frame, ctx: Context) -> Value:
        return self._subscripted(e, self.eval(e.value, f, ctx), f, ctx)

    def _subscripted(self, e: ast.Index, value: Value, f: Frame, ctx: Context) -> Value:
        """``value[...]``: the subscripts evaluated to numbers, then the ``index`` op."""
        items = tuple(self._subscript(i, f, ctx) for i in e.items)
        if value is POISON or any(i is None for i in items):
            return POISON
        if not isinstance(value, TVal):
            note = "unpack the call's results first: `a, b = ...`" if isinstance(value, TupleVal) else None
            self.reporter.error(Code.TUPLE_VALUE if isinstance(value, TupleVal) else Code.ARG_TYPE,
                                f"only a tensor can be indexed, found {kind_of(value)}", e.value.span,
                                *([note] if note else []))
            return POISON
        assert self.calls is not None  # a constant holds no tensor
        op = lookup("index")
        assert op is not None
        return self.calls.op_call(op, e.span, None, None, [(value, e.value.span)],
                                  {"items": (cast(Value, items), e.span)}, f, ctx, False)  # the op's own argument

    def _subscript(self, item: ast.Expr | ast.Slice, f: Frame, ctx: Context) -> Subscript | None:
        """An index as an int, a slice as (start, stop) with None for an open end; None after an error."""
        if not isinstance(item, ast.Slice):
            return self._bound(item, f, ctx)
        ends = [None if end is None else self._bound(end, f, ctx) for end in (item.start, item.stop)]
        missing = [end is not None and value is None for end, value in zip((item.start, item.stop), ends)]
        return None if any(missing) else (ends[0], ends[1])

    def _bound(self, e: ast.Expr, f: Frame, ctx: Context) -> int | None:
        v = self.eval(e, f, ctx)
        if v is POISON:
            return None
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        self.reporter.error(Code.SYMBOLIC_DIM if isinstance(v, Sym) else Code.ARG_TYPE,
                            f"an index or slice bound is an integer, found {kind_of(v)}", e.span,
                            *(["a bound counted from the end is negative: x[:, -1], x[:, :-1]"]
                              if isinstance(v, Sym) else []))
        return None

    def _call(self, e: ast.Call, f: Frame, ctx: Context, piped: Value | None = None) -> Value:
        if self.calls is None:  # a `const`: there is nothing to call yet
            self.reporter.error(Code.MISPLACED, f"a constant cannot call `{e.func}`: constants are numbers, strings, "
                                "true/false and arithmetic on earlier constants", e.span)
            return POISON
        return self.calls.call(e, piped, f, ctx)

    def call_args(self, e: ast.Call, f: Frame, ctx: Context) -> tuple[Positional, Keywords]:
        positional = [(self.eval(a, f, ctx), a.span) for a in e.args]
        kwargs = {k.name: (self.eval(k.value, f, ctx), k.span) for k in e.kwargs}
        return positional, kwargs

    # ---- arithmetic ----------------------------------------------------------------
    def _binop(self, e: ast.BinOp, f: Frame, ctx: Context) -> Value:
        left, right = self.eval(e.left, f, ctx), self.eval(e.right, f, ctx)
        if left is POISON or right is POISON:
            return POISON
        if isinstance(left, (TVal, TupleVal)) or isinstance(right, (TVal, TupleVal)):
            assert self.calls is not None  # a constant holds no tensor
            return self.calls.tensor_binop(e, left, right, f, ctx)
        if isinstance(left, Sym) or isinstance(right, Sym):
            return self._symbolic(e, left, right)
        if not (_is_number(left) and _is_number(right)):
            self.reporter.error(Code.ARG_TYPE, f"`{e.op}` needs numbers, found {kind_of(left)} and {kind_of(right)}",
                                e.span)
            return POISON
        return self._arith(e, left, right)

    def _arith(self, e: ast.BinOp, a: int | float, b: int | float) -> Value:
        if e.op in ("//", "/") and b == 0:
            self.reporter.error(Code.BAD_VALUE, "division by zero", e.span)
            return POISON
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                  "//": lambda: a // b, "/": lambda: a / b}[e.op]()
        if isinstance(result, int) and abs(result) > MAX_INT:
            self.reporter.error(Code.LIMIT, f"{result:,} is larger than agqc's size limit {MAX_INT:,}", e.span)
            return POISON
        if isinstance(result, float) and not math.isfinite(result):
            self.reporter.error(Code.BAD_VALUE, f"this arithmetic gives {result}, not a finite number", e.span,
                                "numbers in a spec are finite: generated code could not hold the value")
            return POISON
        return result

    def _symbolic(self, e: ast.BinOp, a: Value, b: Value) -> Value:
        if e.op in ("*", "+", "-") and _is_size(a) and _is_size(b):
            combine = _SIZE_ARITHMETIC[e.op]
            try:
                result = combine(*(v.name if isinstance(v, Sym) else v for v in (a, b)))
            except SizeTooComplex as err:
                self.reporter.error(Code.LIMIT, str(err), e.span)
                return POISON
            except ValueError as err:  # a difference that is not surely a size
                self.reporter.error(Code.SYMBOLIC_DIM, f"`-` on symbolic sizes: {err}", e.span,
                                    "a size minus a number (`T - 1`) is a size; a size minus another, or a number "
                                    "minus a size, may not be")
                return POISON
            return Sym(result) if isinstance(result, str) else result
        self.reporter.error(Code.SYMBOLIC_DIM,
                            f"`{e.op}` on a symbolic size: only sums, products and differences of sizes are supported",
                            e.span, "give the size a number in the block's signature or the network's arguments")
        return POISON

    # ---- precision annotations ---------------------------------------------------------
    def annotated(self, annotations: Sequence[ast.Annotation], ctx: Context) -> Context:
        """The context inside ``@fp16`` and the like: ``ctx`` with the annotated precision."""
        return ctx.at(self.precision(annotations, ctx.precision)) if annotations else ctx

    def precision(self, annotations: Sequence[ast.Annotation], outer: Precision) -> Precision:
        """The innermost (last written) valid annotation wins."""
        result = outer
        for ann in annotations:
            if ann.name not in PRECISIONS:
                note = did_you_mean(ann.name, PRECISIONS) or ("precisions: " + ", ".join(PRECISIONS))
                self.reporter.error(Code.UNKNOWN_PRECISION, f"unknown precision `@{ann.name}`", ann.span, note)
                continue
            options = []
            for arg in ann.args:
                word = arg.id if isinstance(arg, ast.Name) else None
                allowed = PRECISIONS[ann.name].options
                if word not in allowed:
                    self.reporter.error(Code.UNKNOWN_PRECISION, f"`@{ann.name}` takes no option "
                                        f"`{word or type(arg).__name__}`", arg.span,
                                        "options: " + (", ".join(allowed) or "none"))
                else:
                    options.append(word)
            result = Precision(ann.name, tuple(options))
        return result


def kind_of(v: Value) -> str:
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


def _is_number(v: Value) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_SIZE_ARITHMETIC: dict[str, Callable[[Dim, Dim], Dim]] = {"*": dim_mul, "+": dim_add, "-": dim_sub}


def _is_size(v: Value) -> TypeGuard[Sym | int]:
    return isinstance(v, (Sym, int)) and not isinstance(v, bool)


def _hint_for(name: str, f: Frame) -> str | None:
    if f.kind == GraphKind.REPEAT and name in f.locals_defined:
        return f"`{name}` is defined inside the repeat body and is not visible after it"
    return None
