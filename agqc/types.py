"""Checked types: dimensions, tensor types and precisions.

A dimension is an ``int`` or a symbolic ``str``: one name (``"B"``) or a
product of names and one integer (``"T*768"``), kept in canonical order so
equal products compare equal.  ``TensorType`` is a shape plus an element kind
("float" or "int").  ``Precision`` is what an annotation asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

Dim = int | str


def is_known(d: Dim) -> bool:
    return isinstance(d, int)


def _factors(d: Dim) -> tuple[int, list[str]]:
    if isinstance(d, int):
        return d, []
    coef, names = 1, []
    for part in d.split("*"):
        if part.isdigit():
            coef *= int(part)
        else:
            names.append(part)
    return coef, names


def dim_mul(*dims: Dim) -> Dim:
    """The product of dimensions, symbolic when any factor is."""
    coef, names = 1, []
    for d in dims:
        c, n = _factors(d)
        coef *= c
        names.extend(n)
    if not names or coef == 0:
        return coef
    names.sort()
    return "*".join(names if coef == 1 else [str(coef)] + names)


def dim_eval(d: Dim, binding: dict[str, int]) -> int:
    """The value of a dimension once each symbol has a number."""
    coef, names = _factors(d)
    return coef * prod(binding.get(n, 1) for n in names)


def dim_symbols(d: Dim) -> list[str]:
    return _factors(d)[1]


def format_dims(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: str = "float"  # "float" or "int"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        prefix = "int" if self.dtype == "int" else ""
        return prefix + format_dims(self.shape)

    def numel(self, binding: dict[str, int] | None = None) -> int:
        return prod(dim_eval(d, binding or {}) for d in self.shape)


# name -> (bits per weight, torch dtype used for compute now or None for fp32)
PRECISIONS: dict[str, tuple[int, str | None]] = {
    "fp32": (32, None),
    "fp16": (16, "torch.float16"),
    "bf16": (16, "torch.bfloat16"),
    "fp8": (8, None),
    "int8": (8, None),
    "int4": (4, None),
    "binary": (1, None),
}
PRECISION_OPTIONS: dict[str, tuple[str, ...]] = {
    "fp8": ("e4m3", "e5m2"),
    "binary": ("activations",),
}


@dataclass(frozen=True, order=True)
class Precision:
    name: str = "fp32"
    options: tuple[str, ...] = ()

    @property
    def bits(self) -> int:
        return PRECISIONS[self.name][0]

    @property
    def torch_dtype(self) -> str | None:
        """The dtype the PyTorch backend computes in; None means float32.

        fp8, int8, int4 and binary are checked and counted now and computed
        in fp32 until quantisation-aware lowering lands (see docs).
        """
        return PRECISIONS[self.name][1]

    def __str__(self) -> str:
        if self.name == "fp8":
            return f"fp8_{self.options[0] if self.options else 'e4m3'}"
        return self.name + "".join(f"+{o[:3]}" for o in self.options)


FP32 = Precision()
