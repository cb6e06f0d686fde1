"""Small shape helpers shared by the op declarations.

Each takes tensor types and integers and returns a dimension, or raises
``ShapeError`` with the expected and the found shape written out.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import Dim, TensorType, format_dims, is_known
from .registry import ShapeError


def need_rank(t: TensorType, ranks: tuple[int, ...], what: str, index: int = 0) -> None:
    if t.rank not in ranks:
        want = " or ".join(f"rank {r}" for r in ranks)
        raise ShapeError(f"{what} expects a {want} input, found rank {t.rank}",
                         expected=_pattern(ranks[0]), found=str(t), input_index=index)


def _pattern(rank: int) -> str:
    names = {1: "[N]", 2: "[B, F]", 3: "[B, C, L]", 4: "[B, C, H, W]"}
    return names.get(rank, f"rank {rank}")


def known(d: Dim, what: str, t: TensorType, index: int = 0) -> int:
    """A dimension that must be a number (a layer's width, say)."""
    if not is_known(d):
        raise ShapeError(f"{what} must be a known size, but it is symbolic (`{d}`)",
                         found=str(t), input_index=index, code=Code.SYMBOLIC_DIM)
    return d


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int, what: str,
             t: TensorType) -> int:
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ShapeError(f"{what}: kernel {kernel} with padding {padding} does not fit an input of size {size}",
                         found=str(t), code=Code.BAD_VALUE)
    return out


def conv_transpose_out(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                       dilation: int) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def broadcast(a: TensorType, b: TensorType, what: str) -> tuple[Dim, ...]:
    """NumPy broadcasting of two shapes, or a ShapeError naming both."""
    out = []
    for i in range(1, max(a.rank, b.rank) + 1):
        da = a.shape[-i] if i <= a.rank else 1
        db = b.shape[-i] if i <= b.rank else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeError(f"shapes {format_dims(a.shape)} and {format_dims(b.shape)} do not match "
                             f"(dimension {-i}: {da} vs {db})",
                             expected=str(a), found=str(b), input_index=1)
    return tuple(reversed(out))


def positive(value: int, name: str) -> int:
    if value < 1:
        raise ShapeError(f"`{name}` must be at least 1, got {value}", code=Code.BAD_VALUE, arg=name)
    return value
