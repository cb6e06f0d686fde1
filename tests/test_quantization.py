"""Quantisation-aware training and deployment of @int8, @int4, @fp8 and @binary layers.

Every model here is built from a small spec.  What a layer "uses" as its weight is read
off its forward pass: with no bias and no input quantisation, layer(I) = I W^T = W^T
exactly, so the tests see the values the generated code really multiplies by.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import agqc

# annotation -> (precision name in the generated code)
PRECISIONS = {"@int8": "int8", "@int4": "int4", "@fp8(e4m3)": "fp8_e4m3",
              "@fp8(e5m2)": "fp8_e5m2", "@binary": "binary"}
LEVELS = {"int8": 127, "int4": 7}  # symmetric: -127..127 and -7..7
# Published format facts (Micikevicius et al., "FP8 Formats for Deep Learning",
# arXiv:2209.05433, Table 1; the OCP 8-bit floating point spec): mantissa bits,
# smallest normal exponent, largest finite value.
FP8 = {"fp8_e4m3": (3, -6, 448.0), "fp8_e5m2": (2, -14, 57344.0)}
FP8_DTYPES = {"fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}

LINEAR = "block N(x: [B, {i}]) -> [B, {o}] {{\n    return x -> linear({o}, bias={bias}) {p}\n}}\n"
MODEL = "model M { network n = N() }\n"


def _build(write_spec, text, seed=0):
    spec = agqc.load(write_spec(text + MODEL))
    torch.manual_seed(seed)
    return spec, spec.build().eval()


def _with_activations(annotation):
    """@int8 -> @int8(activations); @fp8(e5m2) -> @fp8(e5m2, activations)."""
    return annotation[:-1] + ", activations)" if "(" in annotation else annotation + "(activations)"


def _quant_layers(model):
    return [m for m in model.modules() if hasattr(m, "precision")]


def _linear(write_spec, annotation, i=48, o=12, bias="false", seed=0):
    spec, model = _build(write_spec, LINEAR.format(i=i, o=o, bias=bias, p=annotation), seed)
    (layer,) = _quant_layers(model)
    return spec, model, layer


def _used(layer):
    """The weight a linear layer multiplies by, read off its forward pass."""
    n = layer.in_features
    with torch.no_grad():
        if layer.activations and layer.precision == "binary":
            # Inputs are binarised (sign, 0 -> +1): A = 2I - J gives 2W^T - JW^T, zeros give JW^T.
            return ((layer(2 * torch.eye(n) - 1) + layer(torch.zeros(n, n))) / 2).T
        return layer(torch.eye(n)).T  # I W^T = W^T (each one-hot row of I quantises to ~itself)


def _wide_range_weight(shape, seed, log_span):
    """Rows of very different magnitudes, with heavy tails, zeros and tiny values."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g) ** 3
    w *= torch.logspace(-log_span, 1, shape[0])[:, None]
    w[:, 0] = 0.0
    w[:, 1] *= 1e-6
    return w


# ---------------------------------------------------------------- error bounds

@pytest.mark.parametrize("annotation", ["@int8", "@int4"])
def test_integer_error_within_half_a_step(write_spec, annotation):
    precision = PRECISIONS[annotation]
    levels = LEVELS[precision]
    _, _, layer = _linear(write_spec, annotation)

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), log_span=st.floats(0, 6))
    def check(seed, log_span):
        w = _wide_range_weight(layer.weight.shape, seed, log_span)
        with torch.no_grad():
            layer.weight.copy_(w)
        q = _used(layer)
        scale = w.abs().amax(dim=1, keepdim=True) / levels  # per output channel
        assert ((w - q).abs() <= scale / 2 * (1 + 1e-5)).all()
        codes = q / scale
        assert torch.allclose(codes, codes.round(), atol=1e-3)  # on the channel's integer grid
        assert (codes.round().abs() <= levels).all()
    check()


