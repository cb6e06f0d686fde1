"""Model scene: the networks, the flow between them, the drawing's inputs and outputs.

Takes a checked ``Program`` and ``DrawOptions``; gives the ``Scene`` that
``dot.py`` writes.  Builds on ``scene.GraphBuilder`` (which lays out one graph):
places each network (or one block, or one network alone), wires the model's
flow into the networks' input ports, chooses the automatic depth, and marks
skips, links between networks and tied weights.
"""
from __future__ import annotations

from ...ir import Graph, Program
from ...kinds import GraphKind, NodeKind
from ...passes.annotate import annotate
from ...policy import MAX_DRAWN_ITEMS, READABLE_ITEMS
from .choose import cut_range, openings
from .scene import (
    CONTENT_FREE,
    Box,
    BoxKind,
    DrawingTooBig,
    DrawOptions,
    Edge,
    EdgeKind,
    End,
    GraphBuilder,
    Item,
    ItemKind,
    Scene,
)


def build_scene(program: Program, options: DrawOptions, depth: int | None = None) -> Scene:
    """The scene at ``depth`` (default: ``options.depth``, else the automatic one), with what
    ``options.expand`` opens and cut to ``options.range``."""
    annotate(program)  # a drawing reads the facts: parameters, labels, precisions, tied weights
    if depth is None:
        depth = options.depth if options.depth is not None else auto_depth(program, options)
    if (options.expand or options.range) and depth < 1:
        depth = 1  # what opens is inside a network: the networks open too
    scene = _ModelBuilder(program, depth, MAX_DRAWN_ITEMS, openings(program, options, depth)).scene(options)
    return cut_range(scene, options.range) if options.range else scene


def auto_depth(program: Program, options: DrawOptions) -> int:
    """The deepest level whose drawing has at most ``READABLE_ITEMS`` items (at least 1)."""
    return depth_candidates(program, options)[0]


def depth_candidates(program: Program, options: DrawOptions) -> list[int]:
    """The depths an automatic drawing may take, deepest first: those whose drawing has at most
    ``READABLE_ITEMS`` items, then level 1 (a block alone: always 1); level 0 (networks as
    boxes) only when level 1 is past what can be drawn at all.  ``fit.py`` takes the first that
    fits a slide."""
    annotate(program)
    tops = ([block_graph(program, options.block)] if options.block
            else [program.graph(n.graph) for n in program.networks])
    deepest = 1 + max((_nesting(program, g) for g in tops), default=0)
    out = []
    for depth in range(deepest, 1, -1):
        try:
            builder = _ModelBuilder(program, depth, READABLE_ITEMS, openings(program, options, depth))
            if len(builder.scene(options, classify=False).items()) <= READABLE_ITEMS:
                out.append(depth)
        except DrawingTooBig:
            continue
    if options.block:
        return out + [1]  # a block alone is drawn open, or not at all
    try:  # level 1 even when busy, unless it is past what can be drawn at all: then networks as boxes
        _ModelBuilder(program, 1, MAX_DRAWN_ITEMS, openings(program, options, 1)).scene(options, classify=False)
        return out + [1]
    except DrawingTooBig:
        return out + [0]


def block_graph(program: Program, name: str) -> Graph:
    """The first instantiation of block ``name`` in the program (KeyError when it has none)."""
    for graph in program.graphs.values():
        if graph.name == name and graph.kind in (GraphKind.BLOCK, GraphKind.NETWORK):
            return graph
    used = sorted({g.name for g in program.graphs.values() if g.kind in (GraphKind.BLOCK, GraphKind.NETWORK)})
    raise KeyError(f"{program.model} uses no block named `{name}`; it uses {', '.join(used)}")


def _nesting(program: Program, graph: Graph) -> int:
    inner = [program.graph(n.callee) for n in graph.nodes() if n.callee]
    return max((1 + _nesting(program, g) for g in inner), default=0)


