"""Scene: a checked ``Program`` -> what a drawing shows, before any styling.

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


class _Builder:
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


# ---- the model: networks, the flow between them, inputs and outputs -------------
READABLE_ITEMS = 40  # the automatic depth keeps a drawing at most this busy (a slide's worth)
MAX_ITEMS = 2_000  # beyond this Graphviz takes minutes and nobody can read the result


class DrawingTooBig(Exception):
    """An explicit ``depth`` that would expand into more than ``MAX_ITEMS`` boxes."""


def build_scene(program: Program, options: DrawOptions) -> Scene:
    depth = options.depth if options.depth is not None else auto_depth(program, options)
    return _ModelBuilder(program, depth, MAX_ITEMS).scene(options)


def auto_depth(program: Program, options: DrawOptions) -> int:
    """The deepest level whose drawing has at most ``READABLE_ITEMS`` items (at least 1)."""
    tops = [block_graph(program, options.block)] if options.block else [program.graph(n.graph) for n in program.networks]
    deepest = 1 + max((_nesting(program, g) for g in tops), default=0)
    for depth in range(deepest, 1, -1):
        try:
            if len(_ModelBuilder(program, depth, READABLE_ITEMS).scene(options, classify=False).items()) \
                    <= READABLE_ITEMS:
                return depth
        except DrawingTooBig:
            continue
    return 1


def block_graph(program: Program, name: str) -> Graph:
    """The first instantiation of block ``name`` in the program (KeyError when it has none)."""
    for graph in program.graphs.values():
        if graph.name == name and graph.kind in ("block", "network"):
            return graph
    used = sorted({g.name for g in program.graphs.values() if g.kind in ("block", "network")})
    raise KeyError(f"{program.model} uses no block named `{name}`; it uses {', '.join(used)}")


def _nesting(program: Program, graph: Graph) -> int:
    inner = [program.graph(n.callee) for n in graph.nodes() if n.kind in ("call", "repeat")]
    return max((1 + _nesting(program, g) for g in inner), default=0)


class _ModelBuilder(_Builder):
    def scene(self, options: DrawOptions, classify: bool = True) -> Scene:
        root = Box("root", "model", self.program.model)
        if options.block:  # one block alone, as the model instantiates it first
            graph = block_graph(self.program, options.block)
            nets = [(graph.name, graph)]
        else:
            chosen = [self.program.network(options.network)] if options.network else self.program.networks
            nets = [(n.name, self.program.graph(n.graph)) for n in chosen]
        for name, graph in nets:
            self.network(name, graph, root)
        if self.program.flow is not None and options.network is None and options.block is None:
            self.flow(self.program.flow, root)
        else:
            for name, graph in nets:
                self.network_outputs(name, graph, root)
        self.resolve_ports(root)
        edges = _classify(self.edges) if classify else self.edges
        params = sum(self.graph_params(g.key) for _, g in nets)
        title = f"{self.program.model}: {options.block}" if options.block else self.program.model
        return Scene(title, params, root, edges, self.depth)

    def network(self, name: str, graph: Graph, root: Box) -> None:
        ports = {inp: [End(f"{name}/{inp}:port", graph.node(inp).outputs[0])] for inp in graph.inputs}
        for inp, (end,) in ports.items():
            self.ports[end.id], self.port_types[end.id] = [], end.type
        if self.depth < 1:
            inside = self.precisions_in(graph.key)
            item = Item(name, "network", graph.name, name=name, params=self.graph_params(graph.key),
                        precision=_main_precision(graph), mixed=inside if len(inside) > 1 else (),
                        shapes=", ".join(map(str, graph.input_types())) + " \u2192 " +
                        ", ".join(map(str, graph.output_types())))
            root.items.append(item)
            self.connect(list(ports.values()), item.id)
            self.net_outputs[name] = [[End(item.id, t)] for t in graph.output_types()]
            return
        title = name if name == graph.name else f"{name}: {graph.name}"
        box = Box(name, "network", title, params=self.graph_params(graph.key), level=1)
        root.boxes.append(box)
        self.net_outputs[name] = self.expand(graph, name + "/", 1, box, ports)

    def network_outputs(self, name: str, graph: Graph, root: Box) -> None:
        for i, ends in enumerate(self.net_outputs[name]):
            node = graph.node(graph.outputs[i][0])
            hint = node.hints[graph.outputs[i][1]] if node.hints else "out"
            title = "output" if hint == "out" else hint  # `out` is what a bare `return` is called
            self.output(f"out/{name}/{i}", title, ends, root)

    def flow(self, flow: Graph, root: Box) -> None:
        ends: dict[str, list[list[End]]] = {}
        names = _flow_names(flow)
        for node in flow.nodes():
            if node.kind == "input":
                item = Item(f"in/{node.name}", "input", node.name)
                root.items.append(item)
                ends[node.name] = [[End(item.id, node.outputs[0], node.name)]]
                continue
            ins = [ends[src][port] for src, port in node.inputs]
            if node.kind == "op":
                outs = self.op_item(flow, node, "flow/", root, ins)
            else:  # a network call: its inputs flow into the network's ports
                callee = self.program.graph(node.callee)
                for inp, given in zip(callee.inputs, ins):
                    port = self.ports[f"{node.module}/{inp}:port"]
                    port += [e for e in given if e not in port]
                outs = self.net_outputs[node.module]
            hints = names[node.name]
            if node.kind == "call":  # an unnamed result reads as the call: D(fake, y)
                hints = [h or f"{node.module}({', '.join(_names(ins, callee))})" for h in hints]
            ends[node.name] = [[End(e.id, e.type, hint) for e in es] for es, hint in zip(outs, hints)]
        for i, (src, port) in enumerate(flow.outputs):
            given = ends[src][port]
            self.output(f"out/{i}", given[0].name or "output", given, root)

    def output(self, item_id: str, title: str, ends: list[End], root: Box) -> None:
        root.items.append(Item(item_id, "output", title))
        self.connect([[End(e.id, e.type) for e in ends]], item_id)

    def resolve_ports(self, root: Box) -> None:
        """Edges that leave a network's input port leave, instead, whatever flows into that port."""
        for port, sources in self.ports.items():
            if not sources:  # a network nobody calls here: its input is the drawing's input
                name = port.split("/", 1)[1].removesuffix(":port")
                item = Item("in/" + port.removesuffix(":port"), "input", name)
                root.items.insert(sum(i.kind == "input" for i in root.items), item)
                sources.append(End(item.id, self.port_types[port], name))
        resolved: list[Edge] = []
        for edge in self.edges:
            for src in self._sources(edge.src, edge, set()):
                if src not in resolved:
                    resolved.append(src)
        self.edges = resolved

    def _sources(self, src: str, edge: Edge, seen: set[str]) -> list[Edge]:
        if src not in self.ports or src in seen:
            return [edge] if src not in self.ports else []
        seen.add(src)
        out = []
        param = src.split("/", 1)[1].removesuffix(":port")
        for end in self.ports[src]:
            out += self._sources(end.id, Edge(end.id, edge.dst, end.type, end.name or param), seen)
        return out


