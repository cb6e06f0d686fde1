"""The IR: every edge typed, every node with a precision, a readable dump, invariants enforced."""
from __future__ import annotations

import pytest

import agqc
from agqc.ir import Node, dump
from agqc.passes.validate import InternalError, validate
from conftest import ROOT, SPECS


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_edge_has_a_shape_and_every_node_a_precision(path):
    program = agqc.load(path).program
    for graph in list(program.graphs.values()) + ([program.flow] if program.flow else []):
        for src, dst, data in graph.nx.edges(data=True):
            assert data["types"], (src, dst)
        for node in graph.nodes():
            assert node.precision is not None and len(node.computes) == len(node.outputs)


def test_dump_is_readable_and_deterministic():
    a = dump(agqc.load(ROOT / "specs" / "cgan.agq").program)
    b = dump(agqc.load(ROOT / "specs" / "cgan.agq").program)
    assert a == b
    assert "linear = linear(mul) : [B, 6272] @fp32" in a


def test_validate_catches_a_dangling_reference():
    program = agqc.load(ROOT / "specs" / "cgan.agq").program
    graph = program.graph(program.network("G").graph)
    tanh = graph.node("tanh")
    graph._nodes["tanh"] = Node(**{**tanh.__dict__, "inputs": (("missing", 0),)})
    with pytest.raises(InternalError):
        validate(program)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_networkx_view_agrees_with_program_order(path):
    import networkx as nx
    program = agqc.load(path).program
    for graph in program.graphs.values():
        g = graph.nx
        assert nx.is_directed_acyclic_graph(g)
        order = [n.name for n in graph.nodes()]
        position = {name: i for i, name in enumerate(order)}
        assert all(position[a] < position[b] for a, b in g.edges)
        assert set(g.nodes) == set(order)
