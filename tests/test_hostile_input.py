"""User input that once ended in exit 2, a hang or a write outside the build folder: now exit 1 or safe.

Each case runs the real command line in a subprocess under a timeout, so a hang fails the
test instead of stalling the suite.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

TIMEOUT_S = 60


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "agqc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=TIMEOUT_S)


INFINITE = """\
const BIG = 1e999  # E: 13 bad-value
const HUGE = 1e300 * 1e300  # E: 14 bad-value

block N(x: [B, 4]) -> [B, 4] {
    return x -> leaky_relu(BIG) -> leaky_relu(HUGE)
}

model M {
    classifier net = N()
}
"""


def test_numbers_that_overflow_to_infinity_are_located_errors(write_spec):
    path = write_spec(INFINITE, "inf.agq")
    result = run("check", path)
    assert result.returncode == 1, result.stderr
    for lineno, line in enumerate(INFINITE.splitlines(), 1):
        if "# E:" in line:
            col, code = line.split("# E:")[1].split()
            assert f"inf.agq:{lineno}:{col}: error[{code}]" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["device", "fifo", "symlink to a device", "directory"])
@pytest.mark.parametrize("command", ["check", "fmt", "build"])
def test_a_spec_that_is_not_a_regular_file_is_refused_without_reading_it(kind, command, tmp_path):
    path = tmp_path / "spec.agq"
    if kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink to a device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    result = run(command, path, *(["-o", tmp_path / "out"] if command == "build" else []))
    assert result.returncode == 1, result.stderr
    assert "not a regular file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_spec_named_dots_builds_inside_the_build_folder(tmp_path):
    (tmp_path / "...agq").write_text((ROOT / "specs" / "gan.agq").read_text())
    result = run("draw", "...agq", "--format", "dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "spec" / "spec.dot").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["...agq", "build"]  # nothing written beside it


def _one_block(name: str = "N", tensor: str = "h", model: str = "M", network: str = "net", op: str = "linear(4)"):
    return (f"block {name}(x: [B, 4]) -> [B, 4] {{\n    {tensor} = x -> {op}\n    return {tensor}\n}}\n\n"
            f"model {model} {{\n    classifier {network} = {name}()\n}}\n")


NAMES = {  # each either builds into a module that does what the checker says, or is a located error
    "tensor named lambda": _one_block(tensor="lambda"),
    "block named pass": _one_block(name="pass"),
    "model named def": _one_block(model="def"),
    "network named def": _one_block(network="def"),
    "block named F": _one_block(name="F"),
    "block named nn": _one_block(name="nn"),
    "block named torch": _one_block(name="torch"),
    "block named super": _one_block(name="super"),
    "block named like a helper": _one_block(name="QuantLinear", op="linear(4) @int8"),
    "block named deploy": _one_block(name="deploy", op="linear(4) @int8"),
    "tensor named F": _one_block(tensor="F"),
    "tensor named torch": _one_block(tensor="torch", op="relu()").replace("return torch",
                                                                         "return torch + normal(B, 4)"),
    "layer named __init__": _one_block(op="linear(4) as __init__"),
    "layer named _modules": _one_block(op="linear(4) as _modules"),
    "network named training": _one_block(network="training"),
    "network named forward": _one_block(network="forward"),
    "model named like its block": _one_block(name="M"),
    "side-by-side inputs that mangle alike": """
block C(b_x: [B, 4], y: [B, 4]) -> [B, 4] {
    return b_x + y
}

block D(x: [B, 4], y: [B, 2]) -> [B, 4] {
    return x + (y -> linear(4))
}

model M {
    classifier a_b = D()
    classifier a = C()
}
""",
}


@pytest.mark.parametrize("case", sorted(NAMES))
def test_a_name_python_cannot_hold_is_renamed_or_refused(case, write_spec):
    import torch

    import agqc
    from agqc.errorcodes import Code
    try:
        spec = agqc.load(write_spec(NAMES[case], "names.agq"))
    except agqc.AgqcError as err:  # refused: located, with its own code
        assert {d.code for d in err.errors} == {Code.RESERVED_NAME}, err
        return
    compile(spec.emit_python(), "names.py", "exec")
    module = spec.build().eval()
    assert sum(p.numel() for p in module.parameters()) == spec.summary().total_params
    outs = module(*spec.example_inputs(sizes={"B": 3}))
    outs = outs if isinstance(outs, tuple) else (outs,)
    assert [tuple(o.shape) for o in outs] == [tuple(3 if d == "B" else d for d in t.shape)
                                              for t in spec.output_types()]
    assert all(torch.isfinite(o).all() for o in outs)


GAN = ROOT / "specs" / "gan.agq"


def _weights(tmp_path, kind):
    import torch
    path = tmp_path / f"{kind}.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "int keys":
        torch.save({1: torch.zeros(1)}, path)
    elif kind == "tuple keys":
        torch.save({(1, 2): torch.zeros(1)}, path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "wrong shapes":
        torch.save({"G.linear1.weight": torch.zeros(1)}, path)
    return path


@pytest.mark.parametrize("kind", ["empty", "int keys", "tuple keys", "fifo", "wrong shapes", "missing"])
def test_a_weights_file_that_cannot_be_loaded_is_a_clear_error(kind, tmp_path):
    result = run("build", GAN, "-o", tmp_path / "out", "--weights", _weights(tmp_path, kind))
    assert result.returncode == 1, result.stderr
    assert "cannot load weights from" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("where", ["an existing file", "a dangling symlink", "under a file"])
def test_build_into_a_path_that_cannot_be_a_folder_is_a_clear_error(where, tmp_path):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    out = {"an existing file": tmp_path / "file", "a dangling symlink": tmp_path / "link",
           "under a file": tmp_path / "file" / "out"}[where]
    result = run("build", GAN, "-o", out)
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize("command", ["emit", "draw"])
def test_writing_onto_a_folder_is_a_clear_error_and_leaves_no_temporary(command, tmp_path):
    (tmp_path / "folder").mkdir()
    result = run(command, GAN, "-o", tmp_path / "folder", "--format", "dot") if command == "draw" else \
        run(command, GAN, "-o", tmp_path / "folder")
    assert result.returncode == 1, result.stderr
    assert "is a folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_control_characters_from_a_spec_never_reach_the_terminal_raw(write_spec):
    path = write_spec('block N(x: [B, 4]) -> [B, 4] {\n    return x -> gelu(approximate="\x1b[31mred")\n}\n'
                      "model M { classifier net = N() }\n", "esc.agq")
    result = run("check", path)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\u241b[31mred" in result.stderr


def test_fmt_write_keeps_permissions_and_follows_symlinks(tmp_path):
    spec = tmp_path / "private.agq"
    spec.write_text((ROOT / "specs" / "gan.agq").read_text() + "\n\n")
    spec.chmod(0o600)
    (tmp_path / "link.agq").symlink_to(spec)
    result = run("fmt", "--write", tmp_path / "link.agq")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.agq").is_symlink() and oct(spec.stat().st_mode & 0o777) == oct(0o600)
    assert run("fmt", "--check", spec).returncode == 0


WIDE = """\
block N(x: [B, 100000000]) -> [B, 100000000] {
    return x -> relu()
}

