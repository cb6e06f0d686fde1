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


Poly = dict[tuple[str, ...], int]  # a dimension as a polynomial: sorted names -> coefficient


def _poly(d: Dim) -> Poly:
    if isinstance(d, int):
        return {(): d} if d else {}
    poly: Poly = {}
    for term in d.split("+"):
        coef, names = 1, []
        for part in term.split("*"):
            if part.isdigit():
                coef *= int(part)
            else:
                names.append(part)
        key = tuple(sorted(names))
        poly[key] = poly.get(key, 0) + coef
    return {k: v for k, v in poly.items() if v}


def _dim(poly: Poly) -> Dim:
    """The canonical text: terms in name order, each coefficient first, the constant last."""
    if not any(poly):
        return poly.get((), 0)
    terms = ["*".join(([str(poly[k])] if poly[k] != 1 else []) + list(k)) for k in sorted(k for k in poly if k)]
    if poly.get(()):
        terms.append(str(poly[()]))
    return "+".join(terms)


def dim_mul(*dims: Dim) -> Dim:
    """The product of dimensions, symbolic when any factor is (sums multiply out: 2*(T+1) is 2*T+2)."""
    result: Poly = {(): 1}
    for d in dims:
        product: Poly = {}
        for ka, va in result.items():
            for kb, vb in _poly(d).items():
                key = tuple(sorted(ka + kb))
                product[key] = product.get(key, 0) + va * vb
        result = {k: v for k, v in product.items() if v}
    return _dim(result)


def dim_add(*dims: Dim) -> Dim:
    """The sum of dimensions in canonical order, so concat's 1+T and pad's T+1 compare equal."""
    total: Poly = {}
    for d in dims:
        for k, v in _poly(d).items():
            total[k] = total.get(k, 0) + v
    return _dim({k: v for k, v in total.items() if v})


def dim_subst(d: Dim, binding: dict) -> Dim:
    """A dimension with some of its names replaced by numbers or other dimensions."""
    if isinstance(d, int):
        return d
    terms = [dim_mul(coef, *(binding.get(n, n) for n in names)) for names, coef in _poly(d).items()]
    return dim_add(*terms)


def dim_eval(d: Dim, binding: dict[str, int]) -> int:
    """The value of a dimension once each symbol has a number (unbound symbols count as 1)."""
    return sum(coef * prod(binding.get(n, 1) for n in names) for names, coef in _poly(d).items())


def dim_symbols(d: Dim) -> list[str]:
    return list(dict.fromkeys(n for names in _poly(d) for n in names))


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
PRECISION_OPTIONS: dict[str, tuple[str, ...]] = {  # `activations`: quantise layer inputs too
    "fp8": ("e4m3", "e5m2", "activations"),
    "int8": ("activations",),
    "int4": ("activations",),
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
        acts = "+act" if "activations" in self.options else ""
        if self.name == "fp8":
            return f"fp8_{'e5m2' if 'e5m2' in self.options else 'e4m3'}{acts}"
        return self.name + acts


FP32 = Precision()