@pytest.mark.parametrize("annotation", ["@fp8(e4m3)", "@fp8(e5m2)"])
def test_fp8_relative_error_from_mantissa_bits(write_spec, annotation):
    precision = PRECISIONS[annotation]
    mantissa, min_exp, largest = FP8[precision]
    _, _, layer = _linear(write_spec, annotation)

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), log_span=st.floats(0, 6))
    def check(seed, log_span):
        w = _wide_range_weight(layer.weight.shape, seed, log_span)
        with torch.no_grad():
            layer.weight.copy_(w)
        q = _used(layer)
        scale = w.abs().amax(dim=1, keepdim=True) / largest  # channel max -> format max
        # Round to nearest: half a unit in the last place, i.e. 2^-(m+1) relative for
        # normal numbers; below the smallest normal, half the subnormal spacing.
        bound = torch.maximum(w.abs() * 2.0 ** -(mantissa + 1), scale * 2.0 ** (min_exp - mantissa - 1))
        assert ((w - q).abs() <= bound * (1 + 1e-5)).all()
        normal = w.abs() >= scale * 2.0 ** min_exp
        rel = ((w - q).abs() / w.abs())[normal]
        assert rel.max() <= 2.0 ** -(mantissa + 1) * (1 + 1e-5)
        assert rel.max() > 2.0 ** -(mantissa + 3)  # it really rounds to `mantissa` bits, no finer
    check()


def test_fp8_format_facts_match_torch():
    for precision, (mantissa, min_exp, largest) in FP8.items():
        info = torch.finfo(FP8_DTYPES[precision])
        assert (info.eps, info.tiny, info.max) == (2.0 ** -mantissa, 2.0 ** min_exp, largest)


def test_binary_is_plus_minus_alpha_per_channel(write_spec):
    _, _, layer = _linear(write_spec, "@binary")

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), log_span=st.floats(0, 4))
    def check(seed, log_span):
        w = _wide_range_weight(layer.weight.shape, seed, log_span)
        with torch.no_grad():
            layer.weight.copy_(w)
        q = _used(layer)
        alpha = q.abs()[:, :1]
        assert torch.equal(q.abs(), alpha.expand_as(q))  # exactly two values per channel
        assert torch.equal(q > 0, w >= 0)  # sign(w), with sign(0) = +1
        # alpha = mean |w| of the channel, stored (and so also trained) as fp16
        assert torch.equal(alpha.half().float(), alpha)
        assert torch.allclose(alpha, w.abs().mean(dim=1, keepdim=True), rtol=2.0 ** -11)
    check()


# ---------------------------------------------------------------- straight-through gradients

def _weight_grad(layer, x, g):
    layer.weight.grad = None
    (layer(x) * g).sum().backward()
    return layer.weight.grad


@pytest.mark.parametrize("annotation", list(PRECISIONS))
def test_straight_through_weight_gradient(write_spec, annotation):
    _, model, layer = _linear(write_spec, annotation)
    model.train()
    with torch.no_grad():
        layer.weight[0, :3] = torch.tensor([1.5, -2.0, 3.0])  # outside the binary clip range
    x, g = torch.randn(5, layer.in_features), torch.randn(5, layer.out_features)
    grad = _weight_grad(layer, x, g)
    expected = g.T @ x  # d/dW of sum(g * x W^T), as if quantisation were the identity
    if PRECISIONS[annotation] == "binary":
        outside = layer.weight.detach().abs() > 1
        assert outside.sum() == 3
        assert (grad[outside] == 0).all()  # clipped: no gradient where |w| > 1
        assert torch.allclose(grad[~outside], expected[~outside], atol=1e-6)
        assert (grad[~outside] != 0).all()
    else:
        assert torch.allclose(grad, expected, atol=1e-6)
        assert (grad != 0).all()


@pytest.mark.parametrize("annotation", ["@int8(activations)", "@int4(activations)",
                                        "@fp8(e4m3, activations)", "@binary(activations)"])
def test_straight_through_input_gradient(write_spec, annotation):
    _, model, layer = _linear(write_spec, annotation)
    model.train()
    x = (torch.randn(6, layer.in_features) * 1.5).requires_grad_()
    g = torch.randn(6, layer.out_features)
    (layer(x) * g).sum().backward()
    expected = g @ _used(layer)  # d/dx of sum(g * q(x) W^T), as if q(x) were x
    if layer.precision == "binary":
        inside = x.detach().abs() <= 1
        assert (x.grad[~inside] == 0).all() and (~inside).any()  # clipped straight-through
        assert torch.allclose(x.grad[inside], expected[inside], rtol=1e-4, atol=1e-5)
        assert (x.grad[inside] != 0).all()
    else:
        assert torch.allclose(x.grad, expected, rtol=1e-4, atol=1e-5)
        assert (x.grad != 0).all()


# ---------------------------------------------------------------- activation quantisation

