"""The command line as a user runs it: exit codes, outputs, atomic writes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agqc import cli
from conftest import ROOT

CGAN = ROOT / "specs" / "cgan.agq"


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "agqc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_help_shows_examples():
    result = run("--help")
    assert result.returncode == 0
    assert "agqc build specs/cgan.agq" in result.stdout and "examples:" in result.stdout


def test_build_writes_every_output_and_prints_the_summary(tmp_path):
    result = run("build", CGAN, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"cgan.py", "cgan.dot", "cgan.svg", "cgan.summary.txt", "cgan.summary.json", "G.pt2", "D.pt2"} <= names
    assert "total: 1,722,058 parameters" in result.stdout
    summary = json.loads((tmp_path / "out" / "cgan.summary.json").read_text())
    assert summary["networks"] == {"G": 779305, "D": 942753}
    import xml.etree.ElementTree as ET
    svg = ET.parse(tmp_path / "out" / "cgan.svg").getroot()  # well-formed: it opens in a browser
    assert svg.tag.endswith("svg")
    texts = {(t.text or "").strip() for t in svg.iter() if t.tag.endswith("text")}
    assert {"conv_transpose2d 4x4, 64, ×2↑", "[B, 1, 28, 28]"} <= texts  # a stride-2 transpose upsamples


def test_build_default_folder_is_build_slash_spec_name(tmp_path):
    spec = tmp_path / "tiny.agq"
    spec.write_text("block N(x: [B, 2]) -> [B, 1] { return x -> linear(1) }\nmodel M { network n = N() }\n")
    assert run("build", spec, cwd=tmp_path).returncode == 0
    assert (tmp_path / "build" / "tiny" / "tiny.py").is_file()


def test_exported_program_runs(tmp_path):
    torch = pytest.importorskip("torch")
    assert run("build", CGAN, "-o", tmp_path).returncode == 0
    program = torch.export.load(str(tmp_path / "G.pt2"))
    z, y = torch.randn(2, 100), torch.randint(0, 10, (2,))
    assert program.module()(z, y).shape == (2, 1, 28, 28)


def test_failed_build_leaves_earlier_outputs_untouched(tmp_path):
    spec = tmp_path / "m.agq"
    spec.write_text("block N(x: [B, 2]) -> [B, 1] { return x -> linear(1) }\nmodel M { network n = N() }\n")
    out = tmp_path / "out"
    assert run("build", spec, "-o", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    spec.write_text("block N(x: [B, 2]) -> [B, 1] { return x -> linear(2) }\nmodel M { network n = N() }\n")
    result = run("build", spec, "-o", out)
    assert result.returncode == 1
    assert "error[return-type]" in result.stderr and "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_check_reports_ok_and_never_writes(tmp_path):
    result = run("check", CGAN, cwd=tmp_path)
    assert result.returncode == 0 and "cgan.agq: ok (2 networks: G 779,305 parameters, D 942,753)\n" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_missing_spec_file_is_a_diagnostic_not_a_traceback(tmp_path):
    result = run("check", tmp_path / "nope.agq")
    assert result.returncode == 1
    assert "error[import-not-found]" in result.stderr and "Traceback" not in result.stderr


def test_emit_and_summary_json(tmp_path):
    result = run("emit", CGAN)
    assert result.returncode == 0 and "class Generator(nn.Module):" in result.stdout
    data = json.loads(run("summary", CGAN, "--json").stdout)
    assert data["total_params"] == 1722058
    assert {r["name"] for r in data["rows"]} >= {"G.linear", "D.linear3"}


def test_ops_lists_the_registry():
    out = run("ops").stdout
    assert "conv_transpose2d(x, out, kernel" in out and "reparameterise(a, b)" in out


def test_internal_error_exits_2_and_says_it_is_a_bug(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr("agqc.backends.summary.summarize", broken)
    assert cli.main(["summary", str(CGAN)]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err and "bug in agqc" in err


def test_python_dash_m_and_console_script_agree():
    script = ROOT / ".venv" / "bin" / "agqc"
    if not script.exists():
        pytest.skip("console script not installed in .venv (run `make setup`)")
    a = subprocess.run([str(script), "summary", str(CGAN)], capture_output=True, text=True)
    assert a.returncode == 0 and a.stdout == run("summary", CGAN).stdout


def test_check_imports_neither_torch_nor_networkx():
    code = ("import sys; from agqc.cli import main; rc = main(['check', %r]); "
            "heavy = [m for m in ('torch', 'networkx') if m in sys.modules]; "
            "print(rc, heavy)") % str(CGAN)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("0 []"), result.stdout + result.stderr


def test_python_api_draws_png_svg_and_dot(tmp_path):
    import agqc
    from agqc.backends.drawing import have_dot
    spec = agqc.load(CGAN)
    assert spec.draw(tmp_path / "cgan.dot").read_text().startswith('digraph "CGAN"')
    if not have_dot():
        pytest.skip("Graphviz's dot is not installed: `make setup` installs it")
    png = spec.draw(tmp_path / "cgan.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert spec.draw(tmp_path / "cgan.svg").read_text().count("<g id=\"node") >= 20


def test_build_of_a_large_model_makes_no_weights(write_spec, tmp_path):
    big = write_spec("block Wide(x: [B, 8000]) -> [B, 8000] {\n    return x -> linear(8000)\n}\n"
                     "model Big {\n    classifier net = Wide()\n}\n")  # 64M parameters: 256 MB in fp32
    result = subprocess.run([sys.executable, "-m", "agqc", "build", str(big), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "note: net.pt2 holds the program only: its weights are placeholders on the meta device, because " \
           "64,008,000 parameters" in result.stdout
    written = {f.name: f.stat().st_size for f in (tmp_path / "out").iterdir()}
    assert {"spec.py", "spec.dot", "spec.summary.json", "net.pt2"} <= set(written)
    assert written["net.pt2"] < 1_000_000  # the program alone: no 256 MB of weights


QUANTISED = """
block Net(x: [B, 64]) -> [B, 10] {
    h = x -> linear(256) -> relu()
    @binary h = h -> linear(256, bias=false) -> relu()   # 64 Ki weights, 8 KiB packed
    @int8 h = h -> linear(64) -> relu()
    return h -> linear(10)
}
model Q {
    classifier net = Net()
}
"""


def test_build_deploy_packs_weights_and_loads_trained_ones(write_spec, tmp_path):
    import torch

    import agqc
    path = write_spec(QUANTISED)
    spec = agqc.load(path)
    trained = spec.build()
    torch.nn.init.normal_(trained.net.linear2.weight)  # "training": weights the build would not draw itself
    torch.save(trained.state_dict(), tmp_path / "trained.pt")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "agqc", "build", str(path), "--deploy", "--weights",
                             str(tmp_path / "trained.pt"), "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "deployed weights (spec.deploy.pt)" in result.stdout
    packed = torch.load(out / "spec.deploy.pt", weights_only=True)
    assert packed["net.linear2.packed"].dtype == torch.uint8 and packed["net.linear2.packed"].numel() == 256 * 256 // 8
    assert packed["net.linear3.packed"].dtype == torch.int8 and "net.linear2.weight" not in packed
    deployed = spec.deploy(spec.build().eval())
    deployed.load_state_dict(packed)
    x = torch.randn(5, 64)
    assert torch.equal(deployed(x), spec.deploy(trained.eval())(x))


def test_build_with_weights_that_do_not_fit_is_a_user_error(write_spec, tmp_path):
    import torch
    torch.save({"net.linear1.weight": torch.zeros(3, 3)}, tmp_path / "wrong.pt")
    result = subprocess.run([sys.executable, "-m", "agqc", "build", str(write_spec(QUANTISED)), "--weights",
                             str(tmp_path / "wrong.pt"), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1 and "cannot load weights" in result.stderr and "Missing key" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
