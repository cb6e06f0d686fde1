"""@fp64: layers that hold their weights and compute in float64 (issue 13).

The lecture compares the seed spread of a 64-bit classifier with a 1-bit one; these
tests check that `@fp64` works wherever a precision does: on a model, a network
declaration, a block, a statement or one call; in the checker, the summary (8 bytes per
weight), the drawing's legend, the built module, the emitted source and `agqc lower`'s
TensorRT plan (no fp64 there: it runs at fp32).
"""
from __future__ import annotations

import importlib.util

import pytest
import torch

import agqc
from agqc.backends.drawing import style
from agqc.backends.tensorrt_plan import plan, truncation
from agqc.backends.torch_graph import dtype_expr
from agqc.diagnostics import AgqcError
from agqc.kinds import NodeKind
from agqc.types import PRECISIONS, Precision

MLP = """\
block MLP(x: [B, 1, 8, 8]) -> [B, 10] {{
    h = x -> flatten() -> linear(32) -> relu() {inner}
    h = h -> linear(16) -> tanh() -> layernorm()
    return h -> linear(10)
}}
"""

# Where an annotation may stand: each places the whole network at fp64.
PLACES = {
    "model": "@fp64\nmodel M { classifier net = MLP() }\n",
    "network": "model M { classifier net = MLP() @fp64 }\n",
    "block": "model M { classifier net = MLP() }\n",  # with @fp64 written on the block
}


def _spec(write_spec, place: str, inner: str = ""):
    text = MLP.format(inner=inner)
    if place == "block":
        text = "@fp64\n" + text
    return agqc.load(write_spec(text + PLACES[place]))


def _dtype(p: Precision) -> torch.dtype:
    return getattr(torch, dtype_expr(p).removeprefix("torch."))


def test_fp64_is_the_widest_precision():
    assert next(iter(PRECISIONS)) == "fp64", "widest first: fp64 leads the table"
    info = Precision("fp64").info
    assert (info.bits, info.torch_dtype, info.quantized) == (64, "torch.float64", False)
    assert Precision("fp64").tensorrt() == ("fp32", "TensorRT has no fp64: runs at fp32")
    assert style.PRECISION_FILL["fp64"] not in {c for k, c in style.PRECISION_FILL.items() if k != "fp64"}


@pytest.mark.parametrize("place", list(PLACES))
def test_fp64_parameters_and_outputs_where_the_checker_says(write_spec, place):
    spec = _spec(write_spec, place)
    assert not spec.warnings, "layernorm inside @fp64 computes in fp64: nothing is kept at a lower precision"
    graph = spec.graph("net")
    ops = [n for n in graph.nodes() if n.kind == NodeKind.OP]
    assert {str(n.precision) for n in ops} == {"fp64"}
    assert all(c.name == "fp64" for n in ops for c in n.computes)
    torch.manual_seed(0)
    model = spec.build().eval()
    params = dict(model.named_parameters())
    assert params and all(p.dtype == torch.float64 for p in params.values()), {k: p.dtype for k, p in params.items()}
    (out,) = [model(*spec.example_inputs(sizes={"B": 3}))]
    (boundary,) = graph.result_computes()
    assert out.dtype == _dtype(boundary) == torch.float32, "a network hands back float32, as the checker says"


def test_fp64_statement_inside_an_fp32_block_casts_in_and_out(write_spec):
    text = MLP.replace("h = x -> flatten() -> linear(32) -> relu() {inner}",
                       "@fp64 h = x -> flatten() -> linear(32) -> relu()").format()
    spec = agqc.load(write_spec(text + "model M { classifier net = MLP() }\n"))
    model = spec.build().eval()
    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    assert dtypes["net.linear1.weight"] == dtypes["net.linear1.bias"] == torch.float64
    assert dtypes["net.linear2.weight"] == dtypes["net.linear3.weight"] == torch.float32
    source = spec.emit_python()
    assert "nn.Linear(64, 32, dtype=torch.float64)" in source
    assert ".to(torch.float64)" in source and ".to(torch.float32)" in source
    assert model(*spec.example_inputs(sizes={"B": 2})).dtype == torch.float32


def test_one_call_at_fp64(write_spec):
    text = MLP.replace("return h -> linear(10)", "return h -> linear(10) @fp64").format(inner="")
    spec = agqc.load(write_spec(text + "model M { classifier net = MLP() }\n"))
    dtypes = {name: p.dtype for name, p in spec.build().named_parameters()}
    assert dtypes["net.linear3.weight"] == torch.float64 and dtypes["net.linear1.weight"] == torch.float32


DNN = """\
block DNN(x: [B, 1, 28, 28]) -> [B, 10] {
    h = x -> flatten() -> linear(256) -> relu() -> linear(128) -> relu() -> dropout(0.2)
    return h -> linear(10)
}
"""


