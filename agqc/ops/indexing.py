"""Indexing and slicing, ``x[:, 0]`` and ``x[:, 1:]``: the op the bracket syntax becomes.

Takes a tensor and the checked subscripts, one per leading dimension: an integer
index (which removes that dimension) or a ``(start, stop)`` slice with ``None`` for
an open end (which keeps it).  Negative numbers count from the end, as in Python.
Gives the result's type, with sizes worked out symbolically where the dimension is
(``x[:, 1:]`` on ``[B, T, D]`` is ``[B, T-1, D]``), and the PyTorch subscript.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import Dim, TensorType, dim_add, dim_pretty, dim_sub, is_known
from .registry import Arg, OpCall, OpDef, ShapeError, declare

Subscript = int | tuple[int | None, int | None]  # an index, or a slice's start and stop


def subscript_text(items: tuple[Subscript, ...]) -> str:
    """The subscripts as written in Python (and in .agq): ``:, 1:``."""
    def one(item: Subscript) -> str:
        if isinstance(item, int):
            return str(item)
        start, stop = item
        return f"{'' if start is None else start}:{'' if stop is None else stop}"
    return ", ".join(one(i) for i in items)


def _index_infer(c: OpCall):
    items = c.args["items"]
    if not isinstance(items, tuple) or not items:
        raise ShapeError("index is written with brackets after a tensor: x[:, 0], x[:, 1:]", code=Code.ARG_TYPE)
    if len(items) > c.x.rank:
        raise ShapeError(f"[{subscript_text(items)}] has {len(items)} subscripts, but the tensor has rank "
                         f"{c.x.rank}", found=str(c.x), code=Code.BAD_VALUE)
    shape: list[Dim] = []
    for axis, (item, size) in enumerate(zip(items, c.x.shape)):
        if isinstance(item, int):
            _check_index(item, size, axis, c.x)
        else:
            shape.append(_slice_size(item, size, axis, c.x))
    return [TensorType(tuple(shape) + c.x.shape[len(items):], c.x.dtype)]


def _check_index(i: int, size: Dim, axis: int, t: TensorType) -> None:
    if is_known(size) and not -size <= i < size:  # type: ignore[operator]
        raise ShapeError(f"index {i} is out of range for dimension {axis}, of size {size}", found=str(t),
                         code=Code.BAD_VALUE)


def _slice_size(item: tuple[int | None, int | None], size: Dim, axis: int, t: TensorType) -> Dim:
    """How many elements ``start:stop`` keeps of ``size``: Python's rule for numbers, symbolic otherwise.

    For a symbolic size, a non-negative bound is a position from the start and a negative one
    from the end (``T-1``); the count is their difference, which must surely be a size
    (``x[:, -2:]`` keeps 2; ``x[:, :-1]`` keeps ``T-1``; ``x[:, -3:2]`` has no certain size).
    """
    start, stop = item
    if is_known(size):
        kept = len(range(size)[start:stop])  # type: ignore[arg-type]
        if kept < 1:
            raise ShapeError(f"the slice {subscript_text((item,))} keeps nothing of dimension {axis}, of size "
                             f"{size}", found=str(t), code=Code.BAD_VALUE)
        return kept
    begin = 0 if start is None else _position(start, size)
    end = size if stop is None else _position(stop, size)
    if is_known(begin) and is_known(end) and end <= begin:  # type: ignore[operator]
        raise ShapeError(f"the slice {subscript_text((item,))} keeps nothing of dimension {axis}", found=str(t),
                         code=Code.BAD_VALUE)
    try:
        return dim_sub(end, begin) if begin != 0 else end
    except ValueError:
        raise ShapeError(f"the slice {subscript_text((item,))} of dimension {axis}, of symbolic size "
                         f"{dim_pretty(size)}, has no size agqc can be sure of", found=str(t),
                         code=Code.SYMBOLIC_DIM) from None


def _position(bound: int, size: Dim) -> Dim:
    return bound if bound >= 0 else dim_add(size, bound)


declare(OpDef(
    "index", "take elements along leading dimensions, written x[:, 0] (removes the dimension) or x[:, 1:]", 1,
    (Arg("items", "any"),), _index_infer, params=lambda c: 0, macs=lambda c: 0, input_dtype="any",
    lower=lambda e: (None, f"{e.inputs[0]}[{subscript_text(e.call.args['items'])}]"),
    label=lambda c: f"[{subscript_text(c.args['items'])}]",
))
