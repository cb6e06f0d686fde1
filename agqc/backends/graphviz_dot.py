"""Graphviz backend: a checked ``Program`` -> DOT text, and SVG/PNG via ``dot``.

A plain, deterministic drawing: one cluster per network with its nodes
labelled by op and output shape; a block call is one box; the model's flow
links inputs, noise and networks.  (The teaching renderer with nested
clusters, precision colours and --depth comes with ``agqc draw``.)
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..ir import Graph, Program
from ..ops.registry import OpCall, lookup

INSTALL_HINT = "install Graphviz to render drawings: `apt-get install graphviz` (Debian/Ubuntu), " \
               "`brew install graphviz` (macOS) or `conda install graphviz`"


def _quote(text: str) -> str:
    """A DOT string literal; a newline in the text becomes a line break in the label."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def _label(graph: Graph, node) -> str:
    shape = ", ".join(str(t) for t in node.outputs)
    if node.kind == "input":
        return f"{node.name}\n{shape}"
    if node.kind == "op":
        call = OpCall([graph.type_of(r) for r in node.inputs], dict(node.args), list(node.outputs))
        title = lookup(node.op).label(call)
    elif node.kind == "repeat":
        title = f"repeat x{node.count}"
    else:
        title = f"{node.module}: {node.op}" if graph.kind == "model" else node.op
    return f"{title}\n{shape}"


def _graph_lines(graph: Graph, prefix: str, indent: str) -> list[str]:
    lines = []
    for node in graph.nodes():
        style = {"input": "shape=oval", "call": "shape=box3d", "repeat": "shape=box3d"}.get(node.kind, "shape=box")
        lines.append(f"{indent}{_quote(prefix + node.name)} [label={_quote(_label(graph, node))}, {style}];")
    for node in graph.nodes():
        for src, _ in node.inputs:
            lines.append(f"{indent}{_quote(prefix + src)} -> {_quote(prefix + node.name)};")
    return lines


def to_dot(program: Program) -> str:
    lines = [f"digraph {_quote(program.model or 'model')} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10, style=rounded];', '  edge [fontsize=9];']
    for net in program.networks:
        graph = program.graph(net.graph)
        lines.append(f"  subgraph {_quote('cluster_' + net.name)} {{")
        lines.append(f"    label={_quote(f'{net.name}: {graph.name} ({net.role})')};")
        lines += _graph_lines(graph, f"{net.name}.", "    ")
        lines.append("  }")
    if program.flow is not None:
        lines += _graph_lines(program.flow, "flow.", "  ")
    lines.append("}")
    return "\n".join(lines) + "\n"


def have_dot() -> bool:
    return shutil.which("dot") is not None


def render(dot_text: str, out: Path, fmt: str) -> None:
    """Run Graphviz's dot; raises FileNotFoundError when it is not installed."""
    if not have_dot():
        raise FileNotFoundError(INSTALL_HINT)
    result = subprocess.run(["dot", f"-T{fmt}", "-o", str(out)], input=dot_text.encode(), capture_output=True,
                            timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
