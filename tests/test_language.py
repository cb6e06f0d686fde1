"""The language's constructs, each checked through the real parser and checker."""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc import AgqcError, ast
from agqc.parse import parse_source


def codes(err: AgqcError) -> list[str]:
    return [d.code for d in err.diagnostics]


def test_chains_continue_over_lines_and_take_comments_and_trailing_commas(write_spec):
    spec = agqc.load(write_spec("""
# a comment line
block Net(x: [B, 8],) -> [B, 2] {   # trailing comment
    h = x
        -> linear(16,)       # a layer
        -> relu()
        -> linear(
            2,
            bias=false,
        )
    return h
}
model M { classifier net = Net() }
"""))
    assert [str(t) for t in spec.output_types()] == ["[B, 2]"]
    keys = list(spec.build().state_dict())
    assert keys == ["net.linear1.weight", "net.linear1.bias", "net.linear2.weight"]


def test_constants_and_integer_arithmetic_size_layers(write_spec):
    spec = agqc.load(write_spec("""
const W = 7
const C = 2 * 4
block Net(x: [B, C * W * W]) -> [B, C, W, W] {
    return x -> reshape(C, W, W) -> conv2d(C, kernel=3, padding=3 // 2)
}
model M { network net = Net() }
"""))
    assert spec.output_types()[0].shape == ("B", 8, 7, 7)


def test_skip_connections_with_add_and_concat(write_spec):
    spec = agqc.load(write_spec("""
block Res(x: [B, D]) -> [B, 2 * D] {
    x = x + (x -> linear(D) -> relu())
    return concat(x, x -> linear(D), dim=1)
}
model M { network net = Res(D=16) }
"""))
    assert spec.output_types()[0].shape == ("B", 32)
    module = spec.build()
    assert module(torch.randn(3, 16)).shape == (3, 32)


def test_nested_parameterised_blocks_with_defaults(write_spec):
    spec = agqc.load(write_spec("""
block Dense(x: [B, F], out, act = "relu") -> [B, out] {
    return x -> linear(out) -> relu()
}
block Stack(x: [B, 10], width = 32) -> [B, 4] {
    return x -> Dense(width) -> Dense(width // 2) -> Dense(out=4)
}
model M { classifier net = Stack(width=64) }
"""))
    keys = list(spec.build().state_dict())
    assert keys[0] == "net.dense1.linear.weight"
    assert spec.summary().total_params == 10 * 64 + 64 + 64 * 32 + 32 + 32 * 4 + 4


def test_repeat_gives_each_copy_its_own_weights(write_spec):
    spec = agqc.load(write_spec("""
block Layer(x: [B, 8]) -> [B, 8] {
    return x + (x -> linear(8))
}
block Net(x: [B, 8]) -> [B, 8] {
    repeat 12 as blocks { x = Layer(x) }
    return x
}
model M { network net = Net() }
"""))
    module = spec.build()
    keys = [k for k in module.state_dict() if k.endswith("weight")]
    assert keys == [f"net.blocks.{i}.linear.weight" for i in range(12)]
    w = [module.net.blocks[i].linear.weight for i in range(2)]
    assert w[0].data_ptr() != w[1].data_ptr()
    assert spec.summary().total_params == 12 * (8 * 8 + 8)


def test_repeat_must_keep_carried_shape(write_spec):
    with pytest.raises(AgqcError) as err:
        agqc.load(write_spec("""
block Net(x: [B, 8]) -> [B, 8] {
    repeat 2 { x = x -> linear(4) }
    return x
}
model M { network net = Net() }
"""))
    assert codes(err.value) == ["repeat-shape"]


def test_several_outputs_unpack_and_multi_input_labels(write_spec):
    spec = agqc.load(write_spec("""
block Enc(x: [B, 6], y: int[B]) -> ([B, 2], [B, 2]) {
    h = x * embedding(y, 3, 6)
    return h -> linear(2), h -> linear(2)
}
block Flow(x: [B, 6], y: int[B]) -> [B, 2] {
    mu, logvar = Enc(x, y)
    return reparameterise(mu, logvar)
}
model M { encoder net = Flow() }
"""))
    x, y = spec.example_inputs()
    assert y.dtype == torch.int64
    assert spec.build()(x, y).shape == (2, 2)


