"""Lowering: a checked ``Spec`` -> a deployable program file (``agqc lower``).

Takes a spec and the parsed command line (``.spec``, ``.target``, ``.output``,
``.network``, ``.dry_run``); returns an exit status (0 written, 1 a problem the
user can act on, said in one message on stderr).  Targets:

- ``export``: a ``torch.export`` program (``.pt2``) of the model or one network;
- ``onnx``: an ONNX file made by ``torch.onnx.export(..., dynamo=True)``;
- ``tensorrt``: ``torch_tensorrt.compile(ir="dynamo")`` with the precisions the
  annotations ask for (see ``tensorrt_plan``); ``--dry-run`` prints the plan.

The sizes a spec names (B, T) are exported as dynamic dimensions where the
model allows it, else fixed at their example value (recurrent layers fix T).
"""
from __future__ import annotations

import io
import logging
import sys
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from ..types import dim_symbols
from . import tensorrt_plan

SUFFIX = {"export": ".pt2", "onnx": ".onnx", "tensorrt": ".trt.ep"}
WHAT = {"export": "torch.export program", "onnx": "ONNX model", "tensorrt": "TensorRT program"}
# Above this many parameters the weights are not made (4 GB in fp32): `export` writes the program with
# placeholder weights on the meta device, the other targets refuse.
REAL_WEIGHTS_LIMIT = 1_000_000_000


@dataclass
class Lowered:
    """A program ready to save, and what the user should know about it."""

    program: object  # torch.export.ExportedProgram
    args: tuple
    dynamic: list[str] = field(default_factory=list)  # sizes left dynamic in the program
    fixed: dict[str, int] = field(default_factory=dict)  # sizes the model fixed, with their value
    meta: bool = False  # weights are placeholders on the meta device
    symbols: dict[str, str] = field(default_factory=dict)  # torch's symbol (s77) -> the spec's name (B)


def example_sizes(spec, network: str | None = None) -> dict[str, int]:
    """A distinct small value per named size (B=2, T=3, ...): equal values would let torch tie them."""
    names = dict.fromkeys(s for t in spec.input_types(network) for d in t.shape if isinstance(d, str)
                          for s in dim_symbols(d))
    return {name: 2 + i for i, name in enumerate(names)}


def export_program(spec, network: str | None = None, device: str | None = None, module=None,
                   dynamic: bool = True) -> Lowered:
    """``torch.export`` the model (or one network) with named sizes dynamic where the model allows.

    ``device="meta"`` builds no weights, so every shipped spec, Llama included, exports in seconds;
    ``dynamic=False`` fixes every size at its example value (quicker for very deep models).
    """
    import torch
    from torch.export import Dim
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    sizes = example_sizes(spec, network)
    if module is None:
        module = spec.build(device=device)
        module = getattr(module, network) if network else module
    module.eval()
    args = spec.example_inputs(network, sizes)
    if device == "meta":
        args = tuple(a.to("meta") for a in args)
    types = spec.input_types(network)
    named = {n: Dim(n) for n in sizes}
    single = [{i: d for i, d in enumerate(t.shape) if isinstance(d, str) and d in named and dynamic}
              for t in types]
    try:  # the spec's own names for the sizes, tied across inputs as the spec ties them
        shapes = tuple({i: named[d] for i, d in s.items()} or None for s in single)
        program = torch.export.export(module, args, dynamic_shapes=shapes)
    except torch._dynamo.exc.UserError:  # the model fixes some size (an LSTM's T): let torch decide each
        shapes = tuple({i: Dim.AUTO for i in s} or None for s in single)
        program = torch.export.export(module, args, dynamic_shapes=shapes)
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"
                    and n.name in program.graph_signature.user_inputs]
    free, fixed, symbols = [], {}, {}
    for s, node in zip(single, placeholders):
        for i, name in s.items():
            size = node.meta["val"].shape[i]
            if not is_concrete_int(size):  # a SymInt can still be pinned to a number
                free.append(name) if name not in free else None
                symbols.setdefault(str(size), name)
            else:
                fixed[name] = sizes[name]
    return Lowered(program, args, free, {k: v for k, v in fixed.items() if k not in free}, device == "meta",
                   symbols)


def to_onnx(lowered: Lowered):
    """The exported program as an ``onnx.ModelProto`` (torch.onnx's dynamo exporter, progress kept quiet)."""
    import torch
    try:
        with quiet():
            onnx_program = torch.onnx.export(lowered.program, lowered.args, dynamo=True)
    except Exception:  # noqa: BLE001 - torch.onnx's own decompositions can fail (see docs/deployment.md):
        with quiet():  # decompose to core ATen with torch's default table first, then convert
            onnx_program = torch.onnx.export(lowered.program.run_decompositions(), lowered.args, dynamo=True)
    model = onnx_program.model_proto
    values = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    for dim in (d for v in values for d in v.type.tensor_type.shape.dim):
        if dim.dim_param.isdigit():  # a size the model fixed, written as text
            dim.dim_value = int(dim.dim_param)
        elif dim.dim_param in lowered.symbols:  # the spec's names (B, T) rather than torch's (s77)
            dim.dim_param = lowered.symbols[dim.dim_param]
    return model


