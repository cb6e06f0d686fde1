"""PyTorch module backend: a checked ``Program`` -> a live ``nn.Module``.

Executes exactly the source that ``agqc emit`` writes (registered with
linecache, so a traceback in ``forward`` shows the generated line and its
``.agq`` comment), and makes example inputs from the checked input types.
"""
from __future__ import annotations

import linecache
import types
from pathlib import Path

import torch

from ..ir import Program
from ..types import TensorType, dim_eval
from .torch_source import emit_source

DEFAULT_SIZE = 2  # what a symbolic size (B, T) becomes in example inputs


def load_source(source: str, name: str) -> types.ModuleType:
    filename = f"<agqc:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"agqc_generated_{Path(name).stem}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def build_module(program: Program, source: str | None = None, device: str | None = None) -> torch.nn.Module:
    """The model's module; ``device="meta"`` makes every weight a shape without memory (any size of model)."""
    module = load_source(source or emit_source(program), program.file)
    model_class = getattr(module, program.model or "Model")
    if device is None:  # the caller's default device, including an enclosing `with torch.device(...)`
        return model_class()
    with torch.device(device):
        return model_class()


def example_inputs(types: list[TensorType], sizes: dict[str, int] | None = None, seed: int = 0) -> tuple:
    """Random inputs of these types (a graph's inputs, say); symbolic sizes default to 2."""
    sizes = dict(sizes or {})
    gen = torch.Generator().manual_seed(seed)
    out = []
    for t in types:
        shape = [dim_eval(d, _defaults(d, sizes)) for d in t.shape]
        if t.dtype == "int":
            out.append(torch.randint(0, 2, shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return tuple(out)


def _defaults(d, sizes: dict[str, int]) -> dict[str, int]:
    from ..types import dim_symbols
    return {s: sizes.get(s, DEFAULT_SIZE) for s in dim_symbols(d)}
