"""One op registry: every op has every piece, and every piece works."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from agqc.errorcodes import CODES, Code
from agqc.ops.registry import OpDef, all_ops

PIECES = ("summary", "infer", "params", "macs", "lower", "label")


@pytest.mark.parametrize("name", sorted(all_ops()))
def test_every_op_declares_every_piece(name):
    op: OpDef = all_ops()[name]
    for piece in PIECES:
        assert getattr(op, piece), f"{name} lacks {piece}"
    assert callable(op.infer) and callable(op.params) and callable(op.macs) and callable(op.lower)
    assert op.inputs in (-1, 0, 1, 2, 3)
    assert op.input_dtype in ("float", "int", "any")


def test_the_language_reference_documents_every_op():
    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text()
    missing = [name for name in all_ops() if f"`{name}" not in text]
    assert not missing, f"docs/language.md does not mention {missing}"


def test_diagnostic_codes_are_enum_members_not_strings():
    """Codes are ``Code.X`` (a type checker sees a misspelt one); no stage passes a bare string."""
    source = "\n".join(p.read_text() for p in (Path(__file__).parent.parent / "agqc").rglob("*.py"))
    as_strings = re.findall(r'(?:\.error|\.warning|BindProblem)\(\s*"|code="|Diagnostic\([^,]+,\s*"', source)
    assert not as_strings, as_strings
    used = set(re.findall(r"\bCode\.([A-Z_]+)", source))
    assert used and used <= set(Code.__members__), used - set(Code.__members__)
    assert set(CODES) == set(Code), "every code has its description"


# One use of each op: (input type, expression over x). A new op needs a line here.
EXAMPLES = {
    "linear": ("[B, 6]", "x -> linear(4)"),
    "conv1d": ("[B, 3, 16]", "x -> conv1d(5, 3, stride=2, padding=1)"),
    "conv2d": ("[B, 3, 9, 9]", "x -> conv2d(4, kernel=3, dilation=2, groups=1, bias=false)"),
    "conv_transpose2d": ("[B, 3, 5, 5]", "x -> conv_transpose2d(2, 3, stride=2, output_padding=1)"),
    "max_pool1d": ("[B, 2, 9]", "x -> max_pool1d(3)"),
    "avg_pool1d": ("[B, 2, 9]", "x -> avg_pool1d(3, stride=2, padding=1)"),
    "max_pool2d": ("[B, 2, 9, 9]", "x -> max_pool2d(2)"),
    "avg_pool2d": ("[B, 2, 9, 9]", "x -> avg_pool2d(3, stride=1)"),
    "adaptive_avg_pool1d": ("[B, 2, 9]", "x -> adaptive_avg_pool1d(4)"),
    "adaptive_max_pool1d": ("[B, 2, 9]", "x -> adaptive_max_pool1d(4)"),
    "adaptive_avg_pool2d": ("[B, 2, 9, 9]", "x -> adaptive_avg_pool2d(1)"),
    "adaptive_max_pool2d": ("[B, 2, 9, 9]", "x -> adaptive_max_pool2d(2)"),
    "batchnorm": ("[B, 3, 4, 4]", "x -> batchnorm(eps=0.001)"),
    "layernorm": ("[B, 5, 6]", "x -> layernorm(bias=false)"),
    "dropout": ("[B, 6]", "x -> dropout(0.2)"),
    "relu": ("[B, 6]", "x -> relu()"),
    "leaky_relu": ("[B, 6]", "x -> leaky_relu(0.2)"),
    "scale": ("[B, 6]", "1 - x * 0.5 / 4"),
    "gelu": ("[B, 6]", "x -> gelu()"),
    "silu": ("[B, 6]", "x -> silu()"),
    "tanh": ("[B, 6]", "x -> tanh()"),
    "sigmoid": ("[B, 6]", "x -> sigmoid()"),
    "softmax": ("[B, 3, 6]", "x -> softmax(dim=1)"),
    "flatten": ("[B, 2, 3, 4]", "x -> flatten()"),
    "reshape": ("[B, 12]", "x -> reshape(3, 2, 2)"),
    "embedding": ("int[B, 5]", "x -> embedding(7, 3)"),
    "concat": ("[B, 6]", "concat(x, x -> linear(2), x, dim=1)"),
    "add": ("[B, 6]", "x + (x -> linear(1))"),
    "mul": ("[B, 6]", "x * x"),
    "normal": ("[B, 6]", "x + normal(B, 6)"),
    "reparameterise": ("[B, 6]", "reparameterise(x, x -> linear(6))"),
    "attention": ("[B, 5, 8]", "attention(x, x -> linear(4), x, heads=4, kv_heads=2, causal=true, dropout=0.1)"),
    "split_heads": ("[B, 5, 8]", "x -> split_heads(2)"),
    "merge_heads": ("[B, 2, 5, 4]", "x -> merge_heads()"),
    "rope": ("[B, 2, 5, 4]", "x -> rope(base=500.0)"),
    "sinusoidal_positions": ("[B, 5, 6]", "x -> sinusoidal_positions()"),
    "learned_positions": ("[B, 5, 6]", "x -> learned_positions(16)"),
    "rnn": ("[B, 5, 3]", "x -> rnn(4)"),
    "gru": ("[B, 5, 3]", "x -> gru(4)"),
    "lstm": ("[B, 5, 3]", "x -> lstm(4, layers=2)"),
    "class_token": ("[B, 5, 6]", "concat(x -> class_token(), x, dim=1)"),
    "patches": ("[B, 3, 8, 8]", "x -> patches(4, 6)"),
    "split": ("[B, 5, 6]", "x -> split(2, 4)"),
    "index": ("[B, 5, 6]", "x[:, 1:, -1]"),
    "expand": ("[B, 1, 5, 4]", "x -> expand(3)"),
    "pad": ("[B, 6]", "x -> pad(1, 2, value=1.0)"),
    "rmsnorm": ("[B, 5, 6]", "x -> rmsnorm(eps=0.00001)"),
}


def test_every_op_has_an_example():
    assert set(EXAMPLES) == set(all_ops())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_op_lowers_to_torch_that_matches_its_shape_rule(name, write_spec):
    import torch

    import agqc
    in_type, expr = EXAMPLES[name]
    spec = agqc.load(write_spec(f"block T(x: {in_type}) {{\n    return {expr}\n}}\nmodel M {{ network t = T() }}\n"))
    module = spec.build().eval()
    inputs = spec.example_inputs(sizes={"B": 3})
    if name == "embedding":
        inputs = (torch.randint(0, 7, (3, 5)),)
    outs = module(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    assert len(outs) == len(spec.output_types())
    for out, declared in zip(outs, spec.output_types()):
        assert tuple(out.shape) == tuple(3 if d == "B" else d for d in declared.shape)
    params = sum(p.numel() for p in module.parameters())
    assert spec.summary().total_params == params
