"""Lowering: a checked ``Spec`` -> a deployable program file (``agqc lower``).

Takes a spec, a target, an optional network and an output path; returns a
``LowerResult`` (what was written, and what the user should know) or raises
``LowerError`` with one message the user can act on.  Prints nothing: the
CLI says it.  Targets:

- ``export``: a ``torch.export`` program (``.pt2``) of the model or one network;
- ``onnx``: an ONNX file made by ``torch.onnx.export(..., dynamo=True)``;
- ``tensorrt``: ``torch_tensorrt.compile(ir="dynamo")`` with the precisions the
  annotations ask for (see ``tensorrt_plan``); ``dry_run`` gives the plan.

The sizes a spec names (B, T) are exported as dynamic dimensions where the
model allows it, else fixed at their example value (recurrent layers fix T).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from ..policy import LOWER_WEIGHTS_LIMIT
from . import tensorrt_plan
from .export import ExampleTooLarge, Lowered, check_example_size, example_sizes, export_program, quiet, to_onnx

SUFFIX = {"export": ".pt2", "onnx": ".onnx", "tensorrt": ".trt.ep"}
WHAT = {"export": "torch.export program", "onnx": "ONNX model", "tensorrt": "TensorRT program"}


class LowerError(Exception):
    """A problem the user can act on (a missing package, no GPU, a model too large), in one message."""


@dataclass
class LowerResult:
    path: Path
    content: bytes
    headline: str  # "TensorRT program of CGAN; 12 nodes in TensorRT (fp32 12), 1 fallback to PyTorch"
    notes: list[str] = field(default_factory=list)


def default_output(spec_path: str, target: str, network: str | None) -> Path:
    from ..build import output_stem
    stem = output_stem(spec_path)
    return Path("build") / stem / (stem + (f"_{network}" if network else "") + SUFFIX[target])


def describe(spec, network: str | None) -> str:
    return f"network `{network}` of {spec.name}" if network else spec.name


def dry_run(spec, target: str, network: str | None, out: Path) -> str:
    """What ``--dry-run`` shows: the TensorRT plan, or what would be written."""
    what = describe(spec, network)
    if target != "tensorrt":
        return (f"would write {out}: {WHAT[target]} of {what} ({_inputs(spec, network)}); nothing written "
                "(the precision plan is for --target tensorrt)\n")
    rows = tensorrt_plan.plan(spec.program, network)
    return tensorrt_plan.plan_text(rows, f"TensorRT plan for {what} (dry run: nothing compiled)")


def lower(spec, target: str, network: str | None, out: Path, weights: Path | None = None) -> LowerResult:
    """The program's bytes for ``out`` (not yet written), or ``LowerError``; ``weights``: trained ones to load."""
    what = describe(spec, network)
    module = _trained(spec, network, weights) if weights is not None else None
    params = _params(spec, network)
    if params > LOWER_WEIGHTS_LIMIT and target != "export":
        raise LowerError(f"{what} has {params:,} parameters ({params * 4 / 1e9:.1f} GB of fp32 weights): too large "
                         f"for agqc to make weights for {target}; `--target export` writes its program with "
                         f"placeholder weights, and `--dry-run` shows the TensorRT plan")
    if target == "tensorrt":
        return _tensorrt(spec, network, what, out, module)
    import torch
    try:
        with quiet():
            lowered = export_program(spec, network, "meta" if params > LOWER_WEIGHTS_LIMIT and module is None
                                     else None, module=module)
        if target == "export":
            buf = io.BytesIO()
            torch.export.save(lowered.program, buf)
            content = buf.getvalue()
        else:
            content = to_onnx(lowered).SerializeToString()
    except ExampleTooLarge as err:
        raise LowerError(f"cannot lower {what}: {err}") from None
    except ImportError as err:
        raise LowerError(f"the {target} target needs a package that is not installed ({err.name}): "
                         "pip install 'agqc[dev]' (onnx, onnxscript, onnxruntime)") from None
    except Exception as err:  # noqa: BLE001 - torch could not convert a checked spec: say what, not a traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LowerError(f"torch could not lower {what} to {WHAT[target]}: {type(err).__name__}: {first}") from None
    notes = []
    if lowered.meta:
        notes.append(f"{params:,} parameters are too many to make here, so the weights are placeholders on the "
                     "meta device: load real ones with program.module().load_state_dict(weights, assign=True)")
    return LowerResult(out, content, f"{WHAT[target]} of {what} ({_inputs(spec, network)}; {_sizes(lowered)})",
                       notes)


def _params(spec, network: str | None) -> int:
    summary = spec.summary()
    return summary.networks[network] if network else summary.total_params


def _inputs(spec, network: str | None) -> str:
    return "inputs " + ", ".join(str(t) for t in spec.input_types(network))


def _sizes(lowered: Lowered) -> str:
    parts = []
    if lowered.dynamic:
        parts.append("dynamic " + ", ".join(lowered.dynamic))
    if lowered.fixed:
        parts.append(", ".join(f"{k} fixed at {v}" for k, v in lowered.fixed.items())
                     + " (torch.export could not keep it symbolic: the program takes only that size)")
    return "; ".join(parts) or "all sizes fixed"


def _trained(spec, network: str | None, weights: Path):
    """The model (or one network) with the trained weights in ``weights`` loaded."""
    from ..build import BuildError, read_weights
    module = spec.build()
    try:
        module.load_state_dict(read_weights(weights))
    except (BuildError, RuntimeError) as err:
        raise LowerError(" ".join(str(err).split())[:500]) from None
    return getattr(module, network) if network else module


def _tensorrt(spec, network: str | None, what: str, out: Path, trained=None) -> LowerResult:
    problems = tensorrt_plan.missing()
    if problems:
        raise LowerError(f"cannot compile {what} with TensorRT: " + "; ".join(problems) + ".\n"
                         f"  To get it: {tensorrt_plan.INSTALL}.\n"
                         f"  Without a GPU, see the plan: agqc lower {spec.program.file} --target tensorrt --dry-run")
    rows = tensorrt_plan.plan(spec.program, network)
    module = trained if trained is not None else spec.build()
    module = getattr(module, network) if network and trained is None else module
    sizes = example_sizes(spec, network)
    try:
        check_example_size(spec, network, sizes)
    except ExampleTooLarge as err:
        raise LowerError(f"cannot compile {what} with TensorRT: {err}") from None
    args = spec.example_inputs(network, sizes)
    try:
        with quiet():
            content = tensorrt_plan.compile_tensorrt(module, args, rows)
    except Exception as err:  # noqa: BLE001 - TensorRT's refusal, in one line
        raise LowerError(f"torch-tensorrt could not compile {what}: {type(err).__name__}: {err}") from None
    return LowerResult(out, content, f"TensorRT program of {what}; {tensorrt_plan.plan_summary(rows)}")
