"""Frozen: which drawn networks, blocks and layers a train stage freezes (``agqc draw --frozen STAGE``).

Takes the program, its scene and a stage name; gives the ids of the items and
boxes to mark (``style.look`` draws them with a snowflake and a dashed border).
A stage's ``frozen`` selectors (``network:enc``, ``block:ConvBlock``,
``layer:head``, see ``train/check.py``) are matched against the program node
each drawn id stands for, found by walking the id's path: network / call /
repeat copy (``h.3``) / ... / node.
"""
from __future__ import annotations

from ...diagnostics import did_you_mean
from ...ir import Graph, Node, Program
from ...kinds import NodeKind
from .scene import Box, DrawOptions, Scene


def stage_selectors(program: Program, stage: str) -> tuple[str, ...]:
    """The stage's ``frozen`` selectors; KeyError (a message for the user) when there is no such stage."""
    plan = program.train
    if plan is None:
        raise KeyError(f"{program.model} has no `train` section, so nothing is frozen; --frozen names one of "
                       "its stages (docs/training.md)")
    names = [s.name for s in plan.stages]
    for s in plan.stages:
        if s.name == stage:
            return tuple(s.frozen)
    hint = did_you_mean(stage, names)
    raise KeyError(f"{program.model}'s train section has no stage `{stage}`; its stages are {', '.join(names)}"
                   + (f" ({hint})" if hint else ""))


def frozen_ids(program: Program, scene: Scene, options: DrawOptions) -> frozenset[str]:
    """The ids of the scene's items and boxes that stage ``options.frozen`` freezes (outermost only)."""
    if options.frozen is None:
        return frozenset()
    selectors = stage_selectors(program, options.frozen)
    networks = {s.split(":", 1)[1] for s in selectors if s.startswith("network:")}
    classes = {c for s in selectors if s.startswith("block:") for c in s.split(":", 1)[1].split(",")}
    layers = {s.split(":", 1)[1] for s in selectors if s.startswith("layer:")}
    if options.block:
        tops = {g.name: g for g in program.graphs.values() if g.name == options.block}
        tops = dict(list(tops.items())[:1])
    else:
        tops = {n.name: program.graph(n.graph) for n in program.networks}

    def frozen(some_id: str) -> bool:
        parts = some_id.split("/")
        graph = tops.get(parts[0])
        if graph is None:
            return False
        if len(parts) == 1:
            return not options.block and ("*" in networks or parts[0] in networks)
        found = walk(program, graph, parts[1:])
        if found is None:
            return False
        node = found[1]
        callee = _callee(program, node)
        return node.name in layers or (callee is not None and callee.class_name in classes)

    marked: set[str] = set()

    def visit(box: Box, inside: bool) -> None:
        for item in box.items:
            if not inside and frozen(item.id):
                marked.add(item.id)
        for inner in box.boxes:
            here = not inside and frozen(inner.id)
            if here:
                marked.add(inner.id)
            visit(inner, inside or here)
    visit(scene.root, False)
    return frozenset(marked)


def walk(program: Program, graph: Graph, parts: list[str]) -> tuple[Graph, Node] | None:
    """The node a drawn id's path names, and the graph it is in: each part is a node of the graph the
    part before opened (a call's block, or a repeat's copy for ``h.3``); None when the path leaves the program."""
    node = None
    for i, part in enumerate(parts):
        stem, _, copy = part.rpartition(".")
        if graph.has(part):
            node = graph.node(part)
        elif copy.isdigit() and graph.has(stem) and graph.node(stem).kind == NodeKind.REPEAT:
            node = graph.node(stem)
        else:
            return None
        if i < len(parts) - 1:
            inner = _callee(program, node)
            if inner is None:
                return None
            graph = inner
    return (graph, node) if node is not None else None


def _callee(program: Program, node: Node) -> Graph | None:
    if node.kind == NodeKind.REPEAT:
        return program.repeat_copy(node)[0]
    return program.graph(node.callee) if node.callee else None
