"""DOT writer: a ``Scene`` -> Graphviz DOT text.

Takes the scene and the ``DrawOptions``; gives deterministic text (same
spec, same bytes), so drawings can be golden-tested.  Clusters nest as the
boxes do; every edge is written at the top level after all nodes.
"""
from __future__ import annotations

import re

from . import style
from .scene import Box, DrawOptions, EdgeKind, ItemKind, Scene


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def attrs(pairs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v if v.startswith('<') else quote(v)}" for k, v in pairs.items())


def write_dot(scene: Scene, options: DrawOptions, columns: int = 1) -> str:
    """DOT text; ``columns`` > 1 wraps the drawing's longest chain into that many columns (``_wrap``)."""
    title = f"<<b>{style.html(scene.title)}</b>"
    if options.params:
        title += "  " + style.small(f"{style.count(scene.params)} parameters", size=11)
    graph = {"rankdir": options.direction, "label": title + ">", "labelloc": "t", "fontname": style.FONT,
             "fontsize": "16", "nodesep": "0.3", "ranksep": "0.35", "newrank": "true"}
    node = {"fontname": style.FONT, "fontsize": "10", "fontcolor": style.INK, "margin": "0.12,0.05", "height": "0.3"}
    edge = {"fontname": style.FONT, "fontsize": "8", "color": "#555555", "fontcolor": "#34495e", "arrowsize": "0.6"}
    lines = [f"digraph {quote(scene.title)} {{", f"  graph [{attrs(graph)}];", f"  node [{attrs(node)}];",
             f"  edge [{attrs(edge)}];"]
    lines += _box_body(scene.root, scene, options, "  ")
    side = set(scene.side_by_side)
    crossed = _titles_crossed(scene)
    loose, tops = _wrap(scene, columns, crossed) if columns > 1 else (set(), [])
    for edge in scene.edges:
        extra = style.edge_attrs(edge, options.shapes)
        titles = crossed.get(edge.dst, {}).get(edge.src, 0) if edge.kind != EdgeKind.TIE else 0
        if titles:  # room for the titles of the clusters it enters, so they sit above its head, not beside its tail
            extra["minlen"] = str(1 + titles)
        if edge.kind == EdgeKind.LINK and _top(edge.src) in side and _top(edge.dst) in side:
            extra["constraint"] = "false"  # networks side by side: G's output crosses over to D's top
        if (edge.src, edge.dst) in loose:
            extra["constraint"] = "false"  # from the foot of one column to the head of the next
        lines.append(f"  {quote(edge.src)} -> {quote(edge.dst)}" + (f" [{attrs(extra)}];" if extra else ";"))
    if scene.side_by_side:
        titles = [quote(_title_id(b)) for b in scene.side_by_side]
        lines.append("  { rank=same; " + " -> ".join(titles) + ' [style="invis"]; }')  # in the order declared
    if tops:  # each column's head on the first column's rank, in order left to right
        lines.append("  { rank=same; " + " -> ".join(map(quote, tops)) + ' [style="invis"]; }')
    lines += _next_to_consumer(scene)
    lines += _legend(scene)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _wrap(scene: Scene, columns: int, crossed: dict[str, dict[str, int]]) -> tuple[set[tuple[str, str]], list[str]]:
    """Wrap the longest chain into ``columns`` columns: the arrows that cross from one column to the next
    (laid out without pulling their ends apart) and the node heading each column (to share one rank).

    Ranks are dot's own rule (each node one below what feeds it; a box's title just above it); the chain
    is the box that holds most of the drawing's height, descending from the whole drawing while one part
    holds most of it; its parts
    (items and inner boxes), in rank order with overlapping ones kept together, are cut into columns of
    about equal height, between parts only, so a block is never split.
    """
    import networkx

    g = networkx.DiGraph()
    side = set(scene.side_by_side)
    for e in scene.edges:
        if e.kind == EdgeKind.TIE or (e.kind == EdgeKind.LINK and _top(e.src) in side and _top(e.dst) in side):
            continue
        g.add_edge(e.src, e.dst, minlen=1 + crossed.get(e.dst, {}).get(e.src, 0))
    if not networkx.is_directed_acyclic_graph(g):
        return set(), []
    rank: dict[str, int] = {}
    for n in networkx.topological_sort(g):
        rank[n] = max((rank[p] + g[p][n]["minlen"] for p in g.predecessors(n)), default=0)

    def parts(box: Box) -> list[tuple[int, int, set[str], Box | None]]:
        out = [(rank[i.id], rank[i.id], {i.id}, None) for i in box.items if i.id in rank]
        for inner in box.boxes:
            ids = (_inside(inner) | {_title_id(inner.id)}) & rank.keys()
            if ids:
                out.append((min(rank[i] for i in ids), max(rank[i] for i in ids), ids, inner))
        return sorted(out, key=lambda p: (p[0], p[1]))

    box = scene.root
    while True:
        here = parts(box)
        if not here:
            return set(), []
        height = max(p[1] for p in here) - min(p[0] for p in here) + 1
        tallest = max(here, key=lambda p: p[1] - p[0])
        if tallest[3] is None or (tallest[1] - tallest[0] + 1) < 0.7 * height:
            break
        box = tallest[3]
    groups: list[list] = []  # parts whose ranks overlap stay together: [first, last, ids, head]
    for first, last, ids, inner in here:
        if groups and first <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], last)
            groups[-1][2] |= ids
        else:
            head = _title_id(inner.id) if inner is not None else min(ids)
            groups.append([first, last, set(ids), head])
    total = groups[-1][1] - groups[0][0] + 1
    if len(groups) < columns:
        return set(), []
    cuts, start = [], groups[0][0]
    for k, (first, _, _, _) in enumerate(groups[1:], 1):
        if len(cuts) < columns - 1 and first - start >= total / columns:
            cuts.append(k)
            start = first
    if not cuts:
        return set(), []
    column_of: dict[str, int] = {}
    bounds = [0] + cuts + [len(groups)]
    for c in range(len(bounds) - 1):
        for group in groups[bounds[c]:bounds[c + 1]]:
            column_of.update(dict.fromkeys(group[2], c))
    loose = {(e.src, e.dst) for e in scene.edges
             if e.src in column_of and e.dst in column_of and column_of[e.src] < column_of[e.dst]}
    return loose, [groups[b][3] for b in bounds[:-1]]


