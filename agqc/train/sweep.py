"""A seed sweep: the same training recipe once per seed, and the spread of its final metric.

``sweep(spec_path, plan, seeds, out, ...)`` takes a spec's path, its checked ``TrainPlan``, the
seeds (``parse_seeds("0..19")``), a folder, and how many processes to run at once.  Each seed
trains in a child ``python -m agqc train SPEC -o OUT/seed_<k> --seed k`` (OMP_NUM_THREADS=1, its
stdout and stderr in that folder's stdout.txt and stderr.txt); runs already complete are
skipped and interrupted ones resumed from last.safetensors.  It gives a ``Sweep``: the final
epoch's metric per seed, the seeds that failed, and ``summary()`` (mean, sample standard
deviation, minimum, maximum, range); ``write(...)`` puts sweep.csv and sweep.png in ``out``.
"""
from __future__ import annotations

import csv
import os
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .plan import TrainPlan


def parse_seeds(text: str) -> list[int]:
    """``0..19`` (inclusive), ``3`` or ``1,5,9`` -> the seeds; ValueError on anything else."""
    text = text.strip()
    span = re.fullmatch(r"(\d+)\.\.(\d+)", text)
    if span:
        first, last = int(span[1]), int(span[2])
        if last < first:
            raise ValueError(f"--seeds {text}: the range ends before it starts")
        return list(range(first, last + 1))
    if not re.fullmatch(r"\d+(,\d+)*", text):
        raise ValueError(f"--seeds {text}: expected a range like 0..19, a seed like 3, or a list like 1,5,9")
    seeds = [int(s) for s in text.split(",")]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text}: a seed is repeated")
    return seeds


def default_metric(plan: TrainPlan) -> str:
    """What a run folder's best.safetensors watches: val_accuracy for classifiers, else val_loss."""
    return "val_accuracy" if any(s.objective.kind == "classification" for s in plan.stages) else "val_loss"


def _rows(folder: Path) -> list[dict[str, str]]:
    try:
        with open(folder / "metrics.csv", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def state(folder: Path, total_epochs: int) -> str:
    """``done`` (every epoch in metrics.csv and a best.safetensors), ``resume`` or ``fresh``."""
    if len(_rows(folder)) >= total_epochs and (folder / "best.safetensors").is_file():
        return "done"
    return "resume" if (folder / "last.safetensors").is_file() else "fresh"


def command(spec_path: str, folder: Path, seed: int, epochs: int | None, resume: bool) -> list[str]:
    where = ["--resume", str(folder)] if resume else ["-o", str(folder)]
    more = ["--epochs", str(epochs)] if epochs is not None else []
    return [sys.executable, "-m", "agqc", "train", spec_path, *where, "--seed", str(seed), *more]


def _train_one(cmd: list[str], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(folder / "stdout.txt", "w") as out, open(folder / "stderr.txt", "w") as err:
        return subprocess.run(cmd, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL).returncode


def final_value(folder: Path, metric: str) -> float | None:
    rows = _rows(folder)
    if not rows or metric not in rows[-1]:
        return None
    try:
        return float(rows[-1][metric])
    except ValueError:
        return None


@dataclass
class Sweep:
    """Per seed, the final epoch's metric; the seeds whose run failed; where it all is."""

    out: Path
    metric: str
    values: dict[int, float] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        v = list(self.values.values())
        if not v:
            return {}
        spread = statistics.stdev(v) if len(v) > 1 else 0.0
        return {"n": len(v), "mean": statistics.fmean(v), "std": spread, "min": min(v), "max": max(v),
                "range": max(v) - min(v)}

    def write(self) -> None:
        with open(self.out / "sweep.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["seed", self.metric, "folder"])
            for seed, value in sorted(self.values.items()):
                w.writerow([seed, repr(value), f"seed_{seed}"])
        if self.values:
            (self.out / "sweep.png").write_bytes(strip_plot(self.values, self.metric, self.summary()))


def strip_plot(values: dict[int, float], metric: str, summary: dict[str, float]) -> bytes:
    """One dot per seed (jittered sideways by seed), the mean as a line and ±1 std as a band."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 4.5), dpi=100)
    seeds = sorted(values)
    xs = [((s * 0.6180339887) % 1.0 - 0.5) * 0.5 for s in seeds]
    ax.scatter(xs, [values[s] for s in seeds], s=28, alpha=0.8, zorder=3, label="one seed")
    mean, std = summary["mean"], summary["std"]
    ax.axhline(mean, color="C3", lw=1.5, label=f"mean {mean:.4g}")
    ax.axhspan(mean - std, mean + std, color="C3", alpha=0.15, label=f"±1 std {std:.2g}")
    ax.set_xlim(-0.6, 0.6)
    ax.set_xticks([])
    ax.set_ylabel(f"final {metric}")
    ax.set_title(f"{len(seeds)} seeds: range {summary['range']:.3g}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def sweep(spec_path: str, plan: TrainPlan, seeds: list[int], out: Path, jobs: int = 1,
          epochs: int | None = None, metric: str | None = None, log: Callable[[str], None] = print) -> Sweep:
    """Train every seed not yet done (``jobs`` at a time), then collect the final metric of each."""
    from .session import with_overrides
    total = with_overrides(plan, epochs).total_epochs
    result = Sweep(out, metric or default_metric(plan))
    todo = {}
    for seed in seeds:
        folder = out / f"seed_{seed}"
        how = state(folder, total)
        if how == "done":
            log(f"seed {seed}: skipped, {folder} is complete")
        else:
            log(f"seed {seed}: {'resuming' if how == 'resume' else 'training'} in {folder}")
            todo[seed] = command(spec_path, folder, seed, epochs, how == "resume")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        codes = dict(zip(todo, pool.map(lambda s: _train_one(todo[s], out / f"seed_{s}"), todo)))
    for seed in seeds:
        value = final_value(out / f"seed_{seed}", result.metric)
        if codes.get(seed, 0) != 0 or value is None:  # a run may end early (steps, early_stop) yet be done
            result.failed.append(seed)
        else:
            result.values[seed] = value
    return result
