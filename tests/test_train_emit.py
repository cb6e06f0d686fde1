"""`agqc emit --train`: the standalone training script trains as `agqc train` does.

Each test writes a tiny spec, emits its script, runs it in a fresh interpreter that has never seen agqc (a
subprocess with -I: no PYTHONPATH, no script folder on the path; it fails if anything imports agqc) for one epoch,
and compares every number it prints, and the weights it saves, with agqc's own run of the same spec in this process.
The two runs execute the same code from the same seed, so they agree to the last bit; the test allows 1e-6.
"""
from __future__ import annotations

import ast
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agqc
from agqc.train.emit import CORE, CORE_MODULES, _bindings, _Source, emit_training_script, python_literal

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the digits ship with scikit-learn

CLASSIFIER = """
# A tiny digits classifier, with most training techniques turned on.
block MLP(x: [B, 1, 8, 8]) -> [B, 10] {
    h = x -> flatten() -> linear(16) -> relu() -> dropout(0.1) -> linear(10)
    return h
}
model M {
    classifier net = MLP()
    train {
        data = digits()
        batch = 64
        optimizer = adamw(lr=2e-3)
        schedule = cosine(warmup=3)
        clip = norm(max=1.0)
        regularize = l2(weight=1e-5)
        ema net = 0.9
        init = kaiming()
        augment = shift(pixels=1), noise(std=0.02)
        monitor = dead_neurons()
        accumulate = 2
        epochs = 3
        seed = 7
    }
}
"""

VAE = """
block Enc(x: [B, 64]) -> ([B, 4], [B, 4]) {
    h = x -> linear(16) -> relu()
    mu = h -> linear(4) as mu
    logvar = h -> linear(4) as logvar
    return mu, logvar
}
block Dec(z: [B, 4]) -> [B, 64] {
    image = z -> linear(16) -> relu() -> linear(64) -> sigmoid()
    return image
}
model V {
    encoder enc = Enc()
    decoder dec = Dec()
    input x: [B, 64]
    mu, logvar = enc(x)
    z = reparameterise(mu, logvar)
    return dec(z), mu, logvar
    train {
        data = digits() -> flatten()
        batch = 128
        optimizer = adam(lr=1e-3)
        epochs = 2
        seed = 3
    }
}
"""

GAN = """
block Gen(z: [B, 8]) -> [B, 64] {
    h = z -> linear(16) -> relu() -> linear(64) -> tanh()
    return h
}
block Disc(image: [B, 64]) -> [B, 1] {
    p = image -> linear(16) -> leaky_relu(0.2) -> linear(1)
    return p
}
model GAN {
    generator g = Gen()
    discriminator d = Disc()
    input real: [B, 64]
    fake = normal(B, 8) -> g()
    return d(fake), d(real)
    train {
        data = digits() -> flatten() -> scale()
        batch = 128
        objective = adversarial(real_label=0.9, instance_noise=0.05)
        optimizer = adam(lr=2e-4, beta1=0.5)
        epochs = 1
        seed = 1
    }
}
"""

# The model is called Trainer and its block Field, as two of the runtime's classes are: the script renames the
# runtime's (Trainer_, Field_), never the model's.
CLASHING = """
block Field(x: [B, 1, 8, 8]) -> [B, 10] {
    h = x -> flatten() -> linear(10)
    return h
}
model Trainer {
    classifier net = Field()
    train {
        data = digits()
        batch = 128
        optimizer = sgd(lr=0.1, momentum=0.9)
        epochs = 1
        seed = 5
    }
}
"""

# Runs the script as __main__ and then fails if agqc was imported along the way.
RUNNER = """
import runpy, sys
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
leaked = sorted(m for m in sys.modules if m == "agqc" or m.startswith("agqc."))
assert not leaked, f"the script imported {leaked}"
"""


def _emit(tmp_path: Path, text: str, avoid=()) -> tuple[agqc.api.Spec, Path]:
    spec_path = tmp_path / "spec.agq"
    spec_path.write_text(text, encoding="utf-8")
    spec = agqc.load(spec_path)
    script = tmp_path / "spec_train.py"
    script.write_text(emit_training_script(spec, avoid=avoid), encoding="utf-8")
    return spec, script


