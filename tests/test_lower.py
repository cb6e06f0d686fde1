"""agqc lower: torch.export for every shipped spec, ONNX checked with onnxruntime, the TensorRT plan.

No GPU is needed: the TensorRT tests check the dry-run plan and the message a
machine without torch-tensorrt or CUDA gets.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import agqc
from agqc.backends.export import export_program, quiet, to_onnx
from agqc.backends.tensorrt_plan import missing, plan
from agqc.cli import main
from conftest import ROOT, SPECS

# fp32 ONNX against eager torch: the same arithmetic in another order (observed differences are below 1e-6).
ATOL, RTOL = 1e-5, 1e-4


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_exports_with_torch_export(path):
    """On the meta device (no weights): the program's outputs have the shapes the checker inferred."""
    spec = agqc.load(path)
    # Fixed sizes: symbolic ones triple the time (Llama: 18 s against 5 s); test_symbolic_sizes_stay_free has them.
    with quiet():
        lowered = export_program(spec, device="meta", dynamic=False)
    program = lowered.program
    assert len(program.graph_signature.user_inputs) == len(spec.input_types())
    out = next(n for n in program.graph.nodes if n.op == "output").args[0]
    expected = spec.output_types()
    assert len(out) == len(expected)
    for node, t in zip(out, expected):
        shape = node.meta["val"].shape
        assert len(shape) == t.rank
        for got, want in zip(shape, t.shape):
            if isinstance(want, int):
                assert got == want


def test_symbolic_sizes_stay_free():
    """GPT-2's batch and sequence length stay symbolic; an LSTM fixes its sequence length (torch specialises it)."""
    with quiet():
        gpt2 = export_program(agqc.load(ROOT / "specs" / "gpt2.agq"), device="meta")
        lstm = export_program(agqc.load(ROOT / "specs" / "lstm_sine.agq"), device="meta")
    assert gpt2.dynamic == ["B", "T"] and gpt2.fixed == {}
    assert lstm.dynamic == ["B"] and list(lstm.fixed) == ["T"]


def _onnx_against_torch(spec, network=None):
    """Export with real weights, then run both at a batch size the export never saw."""
    import onnxruntime as ort
    torch.manual_seed(0)
    module = spec.build().eval()
    module = getattr(module, network) if network else module
    with quiet():
        lowered = export_program(spec, network, module=module)
        model = to_onnx(lowered)
    sizes = {name: 5 for name in lowered.dynamic} | lowered.fixed
    args = spec.example_inputs(network, sizes, seed=1)
    with torch.no_grad():
        expected = module(*args)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return model, args, [e.float().numpy() for e in expected], ort


@pytest.mark.parametrize("name", ["cnn_classifier", "cgan:D", "transformer_classifier", "lstm_sine",
                                  "bit1_classifier"])
def test_onnx_matches_torch_in_onnxruntime(name):
    stem, _, network = name.partition(":")
    model, args, expected, ort = _onnx_against_torch(agqc.load(ROOT / "specs" / f"{stem}.agq"), network or None)
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim][:1] == ["B"], "the spec's names"
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.shape[0] == 5
        np.testing.assert_allclose(g, e, atol=ATOL, rtol=RTOL)


def test_onnx_keeps_bf16_layers():
    """dnn_classifier's @bf16 layer stays bf16 in ONNX. onnxruntime's CPU provider has no bf16 Gemm kernel,
    so onnx's own reference evaluator runs it instead."""
    from onnx import TensorProto
    from onnx.reference import ReferenceEvaluator
    model, args, expected, _ = _onnx_against_torch(agqc.load(ROOT / "specs" / "dnn_classifier.agq"))
    assert any(t.data_type == TensorProto.BFLOAT16 for t in model.graph.initializer)
    got = ReferenceEvaluator(model).run(None, {i.name: a.numpy() for i, a in zip(model.graph.input, args)})
    # bf16 keeps 8 significant bits (relative rounding 2^-8); its 256 outputs feed a 10-logit fp32 layer,
    # and the two runtimes may round intermediate sums differently.
    np.testing.assert_allclose(got[0], expected[0], atol=5e-2, rtol=2e-2)


def test_cli_export_and_onnx_write_files_quietly(tmp_path, capsys):
    pt2, onnx_path = tmp_path / "dnn.pt2", tmp_path / "d.onnx"
    assert main(["lower", str(ROOT / "specs" / "dnn_classifier.agq"), "--target", "export", "-o", str(pt2)]) == 0
    assert main(["lower", str(ROOT / "specs" / "cgan.agq"), "--target", "onnx", "--network", "D",
                 "-o", str(onnx_path)]) == 0
    out, err = capsys.readouterr()
    assert err == "", "torch.onnx's progress lines and warnings stay off the terminal"
    assert out.splitlines() == [line for line in out.splitlines() if line.startswith("wrote ")] and out.count("\n") == 2
    program = torch.export.load(str(pt2))
    assert program.module()(torch.randn(7, 1, 28, 28)).shape == (7, 10), "B is dynamic in the written program"
    import onnx
    onnx.checker.check_model(onnx.load(str(onnx_path)))


