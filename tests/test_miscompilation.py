"""No silent miscompilation: specs that once built into wrong modules with exit 0.

Each spec here checks; the built module must then do what the checker said:
the same parameter count as the summary, and outputs of the declared shapes.
"""
from __future__ import annotations

import pytest
import torch

import agqc

CASES = {
    # A user block named like a generated class (`Dense_2`) next to `Dense` used at two sizes.
    "class_name_collision": ("""
block Dense(x: [B, 4], n) -> [B, n] {
    return x -> linear(n)
}

block Dense_2(x: [B, 4]) -> [B, 4] {
    return x -> linear(4) -> relu()
}

block Net(x: [B, 4]) -> [B, 4] {
    a = Dense(x, 8) @fp16
    b = Dense(x, 4)
    c = Dense_2(x)
    return c + b + (a -> linear(4))
}

model M {
    classifier net = Net()
}
""", (2, 4)),
    # A size (T) read from an input after that input's name was reassigned.
    "size_of_reassigned_input": ("""
block N(x: [B, 4, T]) -> [B, 4, T] {
    x = x -> adaptive_avg_pool1d(1)
    return normal(B, 4, T) + x
}

model M {
    classifier net = N()
}
""", (2, 4, 5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_module_does_what_the_checker_says(name, write_spec):
    text, input_shape = CASES[name]
    spec = agqc.load(write_spec(text, f"{name}.agq"))
    module = spec.build().eval()
    assert sum(p.numel() for p in module.parameters()) == spec.summary().total_params
    sizes = {"B": input_shape[0], "T": input_shape[-1]}
    out = module(torch.randn(*input_shape))
    (declared,) = spec.output_types()
    assert tuple(out.shape) == tuple(sizes.get(d, d) for d in declared.shape)