class _ModelBuilder(GraphBuilder):
    def scene(self, options: DrawOptions, classify: bool = True) -> Scene:
        root = Box("root", BoxKind.MODEL, self.program.model)
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
        scene = Scene("", 0, root, self.edges, self.depth)
        edges = _classify(self.edges, {i.id: i for i in scene.items()}) if classify else self.edges
        params = sum(self.graph_params(g.key) for _, g in nets)
        title = f"{self.program.model}: {options.block}" if options.block else self.program.model
        return Scene(title, params, root, edges, self.depth, self.side_by_side(root))

    def side_by_side(self, root: Box) -> tuple[str, ...]:
        """A GAN-family model (a generator and a discriminator or critic) draws its networks next to each other."""
        roles = {n.name: n.role for n in self.program.networks}
        drawn = [b.id for b in root.boxes if b.kind == BoxKind.NETWORK]
        used = {roles.get(b) for b in drawn}
        if len(drawn) > 1 and "generator" in used and used & {"discriminator", "critic"}:
            return tuple(drawn)
        return ()

    def network(self, name: str, graph: Graph, root: Box) -> None:
        ports = {inp: [End(f"{name}/{inp}:port", graph.node(inp).outputs[0])] for inp in graph.inputs}
        for inp, (end,) in ports.items():
            self.ports[end.id], self.port_types[end.id] = [], end.type
        if self.depth < 1:
            inside = self.precisions_in(graph.key)
            item = Item(name, ItemKind.NETWORK, graph.name, name=name, params=self.graph_params(graph.key),
                        precision=_main_precision(graph), mixed=inside if len(inside) > 1 else (),
                        shapes=", ".join(map(str, graph.input_types())) + " \u2192 " +
                        ", ".join(map(str, graph.output_types())))
            root.items.append(item)
            self.connect(list(ports.values()), item.id)
            self.net_outputs[name] = [[End(item.id, t)] for t in graph.output_types()]
            return
        title = name if name == graph.name else f"{name}: {graph.name}"
        box = Box(name, BoxKind.NETWORK, title, params=self.graph_params(graph.key), level=1)
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
            if node.kind == NodeKind.INPUT:
                item = Item(f"in/{node.name}", ItemKind.INPUT, node.name)
                root.items.append(item)
                ends[node.name] = [[End(item.id, node.outputs[0], node.name)]]
                continue
            ins = [ends[src][port] for src, port in node.inputs]
            if node.kind == NodeKind.OP:
                outs = self.op_item(flow, node, "flow/", root, ins)
            else:  # a network call: its inputs flow into the network's ports
                callee = self.program.graph(node.callee)
                for inp, given in zip(callee.inputs, ins):
                    port = self.ports[f"{node.module}/{inp}:port"]
                    port += [e for e in given if e not in port]
                outs = self.net_outputs[node.module]
            hints = names[node.name]
            if node.kind == NodeKind.CALL:  # an unnamed result reads as the call: D(fake, y)
                hints = [h or f"{node.module}({', '.join(_names(ins, callee))})" for h in hints]
            ends[node.name] = [[End(e.id, e.type, hint) for e in es] for es, hint in zip(outs, hints)]
        for i, (src, port) in enumerate(flow.outputs):
            given = ends[src][port]
            self.output(f"out/{i}", given[0].name or "output", given, root)

    def output(self, item_id: str, title: str, ends: list[End], root: Box) -> None:
        root.items.append(Item(item_id, ItemKind.OUTPUT, title))
        self.connect([[End(e.id, e.type) for e in ends]], item_id)

    def resolve_ports(self, root: Box) -> None:
        """Edges that leave a network's input port leave, instead, whatever flows into that port."""
        for port, sources in self.ports.items():
            if not sources:  # a network nobody calls here: its input is the drawing's input
                name = port.split("/", 1)[1].removesuffix(":port")
                item = Item("in/" + port.removesuffix(":port"), ItemKind.INPUT, name)
                root.items.insert(sum(i.kind == ItemKind.INPUT for i in root.items), item)
                sources.append(End(item.id, self.port_types[port], name))
        resolved: dict[Edge, None] = {}  # ordered and de-duplicated
        for edge in self.edges:
            resolved.update(dict.fromkeys(self._sources(edge.src, edge, set())))
        self.edges = list(resolved)

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
        if node.kind != NodeKind.INPUT:
            counts[node.precision.name] = counts.get(node.precision.name, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else "fp32"


def _network_of(item_id: str) -> str | None:
    head = item_id.split("/", 1)[0]
    return None if head in ("in", "out", "flow") or "/" not in item_id else head


def _classify(edges: list[Edge], items: dict[str, Item]) -> list[Edge]:
    """Mark links between networks, residuals (skips) and side inputs.

    An edge u -> v *bypasses* when another successor of u, in v's network, reaches v without leaving
    it (a path through a content-free op such as ``class_token`` does not count).  A bypass into a
    merge (``+``, ``concat``) is a residual: ``x + f(x)``.  A bypass into anything else (a mask or
    a bias into each block's attention, a class token used as the query) is a side input, and so
    are u's other edges into the same kind of box; so is a bypass into the same kind of box that u
    feeds on the bypassed path too (context fanned out to every block's ``concat``).  A drawing input
    that feeds several networks (a cGAN's label) or that is a side input anywhere is one everywhere.
    """
    import networkx

    g = networkx.DiGraph()
    g.add_edges_from((e.src, e.dst) for e in edges if e.kind != EdgeKind.TIE)
    carried = networkx.DiGraph()  # the paths that carry a value: none through a content-free op
    carried.add_nodes_from(g)
    carried.add_edges_from((u, v) for u, v in g.edges if _carries(items.get(v)))
    reach = _reach_within_network(carried)
    kinds: dict[Edge, EdgeKind] = {}
    for e in edges:
        if e.kind == EdgeKind.TIE:
            kinds[e] = EdgeKind.TIE
            continue
        home = _network_of(e.dst)
        kind = EdgeKind.DATA
        if _network_of(e.src) and home and _network_of(e.src) != home:
            kind = EdgeKind.LINK
        elif _another_path(carried, reach, e.src, e.dst, home):
            dst = items.get(e.dst)
            kind = EdgeKind.SKIP if dst is not None and dst.kind == ItemKind.MERGE else EdgeKind.SIDE
        kinds[e] = kind
    by_source: dict[str, list[Edge]] = {}
    for e in edges:
        by_source.setdefault(e.src, []).append(e)
    for src, out in by_source.items():
        slots: dict[str, list[Edge]] = {}
        for e in out:
            slots.setdefault(_slot(items.get(e.dst)), []).append(e)
        for same in slots.values():  # the same kind of box fed in every copy: fanned-out context, not a residual
            if len(same) > 1 and any(kinds[e] in (EdgeKind.SKIP, EdgeKind.SIDE) for e in same):
                kinds.update(dict.fromkeys(same, EdgeKind.SIDE))
        side_titles = {_slot(items.get(e.dst)) for e in out if kinds[e] == EdgeKind.SIDE}
        networks = {_network_of(e.dst) for e in out if kinds[e] != EdgeKind.TIE}
        is_input = src.startswith("in/")
        fanned = is_input and len(networks - {None}) > 1
        for e in out:
            if kinds[e] not in (EdgeKind.DATA, EdgeKind.LINK):
                continue
            if (is_input and (side_titles or fanned)) or (side_titles and _slot(items.get(e.dst)) in side_titles):
                kinds[e] = EdgeKind.SIDE
    return [e if kinds[e] == e.kind else Edge(e.src, e.dst, e.type, e.name, kinds[e]) for e in edges]


def _carries(item: Item | None) -> bool:
    return item is None or item.op not in CONTENT_FREE


def _slot(item: Item | None) -> str:
    """What kind of box an edge ends in, to find the other copies of a side input's destination."""
    return "" if item is None else f"{item.kind}:{item.title}"


def _another_path(g, reach: dict | None, src: str, dst: str, home: str | None) -> bool:
    if reach is not None:
        return any(w != dst and _network_of(w) == home and reach[w] >> reach["#" + dst] & 1 for w in g[src])
    import networkx  # a drawing with a cycle (a flow feeding a network its own output): a path search per arrow

    g.remove_edge(src, dst)
    within = networkx.subgraph_view(g, filter_node=lambda n: n == src or _network_of(n) == home)
    found = networkx.has_path(within, src, dst)
    g.add_edge(src, dst)
    return found


def _reach_within_network(g) -> dict | None:
    """For each node, a bit set of the nodes it reaches without leaving its network (itself included).

    Bits, filled in reverse topological order: linear in the arrows times a word, where asking
    networkx for a path per arrow was quadratic (4 s for a 3,000-arrow drawing). ``"#" + node``
    holds the node's bit index.
    """
    import networkx

    if not networkx.is_directed_acyclic_graph(g):
        return None  # a flow that feeds a network its own output: drawn as one box with an arrow back
    order = list(networkx.topological_sort(g))
    reach: dict = {"#" + n: i for i, n in enumerate(order)}
    for n in reversed(order):
        home, bits = _network_of(n), 1 << reach["#" + n]
        for s in g[n]:
            if _network_of(s) == home:
                bits |= reach[s]
        reach[n] = bits
    return reach
