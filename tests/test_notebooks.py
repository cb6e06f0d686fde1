"""The workshop notebooks in docs/notebooks: each runs top to bottom in a real kernel, and is stored clean.

Each notebook is executed once (module-scoped) with AGQC_NOTEBOOK_QUICK=1, which its parameters cell
reads to train for one epoch on fewer seeds and strengths; any cell that raises fails the test.  The
kernel is the `python3` kernelspec that ipykernel installs into this interpreter's prefix (the `dev`
extra, which `make test` installs), run by this interpreter.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the dev extra: run `make test`'s set-up")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the dev extra: run `make test`'s set-up")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
NAMES = ["1bit_classifier.ipynb", "model_compare.ipynb", "cnn_tf_best.ipynb"]
TIMEOUT = 300  # seconds per cell


def _kernel_or_skip():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no `python3` Jupyter kernel: run `make test`'s set-up (its `pip install -e '.[dev]'` "
                    "installs ipykernel and its kernelspec)")
    return spec


def _execute(nb):
    _kernel_or_skip()
    saved = {k: os.environ.get(k) for k in ("AGQC_NOTEBOOK_QUICK", "OMP_NUM_THREADS")}
    os.environ["AGQC_NOTEBOOK_QUICK"] = "1"  # the kernel inherits this process's environment
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()  # raises CellExecutionError at the first cell that fails
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


_RUNS: dict[str, object] = {}


@pytest.fixture(scope="module")
def executed():
    def run(name: str):
        if name not in _RUNS:
            _RUNS[name] = _execute(nbformat.read(NOTEBOOKS / name, as_version=4))
        return _RUNS[name]
    return run


def outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def mimes(nb, mime: str) -> list[str]:
    return [o["data"][mime] for o in outputs(nb) if mime in o.get("data", {})]


def text(nb) -> str:
    """Everything the notebook printed or returned as text."""
    parts = []
    for o in outputs(nb):
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_the_kernel_is_this_interpreter():
    from nbformat.v4 import new_code_cell, new_notebook
    nb = _execute(new_notebook(cells=[new_code_cell("import os, sys\nprint(sys.prefix)\n"
                                                    "print(os.environ['AGQC_NOTEBOOK_QUICK'])")]))
    prefix, quick = nb.cells[0].outputs[0]["text"].split()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert quick == "1"


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, name
    assert [c.outputs for c in code] == [[] for _ in code]
    assert [c.execution_count for c in code] == [None for _ in code]
    assert len(nb.cells) <= 20
    assert nb.cells[0].cell_type == "markdown"
    assert any('os.environ.get("AGQC_NOTEBOOK_QUICK")' in c.source for c in code)  # the parameters cell


@pytest.mark.parametrize("name", NAMES)
def test_runs_with_highlighted_spec_drawing_and_figures(executed, name):
    nb = executed(name)
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code")
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    assert any('<span style="' in h and "model" in h for h in mimes(nb, "text/html")), "the highlighted spec"
    assert any(s.lstrip().startswith(("<?xml", "<svg")) for s in mimes(nb, "image/svg+xml")), "the drawing"
    pngs = mimes(nb, "image/png")
    assert pngs and all(len(p) > 1000 for p in pngs), "the figures"
    assert "<agqc run: " in text(nb), "the training run"
    assert "epoch 1 (" in text(nb), "the progress lines of the training"


def test_1bit_classifier_trains_and_compares_seeds(executed):
    nb = executed("1bit_classifier.ipynb")
    out = text(nb)
    assert re.search(r"^binary +131,072 ", out, re.M)  # the summary's memory per precision
    assert re.search(r"\([0-9.]+x smaller\)", out)
    assert "<agqc run: 1 epochs" in out
    assert "seed 0: 1 bit" in out and "seed 1: 1 bit" in out
    assert "1 bit    mean" in out and "64 bits  mean" in out
    assert len(mimes(nb, "image/png")) >= 2  # the history and the seed spread


def test_model_compare_trains_three_networks_and_measures_robustness(executed):
    nb = executed("model_compare.ipynb")
    out = text(nb)
    assert "val_accuracy_tf" in out and "val_accuracy_cnn" in out and "val_accuracy_dnn" in out
    for distortion in ("shift", "rotate", "noise", "invert"):  # the accuracies at the strongest distortion
        assert re.search(rf"^{distortion} +at [0-9.]+: dnn +[0-9.]+%  cnn +[0-9.]+%  tf +[0-9.]+%", out, re.M)
    assert len(mimes(nb, "image/png")) >= 3  # history, example distortions, accuracy curves


def test_cnn_tf_best_runs_three_stages_and_evaluates_the_classifier(executed):
    nb = executed("cnn_tf_best.ipynb")
    out = text(nb)
    for stage in ("pretrain", "head", "finetune"):
        assert f"({stage})" in out, stage  # one progress line per stage's epoch
    assert "<agqc run: 3 epochs" in out  # one epoch per stage in the quick run
    assert len(mimes(nb, "image/svg+xml")) >= 3  # the drawing per stage, frozen networks marked
    assert any("frozen" in s for s in mimes(nb, "image/svg+xml"))
    assert "clean test accuracy:" in out
    # the baseline from specs/cnn_tf_scratch.agq, measured on the same digits
    assert re.search(r"^pre-trained \(cnn_tf_best\) +clean test accuracy [0-9.]+%", out, re.M)
    assert re.search(r"^from scratch +clean test accuracy [0-9.]+%", out, re.M)
    assert len(mimes(nb, "image/png")) >= 3  # losses, reconstructions, robustness curves
