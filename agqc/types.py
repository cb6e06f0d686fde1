"""Checked types: dimensions, tensor types and precisions.

A dimension is an ``int`` or a symbolic ``str``: one name (``"B"``) or a
polynomial in names with integer coefficients (``"T*768"``, ``"T+1"``,
``"T-1"``), kept in canonical order so equal polynomials compare equal.  ``TensorType`` is a shape plus an element kind
(``DType``).  ``Precision`` is what an annotation asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import NamedTuple

from .kinds import DType
from .policy import MAX_SIZE_DEGREE, MAX_SIZE_TERMS

Dim = int | str


def is_known(d: Dim) -> bool:
    return isinstance(d, int)


Poly = dict[tuple[str, ...], int]  # a dimension as a polynomial: sorted names -> coefficient


class SizeTooComplex(ValueError):
    """A symbolic size past agqc's limits (``MAX_SIZE_TERMS`` terms or ``MAX_SIZE_DEGREE`` factors in a term).

    Raised as soon as a product or sum grows past them, so a hostile spec cannot make the checker
    multiply out polynomials with millions of terms; the checker reports it as a located ``limit``.
    """

    def __str__(self) -> str:
        return (f"this size grows past agqc's limit for symbolic sizes ({MAX_SIZE_TERMS} terms, "
                f"{MAX_SIZE_DEGREE} symbols multiplied in one term)")


def _bounded(poly: Poly) -> Poly:
    if len(poly) > MAX_SIZE_TERMS or any(len(k) > MAX_SIZE_DEGREE for k in poly):
        raise SizeTooComplex
    return poly


def _poly(d: Dim) -> Poly:
    if isinstance(d, int):
        return {(): d} if d else {}
    poly: Poly = {}
    for term in d.replace("-", "+-").split("+"):
        if not term:
            continue  # the text starts with a minus sign
        coef, names = 1, list[str]()
        for part in term.split("*"):
            if part.lstrip("-").isdigit():
                coef *= int(part)
            elif part.startswith("-"):
                coef, names = -coef, names + [part[1:]]
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
    return "+".join(terms).replace("+-", "-")


def dim_mul(*dims: Dim) -> Dim:
    """The product of dimensions, symbolic when any factor is (sums multiply out: 2*(T+1) is 2*T+2).

    Raises ``SizeTooComplex`` as soon as the product passes agqc's limits: checked after each
    factor, so the work stays bounded by the limits, not by the size of the full product.
    """
    result: Poly = {(): 1}
    for d in dims:
        product: Poly = {}
        for ka, va in result.items():
            for kb, vb in _poly(d).items():
                key = tuple(sorted(ka + kb))
                product[key] = product.get(key, 0) + va * vb
        result = _bounded({k: v for k, v in product.items() if v})
    return _dim(result)


def dim_add(*dims: Dim) -> Dim:
    """The sum of dimensions in canonical order, so concat's 1+T and pad's T+1 compare equal."""
    total: Poly = {}
    for d in dims:
        for k, v in _poly(d).items():
            total[k] = total.get(k, 0) + v
    return _dim(_bounded({k: v for k, v in total.items() if v}))


def dim_total(*dims: Dim) -> Dim:
    """A count's total (MACs): the sum, or where that is too complex for a formula, its value with sizes 1.

    Counts are reported, never checked against anything, so a number beats a refusal; sizes 1 is
    what the summary's numeric figures assume anyway.
    """
    try:
        return dim_add(*dims)
    except SizeTooComplex:
        return sum(dim_eval(d, {}) for d in dims)


def dim_sub(a: Dim, b: Dim) -> Dim:
    """``a - b`` as a size: ``T - 1`` is one, ``T - S`` and ``1 - T`` are not.

    A symbolic size is taken to be at least as large as the numbers subtracted from it (the
    user writing ``T - 1`` means sequences longer than one), but no symbol's coefficient may go
    negative: then no reading of the symbols makes the difference a size for all of them.
    Raises ``ValueError`` for those, and for a number below 1.
    """
    diff = dim_add(a, dim_mul(b, -1))
    if isinstance(diff, int):
        if diff < 1:
            raise ValueError(f"{dim_pretty(a)} - {dim_pretty(b)} is {diff}, not a size")
        return diff
    if any(coef < 0 for names, coef in _poly(diff).items() if names):
        raise ValueError(f"{dim_pretty(a)} - {dim_pretty(b)} could be below 1 for some sizes")
    return diff


def dim_terms(d: Dim) -> list[tuple[int, tuple[str, ...]]]:
    """A dimension's terms as (coefficient, names), in canonical order: for writing it as code."""
    poly = _poly(d)
    return [(poly[k], k) for k in sorted(k for k in poly if k)] + ([(poly[()], ())] if poly.get(()) else [])


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


