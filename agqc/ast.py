"""The .agq abstract syntax tree: frozen dataclasses, each with a Span.

Made by ``agqc.parse.parse_file`` from Lark's parse tree; read by
``agqc.loader`` and ``agqc.elaborate``.  Nothing here knows about shapes,
ops or torch: it is the program exactly as written.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypeVar, Union, dataclass_transform

from .diagnostics import Span

_Node = TypeVar("_Node")


def _repr(self: object) -> str:
    return f"{type(self).__qualname__}(" + ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                                                     for f in fields(self)) + ")"  # type: ignore[arg-type]


@dataclass_transform(frozen_default=True)
def node(cls: type[_Node]) -> type[_Node]:
    """A frozen dataclass with the dataclass repr, shared rather than generated per class.

    Generating every method per class made defining the AST the largest part of
    starting agqc (a millisecond a class); ``agqc check`` is a command run often.
    """
    cls = dataclass(frozen=True, repr=False)(cls)
    cls.__repr__ = _repr  # type: ignore[method-assign]
    return cls


# ---- expressions ---------------------------------------------------------
@node
class Name:
    id: str
    span: Span


@node
class Number:
    value: int | float
    span: Span


@node
class String:
    value: str
    span: Span


@node
class Bool:
    value: bool
    span: Span


@node
class BinOp:
    op: str  # one of + - * // /
    left: "Expr"
    right: "Expr"
    span: Span


@node
class Neg:
    operand: "Expr"
    span: Span


@node
class Kwarg:
    name: str
    value: "Expr"
    span: Span


@node
class Call:
    func: str
    args: tuple["Expr", ...]
    kwargs: tuple[Kwarg, ...]
    alias: str | None  # `linear(10) as fc` names the layer
    span: Span
    func_span: Span


@node
class Chain:
    """``head -> step -> step``: each step receives the value before it."""

    head: "Expr"
    steps: tuple["Expr", ...]
    span: Span


@node
class Annotation:
    name: str
    args: tuple["Expr", ...]
    span: Span


@node
class Annotated:
    expr: "Expr"
    annotations: tuple[Annotation, ...]
    span: Span


@node
class Slice:
    """``start:stop`` inside brackets; either end may be left open (None)."""

    start: "Expr | None"
    stop: "Expr | None"
    span: Span


@node
class Index:
    """``value[a, b:c]``: one subscript (an index or a ``Slice``) per leading dimension."""

    value: "Expr"
    items: tuple["Expr | Slice", ...]
    span: Span


Expr = Union[Name, Number, String, Bool, BinOp, Neg, Call, Chain, Annotated, Index]


@node
class TensorType:
    dtype: str  # "float" or "int"
    dims: tuple[Expr, ...]
    span: Span


# ---- statements ------------------------------------------------------------
@node
class Assign:
    targets: tuple[str, ...]
    value: Expr
    annotations: tuple[Annotation, ...]
    span: Span


@node
class Return:
    values: tuple[Expr, ...]
    annotations: tuple[Annotation, ...]
    span: Span


@node
class Repeat:
    count: Expr
    alias: str | None
    body: tuple["Stmt", ...]
    annotations: tuple[Annotation, ...]
    span: Span


@node
class InputDecl:
    name: str
    type: TensorType
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


@node
class NetworkDecl:
    role: str
    name: str
    value: Expr
    annotations: tuple[Annotation, ...]
    span: Span
    role_span: Span
    name_span: Span


@node
class Setting:
    """``key = value, ...`` or ``key target = value, ...`` in a train section."""

    key: str
    target: str | None  # a network, block or layer the setting applies to; None: all of them
    values: tuple[Expr, ...]
    span: Span
    key_span: Span
    target_span: Span | None


@node
class Stage:
    """``stage name { settings }``: one stage of training, overriding the section's settings."""

    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@node
class TrainSection:
    """``train { settings; stages }`` in a model: its training recipe, checked by ``agqc.train.check``."""

    settings: tuple[Setting, ...]
    stages: tuple[Stage, ...]
    annotations: tuple[Annotation, ...]
    span: Span


Stmt = Union[Assign, Return, Repeat, InputDecl, NetworkDecl, TrainSection]


# ---- top level --------------------------------------------------------------
@node
class TensorParam:
    name: str
    type: TensorType
    span: Span


@node
class ConfigParam:
    name: str
    default: Expr | None
    span: Span


Param = Union[TensorParam, ConfigParam]


@node
class Import:
    target: str  # a relative file path, or a dotted standard-library name
    is_std: bool
    span: Span


@node
class Const:
    name: str
    value: Expr
    span: Span
    name_span: Span


@node
class Block:
    name: str
    params: tuple[Param, ...]
    outputs: tuple[TensorType, ...] | None
    body: tuple[Stmt, ...]
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


@node
class Model:
    name: str
    body: tuple[Stmt, ...]
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


Item = Union[Import, Const, Block, Model]


@node
class Module:
    file: str
    items: tuple[Item, ...]
    tokens: int = field(default=0, compare=False)  # what parsing it cost, for the whole program's limit
