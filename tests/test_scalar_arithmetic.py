"""A tensor and a number: `t * 0.02 - 2.0`, `1 - x`, `x / 255` are `scale` ops that compute what they say."""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc.diagnostics import AgqcError

SPEC = """\
block S(t: [B, 3]) -> [B, 3] {{
    return {expr}
}}
model M {{ regressor net = S() }}
"""

CASES = [("t * 0.02 - 2.0", lambda t: t * 0.02 - 2.0), ("1 - t", lambda t: 1 - t), ("t / 4", lambda t: t / 4),
         ("2 * t + 1", lambda t: 2 * t + 1), ("0.5 + t * t", lambda t: 0.5 + t * t), ("-3 + t", lambda t: -3 + t),
         ("(t + t) * 0.25", lambda t: (t + t) * 0.25)]


@pytest.mark.parametrize("expr, expected", CASES, ids=[c[0] for c in CASES])
def test_the_built_module_computes_the_expression(write_spec, expr, expected):
    spec = agqc.load(write_spec(SPEC.format(expr=expr)))
    t = torch.randn(5, 3)
    out = spec.build().eval()(t)
    assert torch.allclose(out, expected(t), rtol=1e-6, atol=1e-6)
    assert spec.parameter_counts() == {"net": 0}  # constants, nothing learned
    namespace: dict = {}
    exec(compile(spec.emit_python(), "emitted", "exec"), namespace)  # the standalone source computes it too
    emitted = namespace["M"]()
    assert torch.allclose(emitted(t), expected(t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("expr, found", [("t / 0", "dividing by 0"), ("2 / t", "`/` between the number 2"),
                                         ("t // 2", "`//` between a tensor")])
def test_what_has_no_tensor_meaning_is_a_located_error(write_spec, expr, found):
    with pytest.raises(AgqcError) as caught:
        agqc.load(write_spec(SPEC.format(expr=expr)))
    (error,) = caught.value.errors
    assert error.code == "arg-type" and (error.span.line, error.span.col) == (2, 12)
    assert found in error.message + " ".join(error.notes)