_SUPERSCRIPT = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def dim_pretty(d: Dim) -> str:
    """A size or count for people: ``1,536·T² + 589,824·T``, highest power first."""
    poly = _poly(d)
    if not poly:
        return "0"
    terms = []
    for names, coef in sorted(poly.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        powers = {n: names.count(n) for n in dict.fromkeys(names)}
        symbols = "\u00b7".join(n + (str(k).translate(_SUPERSCRIPT) if k > 1 else "") for n, k in powers.items())
        terms.append(f"{coef:,}" if not names else symbols if coef == 1 else f"{coef:,}\u00b7{symbols}")
    return " + ".join(terms).replace("+ -", "- ")


def format_dims(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: DType = DType.FLOAT

    def __post_init__(self) -> None:
        if not isinstance(self.dtype, DType):  # the AST spells it as text: `int[B]`
            object.__setattr__(self, "dtype", DType(self.dtype))

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        prefix = "int" if self.dtype == DType.INT else ""
        return prefix + format_dims(self.shape)

    def numel(self, binding: dict[str, int] | None = None) -> int:
        return prod(dim_eval(d, binding or {}) for d in self.shape)


class PrecisionInfo(NamedTuple):  # immutable; a NamedTuple is much cheaper to define than a dataclass
    """Every fact agqc knows about one precision, in one place."""

    bits: int  # per stored weight
    torch_dtype: str | None  # the dtype PyTorch computes in; None: float32 (low-bit layers fake-quantise in fp32)
    quantized: bool  # layers store weights at this precision (QAT in training, packed when deployed)
    options: tuple[str, ...]  # what `@name(...)` accepts; `activations` quantises layer inputs too
    scale_bytes: int  # bytes per stored per-channel scale (binary keeps alpha in fp16)
    tensorrt: str  # the precision TensorRT runs it in
    tensorrt_note: str = ""  # where that is not the same thing
    tensorrt_weights: bool = True  # TensorRT can hold weights at this precision (it has no 1-bit weights)
    description: str = ""  # for legends


# Widest first: summaries, legends and plans list precisions in this order.
PRECISIONS: dict[str, PrecisionInfo] = {
    "fp64": PrecisionInfo(64, "torch.float64", False, (), 4, "fp32", "TensorRT has no fp64: runs at fp32",
                          description="64-bit float"),
    "fp32": PrecisionInfo(32, None, False, (), 4, "fp32", description="32-bit float"),
    "fp16": PrecisionInfo(16, "torch.float16", False, (), 4, "fp16", description="16-bit float"),
    "bf16": PrecisionInfo(16, "torch.bfloat16", False, (), 4, "bf16", description="16-bit brain float"),
    "fp8": PrecisionInfo(8, None, True, ("e4m3", "e5m2", "activations"), 4, "fp8",
                         "needs an fp8 GPU (compute capability 8.9+)", description="8-bit float"),
    "int8": PrecisionInfo(8, None, True, ("activations",), 4, "int8", description="8-bit integer"),
    "int4": PrecisionInfo(4, None, True, ("activations",), 4, "int8", "int4 values widened to int8",
                          description="4-bit integer"),
    "binary": PrecisionInfo(1, None, True, ("activations",), 2, "fp32", "no weights: runs at fp32", False,
                            description="1 bit"),
}
# fp8 e5m2 (1 sign, 5 exponent, 2 mantissa bits) is the top byte of an fp16, so exact in fp16.
E5M2_TENSORRT = ("fp16", "TensorRT's fp8 is e4m3; e5m2 values are exact in fp16")


@dataclass(frozen=True, order=True)
class Precision:
    name: str = "fp32"
    options: tuple[str, ...] = ()

    @property
    def info(self) -> PrecisionInfo:
        return PRECISIONS[self.name]

    @property
    def bits(self) -> int:
        return self.info.bits

    @property
    def torch_dtype(self) -> str | None:
        """The dtype the PyTorch backend computes in; None means float32.

        fp64, fp16 and bf16 layers hold their weights and compute in that dtype;
        fp8, int8, int4 and binary layers fake-quantise their weights and compute in fp32.
        """
        return self.info.torch_dtype

    @property
    def quantized(self) -> bool:
        """Whether layers store their weights at this precision (fp8, int8, int4, binary)."""
        return self.info.quantized

    @property
    def activations(self) -> bool:
        return "activations" in self.options

    @property
    def variant(self) -> str:
        """The name generated code passes to quantised layers: ``int8``, ``fp8_e4m3``, ``binary``."""
        if self.name == "fp8":
            return "fp8_e5m2" if "e5m2" in self.options else "fp8_e4m3"
        return self.name

    def tensorrt(self) -> tuple[str, str]:
        """The precision TensorRT runs this in, and a note where that is not the same thing."""
        if self.name == "fp8" and "e5m2" in self.options:
            return E5M2_TENSORRT
        return self.info.tensorrt, self.info.tensorrt_note

    def __str__(self) -> str:
        return self.variant + ("+act" if self.activations else "")


FP32 = Precision()