def _standalone(script: Path) -> None:
    """Compiles; imports nothing of agqc; pyflakes-clean (no unused or undefined names)."""
    text = script.read_text(encoding="utf-8")
    tree = ast.parse(text)
    compile(text, str(script), "exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "agqc" for a in node.names), ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and (node.module or "").split(".")[0] != "agqc", ast.unparse(node)
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is not None:
        result = subprocess.run([ruff, "check", "--isolated", "--no-cache", "--select", "F,E9", str(script)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def _start(script: Path, *args: str) -> subprocess.Popen:
    """The script, running (with `-o out`) while the test computes agqc's own run: two cores, two runs."""
    return subprocess.Popen([sys.executable, "-I", "-c", RUNNER, str(script), *args, "-o", str(script.parent / "out")],
                            cwd=script.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OMP_NUM_THREADS": "1"})


def _finish(run: subprocess.Popen, folder: Path) -> tuple[list[dict], str]:
    """The history the script printed (and wrote to out/history.json), and all it printed."""
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stdout + stderr
    printed = stdout.split("history (one JSON object per epoch):\n", 1)[1].splitlines()
    history = [json.loads(line) for line in printed if line.startswith("{")]
    assert history == json.loads((folder / "out" / "history.json").read_text())
    return history, stdout


def _reference(spec, epochs: int | None = None, seed: int | None = None):
    """What `agqc train` does: agqc.train.session.train, in this process, on one thread as the script runs (the
    two runs share two cores; one thread each is quicker, and the same count on both sides keeps them equal)."""
    from agqc.train.session import train
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(spec, epochs=epochs, seed=seed, progress=False)
    finally:
        torch.set_num_threads(threads)


def _same_history(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        assert set(a) == set(b)
        for k in a:
            if k == "seconds":
                continue
            if isinstance(b[k], float):
                assert math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-12), (k, a[k], b[k])
            else:
                assert a[k] == b[k], (k, a[k], b[k])


def _same_weights(folder: Path, model) -> None:
    from safetensors.torch import load_file
    saved = load_file(str(folder / "weights.safetensors"))
    live = model.state_dict()
    assert set(saved) == set(live)
    for k, v in live.items():
        torch.testing.assert_close(saved[k], v.detach(), rtol=1e-6, atol=0)


def test_classifier_script_trains_as_agqc_does(tmp_path):
    spec, script = _emit(tmp_path, CLASSIFIER)
    _standalone(script)
    run = _start(script, "--epochs", "1")
    reference = _reference(spec, epochs=1)
    history, printed = _finish(run, tmp_path)
    assert "epoch 1 (train)  steps 11" in printed  # 1,437 // 64 batches, a step per 2 (accumulate)
    _same_history(history, reference.history)
    assert history[0]["dead net:relu1"] == reference.history[0]["dead net:relu1"]
    # ema: the script saves the averaged weights, which are not the live ones
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file
    saved = load_file(str(tmp_path / "out" / "weights.safetensors"))
    assert not torch.equal(saved["net.linear1.weight"], reference.model.net.linear1.weight.detach())


def test_vae_script_trains_as_agqc_does(tmp_path):
    spec, script = _emit(tmp_path, VAE)
    _standalone(script)
    run = _start(script, "--epochs", "1", "--seed", "11")  # the noise of reparameterise comes from the seed
    reference = _reference(spec, epochs=1, seed=11)
    history, _ = _finish(run, tmp_path)
    _same_history(history, reference.history)
    pytest.importorskip("safetensors")
    _same_weights(tmp_path / "out", reference.model)


def test_gan_script_trains_as_agqc_does(tmp_path):
    spec, script = _emit(tmp_path, GAN)
    _standalone(script)
    run = _start(script)  # the spec's own epochs (1)
    reference = _reference(spec)
    history, _ = _finish(run, tmp_path)
    assert {"d_loss", "g_loss", "val_d_loss"} <= set(history[0])
    _same_history(history, reference.history)
    pytest.importorskip("safetensors")
    _same_weights(tmp_path / "out", reference.model)


def _runtime_names() -> set[str]:
    """Every module-level name the runtime and main() define or import, less what the model imports too."""
    names = {"datasets", "objectives", "parts", "PLAN", "main", "print_epoch", "save_weights", "argparse", "copy",
             "json", "os", "types"}
    for m in CORE_MODULES:
        src = _Source.read(m, (CORE / f"{m}.py").read_text(encoding="utf-8"))
        names |= src.definitions()
        # a plain dotted import (`import importlib.util`) cannot be bound to another name
        names |= {i.name for i in src.imports if i.attr is not None or "." not in i.module}
    return names - {"torch", "nn", "F"}


def test_every_runtime_name_renamed_still_trains_the_same(tmp_path):
    """A model whose names are the runtime's (Trainer, Field), and every other runtime name kept out too: the
    script renames each of them, and only where Python would resolve it to the module-level name."""
    avoid = _runtime_names()
    spec, script = _emit(tmp_path, CLASHING, avoid=avoid)
    _standalone(script)
    text = script.read_text(encoding="utf-8")
    assert "\nclass Trainer(nn.Module):" in text and "\nclass Field(nn.Module):" in text  # the model's, as emitted
    assert "\nclass Trainer_:" in text and "\nclass Field_:" in text
    assert not _bindings(ast.parse(text).body) & (avoid - {"Trainer", "Field"})
    run = _start(script)
    reference = _reference(spec)
    _same_history(_finish(run, tmp_path)[0], reference.history)


def test_no_train_section_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.agq"
    path.write_text("block B(x: [N, 4]) -> [N, 2] {\n    y = x -> linear(2)\n    return y\n}\n"
                    "model P {\n    classifier net = B()\n}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no `train` section"):
        emit_training_script(agqc.load(path))


def test_plan_literal_is_python_for_any_json():
    value = {"a": [1, 2.5, -0.0, 1e-300, None, True, False], "quote\"s": "it's \\ \n\t\u00e9\U0001f600",
             "deep": [[["x" * 50, "y" * 50, "z" * 50]]], "": {}, "inf": [float("inf"), float("-inf")]}
    text = python_literal(value)
    assert max(len(line) for line in text.splitlines()) <= 120
    assert eval(text, {}) == value  # noqa: S307 -- the test's own literal
    nan = eval(python_literal([float("nan")]), {})  # noqa: S307
    assert math.isnan(nan[0])
