"""Values the elaborator computes with, and the frame a block is built in.

``TVal`` is a checked tensor (type, producing node, precision, where it was
made); ``TupleVal`` several results of one call; ``POISON`` stands for a
value whose expression already had an error, so one mistake reports once.
``Value`` is any of these, or a number, string, flag or symbolic size.
``Frame`` is one graph under construction: its names, draft nodes, reads and
results.  ``Context`` is what is in force while one expression is evaluated:
the names it is being assigned to and the precision; it is passed down, never
stored on the frame.
"""
from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .diagnostics import Span
from .ir import Ref
from .kinds import GraphKind, NodeKind
from .ops.registry import Sym
from .types import FP32, Precision, TensorType


@dataclass(frozen=True)
class TVal:
    type: TensorType
    ref: Ref
    compute: Precision
    span: Span


@dataclass(frozen=True)
class TupleVal:
    items: tuple[TVal, ...]
    span: Span


class Poison:
    """The type of ``POISON``: a value whose expression already had an error."""

    def __repr__(self) -> str:
        return "POISON"


POISON = Poison()


@dataclass(frozen=True)
class NetRef:
    """A network named in a model, callable from the model's flow."""

    name: str
    graph_key: str
    span: Span


Value = int | float | bool | str | Sym | TVal | TupleVal | NetRef | Poison  # what an expression gives


class Context(NamedTuple):  # a NamedTuple, not a dataclass: `agqc check` imports it, and it is made 50x faster
    """What is in force while one expression is evaluated.

    ``target``: the names the expression is assigned to (``("out",)`` for a
    return; empty elsewhere); ``precision``: the precision annotations in force.
    Inner annotations and assignments make a new context; the outer one is
    untouched, so nothing has to be restored.
    """

    target: tuple[str, ...] = ()
    precision: Precision = FP32

    def assigning(self, target: tuple[str, ...]) -> Context:
        return Context(target, self.precision)

    def at(self, precision: Precision) -> Context:
        return self if precision == self.precision else Context(self.target, precision)


TOP_LEVEL = Context()  # no assignment, fp32: a block's signature, a default, a constant


@dataclass
class Draft:
    """A node before the naming pass gives it its final name."""

    id: str
    kind: NodeKind
    op: str
    args: dict[str, object]
    inputs: tuple[Ref, ...]
    outputs: tuple[TensorType, ...]
    precision: Precision
    computes: tuple[Precision, ...]
    span: Span
    base: str  # naming stem: op name, snake_case block name, ...
    alias: str | None = None
    alias_span: Span | None = None
    callee: str | None = None
    count: int = 1
    module: str | None = None
    hints: list[str] = field(default_factory=list)


Env = ChainMap  # a frame's names: its own first, then the spec's constants, shared and never copied


def new_env(consts: Mapping[str, Value], own: Mapping[str, Value] | None = None) -> Env:
    """A fresh set of names over the spec's constants: writes go to the frame's own layer.

    Constants are layered under, never copied: a program with 100,000 constants and many
    blocks would otherwise copy them once per block instance and per size expression.
    """
    return ChainMap(dict(own or {}), consts)  # type: ignore[arg-type]


def own_names(env: Env) -> Mapping[str, Value]:
    """The names a frame defined itself (what a repeat body or an input declaration looks through)."""
    return env.maps[0]


@dataclass
class Frame:
    """One graph under construction, filled in statement by statement."""

    key: str  # the graph's key in the program
    name: str  # the block's (or model's) name
    kind: GraphKind | None  # None: a frame for a constant expression (a size, a default), never a graph
    span: Span
    env: Env  # what each name in scope means: its own names over the constants
    drafts: list[Draft] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)  # names some expression read (for unused-input)
    input_spans: dict[str, Span] = field(default_factory=dict)
    outputs: list[TVal | Poison] | None = None  # set by `return`
    locals_defined: set[str] = field(default_factory=set)
    return_span: Span | None = None
    return_spans: list[Span] = field(default_factory=list)
    assigned: list[tuple[str, Value, Span]] = field(default_factory=list)  # for unused-value

    @classmethod
    def for_constants(cls, what: str, span: Span, env: Env) -> Frame:
        """A frame to evaluate a constant expression in (``what``: ``<const>``, ``<type>``...)."""
        return cls(what, what, None, span, env)

    def new_id(self) -> str:
        return f"%{len(self.drafts)}"

    def results(self) -> list[TVal]:
        """The returned tensors, once the frame is to become a graph (none is poisoned by then)."""
        tensors = [v for v in self.outputs or [] if isinstance(v, TVal)]
        assert len(tensors) == len(self.outputs or []), "a graph is made only from a frame without errors"
        return tensors

    def add(self, draft: Draft, ctx: Context) -> list[TVal]:
        names = [t for t in ctx.target if t != "_"]  # `q, k, v = x -> linear -> split`: the fused value is qkv
        joined = ("" if all(len(t) == 1 for t in names) else "_").join(names)
        draft.hints = [joined or draft.base] * len(draft.outputs)
        self.drafts.append(draft)
        return [TVal(t, (draft.id, i), c, draft.span)
                for i, (t, c) in enumerate(zip(draft.outputs, draft.computes))]