@contextmanager
def quiet():
    """Keep torch.onnx's progress lines, logging and warnings off the terminal (they are kept in the buffer)."""
    buf = io.StringIO()
    names = ("torch", "torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "onnxscript")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    handler = logging.StreamHandler(buf)
    root = logging.getLogger()
    try:
        root.addHandler(handler)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), redirect_stdout(buf), redirect_stderr(buf):
            warnings.simplefilter("ignore")
            yield buf
    finally:
        root.removeHandler(handler)
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def default_output(spec_path: str, target: str, network: str | None) -> Path:
    stem = Path(spec_path).stem
    return Path("build") / stem / (stem + (f"_{network}" if network else "") + SUFFIX[target])


def _error(message: str) -> int:
    print(f"agqc: error: {message}", file=sys.stderr)
    return 1


def cmd_lower(spec, args) -> int:
    network = args.network
    if network is not None:
        try:
            spec.require_network(network)
        except KeyError as err:
            return _error(err.args[0])
    what = f"network `{network}` of {spec.name}" if network else spec.name
    out = Path(args.output) if args.output else default_output(args.spec, args.target, network)
    if args.dry_run:
        return _dry_run(spec, args.target, network, what, out)
    params = _params(spec, network)
    if params > REAL_WEIGHTS_LIMIT and args.target != "export":
        return _error(f"{what} has {params:,} parameters ({params * 4 / 1e9:.1f} GB of fp32 weights): too large "
                      f"for agqc to make weights for {args.target}; `--target export` writes its program with "
                      f"placeholder weights, and `--dry-run` shows the TensorRT plan")
    if args.target == "tensorrt":
        return _tensorrt(spec, network, what, out)
    import torch
    from ..build import write_atomically
    try:
        with quiet():
            lowered = export_program(spec, network, "meta" if params > REAL_WEIGHTS_LIMIT else None)
        if args.target == "export":
            buf = io.BytesIO()
            torch.export.save(lowered.program, buf)
            content = buf.getvalue()
        else:
            content = to_onnx(lowered).SerializeToString()
    except ImportError as err:
        return _error(f"the {args.target} target needs a package that is not installed ({err.name}): "
                      "pip install 'agqc[dev]' (onnx, onnxscript, onnxruntime)")
    except Exception as err:  # noqa: BLE001 - torch could not convert a checked spec: say what, not a traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return _error(f"torch could not lower {what} to {WHAT[args.target]}: {type(err).__name__}: {first}")
    try:
        write_atomically({out: content})
    except OSError as err:
        return _error(f"cannot write {out}: {err.strerror or err}")
    print(f"wrote {out}: {WHAT[args.target]} of {what} ({_inputs(spec, network)}; {_sizes(lowered)})")
    if lowered.meta:
        print(f"note: {params:,} parameters are too many to make here, so the weights are placeholders on the meta "
              "device: load real ones with program.module().load_state_dict(weights, assign=True)")
    return 0


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


def _dry_run(spec, target: str, network: str | None, what: str, out: Path) -> int:
    if target != "tensorrt":
        print(f"would write {out}: {WHAT[target]} of {what} ({_inputs(spec, network)}); nothing written "
              "(the precision plan is for --target tensorrt)")
        return 0
    rows = tensorrt_plan.plan(spec.program, network)
    sys.stdout.write(tensorrt_plan.plan_text(rows, f"TensorRT plan for {what} (dry run: nothing compiled)"))
    return 0


def _tensorrt(spec, network: str | None, what: str, out: Path) -> int:
    problems = tensorrt_plan.missing()
    if problems:
        return _error(f"cannot compile {what} with TensorRT: " + "; ".join(problems) + ".\n"
                      f"  To get it: {tensorrt_plan.INSTALL}.\n"
                      f"  Without a GPU, see the plan: agqc lower {spec.program.file} --target tensorrt --dry-run")
    rows = tensorrt_plan.plan(spec.program, network)
    module = spec.build()
    module = getattr(module, network) if network else module
    args = spec.example_inputs(network, example_sizes(spec, network))
    try:
        with quiet():
            tensorrt_plan.compile_tensorrt(module, args, rows, out)
    except Exception as err:  # noqa: BLE001 - TensorRT's refusal, in one line
        return _error(f"torch-tensorrt could not compile {what}: {type(err).__name__}: {err}")
    print(f"wrote {out}: TensorRT program of {what}; {tensorrt_plan.plan_summary(rows)}")
    return 0
