"""The wheel: built from a copy of the source, installed into a fresh virtual environment, run from outside the repo.

Catches what the editable install used by every other test hides: a package or data file (the grammar, the
standard library) left out of pyproject.toml, a version that does not reach the metadata, a console script that
does not start. Building needs no network: the wheel is built with the setuptools already installed.

The fresh environment gets no copy of torch: a .pth file appends this interpreter's site-packages (which hold
the dependencies) after its own, and the test checks that ``agqc`` itself comes from the new environment.
"""
from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import agqc
from conftest import ROOT

pytestmark = pytest.mark.slow

SOURCE = ["agqc", "grammar", "pyproject.toml", "README.md", "LICENSE"]
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _source_packages() -> set[str]:
    """Every package in the source tree, named as installed."""
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "agqc").rglob("__init__.py")}
    return found | {"agqc.grammar"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")  # a copy: no build/ or egg-info in the repo, no stale build/lib
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=JUNK)
        elif path.exists():
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = dist.glob("agqc-*.whl")
    return built


@pytest.fixture(scope="module")
def env(wheel, tmp_path_factory) -> Path:
    """A virtual environment over the base interpreter, with agqc installed from the wheel and nothing else."""
    env = tmp_path_factory.mktemp("env")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                             "--no-index", "--quiet", str(wheel)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    # Lines of a .pth file are appended to sys.path after the environment's own site-packages, and .pth files
    # inside those folders (this repo's editable install) are not processed: the wheel's agqc comes first.
    (Path(purelib) / "_agqc_test_dependencies.pth").write_text("".join(f"{d}\n" for d in deps))
    return env


def _run(env: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    bare = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    bare["PYTHONNOUSERSITE"] = "1"
    bare["PATH"] = os.pathsep.join([str(env / "bin"), bare.get("PATH", "")])
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=bare, timeout=300)


def test_the_wheel_holds_every_package_the_grammar_and_the_standard_library(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert packages == _source_packages(), "a package is missing from [tool.setuptools] packages in pyproject.toml"
    assert "agqc/grammar/agq.lark" in names
    stdlib = {p.name for p in (ROOT / "agqc" / "stdlib").glob("*.agq")}
    assert stdlib and {f"agqc/stdlib/{n}" for n in stdlib} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "grammar/", "specs/"))]


def test_the_version_is_stated_once(wheel):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert wheel.name.startswith(f"agqc-{agqc.__version__}-")
    metadata = zipfile.ZipFile(wheel).read(f"agqc-{agqc.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {agqc.__version__}\n" in metadata and "\nLicense-Expression: MIT\n" in metadata


def test_the_installed_agqc_checks_and_builds_outside_the_repo(env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in ("cgan.agq", "gpt2.agq"):
        shutil.copy2(ROOT / "specs" / name, work / name)
    python = env / "bin" / "python"

    where = _run(env, python, "-c", "import agqc, sys; print(agqc.__file__); print(sys.prefix)", cwd=work)
    assert where.returncode == 0, where.stderr
    file, prefix = where.stdout.split("\n")[:2]
    assert Path(file).resolve().is_relative_to(env.resolve()), f"agqc was imported from {file}, not the wheel"
    assert Path(prefix).resolve() == env.resolve()

    version = _run(env, env / "bin" / "agqc", "--version", cwd=work)
    assert version.returncode == 0 and version.stdout.strip() == f"agqc {agqc.__version__}", version

    check = _run(env, env / "bin" / "agqc", "check", "cgan.agq", "gpt2.agq", cwd=work)  # gpt2: import std.transformer
    assert check.returncode == 0, check.stdout + check.stderr

    build = _run(env, env / "bin" / "agqc", "build", "cgan.agq", "-o", "out", cwd=work)
    assert build.returncode == 0, build.stdout + build.stderr
    out = work / "out"
    wrote = {p.name for p in out.iterdir()}
    assert {"cgan.py", "cgan.dot", "cgan.summary.txt", "cgan.summary.json", "G.pt2", "D.pt2"} <= wrote, wrote
    assert re.search(r"class \w+\(nn\.Module\)", (out / "cgan.py").read_text())
    if shutil.which("dot"):  # drawn through the graphviz package the wheel depends on
        assert (out / "cgan.svg").read_bytes().startswith(b"<?xml"), build.stderr
