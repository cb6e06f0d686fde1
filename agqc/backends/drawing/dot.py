"""DOT writer: a ``Scene`` -> Graphviz DOT text.

Takes the scene and the ``DrawOptions``; gives deterministic text (same
spec, same bytes), so drawings can be golden-tested.  Clusters nest as the
boxes do; every edge is written at the top level after all nodes.
"""
from __future__ import annotations

from . import style
from .scene import Box, DrawOptions, EdgeKind, Scene


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def attrs(pairs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v if v.startswith('<') else quote(v)}" for k, v in pairs.items())


def write_dot(scene: Scene, options: DrawOptions) -> str:
    title = f"<<b>{style.html(scene.title)}</b>"
    if options.params:
        title += "  " + style.small(f"{style.count(scene.params)} parameters", size=11)
    graph = {"rankdir": options.direction, "label": title + ">", "labelloc": "t", "fontname": style.FONT,
             "fontsize": "16", "nodesep": "0.3", "ranksep": "0.35", "newrank": "true"}
    node = {"fontname": style.FONT, "fontsize": "10", "fontcolor": style.INK, "margin": "0.12,0.05", "height": "0.3"}
    edge = {"fontname": style.FONT, "fontsize": "8", "color": "#555555", "fontcolor": "#34495e", "arrowsize": "0.6"}
    lines = [f"digraph {quote(scene.title)} {{", f"  graph [{attrs(graph)}];", f"  node [{attrs(node)}];",
             f"  edge [{attrs(edge)}];"]
    lines += _box_body(scene.root, options, "  ")
    for edge in scene.edges:
        extra = style.edge_attrs(edge, options.shapes)
        lines.append(f"  {quote(edge.src)} -> {quote(edge.dst)}" + (f" [{attrs(extra)}];" if extra else ";"))
    lines += _legend(scene)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _box_body(box: Box, options: DrawOptions, indent: str) -> list[str]:
    lines = []
    for item in box.items:
        node = {"label": style.item_label(item, options.shapes, options.params), **style.item_attrs(item)}
        lines.append(f"{indent}{quote(item.id)} [{attrs(node)}];")
    for inner in box.boxes:
        lines.append(f"{indent}subgraph {quote('cluster_' + inner.id)} {{")
        cluster = {"label": style.box_label(inner, options.params), **style.box_attrs(inner)}
        lines += [f"{indent}  {k}={v if v.startswith('<') else quote(v)};" for k, v in cluster.items()]
        lines += _box_body(inner, options, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _legend(scene: Scene) -> list[str]:
    kinds = {e.kind for e in scene.edges}
    kept = any(i.kept for i in scene.items())
    label = style.legend_label(scene.precisions(), kept, EdgeKind.SKIP in kinds, EdgeKind.LINK in kinds,
                               EdgeKind.TIE in kinds)
    return [f"  legend [{attrs({'shape': 'plaintext', 'label': label, 'fontsize': '9'})}];",
            "  { rank=sink; legend; }"]