def test_precision_inner_wins_at_every_level(write_spec):
    spec = agqc.load(write_spec("""
@fp16
block Inner(x: [B, 4]) -> [B, 4] {
    return x -> linear(4) -> linear(4) @int8
}
@bf16
block Net(x: [B, 4]) -> [B, 4] {
    a = x -> linear(4)
    @fp32 b = a -> linear(4)
    c = (b -> linear(4) -> relu()) @binary(activations)
    return c -> Inner()
}
@fp8(e5m2)
model M {
    network net = Net()
    network other = Net() @int4
}
"""))
    prog = spec.program
    net = prog.graph(prog.network("net").graph)
    got = {n.name: str(n.precision) for n in net.nodes() if n.kind == "op"}
    assert got == {"linear1": "bf16", "linear2": "fp32", "linear3": "binary+act", "relu": "binary+act"}
    inner = prog.graph(net.node("inner").callee)
    assert [str(n.precision) for n in inner.nodes() if n.kind == "op"] == ["fp16", "int8"]
    other = prog.graph(prog.network("other").graph)
    assert str(other.node("linear1").precision) == "bf16"  # the block's own annotation is inner


def test_bf16_region_computes_in_bf16_and_returns_fp32(write_spec):
    spec = agqc.load(write_spec("""
block Net(x: [B, 8]) -> [B, 2] {
    h = x -> linear(8) -> relu()
    h = (h -> linear(8) -> layernorm()) @bf16
    return h -> linear(2)
}
model M { network net = Net() }
"""))
    module = spec.build()
    assert module.net.linear2.weight.dtype == torch.bfloat16
    assert module.net.layernorm.weight.dtype == torch.float32  # precision-sensitive: kept
    seen = {}
    module.net.linear2.register_forward_hook(lambda m, i, o: seen.update(out=o.dtype))
    out = module(torch.randn(3, 8))
    assert seen["out"] == torch.bfloat16 and out.dtype == torch.float32
    warnings = [d.code for d in spec.warnings]
    assert warnings == ["precision-kept"]


def test_imports_of_files_and_the_standard_library(write_spec):
    path = write_spec("""
import "parts.agq"
import std.layers
block Net(x: [B, 1, 8, 8]) -> [B, 3] {
    return x -> ConvBNReLU(4) -> flatten() -> Head()
}
model M { classifier net = Net() }
""", parts__agq="""
const OUT = 3
block Head(x: [B, F]) -> [B, OUT] { return x -> linear(OUT) }
""")
    spec = agqc.load(path)
    assert spec.output_types()[0].shape == ("B", 3)


def test_import_cycle_is_reported_at_the_import(write_spec):
    path = write_spec('import "b.agq"\n', name="a.agq", b__agq='import "a.agq"\n')
    with pytest.raises(AgqcError) as err:
        agqc.load(path)
    d = err.value.diagnostics[0]
    assert d.code == "import-cycle" and d.span.file.endswith("a.agq") and d.span.line == 1


def test_model_flow_with_noise_and_shared_network(write_spec):
    spec = agqc.load(write_spec("""
const Z = 4
block G(z: [B, Z]) -> [B, 6] { return z -> linear(6) -> tanh() }
block D(x: [B, 6]) -> [B, 1] { return x -> linear(1) -> sigmoid() }
model GAN {
    generator gen = G()
    discriminator disc = D()
    input real: [B, 6]
    fake = normal(B, Z) -> gen()
    return disc(fake), disc(real)
}
"""))
    module = spec.build()
    assert [k.split(".")[0] for k in module.state_dict()] == ["gen", "gen", "disc", "disc"]
    fake_score, real_score = module(torch.randn(5, 6))
    assert fake_score.shape == real_score.shape == (5, 1)


def test_ast_nodes_carry_spans():
    module = parse_source("const A = 1\nblock X(x: [B, A]) -> [B, A] {\n  return x -> relu()\n}\n", "t.agq")
    block = module.items[1]
    assert isinstance(block, ast.Block)
    ret = block.body[0]
    assert (ret.span.line, ret.span.col) == (3, 3)
    step = ret.values[0].steps[0]
    assert (step.span.line, step.span.col, step.span.end_col) == (3, 15, 21)


def test_every_example_in_the_language_reference_is_valid(tmp_path):
    from conftest import ROOT
    text = (ROOT / "docs" / "language.md").read_text()
    fences = [f.removeprefix("agq") for f in text.split("```")[1::2]]  # ```agq: the Pygments lexer's name
    examples = [f for f in fences if not f.startswith(("specs/", "bash", "text"))]
    assert len(examples) >= 8
    (tmp_path / "layers.agq").write_text("")
    for i, example in enumerate(examples):
        path = tmp_path / f"example{i}.agq"
        path.write_text(example)
        if "model " in example:
            agqc.load(path)
        else:
            parse_source(example, str(path))