def test_cli_unknown_network_is_a_user_error(capsys):
    assert main(["lower", str(ROOT / "specs" / "cgan.agq"), "--target", "onnx", "--network", "Dx"]) == 1
    err = capsys.readouterr().err
    assert "no network named `Dx`" in err and "Traceback" not in err


@pytest.mark.skipif(not missing(), reason="torch-tensorrt and a CUDA GPU are both here")
def test_tensorrt_without_gpu_or_package_says_what_is_missing(capsys, tmp_path):
    out = tmp_path / "never.ep"
    assert main(["lower", str(ROOT / "specs" / "cnn_classifier.agq"), "--target", "tensorrt", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'agqc[tensorrt]'" in err and "NVIDIA GPU" in err and "--dry-run" in err
    assert all(problem in err for problem in missing())
    assert "Traceback" not in err and not out.exists()


MIXED = """\
block Layer(x: [B, 64]) -> [B, 64] {
    return x + (x -> layernorm() -> linear(64))
}

block Mixed(x: [B, 64]) -> [B, 10] {
    h = x -> linear(64) -> relu()
    @bf16 h = h -> linear(64) -> layernorm()
    @int8 h = h -> linear(64) -> softmax()
    @binary h = h -> linear(64) -> batchnorm() -> relu()
    @fp8(e5m2) h = h -> linear(64) -> dropout(0.1)
    repeat 2 as blocks {
        h = Layer(h) @fp16
    }
    return h -> linear(10)
}

model Mixed {
    classifier net = Mixed()
}
"""


def _table(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("node ")) + 2
    end = lines.index("", start)
    return [re.split(r"\s{2,}", line, maxsplit=6) for line in lines[start:end]]


def test_dry_run_plan_for_mixed_precision(write_spec, capsys):
    path = write_spec(MIXED, "mixed.agq")
    assert main(["lower", str(path), "--target", "tensorrt", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert main(["lower", str(path), "--target", "tensorrt", "--dry-run"]) == 0
    assert capsys.readouterr().out == out, "the plan prints the same every run"
    rows = _table(out)
    source = path.read_text().splitlines()
    spec = agqc.load(path)
    summary_ops = [r.name for r in spec.summary().rows if r.kind == "op"]
    assert [r[0] for r in rows] == summary_ops, "every op node, named as `agqc summary` names it"
    for name, op, annotated, trt, runs, where, *note in rows:
        file, line = where.rsplit(":", 1)
        assert file.endswith("mixed.agq")
        text = source[int(line) - 1]
        assert {"add": " + "}.get(op, op + "(") in text, f"{name} points at line {line}: {text!r}"
        inherited = name.startswith("net.blocks.")  # the @fp16 stands on the call, not in block Layer
        assert "@" + annotated.split("_")[0] in text or annotated == "fp32" or inherited
    by_name = {r[0]: r for r in rows}
    assert by_name["net.linear2"][2:5] == ["bf16", "bf16", "TensorRT"]
    assert by_name["net.layernorm"][2:5] == ["bf16", "fp32", "TensorRT"]  # kept at fp32
    assert by_name["net.softmax"][2:5] == ["int8", "fp32", "TensorRT"]
    assert by_name["net.linear3"][2:5] == ["int8", "int8", "TensorRT"]
    assert by_name["net.linear4"][2:5] == ["binary", "-", "PyTorch"]
    assert by_name["net.batchnorm"][2:5] == ["binary", "fp32", "TensorRT"], "a norm's scale is not binarised"
    assert by_name["net.linear5"][2:5] == ["fp8_e5m2", "fp16", "TensorRT"]
    copies = [r for r in rows if r[0].startswith("net.blocks.")]
    assert {r[0].split(".")[2] for r in copies} == {"0", "1"} and all(r[2] == "fp16" for r in copies)
    inside = [r for r in rows if r[4] == "TensorRT"]
    assert out.rstrip().endswith(f"{len(inside)} nodes in TensorRT (fp32 {sum(r[3] == 'fp32' for r in inside)}, "
                                 f"fp16 {sum(r[3] == 'fp16' for r in inside)}, bf16 1, int8 1), "
                                 f"{len(rows) - len(inside)} fallback to PyTorch")


def test_plan_keeps_samplers_in_pytorch_and_lists_flow_ops_once():
    spec = agqc.load(ROOT / "specs" / "cgan.agq")
    rows = plan(spec.program)
    names = [r.name for r in rows]
    assert len(names) == len(set(names)), "D is called twice in the flow but listed once"
    noise = [r for r in rows if r.op == "normal"]
    assert len(noise) == 1 and noise[0].runs_in == "PyTorch" and noise[0].name.startswith("flow.")
    assert plan(spec.program, "D") == [r for r in rows if r.name.startswith("D.")]


def test_dry_run_for_export_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["lower", str(ROOT / "specs" / "vae.agq"), "--target", "export", "--dry-run"]) == 0
    assert "nothing written" in capsys.readouterr().out and not (tmp_path / "build").exists()