def _title_id(box_id: str) -> str:
    return f"title:{box_id}"


def _top(item_id: str) -> str:
    return item_id.split("/", 1)[0]


def _box_body(box: Box, scene: Scene, options: DrawOptions, indent: str) -> list[str]:
    lines = []
    items = box.items
    if box is scene.root and scene.side_by_side:  # inputs in the networks' order: dot keeps G left of D
        order = {name: i for i, name in enumerate(scene.side_by_side)}
        fed: dict[str, set[int]] = {}
        for e in scene.edges:
            fed.setdefault(e.src, set()).add(order.get(_top(e.dst), len(order)))
        items = sorted(items, key=lambda i: sorted(fed.get(i.id, {len(order)})))
    for item in items:
        node = {"label": style.item_label(item, options.shapes, options.params), **style.item_attrs(item)}
        lines.append(f"{indent}{quote(item.id)} [{attrs(node)}];")
    for inner in box.boxes:
        lines.append(f"{indent}subgraph {quote('cluster_' + inner.id)} {{")
        cluster = {"label": "", **style.box_attrs(inner)}
        lines += [f"{indent}  {k}={v if v.startswith('<') else quote(v)};" for k, v in cluster.items()]
        title = {"label": style.box_label(inner, options.params), **style.title_attrs(),
                 "fontsize": cluster.get("fontsize", "11")}
        lines.append(f"{indent}  {quote(_title_id(inner.id))} [{attrs(title)}];")
        lines += _box_body(inner, scene, options, indent + "  ")
        lines += [f"{indent}  {quote(_title_id(inner.id))} -> {quote(entry)} [{attrs(weight)}];"
                  for entry, weight in _entries(inner, scene)]
        lines.append(f"{indent}}}")
    return lines


