"""TensorRT placement plan: a checked ``Program`` -> one row per op node, and the compile.

Takes the IR (no torch, no GPU needed): walks every network, block call and
repeat copy like ``agqc summary`` and decides, for each op node, the precision
TensorRT would run it in and whether it runs in TensorRT or falls back to
PyTorch, with the node's ``.agq`` file:line.  ``plan_text`` renders the table
that ``agqc lower --target tensorrt --dry-run`` prints; ``compile_tensorrt``
does the real ``torch_tensorrt.compile(ir="dynamo")`` with the precisions the
plan enables, or says what is missing (the package, a CUDA GPU).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..ir import Graph, Node, Program
from ..ops.registry import OpCall, lookup

INSTALL = "pip install 'agqc[tensorrt]'  (torch-tensorrt; it needs an NVIDIA GPU with CUDA)"
RECURRENT = {"rnn", "gru", "lstm"}
# The order precisions are listed in: widest first, so the summary line reads the same every run.
ORDER = ("fp32", "bf16", "fp16", "fp8", "int8", "-")


@dataclass(frozen=True)
class PlanRow:
    name: str  # qualified, as in `agqc summary`: lm.h.0.attn.c_attn
    op: str
    annotated: str  # the precision the spec asked for
    tensorrt: str  # the precision TensorRT runs it in ("-" for a fallback)
    runs_in: str  # TensorRT | PyTorch
    where: str  # file:line in the .agq source
    note: str = ""


def plan(program: Program, network: str | None = None) -> list[PlanRow]:
    """Every op node of the model (or one network), in program order, with its placement."""
    rows: list[PlanRow] = []
    for net in program.networks:
        if network is None or net.name == network:
            _walk(program, program.graph(net.graph), net.name, rows)
    if network is None and program.flow is not None:  # the flow's own ops (noise); its network calls are above
        rows += [_place(program.flow, n, f"flow.{n.name}") for n in program.flow.nodes() if n.kind == "op"]
    return rows


def _walk(program: Program, graph: Graph, prefix: str, rows: list[PlanRow]) -> None:
    for node in graph.nodes():
        name = f"{prefix}.{node.name}"
        if node.kind == "op":
            rows.append(_place(graph, node, name))
        elif node.kind == "call":
            _walk(program, program.graph(node.callee), name, rows)
        elif node.kind == "repeat":  # each copy is its own layer (lm.h.0, lm.h.1, ...), as the summary names them
            body = program.graph(node.callee)
            single = program.repeat_body_call(body)
            body = program.graph(single.callee) if single else body
            for i in range(node.count):
                _walk(program, body, f"{name}.{i}", rows)


def _place(graph: Graph, node: Node, name: str) -> PlanRow:
    op = lookup(node.op)
    annotated, computes = node.precision, node.computes[0] if node.computes else node.precision
    row = dict(name=name, op=node.op, annotated=str(annotated), where=_where(node))

    def fallback(note: str) -> PlanRow:
        return PlanRow(tensorrt="-", runs_in="PyTorch", note=note, **row)

    def tensorrt(precision: str, note: str = "") -> PlanRow:
        return PlanRow(tensorrt=precision, runs_in="TensorRT", note=note, **row)

    if node.op == "dropout":  # identity in eval mode: TensorRT drops it
        return tensorrt(_tensorrt_name(annotated)[0], "identity at inference")
    if op.random:
        return fallback("random sampling stays in PyTorch")
    if node.op in RECURRENT:
        return fallback("recurrent layer: agqc keeps it in PyTorch")
    if op.precision_sensitive and computes != annotated:  # before binary: a batchnorm's scale is never 1-bit
        return tensorrt(_tensorrt_name(computes)[0], "precision-sensitive: kept at " + str(computes))
    call = OpCall([graph.type_of(r) for r in node.inputs], dict(node.args), list(node.outputs))
    if annotated.name == "binary" and op.params(call) > 0:
        return fallback("TensorRT has no 1-bit weights")
    precision, note = _tensorrt_name(annotated)
    return tensorrt(precision, note)


def _tensorrt_name(p) -> tuple[str, str]:
    """The TensorRT precision for an annotation, and a note where it is not the same thing."""
    if p.name == "fp8":
        if "e5m2" in p.options:  # 1 sign, 5 exponent, 2 mantissa bits: the top byte of an fp16, so exact in fp16
            return "fp16", "TensorRT's fp8 is e4m3; e5m2 values are exact in fp16"
        return "fp8", "needs an fp8 GPU (compute capability 8.9+)"
    if p.name == "int4":  # every 4-bit integer is an 8-bit integer
        return "int8", "int4 values widened to int8"
    if p.name == "binary":
        return "fp32", "no weights: runs at fp32"
    return p.name, ""


def _where(node: Node) -> str:
    path = node.span.file
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return f"{path if rel.startswith('..') else rel}:{node.span.line}"


def plan_text(rows: list[PlanRow], title: str) -> str:
    head = ("node", "op", "annotated", "TensorRT", "runs in", "source", "note")
    table = [head] + [(r.name, r.op, r.annotated, r.tensorrt, r.runs_in, r.where, r.note) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = [title, ""]
    for k, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if k == 0:
            lines.append("-" * len(lines[-1]))
    lines += ["", plan_summary(rows)]
    return "\n".join(lines) + "\n"


def plan_summary(rows: list[PlanRow]) -> str:
    inside = Counter(r.tensorrt for r in rows if r.runs_in == "TensorRT")
    outside = [r for r in rows if r.runs_in == "PyTorch"]
    by = ", ".join(f"{p} {inside[p]}" for p in ORDER if inside[p])
    return (f"{sum(inside.values())} node{'s' if sum(inside.values()) != 1 else ''} in TensorRT"
            f"{f' ({by})' if by else ''}, {len(outside)} fallback{'s' if len(outside) != 1 else ''} to PyTorch")


def enabled_precisions(rows: list[PlanRow]) -> set:
    import torch
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8,
              "fp8": getattr(torch, "float8_e4m3fn", None)}
    return {torch.float32} | {dtypes[r.tensorrt] for r in rows if r.runs_in == "TensorRT" and dtypes.get(r.tensorrt)}


def missing() -> list[str]:
    """What stops a real TensorRT compile here, in words; empty when nothing does."""
    import importlib.util

    import torch
    problems = []
    if importlib.util.find_spec("torch_tensorrt") is None:
        problems.append("the torch-tensorrt package is not installed")
    if not torch.cuda.is_available():
        problems.append("no CUDA GPU is visible to PyTorch (TensorRT runs only on NVIDIA GPUs)")
    return problems


def compile_tensorrt(module, args: tuple, rows: list[PlanRow], out: Path) -> None:
    """Compile with torch-tensorrt's dynamo path and save the result (an ExportedProgram) to ``out``."""
    import torch
    import torch_tensorrt

    kept = set()  # ops agqc keeps in PyTorch, so the compiled module matches the dry run's fallbacks
    ops = {r.op for r in rows if r.runs_in == "PyTorch"}
    if ops & RECURRENT:
        kept |= {torch.ops.aten.lstm.input, torch.ops.aten.gru.input, torch.ops.aten.rnn_tanh.input}
    if ops & {"normal", "reparameterise"}:
        kept |= {torch.ops.aten.randn.default, torch.ops.aten.randn_like.default}
    module = module.cuda().eval()
    args = tuple(a.cuda() for a in args)
    compiled = torch_tensorrt.compile(module, ir="dynamo", inputs=list(args),
                                      enabled_precisions=enabled_precisions(rows),
                                      torch_executed_ops=kept, min_block_size=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch_tensorrt.save(compiled, str(out), inputs=list(args))
