"""Validate: IR invariants every backend relies on.

Takes a ``Program``; returns nothing, raises ``InternalError`` when the IR
is malformed.  A failure here is a bug in agqc (exit 2), never the user's:
every node reads only earlier nodes (so graphs are acyclic and in
topological order), has a precision per output, references existing
outputs, and has identifier names.
"""
from __future__ import annotations

from ..ir import Graph, Node, Program, Ref
from ..kinds import NodeKind


class InternalError(Exception):
    pass


def validate(program: Program) -> None:
    graphs = list(program.graphs.values()) + ([program.flow] if program.flow else [])
    for g in graphs:
        seen: set[str] = set()
        for node in g.nodes():  # each node reads only earlier nodes: the graph is acyclic
            _check_node(g, node, program, seen)
            seen.add(node.name)
        for ref in g.outputs:
            _check_ref(g, ref, f"output of {g.key}", seen)


def _check_node(g: Graph, node: Node, program: Program, earlier: set[str]) -> None:
    where = f"{g.key}:{node.name}"
    if not node.name.isidentifier() or (node.module and not node.module.isidentifier()):
        raise InternalError(f"{where}: name is not an identifier")
    if len(node.computes) != len(node.outputs) or node.precision is None:
        raise InternalError(f"{where}: precision missing")
    for ref in node.inputs:
        _check_ref(g, ref, where, earlier)
    if node.kind in (NodeKind.CALL, NodeKind.REPEAT) and node.callee not in program.graphs:
        raise InternalError(f"{where}: calls unknown graph {node.callee}")


def _check_ref(g: Graph, ref: Ref, where: str, earlier: set[str]) -> None:
    name, port = ref
    if name not in earlier or port >= len(g.node(name).outputs):
        raise InternalError(f"{where}: reference {name}.{port} is dangling or out of order")
