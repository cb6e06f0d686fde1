"""Every spec in specs/ checks, builds and runs, and the tensors it produces
have the shapes the checker inferred.

The specs are found by glob, so a new specs/*.agq is tested automatically.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import agqc
from agqc.types import dim_eval, dim_symbols
from conftest import LARGE_SPECS, SMALL_SPECS

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
SPEC_PATHS = SMALL_SPECS  # weights and forward passes; LARGE_SPECS are built on the meta device below
SIZES = [None, {"B": 5}]


def _ids(paths):
    return [p.stem for p in paths]


@pytest.fixture(scope="module", params=SPEC_PATHS, ids=_ids(SPEC_PATHS))
def spec(request):
    return agqc.load(request.param)


@pytest.fixture(scope="module")
def built(spec):
    """The spec's module in eval mode, built once per spec for the forward tests."""
    torch.manual_seed(0)
    return spec.build().eval()


def test_specs_found():
    assert SPEC_PATHS, f"no specs in {SPECS_DIR}"


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _binding(in_types, inputs, sizes):
    """Symbol -> size, read off the example inputs, checked against `sizes`."""
    assert len(inputs) == len(in_types)
    binding: dict[str, int] = {}
    for t, x in zip(in_types, inputs):
        assert x.dim() == t.rank, f"input {t}: got shape {tuple(x.shape)}"
        assert (t.dtype == "int") == (not x.is_floating_point()), f"input {t}: dtype {x.dtype}"
        for d, n in zip(t.shape, x.shape):
            if isinstance(d, int):
                assert n == d, f"input {t}: got shape {tuple(x.shape)}"
            elif isinstance(d, str):
                assert binding.setdefault(d, n) == n, f"symbol {d} bound to {binding[d]} and {n}"
    for name, n in (sizes or {}).items():
        if name in binding:
            assert binding[name] == n, f"asked for {name}={n}, example_inputs gave {binding[name]}"
    return binding


def _expected_shape(t, binding):
    shape = []
    for d in t.shape:
        missing = [s for s in dim_symbols(d) if s not in binding]
        assert not missing, f"output {t}: symbols {missing} not bound by the inputs"
        shape.append(dim_eval(d, binding))
    return tuple(shape)


def _check_outputs(outputs, out_types, binding, what):
    outputs = _as_tuple(outputs)
    assert len(outputs) == len(out_types), (
        f"{what}: {len(outputs)} outputs, checker says {len(out_types)}")
    for i, (y, t) in enumerate(zip(outputs, out_types)):
        assert isinstance(y, torch.Tensor), f"{what}: output {i} is {type(y).__name__}"
        expected = _expected_shape(t, binding)
        assert tuple(y.shape) == expected, (
            f"{what}: output {i} has shape {tuple(y.shape)}, checker inferred {t} = {expected}")
        if t.dtype == "int":
            assert not y.is_floating_point(), f"{what}: output {i} should be int, is {y.dtype}"
        else:
            assert y.is_floating_point(), f"{what}: output {i} should be float, is {y.dtype}"
            assert torch.isfinite(y.float()).all(), f"{what}: output {i} has non-finite values"


@pytest.mark.parametrize("sizes", SIZES, ids=["default", "B5"])
def test_model_forward_shapes(spec, built, sizes):
    module = built
    inputs = spec.example_inputs(sizes=sizes)
    binding = _binding(spec.input_types(), inputs, sizes)
    with torch.no_grad():
        out = module(*inputs)
    _check_outputs(out, spec.output_types(), binding, spec.name)


@pytest.mark.parametrize("sizes", SIZES, ids=["default", "B5"])
def test_network_forward_shapes(spec, built, sizes):
    module = built
    assert spec.networks, "a model has at least one network"
    for name in spec.networks:
        net = getattr(module, name)
        assert isinstance(net, torch.nn.Module)
        inputs = spec.example_inputs(network=name, sizes=sizes)
        binding = _binding(spec.graph(name).input_types(), inputs, sizes)
        with torch.no_grad():
            out = net(*inputs)
        _check_outputs(out, spec.output_types(network=name), binding, f"{spec.name}.{name}")


def test_train_mode_backward(spec):
    """A training-mode forward and backward pass runs and gives finite gradients."""
    torch.manual_seed(0)
    module = spec.build().train()
    inputs = spec.example_inputs(sizes={"B": 4})
    outputs = _as_tuple(module(*inputs))
    _check_outputs(outputs, spec.output_types(),
                   _binding(spec.input_types(), inputs, {"B": 4}), spec.name)
    loss = sum(y.float().square().mean() for y in outputs if y.is_floating_point())
    loss.backward()
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    assert grads, "no parameter received a gradient"
    for g in grads:
        assert torch.isfinite(g.float()).all()


def test_emitted_source_matches_built_module(spec, built):
    """The standalone source from `agqc emit` defines the same model as build()."""
    namespace: dict = {"__name__": f"agqc_emitted_{spec.name}"}
    exec(compile(spec.emit_python(), f"<emitted {spec.name}>", "exec"), namespace)
    emitted = namespace[spec.name]().eval()
    emitted.load_state_dict(built.state_dict())  # same names, same shapes
    inputs = spec.example_inputs()
    torch.manual_seed(1)
    with torch.no_grad():
        a = _as_tuple(built(*inputs))
    torch.manual_seed(1)
    with torch.no_grad():
        b = _as_tuple(emitted(*inputs))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0)


def test_shape_errors_are_reported(tmp_path):
    """A spec whose declared output shape is wrong is rejected with diagnostics."""
    bad = tmp_path / "bad.agq"
    bad.write_text(
        "block Net(x: [B, 1, 28, 28]) -> [B, 10] {\n"
        "    h = x -> flatten() -> linear(12)\n"
        "    return h\n"
        "}\n"
        "model Bad {\n"
        "    classifier net = Net()\n"
        "}\n")
    with pytest.raises(agqc.AgqcError) as info:
        agqc.load(bad)
    diags = info.value.diagnostics
    assert diags and all(d.severity == "error" for d in diags)
    assert any(d.span.line in (1, 2, 3) for d in diags)


@pytest.mark.parametrize("path", LARGE_SPECS, ids=_ids(LARGE_SPECS))
def test_large_specs_build_on_the_meta_device(path):
    """GPT-2 and Llama-sized specs: the module's structure, without memory for its weights."""
    spec = agqc.load(path)
    module = spec.build(device="meta")
    params = {id(p): p for p in module.parameters()}.values()  # a tied weight once
    assert sum(p.numel() for p in params) == spec.summary().total_params
    assert all(p.is_meta for p in params)
