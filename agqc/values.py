"""Values the elaborator computes with, and the frame a block is built in.

``TVal`` is a checked tensor (type, producing node, precision, where it was
made); ``TupleVal`` several results of one call; ``POISON`` stands for a
value whose expression already had an error, so one mistake reports once.
``Frame`` is one graph under construction: its names, draft nodes and the
precision in force.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Span
from .ir import Ref
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


class _Poison:
    def __repr__(self) -> str:
        return "POISON"


POISON = _Poison()


@dataclass(frozen=True)
class NetRef:
    """A network named in a model, callable from the model's flow."""

    name: str
    graph_key: str
    span: Span


@dataclass
class Draft:
    """A node before the naming pass gives it its final name."""

    id: str
    kind: str
    op: str
    args: dict
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


@dataclass
class Frame:
    key: str
    name: str
    kind: str  # block | network | repeat | model
    span: Span
    env: dict[str, Any]
    precision: Precision = FP32
    drafts: list[Draft] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    input_spans: dict[str, Span] = field(default_factory=dict)
    outputs: list[TVal] | None = None
    target: tuple[str, ...] = ()
    locals_defined: set[str] = field(default_factory=set)
    return_span: Span | None = None
    return_spans: list[Span] = field(default_factory=list)
    assigned: list[tuple[str, object, Span]] = field(default_factory=list)  # for unused-value

    def new_id(self) -> str:
        return f"%{len(self.drafts)}"

    def add(self, draft: Draft) -> list[TVal]:
        draft.hints = [self.target[0] if self.target else draft.base] * len(draft.outputs)
        self.drafts.append(draft)
        return [TVal(t, (draft.id, i), c, draft.span)
                for i, (t, c) in enumerate(zip(draft.outputs, draft.computes))]
