"""Choose what opens: ``--expand`` (one block, one repeat copy, a block by name) and ``--range FROM:TO``.

Takes the program, the ``DrawOptions`` and the depth the rest of the drawing keeps; gives the ids
of the blocks and repeat copies to draw open (``GraphBuilder.opened``), and cuts a built scene down
to the part between two nodes.  A name is a node's name as the spec writes it (``attn``,
``h.0``, ``h.0/attn`` for one inside a copy, ``lm/h.0`` with the network in front) or a block's
name (``GPT2Block``).  Where a name matches several nodes, those the drawing shows at its depth
open; where it shows none of them, the first does, with the blocks around it.  A repeat opens one
copy: ``h`` or its block's name opens the first, ``h.3`` the fourth; the other copies stay shut,
each run of them one box (``GPT2Block ×11``).  An unknown name is a ``KeyError`` with a
did-you-mean.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ...ir import Graph, Program
from ...kinds import NodeKind
from .scene import Box, DrawOptions, Edge, EdgeKind, Item, ItemKind, Scene


@dataclass(frozen=True)
class Place:
    """One node as a drawing can show it: its id, the block it calls, the blocks and copies around it."""

    id: str
    block: str  # the block it calls or repeats ("" for an op)
    around: tuple[str, ...]  # ids of the enclosing blocks and repeat copies, outermost first
    repeat: bool = False
    copy: bool = False


def places(program: Program, options: DrawOptions) -> list[Place]:
    """Every node a drawing of ``program`` could show, in program order (a repeat's copies each)."""
    from .model_scene import block_graph
    if options.block:
        graph = block_graph(program, options.block)
        tops = [(graph.name, graph)]
    else:
        nets = [program.network(options.network)] if options.network else program.networks
        tops = [(n.name, program.graph(n.graph)) for n in nets]
    out: list[Place] = []
    for name, graph in tops:
        _walk(program, graph, name + "/", (), out)
    return out


def _walk(program: Program, graph: Graph, prefix: str, around: tuple[str, ...], out: list[Place]) -> None:
    for node in graph.nodes():
        if node.kind == NodeKind.INPUT:
            continue
        here = prefix + node.name
        if node.kind == NodeKind.OP:
            out.append(Place(here, "", around))
        elif node.kind == NodeKind.REPEAT:
            body, name = program.repeat_copy(node)
            out.append(Place(here, name, around, repeat=True))
            for i in range(node.count):
                out.append(Place(f"{here}.{i}", name, around, copy=True))
                _walk(program, body, f"{here}.{i}/", around + (f"{here}.{i}",), out)
        else:
            out.append(Place(here, node.op, around))
            _walk(program, program.graph(node.callee), here + "/", around + (here,), out)


def _matches(name: str, all_places: list[Place]) -> list[Place]:
    by_path = [p for p in all_places if p.id == name or p.id.endswith("/" + name)]
    if by_path:
        return by_path
    return [p for p in all_places if p.block == name and not p.copy]


def _pick(found: list[Place], depth: int) -> list[Place]:
    """Those the drawing shows at ``depth`` (every block around them open), else the first."""
    shown = [p for p in found if len(p.around) < depth]
    return shown or found[:1]


def _unknown(name: str, all_places: list[Place], what: str) -> KeyError:
    names = {p.id.split("/", 1)[1] for p in all_places} | {p.id.rsplit("/", 1)[1] for p in all_places}
    names |= {p.block for p in all_places if p.block}
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else \
        f"; it has, for example, {', '.join(f'`{n}`' for n in sorted(names, key=len)[:6])}"
    return KeyError(f"{what} `{name}`: the drawing has no node or block of that name{hint}")


def openings(program: Program, options: DrawOptions, depth: int) -> frozenset[str]:
    """The ids of the blocks and repeat copies that ``options.expand`` and ``options.range`` open."""
    if not options.expand and not options.range:
        return frozenset()
    all_places = places(program, options)
    opened: set[str] = set()
    for name in options.expand:
        found = _matches(name, all_places)
        if not found:
            raise _unknown(name, all_places, "--expand")
        for place in _pick(found, depth):
            opened.update(place.around)
            opened.add(f"{place.id}.0" if place.repeat else place.id)
    for name in options.range or ():
        found = _matches(name, all_places)
        if not found:
            raise _unknown(name, all_places, "--range")
        opened.update(_pick(found, depth)[0].around)  # the blocks around it open; it stays as it is
    return frozenset(opened)


def endpoint(name: str, scene: Scene) -> list[str]:
    """The drawn items a range endpoint stands for: the item itself, or everything in its open box."""
    def named(i: str) -> bool:
        return i == name or i.endswith("/" + name)
    items = scene.items()
    hit = [i.id for i in items if named(i.id)] or [i.id for i in items if name in (i.op, i.title.split(" \u00d7")[0])]
    if hit:
        return hit[:1]
    boxes = [b for b in _boxes(scene.root) if named(b.id) or b.title.split(": ")[-1].split(" [")[0] == name]
    return [i.id for i in items if boxes and i.id.startswith(boxes[0].id + "/")]


def _boxes(box: Box) -> list[Box]:
    out = []
    for inner in box.boxes:
        out += [inner] + _boxes(inner)
    return out


def cut_range(scene: Scene, span: tuple[str, str]) -> Scene:
    """The part of ``scene`` from ``span[0]`` to ``span[1]``: every item on a path between them.

    What flows in from outside the part comes from an input ellipse named after it; what the last
    items hand on goes to an output ellipse.  Boxes left empty go.
    """
    start, stop = (endpoint(name, scene) for name, _ in zip(span, "ab"))
    if not start or not stop:
        missing = span[0] if not start else span[1]
        raise KeyError(f"--range `{missing}`: that node is not drawn; name one the drawing shows, "
                       f"or open its block with --expand")
    after = _closure(scene.edges, start, forward=True)
    before = _closure(scene.edges, stop, forward=False)
    keep = after & before
    if not keep:
        raise KeyError(f"--range {span[0]}:{span[1]}: no path leads from `{span[0]}` to `{span[1]}`; "
                       f"give the earlier node first")
    items = {i.id: i for i in scene.items()}
    edges: list[Edge] = []
    ins: dict[str, Item] = {}
    outs: dict[str, Item] = {}
    for e in scene.edges:
        if e.src in keep and e.dst in keep:
            edges.append(e)
        elif e.dst in keep and e.kind != EdgeKind.TIE:
            source = items.get(e.src)
            title = e.name or (source.name or source.title if source else e.src.rsplit("/", 1)[-1])
            item = ins.setdefault(e.src, Item(f"in/range/{e.src}", ItemKind.INPUT, title))
            edges.append(Edge(item.id, e.dst, e.type, e.name, EdgeKind.SIDE if e.kind == EdgeKind.SIDE
                              else EdgeKind.DATA))
        elif e.src in stop and e.kind != EdgeKind.TIE and e.src not in outs:
            outs[e.src] = Item(f"out/range/{e.src}", ItemKind.OUTPUT, "output")
            edges.append(Edge(e.src, outs[e.src].id, e.type))
    root = _prune(scene.root, keep)
    root.items = list(ins.values()) + root.items + list(outs.values())
    title = f"{scene.title}: {span[0]} \u2192 {span[1]}"
    return Scene(title, sum(items[i].params for i in keep), root, edges, scene.depth,
                 tuple(b for b in scene.side_by_side if any(x.id == b for x in root.boxes)))


def _closure(edges: list[Edge], start: list[str], forward: bool) -> set[str]:
    nxt: dict[str, list[str]] = {}
    for e in edges:
        if e.kind != EdgeKind.TIE:
            a, b = (e.src, e.dst) if forward else (e.dst, e.src)
            nxt.setdefault(a, []).append(b)
    seen, stack = set(start), list(start)
    while stack:
        for n in nxt.get(stack.pop(), []):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


def _prune(box: Box, keep: set[str]) -> Box:
    inner = [_prune(b, keep) for b in box.boxes]
    return Box(box.id, box.kind, box.title, box.subtitle, box.params, box.level,
               [i for i in box.items if i.id in keep], [b for b in inner if b.items or b.boxes])
