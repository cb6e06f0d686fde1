"""Adding an op is one registry entry: a toy op declared here alone goes through every stage.

``prelu`` (a learnable slope per feature, He et al. 2015) is not part of agqc.
Declared in this file with ``declare``, it is checked, summarised, drawn,
emitted, built and planned for TensorRT without a change anywhere else:
every backend reads what the registry entry and the annotate pass say.
"""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc.backends.tensorrt_plan import plan
from agqc.facts import Runtime
from agqc.ops.registry import REGISTRY, OpCall, OpDef, ShapeError, declare, module_lowering
from agqc.types import dim_mul

SPEC = """\
block Net(x: [B, 8]) -> [B, 4] {
    h = x -> linear(8) -> prelu() -> linear(4)
    return h
}

model Toy {
    classifier net = Net()
}
"""


def _infer(c: OpCall):
    if c.x.rank != 2 or not isinstance(c.x.shape[1], int):
        raise ShapeError("prelu takes [B, F] with F a number", expected="[B, F]", found=str(c.x))
    return [c.x]


@module_lowering
def _lower(e):
    return f"nn.PReLU({e.call.x.shape[1]})", f"{e.attr}({e.inputs[0]})"


@pytest.fixture
def prelu():
    op = declare(OpDef("prelu", "leaky ReLU with a learned slope per feature", 1, (), _infer,
                       params=lambda c: c.x.shape[1], macs=lambda c: dim_mul(*c.x.shape), lower=_lower,
                       label=lambda c: f"prelu {c.x.shape[1]}"))
    yield op
    del REGISTRY[op.name]


@pytest.fixture
def spec(prelu, write_spec):
    return agqc.load(write_spec(SPEC, "toy.agq"))


def test_checked_with_its_shape_rule(prelu, write_spec):
    broken = SPEC.replace("linear(8) -> prelu()", "linear(8) -> reshape(2, 4) -> prelu()")
    with pytest.raises(agqc.AgqcError) as err:
        agqc.load(write_spec(broken, "broken.agq"))
    assert "prelu takes [B, F]" in str(err.value)


def test_summarised(spec):
    summary = spec.summary()
    row = next(r for r in summary.rows if r.op == "prelu")
    assert (row.name, row.params, row.shape) == ("net.prelu", 8, "[B, 8]")
    assert summary.total_params == (8 * 8 + 8) + 8 + (8 * 4 + 4)


def test_drawn(spec):
    assert "prelu 8" in spec.to_dot(depth=2)


def test_emitted_and_built(spec):
    assert "self.prelu = nn.PReLU(8)" in spec.emit_python()
    module = spec.build().eval()
    assert "net.prelu.weight" in module.state_dict()
    assert sum(p.numel() for p in module.parameters()) == spec.summary().total_params
    out = module(torch.randn(3, 8))
    assert tuple(out.shape) == (3, 4)


def test_planned_for_tensorrt(spec):
    row = next(r for r in plan(spec.program) if r.op == "prelu")
    assert (row.name, row.runs_in, row.tensorrt) == ("net.prelu", Runtime.TENSORRT, "fp32")
