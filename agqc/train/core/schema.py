"""The words the data layer of `agqc train` is written in: what a field holds, and what a call takes.

Takes nothing: it defines `Field` (the dtype, shape and classes of one field of a dataset, per example), `Param`
(one parameter of a dataset, transform or augmentation) with `REQUIRED` for a parameter the spec must give, and
`fill()`, which checks the parameters a spec gives and fills in the defaults.
Gives them to data.py (datasets) and transforms.py (transforms and augmentations), which build their registries
from them, and, through data.py, to the checker (agqc/train/options.py, bind.py).

Imports: the standard library only. The source is copied verbatim into the standalone training script.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping

REQUIRED = object()  # a Param default meaning "the spec must give it"


@dataclass(frozen=True)
class Field:
    """What one field of a dataset holds per example (no leading N)."""
    dtype: str                    # "float" or "int"
    shape: tuple[int, ...]
    classes: int | None = None    # int labels: how many classes; tokens: the vocabulary size


@dataclass(frozen=True)
class Param:
    name: str
    kind: type        # int, float, str or bool
    default: object   # REQUIRED: the spec must give it
    doc: str


def fill(params: tuple[Param, ...], given: Mapping[str, object], what: str) -> dict:
    """`given` with defaults filled in; ValueError for an unknown or missing parameter or a value of the wrong kind."""
    known = [p.name for p in params]
    for name in given:
        if name not in known:
            raise ValueError(f"{what}: no parameter {name!r} (it takes {', '.join(known) or 'none'})")
    out = {}
    for p in params:
        value = given.get(p.name, p.default)
        if value is REQUIRED:
            raise ValueError(f"{what}: parameter {p.name!r} is required ({p.doc})")
        if p.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # 1 where 1.0 is meant
        if not isinstance(value, p.kind) or (isinstance(value, bool) and p.kind is not bool):  # True is an int too
            raise ValueError(f"{what}: {p.name} must be {p.kind.__name__}, not {value!r}")
        out[p.name] = value
    return out


def with_defaults(params: tuple[Param, ...], what: str, fn: Callable) -> Callable:
    """fn taking its parameters with defaults filled in, so that callers may pass only what the spec gave."""
    @functools.wraps(fn)
    def wrapper(given, *rest):
        return fn(fill(params, given, what), *rest)
    return wrapper


def positive(p: Mapping, *names: str) -> None:
    """ValueError unless each of the parameters `names` of `p` is above zero."""
    for name in names:
        if p[name] <= 0:
            raise ValueError(f"{name} must be positive, not {p[name]!r}")