def test_dnn_at_fp64_and_fp32_give_close_outputs(write_spec):
    fp32 = agqc.load(write_spec(DNN + "model M { classifier net = DNN() }\n", "fp32.agq"))
    fp64 = agqc.load(write_spec("@fp64\n" + DNN + "model M { classifier net = DNN() }\n", "fp64.agq"))
    torch.manual_seed(0)
    narrow = fp32.build().eval()
    wide = fp64.build().eval()
    wide.load_state_dict(narrow.state_dict())  # the same weights, widened to float64
    x = fp32.example_inputs(sizes={"B": 16})
    with torch.no_grad():
        a, b = narrow(*x), wide(*x)
        reference = narrow.double()(*(t.double() for t in x))  # the fp32 model computed in float64
    assert b.dtype == torch.float32
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)  # fp32 rounding of a 784-256-128-10 MLP
    torch.testing.assert_close(b, reference.float(), atol=0, rtol=0)  # the fp64 model is that, rounded once


def test_summary_counts_eight_bytes_per_weight(write_spec):
    spec = _spec(write_spec, "model")
    summary = spec.summary()
    (precision, storage), = summary.by_precision()
    assert precision == "fp64" and storage.params == summary.total_params > 0
    assert storage.bytes == 8 * storage.params
    assert summary.memory_bytes == 2 * (4 * summary.total_params)
    text = summary.text()
    assert "(2.00x larger)" in text and "smaller" not in text
    data = summary.as_dict()
    assert data["precisions"]["fp64"]["memory_bytes"] == 8 * summary.total_params
    assert data["compression"] == 0.5


def test_summary_orders_fp64_first(write_spec):
    text = MLP.replace("h = h -> linear(16)", "@fp16 h = h -> linear(16)").format(inner="")
    spec = agqc.load(write_spec("@fp64\n" + text + "model M { classifier net = MLP() }\n"))
    # the layernorm in the @fp16 statement keeps its weights at fp32
    assert [p for p, _ in spec.summary().by_precision()] == ["fp64", "fp32", "fp16"]


def _import_file(path, name):
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_emitted_source_runs_and_matches_the_built_module(write_spec, tmp_path):
    text = MLP.replace("return h -> linear(10)", "return h -> linear(10) @fp16").format(inner="")
    spec = agqc.load(write_spec("@fp64\n" + text + "model M { classifier net = MLP() }\n"))
    out = tmp_path / "fp64_generated.py"
    out.write_text(spec.emit_python())
    written = getattr(_import_file(out, "fp64_generated"), spec.name)()
    torch.manual_seed(0)
    built = spec.build()
    assert list(written.state_dict()) == list(built.state_dict())
    assert {k: v.dtype for k, v in written.state_dict().items()} == {k: v.dtype for k, v in built.state_dict().items()}
    written.load_state_dict(built.state_dict())
    written.eval(), built.eval()
    x = spec.example_inputs(sizes={"B": 3})
    torch.testing.assert_close(written(*x), built(*x), atol=0, rtol=0)


def test_drawing_legend_shows_fp64(write_spec):
    text = MLP.replace("h = h -> linear(16)", "@fp32 h = h -> linear(16)").format(inner="")
    dot = agqc.load(write_spec("@fp64\n" + text + "model M { classifier net = MLP() }\n")).to_dot()
    assert "fp64: 64-bit float" in dot and "fp32: 32-bit float" in dot
    assert f'fillcolor="{style.PRECISION_FILL["fp64"]}"' in dot
    assert dot.index("fp64: 64-bit float") < dot.index("fp32: 32-bit float"), "widest first"


def test_tensorrt_plan_runs_fp64_at_fp32(write_spec):
    spec = _spec(write_spec, "block")
    rows = plan(spec.program)
    assert rows and all(r.annotated == "fp64" and r.tensorrt == "fp32" and r.runs_in == "TensorRT" for r in rows)
    assert all(r.note == "TensorRT has no fp64: runs at fp32" for r in rows)
    assert truncation(rows) == {"truncate_double": True}
    plain = agqc.load(write_spec(MLP.format(inner="") + "model M { classifier net = MLP() }\n", "plain.agq"))
    assert truncation(plan(plain.program)) == {}


def test_fp64_takes_no_option_and_a_misspelling_is_pointed_to_it(write_spec):
    for annotation, message in (("@fp64(activations)", "`@fp64` takes no option `activations`"),
                                ("@fp46", "unknown precision `@fp46`")):
        text = MLP.replace("return h -> linear(10)", f"return h -> linear(10) {annotation}").format(inner="")
        with pytest.raises(AgqcError) as err:
            agqc.load(write_spec(text + "model M { classifier net = MLP() }\n"))
        (error,) = err.value.errors
        assert error.code == "unknown-precision" and error.message == message
        assert "fp64" in " ".join(error.notes)


def test_model_trains_at_fp64(write_spec):
    spec = _spec(write_spec, "network")
    torch.manual_seed(0)
    model = spec.build()
    x = spec.example_inputs(sizes={"B": 8})
    target = torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(*x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None and p.grad.dtype == torch.float64 for p in model.parameters())
