"""Hover text: what the checked IR and the op registry know about the name under the cursor.

Takes an ``Analysis`` and a 1-based (line, col); gives Markdown, or None.  On an op or block call: the
output's shape, dtype and precision, the arguments and the parameter count of each instantiation of
the enclosing block (from the annotated ``Program``), and an op's signature and summary from the
registry.  On a tensor's name: its shape, dtype and precision where it is used.  On a block, constant,
precision or role: its definition.
"""
from __future__ import annotations

import re
from pathlib import Path

from .. import ast
from ..ir import Graph, Node, Program
from ..kinds import GraphKind, NodeKind
from ..model import ROLES
from ..ops.registry import REQUIRED, OpDef, lookup
from ..types import PRECISIONS, DType, TensorType
from .analysis import Analysis, word_at
from .convert import contains

MAX_SHOWN = 3  # instantiations of one block listed in a hover


def op_signature(op: OpDef) -> str:
    """``linear(x, out: int, bias: bool = True)``: the tensor inputs, then each argument with its kind and default."""
    tensors = {0: [], 1: ["x"], -1: ["x", "..."]}.get(op.inputs, [f"x{i}" for i in range(op.inputs)])
    args = []
    for a in op.args:
        text = f"{'*' if a.variadic else ''}{a.name}: {a.kind}"
        if a.choices:
            text += " (" + " | ".join(repr(c) for c in a.choices) + ")"
        if a.default is not REQUIRED and not a.variadic:
            text += f" = {a.default!r}"
        args.append(text)
    return f"{op.name}({', '.join(tensors + args)})"


def op_markdown(op: OpDef) -> str:
    lines = [f"```agq\n{op_signature(op)}\n```", op.summary]
    if op.precision_sensitive:
        lines.append("*precision-sensitive: computed above a low-bit annotation*")
    return "\n\n".join(lines)


def _tensor(t: TensorType) -> str:
    return f"`{t}` ({'int' if t.dtype == DType.INT else 'float'})"


def _value(node: Node) -> str:
    outs = ", ".join(_tensor(t) for t in node.outputs) or "nothing"
    computes = {str(c) for c in node.computes} - {str(node.precision)}
    precision = f"@{node.precision}" + (f" (computes at {', '.join(sorted(computes))})" if computes else "")
    return f"{outs} · {precision}"


def _params(node: Node) -> str:
    try:
        n = node.facts.params
    except RuntimeError:
        return ""
    return f" · {n:,} parameters" if n else ""


def _node_line(program: Program, graph: Graph, node: Node) -> str:
    node = graph.node(node.name) if graph.has(node.name) else node  # the annotated copy
    args = ", ".join(f"{k}={v!r}" for k, v in node.args.items() if v is not None)
    head = f"`{node.name}`" + (f" ({args})" if args and node.kind == NodeKind.OP else "")
    line = f"{head}: {_value(node)}{_params(node)}"
    if node.kind in (NodeKind.CALL, NodeKind.REPEAT) and node.callee in program.graphs:
        callee = program.graphs[node.callee]
        ins = ", ".join(str(t) for t in callee.input_types())
        line += f"  \n{callee.name}({ins})" + (f" with {_config(callee)}" if callee.config else "")
        if node.kind == NodeKind.REPEAT:
            line += f", {node.count} copies"
    return line


def _config(graph: Graph) -> str:
    return ", ".join(f"{k}={v}" for k, v in graph.config.items())


def _where(graph: Graph) -> str:
    return f"in {graph.name}({_config(graph)})" if graph.config else f"in {graph.name}"


def _graphs_at(program: Program, path: Path, line: int, col: int) -> list[Graph]:
    """The graphs whose text holds the cursor, the innermost only (one per instantiation)."""
    here = [g for g in [*program.graphs.values(), *([program.flow] if program.flow else [])]
            if _same(g.span.file, path) and contains(g.span, line, col)]
    if not here:
        return []
    smallest = min(((g.span.end_line - g.span.line), -g.span.col) for g in here)
    return [g for g in here if ((g.span.end_line - g.span.line), -g.span.col) == smallest]


def _same(file: str, path: Path) -> bool:
    return Path(file).resolve() == path


def _is_target(text: str, line: int, end: int) -> bool:
    """Whether the name ending at (line, end) is assigned to: ``h = ...``, ``a, b = ...``."""
    rest = text.split("\n")[line - 1][end - 1:]
    return re.match(r"\s*(,\s*[A-Za-z_]\w*\s*)*=(?!=)", rest) is not None


