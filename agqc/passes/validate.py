"""Validate: IR invariants every backend relies on, checked with networkx.

Takes a ``Program``; returns nothing, raises ``InternalError`` when the IR
is malformed.  A failure here is a bug in agqc (exit 2), never the user's:
every graph is acyclic, every edge has a type, every node a precision,
references point at existing outputs, attribute names are identifiers.
"""
from __future__ import annotations

import networkx as nx

from ..ir import Program


class InternalError(Exception):
    pass


def validate(program: Program) -> None:
    graphs = list(program.graphs.values()) + ([program.flow] if program.flow else [])
    for g in graphs:
        if not nx.is_directed_acyclic_graph(g.nx):
            raise InternalError(f"graph {g.key} has a cycle")
        for node in g.nodes():
            _check_node(g, node, program)
        for ref in g.outputs:
            _check_ref(g, ref, f"output of {g.key}")
        for src, dst, data in g.nx.edges(data=True):
            if not data.get("types"):
                raise InternalError(f"edge {src} -> {dst} in {g.key} has no type")


def _check_node(g, node, program: Program) -> None:
    where = f"{g.key}:{node.name}"
    if not node.name.isidentifier() or (node.module and not node.module.isidentifier()):
        raise InternalError(f"{where}: name is not an identifier")
    if len(node.computes) != len(node.outputs) or node.precision is None:
        raise InternalError(f"{where}: precision missing")
    for ref in node.inputs:
        _check_ref(g, ref, where)
    if node.kind in ("call", "repeat") and node.callee not in program.graphs:
        raise InternalError(f"{where}: calls unknown graph {node.callee}")


def _check_ref(g, ref, where: str) -> None:
    name, port = ref
    if name not in g.nx or port >= len(g.node(name).outputs):
        raise InternalError(f"{where}: dangling reference {name}.{port}")
