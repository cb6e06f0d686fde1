"""The modules agqc builds compute exactly what hand-written PyTorch does.

For each spec with a reference in tests/reference_models.py, the compiled
module's weights are copied into the reference by position; then both must
give the same outputs (to 1e-6), network by network and for the whole model
(reseeding before each call so that noise and reparameterisation draw the
same numbers), and in training mode the same gradients and BatchNorm
running statistics.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import agqc
from reference_models import REFERENCES, copy_weights

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
STEMS = sorted(REFERENCES)


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _assert_same(a, b, what):
    a, b = _as_tuple(a), _as_tuple(b)
    assert len(a) == len(b), f"{what}: {len(a)} outputs vs {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape, f"{what}: output {i} shapes {tuple(x.shape)} vs {tuple(y.shape)}"
        assert x.dtype == y.dtype, f"{what}: output {i} dtypes {x.dtype} vs {y.dtype}"
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0, msg=lambda m: f"{what}: output {i}: {m}")


@pytest.fixture(scope="module", params=STEMS)
def pair(request):
    """(stem, spec, compiled module, reference with the compiled module's weights)."""
    stem = request.param
    spec = agqc.load(SPECS_DIR / f"{stem}.agq")
    torch.manual_seed(0)
    compiled = spec.build()
    reference = REFERENCES[stem]()
    copy_weights(compiled, reference)
    return stem, spec, compiled, reference


def test_copy_weights_rejects_mismatch():
    a = torch.nn.Sequential(torch.nn.Linear(3, 4))
    b = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(ValueError):
        copy_weights(a, b)


def test_same_parameter_count(pair):
    stem, spec, compiled, reference = pair
    n = sum(p.numel() for p in compiled.parameters())
    assert n == sum(p.numel() for p in reference.parameters())
    assert [p.shape for p in compiled.parameters()] == [p.shape for p in reference.parameters()]


@pytest.mark.parametrize("sizes", [None, {"B": 5}], ids=["default", "B5"])
def test_networks_match_reference(pair, sizes):
    stem, spec, compiled, reference = pair
    compiled.eval()
    reference.eval()
    for name in spec.networks:
        inputs = spec.example_inputs(network=name, sizes=sizes, seed=7)
        with torch.no_grad():
            a = getattr(compiled, name)(*inputs)
            b = getattr(reference, name)(*inputs)
        _assert_same(a, b, f"{spec.name}.{name}")


@pytest.mark.parametrize("sizes", [None, {"B": 5}], ids=["default", "B5"])
def test_model_matches_reference(pair, sizes):
    stem, spec, compiled, reference = pair
    compiled.eval()
    reference.eval()
    inputs = spec.example_inputs(sizes=sizes, seed=3)
    for k in (0, 1):
        torch.manual_seed(k)
        with torch.no_grad():
            a = compiled(*inputs)
        torch.manual_seed(k)
        with torch.no_grad():
            b = reference(*inputs)
        _assert_same(a, b, spec.name)


def test_training_step_matches_reference(pair):
    """Train mode (dropout, batch statistics): same outputs, gradients, buffers."""
    stem, spec, compiled, reference = pair
    # fresh copies so the module-scoped pair is not changed
    torch.manual_seed(0)
    compiled = spec.build().train()
    reference = REFERENCES[stem]().train()
    copy_weights(compiled, reference)
    inputs = spec.example_inputs(sizes={"B": 4}, seed=5)

    def step(module):
        torch.manual_seed(11)
        outputs = _as_tuple(module(*inputs))
        gen = torch.Generator().manual_seed(13)
        loss = sum((y.float() * torch.randn(y.shape, generator=gen)).sum()
                   for y in outputs if y.is_floating_point())
        loss.backward()
        return tuple(y.detach() for y in outputs)

    _assert_same(step(compiled), step(reference), f"{spec.name} (train)")
    c_params = list(compiled.named_parameters())
    r_params = list(reference.named_parameters())
    assert len(c_params) == len(r_params)
    for (cn, cp), (rn, rp) in zip(c_params, r_params):
        assert (cp.grad is None) == (rp.grad is None), f"{cn} / {rn}: gradient in only one"
        if cp.grad is not None:
            torch.testing.assert_close(cp.grad, rp.grad, atol=1e-6, rtol=1e-6,
                                       msg=lambda m: f"grad of {cn} / {rn}: {m}")
    for (cn, cb), (rn, rb) in zip(compiled.named_buffers(), reference.named_buffers()):
        torch.testing.assert_close(cb, rb, atol=1e-6, rtol=0,
                                   msg=lambda m: f"buffer {cn} / {rn}: {m}")