def _at(graph: Graph, word: str, text: str, line: int, col: int, end: int) -> Node | None:
    nodes = graph.nodes()
    for n in nodes:  # the call, the op or the input declared under the cursor
        if not contains(n.span, line, col):
            continue
        at_call = n.op == word and (n.span.line, n.span.col) == (line, col)  # the cursor on the op's or block's name
        if at_call or (n.kind == NodeKind.INPUT and word in n.hints):
            return n
    named = [n for n in nodes if word in n.hints or n.name == word]
    if _is_target(text, line, end):  # the last node of the statement that assigns it
        after = [i for i, n in enumerate(nodes) if n in named and (n.span.line, n.span.col) > (line, col)]
        if after:
            i = after[0]
            while i + 1 < len(nodes) and nodes[i + 1] in named:
                i += 1
            return nodes[i]
    before = [n for n in named if (n.span.end_line, n.span.end_col) <= (line, col)]
    return before[-1] if before else None


def hover(analysis: Analysis, line: int, col: int) -> str | None:
    """Markdown for the name at a 1-based (line, col), or None."""
    found = word_at(analysis.text, line, col)
    if found is None:
        return None
    word, start, end = found
    parts: list[str] = []
    program = analysis.annotated()
    if program is not None:
        path = analysis.path.resolve()
        for graph in _graphs_at(program, path, line, start)[:MAX_SHOWN]:
            node = _at(graph, word, analysis.text, line, start, end)
            if node is not None:
                parts.append(f"{_where(graph)}: {_node_line(program, graph, node)}")
    op = lookup(word)
    if op is not None and _called(analysis.text, line, end):
        parts.append(op_markdown(op))
    elif not parts:
        parts.extend(_definition(analysis, word, program))
    return "\n\n---\n\n".join(parts) if parts else None


def _called(text: str, line: int, end: int) -> bool:
    return text.split("\n")[line - 1][end - 1:].lstrip().startswith("(")


def _definition(analysis: Analysis, word: str, program: Program | None) -> list[str]:
    index = analysis.index
    if word in index.blocks:
        block = index.blocks[word]
        parts = [f"```agq\n{block_signature(block)}\n```\ndefined in {Path(block.span.file).name}:{block.span.line}"]
        if program is not None:
            shown = [g for g in program.graphs.values()
                     if g.name == word and g.kind in (GraphKind.BLOCK, GraphKind.NETWORK)][:MAX_SHOWN]
            parts += [f"{_where(g)}: ({', '.join(str(t) for t in g.input_types())}) -> "
                      f"({', '.join(str(t) for t in g.output_types())})" for g in shown]
        return parts
    if word in index.consts:
        return [f"```agq\nconst {word} = {index.values.get(word, '?')!r}\n```"]
    if word in PRECISIONS:
        info = PRECISIONS[word]
        return [f"precision `@{word}`: {info.description}, {info.bits} bits per stored weight"
                + (f"; options {', '.join(info.options)}" if info.options else "")]
    if word in ROLES:
        return [f"network role `{word}`"]
    return []


def block_signature(block: ast.Block) -> str:
    """``block Name(x: [B, D], heads = 8) -> [B, D]`` as written (from the source text of its spans)."""
    params = []
    for p in block.params:
        if isinstance(p, ast.TensorParam):
            params.append(f"{p.name}: {_type(p.type)}")
        elif isinstance(p, ast.ConfigParam):
            params.append(p.name if p.default is None else f"{p.name} = {_expr(p.default)}")
    outs = ""
    if block.outputs:
        outs = " -> " + ", ".join(_type(t) for t in block.outputs)
    return f"block {block.name}({', '.join(params)}){outs}"


def _type(t: ast.TensorType) -> str:
    return ("int" if t.dtype == "int" else "") + "[" + ", ".join(_expr(d) for d in t.dims) + "]"


def _expr(e: object) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, (ast.Number, ast.Bool)):
        return repr(e.value).lower() if isinstance(e, ast.Bool) else repr(e.value)
    if isinstance(e, ast.String):
        return f'"{e.value}"'
    if isinstance(e, ast.BinOp):
        return f"{_expr(e.left)} {e.op} {_expr(e.right)}"
    if isinstance(e, ast.Neg):
        return f"-{_expr(e.operand)}"
    return "…"
