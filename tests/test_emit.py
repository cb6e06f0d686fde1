"""The written PyTorch source and the in-memory module are the same code, and it reads well.

For every shipped spec: import the file `agqc emit` writes, check equal
state_dict keys and equal outputs; two builds are byte-identical; ruff finds
nothing (pyflakes and syntax rules).  The emitted files of cgan and gpt2 are
goldens in tests/golden/; after a deliberate change to the generated code,
regenerate them with `AGQC_UPDATE_GOLDEN=1 pytest tests/test_emit.py` and read
the diff.  A block used at several sizes is one class with constructor
arguments, exactly equal to one class per size.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import agqc
from conftest import ROOT, SMALL_SPECS, SPECS


def _import_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", SMALL_SPECS, ids=lambda p: p.stem)
def test_written_source_equals_in_memory_module(path, tmp_path):
    spec = agqc.load(path)
    out = tmp_path / f"{path.stem}_generated.py"
    result = subprocess.run([sys.executable, "-m", "agqc", "emit", str(path), "-o", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    written = getattr(_import_file(out, f"gen_{path.stem}"), spec.name)()
    in_memory = spec.build()
    assert list(written.state_dict()) == list(in_memory.state_dict())
    written.load_state_dict(in_memory.state_dict())
    written.eval(), in_memory.eval()
    inputs = spec.example_inputs(sizes={"B": 3})
    torch.manual_seed(0)
    a = in_memory(*inputs)
    torch.manual_seed(0)
    b = written(*inputs)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_source_imports_only_torch(path):
    source = agqc.load(path).emit_python()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1].split(".")[0] == "torch" for line in imports), imports
    compile(source, str(path), "exec")


def test_every_forward_statement_names_its_agq_line():
    source = agqc.load(ROOT / "specs" / "cgan.agq").emit_python()
    body = [line for line in source.splitlines() if line.startswith("        ") and " = " in line
            and not line.strip().startswith(("self.", "super()"))]
    assert body and all("cgan.agq:" in line for line in body), body


# Each build is a fresh process with an export: a few representative specs keep the suite fast
# (flow and two networks, sampling, attention, and a large model built on the meta device).
DETERMINISM_SPECS = [ROOT / "specs" / f"{n}.agq" for n in ("cgan", "vae", "particle_transformer", "llama3_8b")]


@pytest.mark.parametrize("path", DETERMINISM_SPECS, ids=lambda p: p.stem)
def test_two_builds_are_byte_identical(path, tmp_path):
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        result = subprocess.run([sys.executable, "-m", "agqc", "build", str(path), "-o", str(out)],
                                capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        outputs.append({f.name: f.read_bytes() for f in out.iterdir()
                        if f.suffix in (".py", ".dot", ".txt", ".json", ".svg")})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) >= {f"{path.stem}.py", f"{path.stem}.dot", f"{path.stem}.summary.json"}


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["cgan", "gpt2"])
def test_golden_source(name):
    source = agqc.load(ROOT / "specs" / f"{name}.agq").emit_python()
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("AGQC_UPDATE_GOLDEN"):
        golden.write_text(source)
    assert source == golden.read_text(), f"generated code of {name} changed; see the module docstring to update"


def test_emitted_source_is_lint_clean(tmp_path):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency: pip install ruff"
    for path in SPECS:
        (tmp_path / f"{path.stem}.py").write_text(agqc.load(path).emit_python())
    result = subprocess.run([ruff, "check", "--select", "F,E9", "--no-cache", "--isolated", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


RESNET = """# A small residual network (He et al. 2015).
block ResBlock(x: [B, C, H, W], out, stride = 1) -> [B, out, H // stride, W // stride] {
    h = x -> conv2d(out, kernel=3, stride=stride, padding=1, bias=false) as conv1 -> batchnorm() as bn1 -> relu()
        -> conv2d(out, kernel=3, padding=1, bias=false) as conv2 -> batchnorm() as bn2
    skip = x -> conv2d(out, kernel=1, stride=stride, bias=false) as shortcut -> batchnorm() as shortcut_bn
    return (h + skip) -> relu()
}

block ResNet(x: [B, 3, 32, 32]) -> [B, 10] {
    h = x -> conv2d(16, kernel=3, padding=1) as stem -> relu()
        -> ResBlock(16) -> ResBlock(32, stride=2) -> ResBlock(64, stride=2)
        -> avg_pool2d(8) -> flatten() -> linear(10) as fc
    return h
}

model TinyResNet {
    classifier net = ResNet()
}
"""


def test_a_block_at_several_sizes_is_one_class_with_constructor_arguments(write_spec):
    spec = agqc.load(write_spec(RESNET))
    source = spec.emit_python()
    assert source.count("class ResBlock") == 1, source
    assert "    def __init__(self, C, out, stride):" in source
    assert "self.conv1 = nn.Conv2d(C, out, kernel_size=3, stride=stride, padding=1, bias=False)" in source
    assert "self.res_block1 = ResBlock(C=16, out=16, stride=1)" in source
    assert "self.res_block3 = ResBlock(C=32, out=64, stride=2)" in source
    assert "# [B, out, H // stride, W // stride]" in source  # shape comments name what differs


@pytest.mark.parametrize("text", [RESNET], ids=["resnet"])
def test_one_class_per_block_is_exactly_one_class_per_size(text, write_spec):
    from agqc.backends.torch_module import load_source
    from agqc.backends.torch_source import render_source

    spec = agqc.load(write_spec(text))
    merged, separate = (render_source(spec.program, merge=m).text for m in (True, False))
    assert merged.count("class ") < separate.count("class ")
    modules = []
    for i, source in enumerate((merged, separate)):
        torch.manual_seed(0)
        modules.append(getattr(load_source(source, f"spec{i}.agq"), spec.name)().eval())
    assert list(modules[0].state_dict()) == list(modules[1].state_dict())
    assert all(torch.equal(a, b) for a, b in zip(modules[0].state_dict().values(), modules[1].state_dict().values()))
    inputs = spec.example_inputs()
    torch.testing.assert_close(modules[0](*inputs), modules[1](*inputs), atol=0, rtol=0)


def test_residuals_are_one_line_and_names_come_from_the_spec():
    gpt2 = agqc.load(ROOT / "specs" / "gpt2.agq").emit_python()
    assert "        x = x + self.attn(self.ln_1(x))" in gpt2
    assert "qkv = self.c_attn(x)" in gpt2 and "q, k, v = torch.split(qkv, " in gpt2
    assert "F.linear(logits, self.wte.weight)" in gpt2  # a tied table that is not quantised is the owner's weight
    cgan = agqc.load(ROOT / "specs" / "cgan.agq").emit_python()
    assert "z = torch.randn(" in cgan and "fake = self.G(z, y)" in cgan  # the noise is not yet fake


def test_the_spec_header_comment_is_the_module_docstring():
    source = agqc.load(ROOT / "specs" / "cgan.agq").emit_python()
    doc = source.split('"""')[1]
    assert doc.startswith("CGAN: PyTorch modules generated by agqc from cgan.agq.\n\nConditional GAN (Mirza")
    assert doc.index("concatenates it with the flattened image.") < doc.index("Generated code:")
