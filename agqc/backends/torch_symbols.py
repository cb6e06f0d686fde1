"""Names for sizes, so that one class can stand for a block used at several sizes.

Takes a ``Program`` and one of its graphs; gives ``block_signature`` (the block's
parameters in the spec's order and its input sizes that have a name, read from the
spec's text), ``config_of`` (the arguments a graph's block was instantiated with)
and ``symbol`` (a size's value in each variant -> its text in a comment: ``out``,
``H // 2``, ``heads * head_dim``, or ``32|64`` when no name fits).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from .. import ast
from ..ir import Graph, Program
from ..kinds import GraphKind


@dataclass(frozen=True)
class Signature:
    config: tuple[str, ...] = ()  # the block's parameters (not its tensors), in the spec's order
    dims: dict[str, tuple[int, int]] = field(default_factory=dict)  # input size name -> (input, axis)
    order: tuple[str, ...] = ()  # parameters and input sizes, as the signature writes them


def block_signature(program: Program, graph: Graph) -> Signature:
    """The signature of the block a graph instantiates (a repeat body: of the block it sits in)."""
    text = program.sources.get(graph.span.file)
    block = _block(graph.span.file, text, graph.name) if text is not None else None
    if block is None:
        return Signature()
    config = tuple(p.name for p in block.params if isinstance(p, ast.ConfigParam))
    dims: dict[str, tuple[int, int]] = {}
    order: list[str] = []
    tensors = 0
    for p in block.params:
        if isinstance(p, ast.ConfigParam):
            order.append(p.name)
            continue
        for axis, d in enumerate(p.type.dims):
            if isinstance(d, ast.Name) and d.id not in config and d.id not in dims:
                dims[d.id] = (tensors, axis)
                order.append(d.id)
        tensors += 1
    return Signature(config, dims, tuple(order))


@lru_cache(maxsize=64)
def _block(file: str, text: str, name: str) -> ast.Block | None:
    from ..diagnostics import AgqcError
    from ..parse import parse_source
    try:
        module = parse_source(text, file)
    except AgqcError:
        return None
    return next((b for b in module.items if isinstance(b, ast.Block) and b.name == name), None)


def config_of(program: Program, graph: Graph) -> dict:
    """The arguments a graph's block was instantiated with (a repeat body: those of the block it sits in)."""
    while graph.kind == GraphKind.REPEAT:
        graph = program.graph(graph.key.rsplit("/", 1)[0])
    return graph.config


def symbol(values: tuple, texts: tuple[str, ...], named: dict[str, tuple], axes: dict[str, int],
           position: int | None) -> str:
    """A size that differs between variants, in a comment: a name, a name and a constant, two names, or each value.

    Names whose input axis is the size's position in its shape are tried first (``H`` before ``W``).
    """
    order = sorted(named, key=lambda n: axes.get(n, -1) != position)
    for name in order:
        if named[name] == values:
            return name
    if not all(isinstance(v, int) for v in values):
        return "|".join(texts)
    sizes = {n: named[n] for n in order if all(isinstance(x, int) and x > 0 for x in named[n])}
    for (a, va), (b, vb) in combinations(sizes.items(), 2):
        if all(x + y == v for x, y, v in zip(va, vb, values)):
            return f"{a} + {b}"
        if all(x * y == v for x, y, v in zip(va, vb, values)):
            return f"{a} * {b}"
        if all(x // y == v for x, y, v in zip(va, vb, values)):
            return f"{a} // {b}"
        if all(y // x == v for x, y, v in zip(va, vb, values)):
            return f"{b} // {a}"
    found = []  # (how far from the name, text): a name times, divided by, plus or minus a constant
    for name, vec in sizes.items():
        k = values[0] // vec[0]
        if k > 1 and all(x * k == v for x, v in zip(vec, values)):
            found.append((k, f"{k} * {name}"))
        k = vec[0] // values[0] if values[0] > 0 else 0
        if k > 1 and all(x // k == v for x, v in zip(vec, values)):
            found.append((k, f"{name} // {k}"))
        d = values[0] - vec[0]
        if d and all(v - x == d for x, v in zip(vec, values)):
            found.append((abs(d), f"{name} + {d}" if d > 0 else f"{name} - {-d}"))
    return min(found, key=lambda f: f[0])[1] if found else "|".join(texts)
