"""Property: for random well-formed chains, the checker's shapes are torch's shapes.

Hypothesis draws a small image or feature network step by step, each step
chosen among the ops valid for the current shape; the spec must check, the
built module's output shape must equal the inferred one, the summary's
parameter count must equal the module's, and emitting twice gives the same
text.  (The full random-DAG generator is issue 6's.)
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import agqc


@st.composite
def image_steps(draw, c: int, h: int):
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "pool", "bn", "act", "convT"]))
        if kind == "conv":
            k = draw(st.integers(1, 3))
            pad = draw(st.integers(0, k // 2))
            stride = draw(st.integers(1, 2))
            if h + 2 * pad < k:
                continue
            c = draw(st.integers(1, 6))
            steps.append(f"conv2d({c}, kernel={k}, stride={stride}, padding={pad})")
            h = (h + 2 * pad - k) // stride + 1
        elif kind == "pool" and h >= 2:
            steps.append(draw(st.sampled_from(["max_pool2d(2)", "avg_pool2d(2)"])))
            h //= 2
        elif kind == "convT":
            c = draw(st.integers(1, 4))
            steps.append(f"conv_transpose2d({c}, kernel=2, stride=2)")
            h *= 2
        elif kind == "bn":
            steps.append("batchnorm()")
        else:
            steps.append(draw(st.sampled_from(["relu()", "tanh()", "gelu()", "leaky_relu(0.1)"])))
    return steps


@st.composite
def specs(draw):
    c, h = draw(st.integers(1, 3)), draw(st.integers(2, 9))
    chain = ["x"] + draw(image_steps(c, h)) + ["flatten()"]
    width = draw(st.integers(1, 12))
    tail = [f"linear({width})", draw(st.sampled_from(["relu()", "silu()", "layernorm()", "dropout(0.1)"]))]
    residual = draw(st.booleans())
    body = f"    h = {' -> '.join(chain + tail)}\n"
    if residual:
        body += f"    h = h + (h -> linear({width}) -> relu())\n"
    body += f"    return h -> linear({draw(st.integers(1, 5))})\n"
    return f"block Net(x: [B, {c}, {h}, {h}]) {{\n{body}}}\nmodel M {{ network net = Net() }}\n"


@pytest.mark.property
@given(text=specs(), batch=st.integers(1, 3))
def test_checker_shapes_equal_torch_shapes(text, batch, tmp_path_factory):
    path = tmp_path_factory.mktemp("prop") / "spec.agq"
    path.write_text(text)
    spec = agqc.load(path)
    module = spec.build().eval()
    with torch.no_grad():
        out = module(*spec.example_inputs(sizes={"B": batch}))
    expected = tuple(batch if d == "B" else d for d in spec.output_types()[0].shape)
    assert tuple(out.shape) == expected, text
    assert spec.summary().total_params == sum(p.numel() for p in module.parameters()), text
    assert spec.emit_python() == agqc.load(path).emit_python()
