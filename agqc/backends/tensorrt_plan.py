"""TensorRT placement plan: a checked ``Program`` -> one row per op node, and the compile.

Takes the IR (no torch, no GPU needed): lists every op node of the expanded
program (``Program.expand``: every block call and repeat copy, named as
``agqc summary`` names them) with the placement the annotate pass stored on
it: the precision TensorRT would run it in, or a fallback to PyTorch, and
the node's ``.agq`` file:line.  ``plan_text`` renders the table
that ``agqc lower --target tensorrt --dry-run`` prints; ``compile_tensorrt``
does the real ``torch_tensorrt.compile(ir="dynamo")`` with the precisions the
plan enables, or says what is missing (the package, a CUDA GPU).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..facts import Runtime
from ..ir import Node, Program
from ..kinds import NodeKind
from ..ops.registry import lookup
from ..passes.annotate import annotate
from ..types import PRECISIONS

INSTALL = "pip install 'agqc[tensorrt]'  (torch-tensorrt; it needs an NVIDIA GPU with CUDA)"


@dataclass(frozen=True)
class PlanRow:
    name: str  # qualified, as in `agqc summary`: lm.h.0.attn.c_attn
    op: str
    annotated: str  # the precision the spec asked for
    tensorrt: str  # the precision TensorRT runs it in ("-" for a fallback)
    runs_in: str  # Runtime: TensorRT | PyTorch
    where: str  # file:line in the .agq source
    note: str = ""


def plan(program: Program, network: str | None = None) -> list[PlanRow]:
    """Every op node of the model (or one network), in program order, with its placement."""
    annotate(program)
    rows = [_row(e.name, e.node) for e in program.expand(network) if e.node.kind == NodeKind.OP]
    if network is None and program.flow is not None:  # the flow's own ops (noise); its network calls are above
        rows += [_row(f"flow.{n.name}", n) for n in program.flow.nodes() if n.kind == NodeKind.OP]
    return rows


def _row(name: str, node: Node) -> PlanRow:
    placement = node.facts.placement
    assert placement is not None
    return PlanRow(name, node.op, str(node.precision), placement.precision, str(placement.runtime), _where(node),
                   placement.note)


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
    inside = Counter(r.tensorrt for r in rows if r.runs_in == Runtime.TENSORRT)
    outside = [r for r in rows if r.runs_in == Runtime.PYTORCH]
    by = ", ".join(f"{p} {inside[p]}" for p in PRECISIONS if inside[p])  # widest first, the same every run
    return (f"{sum(inside.values())} node{'s' if sum(inside.values()) != 1 else ''} in TensorRT"
            f"{f' ({by})' if by else ''}, {len(outside)} fallback{'s' if len(outside) != 1 else ''} to PyTorch")


def enabled_precisions(rows: list[PlanRow]) -> set:
    import torch
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8,
              "fp8": getattr(torch, "float8_e4m3fn", None)}
    inside = {r.tensorrt for r in rows if r.runs_in == Runtime.TENSORRT}
    return {torch.float32} | {dtypes[p] for p in inside if dtypes.get(p)}


def truncation(rows: list[PlanRow]) -> dict:
    """TensorRT has no fp64: where the plan runs @fp64 nodes at fp32, let the compile truncate their weights."""
    wide = any(r.runs_in == Runtime.TENSORRT and r.annotated == "fp64" for r in rows)
    return {"truncate_double": True} if wide else {}


def _aten(name: str):
    """``aten.lstm.input`` -> ``torch.ops.aten.lstm.input``."""
    import torch
    target = torch.ops
    for part in name.split("."):
        target = getattr(target, part)
    return target


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


def compile_tensorrt(module, args: tuple, rows: list[PlanRow]) -> bytes:
    """Compile with torch-tensorrt's dynamo path; the saved result (an ExportedProgram) as bytes."""
    import tempfile

    import torch_tensorrt

    # The aten ops of what agqc keeps in PyTorch, so the compiled module matches the dry run's fallbacks.
    names = {aten for r in rows if r.runs_in == Runtime.PYTORCH for aten in lookup(r.op).aten}
    kept = {_aten(name) for name in sorted(names)}
    module = module.cuda().eval()
    args = tuple(a.cuda() for a in args)
    compiled = torch_tensorrt.compile(module, ir="dynamo", inputs=list(args),
                                      enabled_precisions=enabled_precisions(rows),
                                      torch_executed_ops=kept, min_block_size=1, **truncation(rows))
    with tempfile.TemporaryDirectory() as tmp:  # torch-tensorrt saves to a path; the CLI writes atomically
        path = Path(tmp) / "program.trt.ep"
        torch_tensorrt.save(compiled, str(path), inputs=list(args))
        return path.read_bytes()
