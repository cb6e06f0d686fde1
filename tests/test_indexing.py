"""Indexing, slicing and symbolic subtraction: the checker's shape is the built module's, every time.

Each subscript is tried on a known size and on a symbolic one; where the checker accepts it,
the module runs on an input with the symbol bound (to a size larger than any bound, as the
checker assumes) and its output shape must be the checker's with that value substituted.
Python's own slicing of ``range`` is the oracle for known sizes.
"""
from __future__ import annotations

import itertools

import pytest
import torch

import agqc
from agqc.types import dim_eval

BOUNDS = [None, -4, -1, 0, 1, 2, 4]
T_RUNTIME = 9  # larger than every bound: the checker takes a symbolic size to be
KNOWN = 5


def _spec(tmp_path, subscript: str, rest: str = "") -> agqc.Spec:
    path = tmp_path / "index.agq"
    path.write_text(f"block Take(x: [B, T, {KNOWN}]) {{\n    return x[{subscript}]{rest}\n}}\n\n"
                    "model M {\n    backbone net = Take()\n}\n")
    return agqc.load(path)


def _checks(tmp_path, subscript: str) -> agqc.Spec | None:
    try:
        return _spec(tmp_path, subscript)
    except agqc.AgqcError:
        return None


def _run(spec: agqc.Spec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the module's output shape, the checker's with T bound) for one run."""
    (declared,) = spec.output_types()
    x = torch.randn(2, T_RUNTIME, KNOWN)
    out = spec.build().eval()(x)
    expected = tuple(dim_eval(d, {"B": 2, "T": T_RUNTIME}) for d in declared.shape)
    return tuple(out.shape), expected


def _text(start, stop) -> str:
    return f"{'' if start is None else start}:{'' if stop is None else stop}"


@pytest.mark.parametrize("start,stop", list(itertools.product(BOUNDS, BOUNDS)))
def test_slices_of_a_known_size_follow_python(start, stop, tmp_path):
    kept = len(range(KNOWN)[start:stop])
    spec = _checks(tmp_path, f":, :, {_text(start, stop)}")
    assert (spec is not None) == (kept > 0), "an empty slice is refused, every other one accepted"
    if spec is not None:
        got, expected = _run(spec)
        assert got == expected == (2, T_RUNTIME, kept)


@pytest.mark.parametrize("start,stop", list(itertools.product(BOUNDS, BOUNDS)))
def test_slices_of_a_symbolic_size_run_as_checked(start, stop, tmp_path):
    spec = _checks(tmp_path, f":, {_text(start, stop)}")
    python = len(range(T_RUNTIME)[start:stop])
    if spec is None:  # refused: surely empty, or from the end to the start (no size is certain for every T)
        assert python == 0 or (start is not None and start < 0 and stop is not None and stop >= 0), (start, stop)
        return
    got, expected = _run(spec)
    assert got == expected and got[1] == python


@pytest.mark.parametrize("index", [0, 1, -1, -KNOWN, KNOWN - 1])
def test_an_index_removes_its_dimension(index, tmp_path):
    got, expected = _run(_spec(tmp_path, f":, 0, {index}"))
    assert got == expected == (2,)


def test_an_index_out_of_range_of_a_known_size_is_refused(tmp_path):
    with pytest.raises(agqc.AgqcError, match="out of range"):
        _spec(tmp_path, f":, :, {KNOWN}")


def test_indexing_a_call_in_a_chain_and_splitting_with_symbolic_subtraction(tmp_path):
    """BERT's pooler and the class token: the first token, the rest by split(1, T - 1), then the last."""
    path = tmp_path / "pool.agq"
    path.write_text("""\
block Pool(x: [B, T, 8]) -> ([B, 8], [B, T - 1, 8], [B, 8]) {
    first, rest = split(x, 1, T - 1, dim=1)
    last = x -> linear(8)[:, -1]
    return first[:, 0] -> tanh(), rest, last
}

model M {
    backbone net = Pool()
}
""")
    spec = agqc.load(path)
    module = spec.build().eval()
    x = torch.randn(2, 6, 8)
    first, rest, last = module(x)
    assert first.shape == (2, 8) and rest.shape == (2, 5, 8) and last.shape == (2, 8)
    assert torch.equal(rest, x[:, 1:])
    assert torch.allclose(first, torch.tanh(x[:, 0]))


@pytest.mark.parametrize("expr,why", [("T - S", "could be below 1"), ("1 - T", "could be below 1"),
                                      ("T - T", "not a size")])
def test_a_difference_that_may_not_be_a_size_is_refused(expr, why, tmp_path):
    path = tmp_path / "sub.agq"
    path.write_text(f"block N(x: [B, T, S]) {{\n    return normal(B, {expr}), x\n}}\n\nmodel M {{\n"
                    "    backbone net = N()\n}\n")
    with pytest.raises(agqc.AgqcError, match=why):
        agqc.load(path)


@pytest.mark.parametrize("name,note", [("syntax_split_name", "did you mean `conv2d`?"),
                                       ("syntax_unclosed_last_line", "expected `)`, found end of file")])
def test_syntax_notes_for_a_split_name_and_a_bracket_open_at_the_end(name, note):
    from conftest import ROOT
    with pytest.raises(agqc.AgqcError) as err:
        agqc.load(ROOT / "tests" / "broken" / f"{name}.agq")
    (diagnostic,) = err.value.diagnostics
    assert any(note in n for n in diagnostic.notes), diagnostic.notes
