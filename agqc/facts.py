"""Facts the annotate pass stores on the IR, for every backend to read.

Takes nothing; gives ``NodeFacts`` (one node: its op call, parameters,
MACs with their symbolic sizes, stored and compute precision, runtime
helpers, tied layers and TensorRT placement), ``GraphFacts`` (one graph with
everything it calls: parameters, MACs, precisions, expanded size) and
``Placement``.  They are computed once, by ``agqc.passes.annotate``; the
summary, the drawings, the TensorRT plan, the budget check and the torch
source only read them.
"""
from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from .types import Dim, Precision, TensorType

if TYPE_CHECKING:  # the registry imports nothing heavy, but the IR should not depend on it at run time
    from .ops.registry import OpCall


class Runtime(StrEnum):
    TENSORRT = "TensorRT"
    PYTORCH = "PyTorch"


class Placement(NamedTuple):
    """Where ``agqc lower --target tensorrt`` runs one op, and at which precision."""

    runtime: Runtime
    precision: str  # TensorRT's precision, or "-" for a fallback to PyTorch
    note: str = ""


class Stored(NamedTuple):
    """Parameters kept at one precision, and the bytes they take (scales included)."""

    precision: str
    params: int
    bytes: float


class NodeFacts(NamedTuple):
    params: int = 0  # parameters this node owns: an op's own, a call's or repeat's whole callee (times copies)
    macs: Dim = 0  # multiply-accumulates, symbolic in the spec's sizes (attention grows with T*T)
    call: OpCall | None = None  # an op's inputs, arguments and outputs, as its rules see them
    label: str = ""  # an op's drawing label
    stored: tuple[Stored, ...] = ()  # an op's parameters by the precision they are stored in
    compute: Precision | None = None  # the precision an op computes in (above the annotation when kept)
    quantized: bool = False  # an fp8/int8/int4/binary layer: fake-quantised weights, packed when deployed
    kept: bool = False  # a precision-sensitive op computing above its annotated precision
    helpers: tuple[str, ...] = ()  # helper functions the generated source must define for it
    ties: tuple[str, ...] = ()  # earlier layers whose weights an op shares
    placement: Placement | None = None  # an op's TensorRT placement


class Signature(NamedTuple):
    """The model's ``forward``: its parameters, and which network (or the flow) each one feeds."""

    names: tuple[str, ...]  # parameter names, in order
    types: tuple[TensorType, ...]
    graphs: tuple[str, ...]  # per parameter: the key of the graph whose input it is ("" for the flow)
    shared: bool = False  # networks side by side that all take these same inputs


class GraphFacts(NamedTuple):
    params: int  # every parameter of the graph and everything it calls
    macs: Dim  # symbolic
    precisions: tuple[str, ...]  # the precisions its ops are annotated with, nested calls included, widest first
    helpers: tuple[str, ...]  # helper functions its ops (nested included) need
