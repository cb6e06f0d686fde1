"""Export: a checked ``Spec`` -> a ``torch.export`` program, and from it an ONNX model.

The one export path: ``agqc build`` (a ``.pt2`` per network) and ``agqc lower``
(``--target export|onnx|tensorrt``) both call ``export_program``.  Takes a
spec (and optionally a built module); gives a ``Lowered``: the program, its
example inputs, which of the spec's sizes (B, T) stayed dynamic and which the
model fixed.  ``to_onnx`` converts one with torch's dynamo exporter; ``quiet``
keeps torch's progress lines off the terminal.  Prints nothing.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field

from ..kinds import DType
from ..policy import MAX_EXAMPLE_ELEMENTS
from ..types import dim_eval, dim_symbols


@dataclass
class Lowered:
    """A program ready to save, and what the user should know about it."""

    program: object  # torch.export.ExportedProgram
    args: tuple
    dynamic: list[str] = field(default_factory=list)  # sizes left dynamic in the program
    fixed: dict[str, int] = field(default_factory=dict)  # sizes the model fixed, with their value
    meta: bool = False  # weights are placeholders on the meta device (traced without any: ``placeholder_mode``)
    symbols: dict[str, str] = field(default_factory=dict)  # torch's symbol (s77) -> the spec's name (B)


def example_sizes(spec, network: str | None = None) -> dict[str, int]:
    """A distinct small value per named size (B=2, T=3, ...): equal values would let torch tie them."""
    names = dict.fromkeys(s for t in spec.input_types(network) for d in t.shape if isinstance(d, str)
                          for s in dim_symbols(d))
    return {name: 2 + i for i, name in enumerate(names)}


class ExampleTooLarge(ValueError):
    """Example inputs too large to make: the sizes a spec fixes (a 10^9-wide input) cannot be materialised."""


def check_example_size(spec, network: str | None, sizes: dict[str, int]) -> None:
    """Raise ``ExampleTooLarge`` when the example inputs would hold more than the policy allows."""
    numbers = sum(t.numel(sizes) for t in spec.input_types(network))
    if numbers > MAX_EXAMPLE_ELEMENTS:
        what = f"network `{network}`" if network else "the model"
        raise ExampleTooLarge(f"the example inputs of {what} would hold {numbers:,} numbers "
                              f"({numbers * 4 / 2**30:.1f} GiB), over agqc's limit of {MAX_EXAMPLE_ELEMENTS:,}")


def placeholder_mode():
    """torch's ``FakeTensorMode``: tensors made under it have a shape, a dtype and a device but no memory.

    A module built under it (``with placeholder_mode(): spec.build()``) traces as on the CPU, so the
    exported program runs there once real weights are loaded; tracing on the meta device instead
    would write ``device="meta"`` into the program (``torch.arange(T, device=x.device)``).
    """
    from torch._subclasses.fake_tensor import FakeTensorMode
    return FakeTensorMode()


def export_program(spec, network: str | None = None, device: str | None = None, module=None,
                   dynamic: bool = True) -> Lowered:
    """``torch.export`` the model (or one network) with named sizes dynamic where the model allows.

    ``device="meta"`` makes no weights: the program is traced with fake tensors (``placeholder_mode``;
    a ``module`` given must have been built under one) and its weights are saved as placeholders on
    the meta device, so every shipped spec, Llama included, exports in seconds, and the program runs
    on the CPU after ``program.module().load_state_dict(weights, assign=True)``.
    ``dynamic=False`` fixes every size at its example value (quicker for very deep models).
    """
    import torch
    from torch.export import Dim
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    sizes = example_sizes(spec, network)
    meta = device == "meta"
    if not meta:  # fake inputs take no memory
        check_example_size(spec, network, sizes)
    mode = (_mode_of(module) if module is not None else placeholder_mode()) if meta else None
    if module is None:
        with mode or contextlib.nullcontext():
            module = spec.build(device=None if meta else device)
        module = getattr(module, network) if network else module
    module.eval()
    if mode is not None:  # made under the mode directly: a real tensor first could be too large to exist
        with mode:
            args = tuple(torch.empty([dim_eval(d, sizes) for d in t.shape],
                                     dtype=torch.long if t.dtype == DType.INT else torch.float32)
                         for t in spec.input_types(network))
    else:
        args = spec.example_inputs(network, sizes)
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
    if meta:
        args = _as_placeholders(program, args)
    return Lowered(program, args, free, {k: v for k, v in fixed.items() if k not in free}, meta, symbols)


def _mode_of(module):
    """The fake-tensor mode a module was built under (a new one for a module without tensors)."""
    from torch._guards import detect_fake_mode
    return detect_fake_mode(tuple(module.parameters()) + tuple(module.buffers())) or placeholder_mode()


def _as_placeholders(program, args: tuple) -> tuple:
    """Swap a fake-traced program's weights, constants and example inputs for meta tensors of the same
    shapes, in place: those save as placeholders that ``torch.export.load`` reads without unpickling
    (fake tensors would need it).  The graph itself keeps the CPU device it was traced on."""
    import torch

    def placeholder(t):
        empty = torch.empty(t.shape, dtype=t.dtype, device="meta")
        return torch.nn.Parameter(empty, t.requires_grad) if isinstance(t, torch.nn.Parameter) else empty

    for tensors in (program.state_dict, program.constants):  # torch's own dicts: no setter, so in place
        for key, value in tensors.items():
            if isinstance(value, torch.Tensor):
                tensors[key] = placeholder(value)
    args = tuple(placeholder(a) for a in args)
    program.example_inputs = (args, {})
    return args


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