def _titles_crossed(scene: Scene) -> dict[str, dict[str, int]]:
    """For an item that opens a cluster (nothing inside feeds it), how many cluster titles an edge from
    each source passes on its way in: the clusters holding the item but not the source."""
    holders: dict[str, list[set[str]]] = {}  # item -> the contents of each cluster it opens

    def walk(box: Box, outer: list[tuple[Box, set[str]]]) -> None:
        for inner in box.boxes:
            inside = _inside(inner)
            chain = outer + [(inner, inside)]
            fed = {e.dst for e in scene.edges if e.src in inside and e.kind != EdgeKind.TIE}
            for item in inner.items:
                if item.id not in fed:
                    holders[item.id] = [ids for _, ids in chain]
            walk(inner, chain)
    walk(scene.root, [])
    out: dict[str, dict[str, int]] = {}
    for e in scene.edges:
        if e.dst in holders:
            out.setdefault(e.dst, {})[e.src] = sum(e.src not in ids for ids in holders[e.dst])
    return out


def _inside(box: Box) -> set[str]:
    ids = {i.id for i in box.items} | {_title_id(b.id) for b in box.boxes}
    for inner in box.boxes:
        ids |= _inside(inner)
    return ids


def _entries(box: Box, scene: Scene) -> list[tuple[str, dict[str, str]]]:
    """Invisible arrows that keep a cluster's title above what it holds: to each item nothing inside feeds
    (pulled close), and to each inner cluster's title (not pulled, so the inner cluster stays where it is)."""
    inside = _inside(box)
    fed = {e.dst for e in scene.edges if e.src in inside and e.kind != EdgeKind.TIE}
    out = [(i.id, {"style": "invis"}) for i in box.items if i.id not in fed]
    out += [(_title_id(b.id), {"style": "invis", "weight": "0"}) for b in box.boxes]
    return out


def _next_to_consumer(scene: Scene) -> list[str]:
    """An item fed only by the drawing's inputs (a discriminator's label embedding) sits beside what it
    joins, rather than floating up to the inputs: on the rank of another box feeding the same consumer."""
    into: dict[str, list[str]] = {}
    out: dict[str, list[str]] = {}
    for e in scene.edges:
        if e.kind != EdgeKind.TIE:
            into.setdefault(e.dst, []).append(e.src)
            out.setdefault(e.src, []).append(e.dst)
    lines = []
    for item in scene.items():
        sources = into.get(item.id, [])
        consumers = out.get(item.id, [])
        if item.id.startswith(("in/", "out/")) or not sources or not all(s.startswith("in/") for s in sources) \
                or len(set(consumers)) != 1:
            continue
        partners = [p for p in into.get(consumers[0], []) if p != item.id and not p.startswith("in/")
                    and not all(s.startswith("in/") for s in into.get(p, ["in/"]))]
        if partners and not _reaches(out, item.id, partners[0]):
            lines.append(f"  {{ rank=same; {quote(item.id)}; {quote(partners[0])}; }}")
    return lines


def _reaches(out: dict[str, list[str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        here = stack.pop()
        if here == goal:
            return True
        for nxt in out.get(here, []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _legend(scene: Scene) -> list[str]:
    kinds = {e.kind for e in scene.edges}
    items = scene.items()
    kept = any(i.kept for i in items)
    marks = tuple(mark for mark, used in (
        ("residual", any(i.residual for i in items)),
        ("repeat", any(i.kind == ItemKind.REPEAT for i in items)),
        ("up", any("\u2191" in i.title for i in items)),
        ("down", any(_DOWN.search(i.title) for i in items if i.kind == ItemKind.OP))) if used)
    label = style.legend_label(scene.precisions(), kept, EdgeKind.SKIP in kinds, EdgeKind.LINK in kinds,
                               EdgeKind.TIE in kinds, EdgeKind.SIDE in kinds, marks)
    if not label:
        return []
    return [f"  legend [{attrs({'shape': 'plaintext', 'label': label, 'fontsize': '9'})}];",
            "  { rank=sink; legend; }"]


_DOWN = re.compile(r"(^|[ ,])/\d")
