"""The .agq abstract syntax tree: frozen dataclasses, each with a Span.

Made by ``agqc.parse.parse_file`` from Lark's parse tree; read by
``agqc.loader`` and ``agqc.elaborate``.  Nothing here knows about shapes,
ops or torch: it is the program exactly as written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .diagnostics import Span


# ---- expressions ---------------------------------------------------------
@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * // /
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Kwarg:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]
    kwargs: tuple[Kwarg, ...]
    alias: str | None  # `linear(10) as fc` names the layer
    span: Span
    func_span: Span


@dataclass(frozen=True)
class Chain:
    """``head -> step -> step``: each step receives the value before it."""

    head: "Expr"
    steps: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Annotation:
    name: str
    args: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Annotated:
    expr: "Expr"
    annotations: tuple[Annotation, ...]
    span: Span


Expr = Union[Name, Number, String, Bool, BinOp, Neg, Call, Chain, Annotated]


@dataclass(frozen=True)
class TensorType:
    dtype: str  # "float" or "int"
    dims: tuple[Expr, ...]
    span: Span


# ---- statements ------------------------------------------------------------
@dataclass(frozen=True)
class Assign:
    targets: tuple[str, ...]
    value: Expr
    annotations: tuple[Annotation, ...]
    span: Span


@dataclass(frozen=True)
class Return:
    values: tuple[Expr, ...]
    annotations: tuple[Annotation, ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    alias: str | None
    body: tuple["Stmt", ...]
    annotations: tuple[Annotation, ...]
    span: Span


@dataclass(frozen=True)
class InputDecl:
    name: str
    type: TensorType
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class NetworkDecl:
    role: str
    name: str
    value: Expr
    annotations: tuple[Annotation, ...]
    span: Span
    role_span: Span
    name_span: Span


Stmt = Union[Assign, Return, Repeat, InputDecl, NetworkDecl]


# ---- top level --------------------------------------------------------------
@dataclass(frozen=True)
class TensorParam:
    name: str
    type: TensorType
    span: Span


@dataclass(frozen=True)
class ConfigParam:
    name: str
    default: Expr | None
    span: Span


Param = Union[TensorParam, ConfigParam]


@dataclass(frozen=True)
class Import:
    target: str  # a relative file path, or a dotted standard-library name
    is_std: bool
    span: Span


@dataclass(frozen=True)
class Const:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Block:
    name: str
    params: tuple[Param, ...]
    outputs: tuple[TensorType, ...] | None
    body: tuple[Stmt, ...]
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Model:
    name: str
    body: tuple[Stmt, ...]
    annotations: tuple[Annotation, ...]
    span: Span
    name_span: Span


Item = Union[Import, Const, Block, Model]


@dataclass(frozen=True)
class Module:
    file: str
    items: tuple[Item, ...]