model M {
    classifier net = N()
}
"""


def test_inputs_too_large_to_make_are_not_made(write_spec, tmp_path):
    """A 10^8-wide input checks (sizes are symbols on paper); its example input is never allocated."""
    path = write_spec(WIDE, "wide.agq")
    built = run("build", path, "-o", tmp_path / "out")
    assert built.returncode == 0, built.stderr
    assert "no net.pt2" in built.stderr and not (tmp_path / "out" / "net.pt2").exists()
    lowered = run("lower", path, "--target", "export", "-o", tmp_path / "wide.pt2")
    assert lowered.returncode == 1 and "example inputs" in lowered.stderr, lowered.stderr


@pytest.mark.parametrize("command", ["draw", "build"])
def test_graphviz_running_out_of_time_is_a_clear_error(command, monkeypatch, tmp_path, capsys):
    """A drawing too dense for dot to lay out in time: exit 1 and a message, never TimeoutExpired."""
    import importlib

    from agqc import cli
    from agqc.backends.drawing import have_dot
    render = importlib.import_module("agqc.backends.drawing.render")  # the module, not its function
    if not have_dot():
        pytest.skip("Graphviz's dot is not installed: `make setup` installs it (apt-get install graphviz)")
    monkeypatch.setattr(render, "TIMEOUT_S", 0.001)  # the real dot, given no time at all
    status = cli.main([command, str(GAN), "-o", str(tmp_path / ("gan.svg" if command == "draw" else "out"))])
    assert status == 1
    assert "took longer than" in capsys.readouterr().err
    assert not (tmp_path / "gan.svg").exists() and not (tmp_path / "out" / "gan.py").exists()


def _folder(path):
    return {p.name: p.read_bytes() for p in path.iterdir()} if path.exists() else None


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_build_leaves_the_earlier_folder_whole(how, tmp_path):
    """Kill a rebuild at many moments: the folder is always all old or all new, never a mix."""
    import signal
    import time

    out = tmp_path / "out"
    spec = tmp_path / "gan.agq"
    spec.write_text((ROOT / "specs" / "gan.agq").read_text())
    assert run("build", spec, "-o", out).returncode == 0
    (out / "first.pt2").write_bytes(b"from an earlier build")  # gone once a build completes
    old = _folder(out)
    spec.write_text(spec.read_text().replace("LATENT = 100", "LATENT = 64"))  # same names, new contents
    for delay in (0.2, 0.8, 1.5, 2.5, 3.5, 5.0):
        child = subprocess.Popen([sys.executable, "-m", "agqc", "build", str(spec), "-o", str(out)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        child.send_signal(getattr(signal, how))
        child.wait(timeout=TIMEOUT_S)
        now = _folder(out)
        assert now == old or ("first.pt2" not in now and now["gan.py"] != old["gan.py"]), delay
        if now != old:
            break  # the rebuild finished before the kill: nothing more to interrupt
    if how == "SIGTERM":  # unwound: no temporaries beside the folder
        assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.agq", "out"]
    assert run("build", spec, "-o", out).returncode == 0  # and the next build clears a killed one's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.agq", "out"]
    assert "first.pt2" not in _folder(out)


def test_an_editors_unsaved_text_is_held_to_the_file_size_limit(tmp_path):
    """`agqc lsp` checks buffers through the loader: one past MAX_FILE_BYTES is a `limit` error, as a file is."""
    from agqc.diagnostics import AgqcError
    from agqc.frontend import check
    from agqc.policy import MAX_FILE_BYTES
    spec = tmp_path / "m.agq"
    spec.write_text("")
    with pytest.raises(AgqcError) as caught:
        check(spec, buffers={str(spec.resolve()): "#" * (MAX_FILE_BYTES + 1)})
    assert [d.code for d in caught.value.errors] == ["limit"]