def _names(ins: list[list[End]], callee: Graph) -> list[str]:
    return [es[0].name if es and es[0].name else param for es, param in zip(ins, callee.inputs)]


def _flow_names(flow: Graph) -> dict[str, list[str]]:
    """The variable each flow value was assigned to, or "" for a step inside a chain or a bare return."""
    names = {}
    for node in flow.nodes():
        hints = list(node.hints) or [""] * len(node.outputs)
        inner = any(list(user.hints[:1]) == hints[:1] for user in flow.users(node.name))
        names[node.name] = ["" if inner or h in ("out", node.module) else h for h in hints]
    return names


def _main_precision(graph: Graph) -> str:
    counts: dict[str, int] = {}
    for node in graph.nodes():
        if node.kind != "input":
            counts[node.precision.name] = counts.get(node.precision.name, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else "fp32"


def _network_of(item_id: str) -> str | None:
    head = item_id.split("/", 1)[0]
    return None if head in ("in", "out", "flow") or "/" not in item_id else head


def _classify(edges: list[Edge]) -> list[Edge]:
    """Mark links between networks, and skips: edges that jump over a path inside one network."""
    import networkx

    g = networkx.DiGraph()
    g.add_edges_from((e.src, e.dst) for e in edges if e.kind != "tie")
    out = []
    for e in edges:
        if e.kind == "tie":
            out.append(e)
            continue
        home = _network_of(e.dst)
        kind = "data"
        if _network_of(e.src) and home and _network_of(e.src) != home:
            kind = "link"
        else:
            g.remove_edge(e.src, e.dst)
            within = networkx.subgraph_view(g, filter_node=lambda n: n == e.src or _network_of(n) == home)
            if networkx.has_path(within, e.src, e.dst):
                kind = "skip"
            g.add_edge(e.src, e.dst)
        out.append(Edge(e.src, e.dst, e.type, e.name, kind))
    return out
