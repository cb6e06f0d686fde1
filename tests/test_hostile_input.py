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
