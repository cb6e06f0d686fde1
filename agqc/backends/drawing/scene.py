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
from enum import StrEnum

from ...ir import Graph, Node, Program
from ...kinds import NodeKind
from ...ops.registry import Draw, lookup
from ...policy import MAX_DRAWN_EDGES
from ...types import TensorType


class ItemKind(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    OP = "op"
    MERGE = "merge"  # +, ×, concat: a small circle
    NOISE = "noise"
    SAMPLE = "sample"
    BLOCK = "block"  # a collapsed block
    REPEAT = "repeat"  # a collapsed repeat
    NETWORK = "network"  # a collapsed network (depth 0)


class BoxKind(StrEnum):
    MODEL = "model"
    NETWORK = "network"
    BLOCK = "block"
    COPY = "copy"  # one copy of an expanded repeat


class EdgeKind(StrEnum):
    DATA = "data"
    SKIP = "skip"  # a residual: a value that bypasses a path and rejoins it at a merge (x + f(x))
    SIDE = "side"  # a side input: a mask, a bias, a conditioning label, context fanned out to many blocks
    LINK = "link"  # between networks
    TIE = "tie"  # a shared weight, never a data path


ITEM_OF_DRAW = {Draw.BOX: ItemKind.OP, Draw.MERGE: ItemKind.MERGE, Draw.NOISE: ItemKind.NOISE,
                Draw.SAMPLE: ItemKind.SAMPLE}


class DrawingTooBig(Exception):
    """A ``depth`` that would expand into more than ``MAX_DRAWN_ITEMS`` boxes or ``MAX_DRAWN_EDGES`` arrows."""


@dataclass(frozen=True)
class DrawOptions:
    depth: int | None = None  # None: the deepest level that stays readable (see ``auto_depth``)
    network: str | None = None  # draw only this network
    block: str | None = None  # draw only this block (its first use), at level 1
    direction: str = "TB"
    shapes: bool = True
    params: bool = True
    expand: tuple[str, ...] = ()  # open these too (a node, a repeat copy ``h.0``, a block by name): choose.py
    range: tuple[str, str] | None = None  # draw only the part from one named node to another
    theme: str = "default"  # style.THEMES: default, print (black on white, greyscale-safe), colorblind
    frozen: str | None = None  # a train stage: mark the networks, blocks and layers it freezes (frozen.py)


@dataclass
class Item:
    id: str
    kind: ItemKind
    title: str
    name: str = ""  # a user-given name, shown before the title
    shapes: str = ""  # "in -> out" for collapsed blocks
    params: int = 0
    precision: str = "fp32"
    kept: str = ""  # "fp32": computed above the annotated precision
    mixed: tuple[str, ...] = ()  # a collapsed block's precisions, when it has several
    op: str = ""  # the op an OP/MERGE item draws (``class_token``), or the block a collapsed item hides
    residual: bool = False  # a collapsed block with a residual connection inside


@dataclass
class Box:
    id: str
    kind: BoxKind
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
    kind: EdgeKind = EdgeKind.DATA


@dataclass
class Scene:
    title: str
    params: int
    root: Box
    edges: list[Edge]
    depth: int
    side_by_side: tuple[str, ...] = ()  # network boxes drawn next to each other (a GAN's G and D)

    def items(self) -> list[Item]:
        out, stack = [], [self.root]
        while stack:
            box = stack.pop()
            out += box.items
            stack += box.boxes
        return out

    def precisions(self) -> list[str]:
        shown = [p for i in self.items() if i.kind not in (ItemKind.INPUT, ItemKind.OUTPUT)
                 for p in (i.mixed or (i.precision,))]
        return list(dict.fromkeys(shown))


class GraphBuilder:
    def __init__(self, program: Program, depth: int, budget: int, opened: frozenset[str] = frozenset()):
        self.program, self.depth, self.budget = program, depth, budget
        self.opened = opened  # ids of blocks and repeat copies drawn open whatever the depth (``--expand``)
        self.placed = 0
        self.edges: list[Edge] = []
        self.edge_set: set[Edge] = set()  # the same edges, for a constant-time "drawn already?"
        self.ports: dict[str, list[End]] = {}  # network input port id -> what flows into it
        self.port_types: dict[str, TensorType] = {}
        self.net_outputs: dict[str, list[End]] = {}
        self._residual: dict[str, bool] = {}

    # ---- facts the annotate pass stored ----------------------------------------------
    def graph_params(self, key: str) -> int:
        facts = self.program.graph(key).facts
        assert facts is not None, "drawings read an annotated program"
        return facts.params

    def precisions_in(self, key: str) -> tuple[str, ...]:
        """Every precision a block computes in, nested blocks included, widest first."""
        facts = self.program.graph(key).facts
        assert facts is not None
        return facts.precisions

    def has_residual(self, key: str) -> bool:
        """Whether graph ``key`` (or a block it calls) has a residual: a value that feeds a merge
        (``+``, ``concat``) both directly and through a path of other nodes."""
        if key not in self._residual:
            self._residual[key] = False  # a guard against recursion; graphs do not call themselves
            self._residual[key] = _graph_has_residual(self.program.graph(key), self.has_residual)
        return self._residual[key]

    # ---- one graph's nodes into a box --------------------------------------------
    def expand(self, graph: Graph, prefix: str, level: int, box: Box, env: dict[str, list[End]]) -> list[list[End]]:
        ends: dict[str, list[list[End]]] = {name: [env[name]] for name in graph.inputs}
        for node in graph.nodes():
            if node.kind == NodeKind.INPUT:
                continue
            ins = [ends[src][port] for src, port in node.inputs]
            ends[node.name] = self.place(graph, node, prefix, level, box, ins)
        return [ends[src][port] for src, port in graph.outputs]

    def place(self, graph: Graph, node: Node, prefix: str, level: int, box: Box, ins) -> list[list[End]]:
        self.placed += 1
        if self.placed > self.budget:
            raise DrawingTooBig(f"at depth {self.depth} this drawing would have more than {self.budget:,} boxes; "
                                f"choose a smaller --depth")
        if node.kind == NodeKind.OP:
            return self.op_item(graph, node, prefix, box, ins)
        if node.kind == NodeKind.REPEAT:
            return self.repeat(graph, node, prefix, level, box, ins)
        if level + 1 > self.depth and prefix + node.name not in self.opened:
            return self.collapsed(graph, node, prefix, box, ins, node.op, ItemKind.BLOCK)
        named = _named(node.name, node.op, snake=True)
        inner = Box(prefix + node.name, BoxKind.BLOCK, f"{named}: {node.op}" if named else node.op,
                    params=node.facts.params, level=level + 1)
        box.boxes.append(inner)
        callee = self.program.graph(node.callee)
        return self.expand(callee, inner.id + "/", level + 1, inner, dict(zip(callee.inputs, ins)))

    def op_item(self, graph: Graph, node: Node, prefix: str, box: Box, ins) -> list[list[End]]:
        facts, op = node.facts, lookup(node.op)
        assert op is not None
        item = Item(prefix + node.name, ITEM_OF_DRAW[op.draw], facts.label, name=_named(node.name, node.op),
                    op=node.op, params=facts.params, precision=node.precision.name,
                    kept=str(facts.compute) if facts.kept else "")
        box.items.append(item)
        self.connect(ins, item.id)
        for owner in facts.ties:  # a weight shared with an earlier layer: drawn, never a data path
            self.edges.append(Edge(prefix + owner, item.id, node.outputs[0], "shared weight", EdgeKind.TIE))
        return _ends(item.id, node)

    def collapsed(self, graph: Graph, node: Node, prefix: str, box: Box, ins, title: str, kind: ItemKind):
        shown_in = ", ".join(str(graph.type_of(r)) for r in node.inputs)
        shown_out = ", ".join(str(t) for t in node.outputs)
        inside = self.precisions_in(node.callee)
        item = Item(prefix + node.name, kind, title, name=_named(node.name, node.op, snake=True),
                    shapes=f"{shown_in} \u2192 {shown_out}", params=node.facts.params,
                    precision=node.precision.name, mixed=inside if len(inside) > 1 else (),
                    residual=self.has_residual(node.callee))
        box.items.append(item)
        self.connect(ins, item.id)
        return _ends(item.id, node)

    def repeat(self, graph: Graph, node: Node, prefix: str, level: int, box: Box, ins) -> list[list[End]]:
        copy_graph, name = self.program.repeat_copy(node)
        chosen = {i for i in range(node.count) if f"{prefix}{node.name}.{i}" in self.opened}
        if level + 1 > self.depth and not chosen:
            return self.collapsed(graph, node, prefix, box, ins, f"{name} \u00d7{node.count}", ItemKind.REPEAT)
        carried, free = ins[:len(node.outputs)], ins[len(node.outputs):]
        if level + 1 > self.depth:  # only the chosen copies open; each run of the others is one box
            return self.some_copies(node, prefix, level, box, carried, free, chosen)
        for i in range(node.count):
            copy = Box(f"{prefix}{node.name}.{i}", BoxKind.COPY, f"{name} [{i + 1}/{node.count}]",
                       params=self.graph_params(copy_graph.key), level=level + 1)
            box.boxes.append(copy)
            carried = self.expand(copy_graph, copy.id + "/", level + 1, copy,
                                  dict(zip(copy_graph.inputs, carried + free)))
        return carried

    def some_copies(self, node: Node, prefix: str, level: int, box: Box, carried, free, chosen: set[int]):
        copy_graph, name = self.program.repeat_copy(node)
        i = 0
        while i < node.count:
            if i in chosen:
                copy = Box(f"{prefix}{node.name}.{i}", BoxKind.COPY, f"{name} [{i + 1}/{node.count}]",
                           params=self.graph_params(copy_graph.key), level=level + 1)
                box.boxes.append(copy)
                carried = self.expand(copy_graph, copy.id + "/", level + 1, copy,
                                      dict(zip(copy_graph.inputs, carried + free)))
                i += 1
                continue
            last = min([c for c in chosen if c > i] + [node.count]) - 1  # copies i..last stay shut
            many = last > i
            shown = ", ".join(str(e[0].type) for e in carried if e)
            item = Item(f"{prefix}{node.name}.{i}", ItemKind.REPEAT if many else ItemKind.BLOCK,
                        f"{name} \u00d7{last - i + 1}" if many else name,
                        name=f"{node.name}.{i}\u2013{last}" if many else f"{node.name}.{i}",
                        shapes=f"{shown} \u2192 {', '.join(str(t) for t in node.outputs)}",
                        params=self.graph_params(copy_graph.key) * (last - i + 1), precision=node.precision.name,
                        residual=self.has_residual(copy_graph.key))
            box.items.append(item)
            self.connect(carried + free, item.id)
            carried = _ends(item.id, node)
            i = last + 1
        return carried

    def connect(self, ins: list[list[End]], dst: str) -> None:
        for ends in ins:
            for end in ends:
                edge = Edge(end.id, dst, end.type, end.name)
                if edge not in self.edge_set:
                    self.edge_set.add(edge)
                    self.edges.append(edge)
        if len(self.edges) > MAX_DRAWN_EDGES:  # dense skips: dot's layout time grows much faster than the arrows
            raise DrawingTooBig(f"at depth {self.depth} this drawing would have more than {MAX_DRAWN_EDGES:,} "
                                "arrows; choose a smaller --depth")


# Ops whose output does not carry their input's values (a class token only reads its input's size):
# a path through one is no path around anything.
CONTENT_FREE = frozenset({"class_token"})


def _graph_has_residual(graph: Graph, inner) -> bool:
    users: dict[str, list[str]] = {}
    for node in graph.nodes():
        for src, _ in node.inputs:
            users.setdefault(src, []).append(node.name)
    for node in graph.nodes():
        if node.callee and inner(node.callee):  # a block called, or a repeat's body
            return True
    for node in graph.nodes():
        op = lookup(node.op) if node.kind == NodeKind.OP else None
        if op is None or op.draw != Draw.MERGE:
            continue
        for src in {s for s, _ in node.inputs}:
            starts = [u for u in users.get(src, []) if u != node.name and graph.node(u).op not in CONTENT_FREE]
            if any(_reaches(graph, users, start, node.name) for start in starts):
                return True
        if node.op == "add" and _common_ancestor(graph, [s for s, _ in node.inputs]):
            return True  # a projection shortcut: `conv1x1(x) + f(x)` adds two paths out of one value
    return False


def _common_ancestor(graph: Graph, sources: list[str]) -> bool:
    """Whether two of ``sources`` (the inputs of one add) are computed from a common value."""
    def ancestors(name: str) -> set[str]:
        seen, stack = {name}, [name]
        while stack:
            for src, _ in graph.node(stack.pop()).inputs:
                if src not in seen and graph.node(src).op not in CONTENT_FREE:
                    seen.add(src)
                    stack.append(src)
        return seen
    found = [ancestors(s) for s in dict.fromkeys(sources)]
    return any(a & b for i, a in enumerate(found) for b in found[i + 1:])


def _reaches(graph: Graph, users: dict[str, list[str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        here = stack.pop()
        if here == goal:
            return True
        for nxt in users.get(here, []):
            if nxt not in seen and graph.node(nxt).op not in CONTENT_FREE:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _ends(item_id: str, node: Node) -> list[list[End]]:
    """Where each output of a drawn node comes from; several outputs are told apart by their names."""
    if len(node.outputs) == 1:
        return [[End(item_id, node.outputs[0])]]
    names = node.hints if len(set(node.hints)) == len(node.outputs) else [f"#{i}" for i in range(len(node.outputs))]
    return [[End(item_id, t, name)] for t, name in zip(node.outputs, names)]


def _named(name: str, op: str, snake: bool = False) -> str:
    """The node's name when the user gave it (``as mu``); empty for agqc's own ``linear2``."""
    from ...calls import snake as to_snake
    stem = to_snake(op) if snake else op
    rest = name[len(stem):] if name.startswith(stem) else None
    return "" if rest is not None and (rest == "" or rest.isdigit()) else name
