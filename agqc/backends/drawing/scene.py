"""Scene: what a drawing shows, before any styling; and the builder that lays out one graph.

Takes the program and ``DrawOptions``; gives a ``Scene``: nested ``Box``es
(networks, expanded blocks, repeat copies) holding ``Item``s (ops, collapsed
blocks, inputs, outputs) and the ``Edge``s between items, each carrying the
tensor type that flows along it.  Levels: the model's flow is level 0,
networks are level 1, blocks a network calls are level 2, and so on; a block
or repeat deeper than ``depth`` becomes one item.  Block inputs are not drawn:
edges run straight from the producer outside to the consumers inside, so a
network called twice (a GAN's discriminator) is drawn once with both callers'
tensors flowing into it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import Graph, Node, Program
from ...ops.registry import OpCall, lookup
from ...types import PRECISIONS, TensorType


MAX_ITEMS = 2_000  # beyond this Graphviz takes minutes and nobody can read the result


class DrawingTooBig(Exception):
    """An explicit ``depth`` that would expand into more than ``MAX_ITEMS`` boxes."""


@dataclass(frozen=True)
class DrawOptions:
    depth: int | None = None  # None: the deepest level that stays readable (see ``auto_depth``)
    network: str | None = None  # draw only this network
    block: str | None = None  # draw only this block (its first use), at level 1
    direction: str = "TB"
    shapes: bool = True
    params: bool = True


@dataclass
class Item:
    id: str
    kind: str  # input | output | op | merge | noise | sample | block | repeat | network
    title: str
    name: str = ""  # a user-given name, shown before the title
    shapes: str = ""  # "in -> out" for collapsed blocks
    params: int = 0
    precision: str = "fp32"
    kept: str = ""  # "fp32": computed above the annotated precision
    mixed: tuple[str, ...] = ()  # a collapsed block's precisions, when it has several


@dataclass
class Box:
    id: str
    kind: str  # network | block | copy
    title: str
    subtitle: str = ""
    params: int = 0
    level: int = 0
    items: list[Item] = field(default_factory=list)
    boxes: list["Box"] = field(default_factory=list)


@dataclass(frozen=True)
class End:
    """One place a tensor comes from: an item id, its type, the variable name it has in the flow."""

    id: str
    type: TensorType
    name: str = ""


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    type: TensorType
    name: str = ""
    kind: str = "data"  # data | skip (a path around other nodes) | link (between networks) | tie (shared weight)


@dataclass
class Scene:
    title: str
    params: int
    root: Box
    edges: list[Edge]
    depth: int

    def items(self) -> list[Item]:
        out, stack = [], [self.root]
        while stack:
            box = stack.pop()
            out += box.items
            stack += box.boxes
        return out

    def precisions(self) -> list[str]:
        shown = [p for i in self.items() if i.kind not in ("input", "output") for p in (i.mixed or (i.precision,))]
        return list(dict.fromkeys(shown))


class GraphBuilder:
    def __init__(self, program: Program, depth: int, budget: int):
        self.program, self.depth, self.budget = program, depth, budget
        self.placed = 0
        self.edges: list[Edge] = []
        self.ports: dict[str, list[End]] = {}  # network input port id -> what flows into it
        self.port_types: dict[str, TensorType] = {}
        self.net_outputs: dict[str, list[End]] = {}
        self._params: dict[str, int] = {}

    # ---- parameter counts, from the registry's rules ---------------------------
    def graph_params(self, key: str) -> int:
        if key not in self._params:
            graph = self.program.graph(key)
            self._params[key] = sum(self.node_params(graph, n) for n in graph.nodes())
        return self._params[key]

    def node_params(self, graph: Graph, node: Node) -> int:
        if node.kind == "op":
            return lookup(node.op).params(_op_call(graph, node))
        if node.kind in ("call", "repeat") and node.module is not None and graph.kind != "model":
            return node.count * self.graph_params(node.callee)
        return 0

    def precisions_in(self, key: str) -> tuple[str, ...]:
        """Every precision a block computes in, nested blocks included, in ``PRECISIONS`` order."""
        found, stack, seen = set(), [key], set()
        while stack:
            graph = self.program.graph(stack.pop())
            for node in graph.nodes():
                if node.kind == "op":
                    found.add(node.precision.name)
                elif node.callee and node.callee not in seen:
                    seen.add(node.callee)
                    stack.append(node.callee)
        return tuple(p for p in PRECISIONS if p in found)

    # ---- one graph's nodes into a box --------------------------------------------
    def expand(self, graph: Graph, prefix: str, level: int, box: Box, env: dict[str, list[End]]) -> list[list[End]]:
        ends: dict[str, list[list[End]]] = {name: [env[name]] for name in graph.inputs}
        for node in graph.nodes():
            if node.kind == "input":
                continue
            ins = [ends[src][port] for src, port in node.inputs]
            ends[node.name] = self.place(graph, node, prefix, level, box, ins)
        return [ends[src][port] for src, port in graph.outputs]

    def place(self, graph: Graph, node: Node, prefix: str, level: int, box: Box, ins) -> list[list[End]]:
        self.placed += 1
        if self.placed > self.budget:
            raise DrawingTooBig(f"at depth {self.depth} this drawing would have more than {self.budget:,} boxes; "
                                f"choose a smaller --depth")
        if node.kind == "op":
            return self.op_item(graph, node, prefix, box, ins)
        if node.kind == "repeat":
            return self.repeat(graph, node, prefix, level, box, ins)
        if level + 1 > self.depth:
            return self.collapsed(graph, node, prefix, box, ins, node.op, "block")
        named = _named(node.name, node.op, snake=True)
        inner = Box(prefix + node.name, "block", f"{named}: {node.op}" if named else node.op,
                    params=self.node_params(graph, node), level=level + 1)
        box.boxes.append(inner)
        callee = self.program.graph(node.callee)
        return self.expand(callee, inner.id + "/", level + 1, inner, dict(zip(callee.inputs, ins)))

    def op_item(self, graph: Graph, node: Node, prefix: str, box: Box, ins) -> list[list[End]]:
        op = lookup(node.op)
        kept = str(node.computes[0]) if op.precision_sensitive and node.computes[0] != node.precision else ""
        item = Item(prefix + node.name, op.draw if op.draw != "box" else "op", op.label(_op_call(graph, node)),
                    name=_named(node.name, node.op), params=self.node_params(graph, node),
                    precision=node.precision.name, kept=kept)
        box.items.append(item)
        self.connect(ins, item.id)
        if node.args.get("tie"):  # a weight shared with an earlier layer: drawn, never a data path
            self.edges.append(Edge(prefix + node.args["tie"], item.id, node.outputs[0], "shared weight", "tie"))
        return _ends(item.id, node)

    def collapsed(self, graph: Graph, node: Node, prefix: str, box: Box, ins, title: str, kind: str):
        shown_in = ", ".join(str(graph.type_of(r)) for r in node.inputs)
        shown_out = ", ".join(str(t) for t in node.outputs)
        inside = self.precisions_in(node.callee)
        item = Item(prefix + node.name, kind, title, name=_named(node.name, node.op, snake=True),
                    shapes=f"{shown_in} \u2192 {shown_out}", params=self.node_params(graph, node),
                    precision=node.precision.name, mixed=inside if len(inside) > 1 else ())
        box.items.append(item)
        self.connect(ins, item.id)
        return _ends(item.id, node)

    def repeat(self, graph: Graph, node: Node, prefix: str, level: int, box: Box, ins) -> list[list[End]]:
        body = self.program.graph(node.callee)
        single = self.program.repeat_body_call(body)
        copy_graph = self.program.graph(single.callee) if single else body
        name = copy_graph.name if single else (node.name if node.name != "repeat" else "repeat")
        if level + 1 > self.depth:
            return self.collapsed(graph, node, prefix, box, ins, f"{name} \u00d7{node.count}", "repeat")
        carried, free = ins[:len(node.outputs)], ins[len(node.outputs):]
        for i in range(node.count):
            copy = Box(f"{prefix}{node.name}.{i}", "copy", f"{name} [{i + 1}/{node.count}]",
                       params=self.graph_params(copy_graph.key), level=level + 1)
            box.boxes.append(copy)
            carried = self.expand(copy_graph, copy.id + "/", level + 1, copy,
                                  dict(zip(copy_graph.inputs, carried + free)))
        return carried

    def connect(self, ins: list[list[End]], dst: str) -> None:
        for ends in ins:
            for end in ends:
                edge = Edge(end.id, dst, end.type, end.name)
                if edge not in self.edges:
                    self.edges.append(edge)


def _ends(item_id: str, node: Node) -> list[list[End]]:
    """Where each output of a drawn node comes from; several outputs are told apart by their names."""
    if len(node.outputs) == 1:
        return [[End(item_id, node.outputs[0])]]
    names = node.hints if len(set(node.hints)) == len(node.outputs) else [f"#{i}" for i in range(len(node.outputs))]
    return [[End(item_id, t, name)] for t, name in zip(node.outputs, names)]


def _op_call(graph: Graph, node: Node) -> OpCall:
    return OpCall([graph.type_of(r) for r in node.inputs], dict(node.args), list(node.outputs))


def _named(name: str, op: str, snake: bool = False) -> str:
    """The node's name when the user gave it (``as mu``); empty for agqc's own ``linear2``."""
    from ...calls import snake as to_snake
    stem = to_snake(op) if snake else op
    rest = name[len(stem):] if name.startswith(stem) else None
    return "" if rest is not None and (rest == "" or rest.isdigit()) else name
