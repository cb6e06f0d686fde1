"""Naming: draft nodes -> final, stable names; graphs -> class names.

Takes a finished ``Frame``; gives a ``Graph`` whose node names are the
attribute names of the generated module (``linear``, ``linear1``,
``linear2``, ``blocks``...).  A name used once keeps its stem; a stem used
several times is numbered from 1 in program order.  Explicit ``as`` names
win and must be unique.  Same spec, same names.
"""
from __future__ import annotations

import keyword
from collections import Counter

from .diagnostics import Reporter
from .errorcodes import Code
from .ir import Graph, Node
from .kinds import GraphKind, NodeKind
from .types import Precision
from .values import Draft, Frame

# Attributes of torch.nn.Module and words of the generated code: never a layer's name.
RESERVED = {
    "self", "torch", "nn", "F", "forward", "train", "eval", "training", "parameters", "buffers",
    "children", "modules", "state_dict", "load_state_dict", "to", "cpu", "cuda", "float", "half",
    "double", "bfloat16", "type", "apply", "zero_grad", "register_buffer", "add_module",
    "get_submodule", "named_modules", "named_parameters", "requires_grad_", "extra_repr", "dump_patches",
    "call_super_init", "register_module", "get_parameter", "share_memory", "ipu", "xpu", "mtia",
}
# Functions a generated forward calls by name (agqc/ops/helpers.py; layer_weight for a quantised tie):
# an input, a parameter of forward, of that name would hide them.  Variables are renamed instead.
FORWARD_CALLS = {"attention", "rotary", "sinusoidal_positions", "sequence_and_last", "layer_weight"}


def finalize_graph(f: Frame, reporter: Reporter, boundary: list[Precision] | None = None) -> Graph:
    """The frame's drafts, named, as a graph; ``boundary``: the precisions its outputs are cast to on leaving."""
    assert f.kind is not None, "a constant's frame is never a graph"
    names = _node_names(f, reporter)
    graph = Graph(f.key, f.name, f.kind, f.span, boundary=boundary)
    for d in f.drafts:
        name = names[d.id]
        module = d.module or (name if d.kind in (NodeKind.CALL, NodeKind.REPEAT) or _has_module(d) else None)
        graph.add(Node(name, d.kind, d.op, dict(d.args), tuple((names[r], p) for r, p in d.inputs),
                       d.outputs, d.precision, d.computes, d.span, d.callee, d.count, module, tuple(d.hints)))
    graph.outputs = [(names[v.ref[0]], v.ref[1]) for v in f.results()]
    return graph


def _has_module(d: Draft) -> bool:
    from .ops.registry import lookup
    op = lookup(d.op)
    return op is not None and op.has_module and op.module_if(d.args)


def _node_names(f: Frame, reporter: Reporter) -> dict[str, str]:
    names: dict[str, str] = {}
    taken: set[str] = set()
    for d in f.drafts:
        if d.alias is None:
            continue
        hides = d.kind == NodeKind.INPUT and d.alias in FORWARD_CALLS
        if f.kind == GraphKind.REPEAT and d.kind == NodeKind.INPUT and _unfit(d, d.alias):
            continue  # a variable the repeat reads (`torch`): its body's parameter alone, renamed below
        if d.alias in taken or d.alias in RESERVED or keyword.iskeyword(d.alias) or hides:
            why = ("is already used in this block" if d.alias in taken else
                   "is a function the generated forward calls" if hides else "is reserved by PyTorch or Python")
            reporter.error(Code.DUPLICATE_NAME, f"the name `{d.alias}` {why}", d.alias_span or d.span)
            continue
        names[d.id] = d.alias
        taken.add(d.alias)
    stems = Counter(_stem(d) for d in f.drafts if d.id not in names)
    seen: Counter = Counter()
    for d in f.drafts:
        if d.id in names:
            continue
        stem = _stem(d)
        seen[stem] += 1
        candidate = stem if stems[stem] == 1 else f"{stem}{seen[stem]}"
        while candidate in taken or _unfit(d, candidate):
            candidate += "_"
        names[d.id] = candidate
        taken.add(candidate)
    return names


def _stem(d: Draft) -> str:
    """A generated name's stem: no leading underscore (a call of block `_Dense` would be `self.__dense`,
    which Python mangles to `_Net__dense` inside class Net; `_Modules` would replace nn.Module's table)."""
    stem = d.base.lstrip("_")
    return stem if stem.isidentifier() else f"block{stem}"  # block `_` or `__2`


def _unfit(d: Draft, name: str) -> bool:
    return name in RESERVED or keyword.iskeyword(name) or (d.kind == NodeKind.INPUT and name in FORWARD_CALLS)


def assign_class_names(graphs: dict[str, Graph], flow: Graph | None, model_name: str) -> None:
    """One Python class per graph: the block's name, numbered when specialised twice."""
    used: Counter = Counter()
    if flow is not None:
        flow.class_name = model_name
        used[model_name] += 1
    for g in graphs.values():
        if g.kind == GraphKind.REPEAT:
            continue
        used[g.name] += 1
        g.class_name = g.name if used[g.name] == 1 else f"{g.name}_{used[g.name]}"
    for g in graphs.values():
        if g.kind == GraphKind.REPEAT:
            parent = graphs.get(g.key.rsplit("/", 1)[0])
            stem = f"{parent.class_name if parent else g.name}Layer"
            used[stem] += 1
            g.class_name = stem if used[stem] == 1 else f"{stem}{used[stem]}"