@pytest.mark.parametrize("annotation", ["@int8", "@int4", "@fp8(e4m3)", "@fp8(e5m2)", "@binary"])
def test_activations_quantised_per_example(write_spec, annotation):
    precision = PRECISIONS[annotation]
    _, _, plain = _linear(write_spec, annotation, seed=1)
    _, _, layer = _linear(write_spec, _with_activations(annotation), seed=1)
    assert layer.activations and torch.equal(plain.weight, layer.weight)
    w = _used(plain)
    x = torch.randn(4, layer.in_features) * torch.logspace(-2, 1, layer.in_features)
    x[0] *= 100  # one loud example must not coarsen the others' grid
    if precision == "binary":
        qx = torch.where(x >= 0, 1.0, -1.0)
    else:
        top = LEVELS[precision] if precision in LEVELS else FP8[precision][2]
        s = x.abs().amax(dim=1, keepdim=True) / top  # one scale per example
        qx = (x / s).round() * s if precision in LEVELS else (x / s).to(FP8_DTYPES[precision]).float() * s
    assert not torch.equal(qx, x)
    with torch.no_grad():
        out = layer(x)
        alone = torch.cat([layer(row[None]) for row in x])
    assert torch.allclose(out, F.linear(qx, w), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out, F.linear(x, w), rtol=1e-5, atol=1e-6)
    assert torch.allclose(out, alone, rtol=1e-5, atol=1e-5)  # no dependence on the rest of the batch


def test_sensitive_ops_stay_fp32(write_spec):
    spec, model = _build(write_spec, "block N(x: [B, 16]) -> [B, 16] {\n"
                         "    @int8 h = x -> linear(16) -> batchnorm() -> relu() -> layernorm() -> softmax()\n"
                         "    return h\n}\n")
    assert sorted(w.code for w in spec.warnings) == ["precision-kept"] * 3
    assert [type(m).__name__ for m in _quant_layers(model)] == ["QuantLinear"]
    norms = [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.LayerNorm))]
    assert len(norms) == 2 and all(p.dtype == torch.float32 for m in norms for p in m.parameters())


# ---------------------------------------------------------------- deployment round trips

# (block text, output channels of the weight): odd weight counts exercise int4/binary padding
LAYERS = {
    "linear": ("block N(x: [B, 7]) -> [B, 5] {{\n    return x -> linear(5) {p}\n}}\n", 5),
    "conv1d": ("block N(x: [B, 3, 10]) -> [B, 5, 8] {{\n    return x -> conv1d(5, kernel=3) {p}\n}}\n", 5),
    "conv2d": ("block N(x: [B, 3, 6, 6]) -> [B, 4, 6, 6] {{\n"
               "    return x -> conv2d(4, kernel=3, padding=1) {p}\n}}\n", 4),
    "conv_transpose2d": ("block N(x: [B, 3, 4, 4]) -> [B, 5, 7, 7] {{\n"
                         "    return x -> conv_transpose2d(5, kernel=3, stride=2, padding=1) {p}\n}}\n", 5),
    "embedding": ("block N(ids: int[B, T]) -> [B, T, 6] {{\n    return ids -> embedding(11, 6) {p}\n}}\n", 11),
}
STORED = {"int8": (torch.int8, 1), "int4": (torch.uint8, 2), "binary": (torch.uint8, 8),
          "fp8_e4m3": (torch.float8_e4m3fn, 1), "fp8_e5m2": (torch.float8_e5m2, 1)}  # dtype, values per byte


def _cases():
    for op in LAYERS:
        for annotation in PRECISIONS:
            yield op, annotation
            if op != "embedding":  # an embedding's input is ids: nothing to quantise
                yield op, _with_activations(annotation)


@pytest.mark.parametrize("op,annotation", list(_cases()))
def test_deploy_round_trip(write_spec, tmp_path, op, annotation):
    text, channels = LAYERS[op]
    spec, model = _build(write_spec, text.format(p=annotation))
    (layer,) = _quant_layers(model)
    shape = tuple(layer.weight.shape)
    inputs = spec.example_inputs(sizes={"B": 3, "T": 4}, seed=2)
    with torch.no_grad():
        before = model(*inputs)
        spec.deploy(model)
        after = model(*inputs)
    assert torch.equal(after, before)

    state = model.state_dict()
    assert not any(k.endswith(".weight") for k in state)  # the fp32 master weight is gone
    (key,) = [k for k in state if k.endswith(".packed")]
    packed, scale = state[key], state[key.replace(".packed", ".scale")]
    dtype, per_byte = STORED[layer.precision]
    assert packed.dtype == dtype and packed.numel() == math.ceil(math.prod(shape) / per_byte)
    assert scale.numel() == channels  # one scale per output channel (axis 1 for conv_transpose2d)
    assert scale.dtype == (torch.float16 if layer.precision == "binary" else torch.float32)

    torch.save(state, tmp_path / "deployed.pt")  # what one ships, reloaded into a fresh model
    fresh = spec.deploy(spec.build()).eval()
    fresh.load_state_dict(torch.load(tmp_path / "deployed.pt"))
    with torch.no_grad():
        assert torch.equal(fresh(*inputs), before)
        assert torch.equal(spec.deploy(model)(*inputs), before)  # deploying again changes nothing


