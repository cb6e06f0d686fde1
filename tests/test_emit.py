"""The written PyTorch source and the in-memory module are the same code.

For every shipped spec: import the file `agqc emit` writes, check equal
state_dict keys and equal outputs; and two builds are byte-identical.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys

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