TIED = """block N(ids: int[B, T]) -> [B, T, 50] {{
    {p} h = ids -> embedding(50, 16) as wte
    return h -> linear(50, bias=false, tie="wte")
}}
"""


@pytest.mark.parametrize("annotation", list(PRECISIONS))
def test_tied_output_layer_uses_the_quantised_table(write_spec, annotation):
    """GPT-2-style weight tying: the head multiplies by the same (quantised, later packed) table."""
    spec, model = _build(write_spec, TIED.format(p=annotation))
    (wte,) = _quant_layers(model)
    ids = torch.tensor([[0, 7, 49]])
    with torch.no_grad():
        table = wte(torch.arange(50)[None])[0]  # the quantised rows the embedding returns
        before = model(ids)
        assert torch.equal(before, F.linear(wte(ids), table))
        assert not torch.equal(table, wte.weight)  # ... which are not the fp32 master rows
        spec.deploy(model)
        assert wte.weight is None and torch.equal(model(ids), before)


# ---------------------------------------------------------------- sizes

def _bytes(module):
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


@pytest.mark.parametrize("annotation,bias,low,high", [
    ("@binary", "false", 30, 32),  # 1 bit + one fp16 alpha per 256 weights: 32 / (1 + 16/256)
    ("@binary", "true", 25, 32),  # the fp32 bias (1 KiB) is kept: about 27x
    ("@int8", "true", 3.8, 4), ("@int4", "true", 7.4, 8), ("@fp8(e4m3)", "true", 3.8, 4),
])
def test_deployed_size(write_spec, annotation, bias, low, high):
    _, fp32 = _build(write_spec, LINEAR.format(i=256, o=256, bias=bias, p=""))
    spec, model, _ = _linear(write_spec, annotation, i=256, o=256, bias=bias)
    assert _bytes(model) == _bytes(fp32)  # QAT keeps the fp32 master weight
    ratio = _bytes(fp32) / _bytes(spec.deploy(model))
    assert low <= ratio <= high, f"{annotation}: {ratio:.2f}x"


# ---------------------------------------------------------------- training and export

@pytest.fixture
def one_thread():
    """Tiny matrices: a second intra-op thread only adds synchronisation (10x slower on a busy runner)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("annotation", [*PRECISIONS, "@int8(activations)", "@binary(activations)"])
def test_qat_model_trains(write_spec, one_thread, annotation):
    spec, model = _build(write_spec, "block N(x: [B, 16]) -> [B, 4] {\n"
                         "    h = x -> linear(32) -> batchnorm()\n"
                         f"    {annotation} h = h -> linear(32) -> batchnorm() -> relu()\n"
                         "    return h -> linear(4)\n}\n")
    (layer,) = _quant_layers(model)
    start = layer.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 16, generator=g)
    y = (x @ torch.randn(16, 4, generator=g)).argmax(dim=1)  # a random linear teacher
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.6 * losses[0], losses[::10]
    assert not torch.equal(layer.weight.detach(), start)  # the quantised layer itself learned


Q_SPEC = """block N(x: [B, 64]) -> [B, 10] {
    h = x -> linear(128) -> batchnorm() -> tanh()
    @binary(activations) h = h -> linear(128, bias=false) -> batchnorm()
    @int8 h = h -> linear(64) -> relu()
    @int4(activations) h = h -> linear(64) -> relu()
    @fp8(e5m2) h = h -> linear(64) -> relu()
    return h -> linear(10)
}
"""


@pytest.mark.parametrize("deployed", [False, True], ids=["qat", "deployed"])
def test_torch_export(write_spec, deployed):
    spec, model = _build(write_spec, Q_SPEC)
    if deployed:
        spec.deploy(model)
    (x,) = spec.example_inputs(sizes={"B": 4})
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.equal(program.module()(x), model(x))
