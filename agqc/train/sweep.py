"""A seed sweep: the same training recipe once per seed, and the spread of its final metric.

``sweep(spec_path, plan, seeds, out, ...)`` takes a spec's path, its checked ``TrainPlan``, the
seeds (``parse_seeds("0..19")``), a folder, how many processes to run at once, and optionally
``--set NAME=VALUE`` texts: every combination of their values (``grid``) is a ``Point`` trained
once per seed.  Each run is a child ``python -m agqc train SPEC -o OUT[/POINT]/seed_<k> --seed k
[--set ...]`` (OMP_NUM_THREADS=1, its stdout and stderr in that folder's stdout.txt and
stderr.txt); runs already complete are skipped and interrupted ones resumed from last.safetensors.
It gives a ``Sweep``: the final epoch's metric per point and seed, the runs that failed, and
``summary(point)`` (mean, sample standard deviation, minimum, maximum, range); ``write()`` puts
sweep.csv and sweep.png (a strip plot, a column per point) in ``out``.
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


def command(spec_path: str, folder: Path, seed: int, epochs: int | None, resume: bool,
            sets: tuple[str, ...] = ()) -> list[str]:
    where = ["--resume", str(folder)] if resume else ["-o", str(folder)]
    more = ["--epochs", str(epochs)] if epochs is not None else []
    overrides = [f"--set={text}" for text in sets]
    return [sys.executable, "-m", "agqc", "train", spec_path, *where, "--seed", str(seed), *more, *overrides]


@dataclass(frozen=True)
class Point:
    """One combination of ``--set`` values (none: the spec as written), trained once per seed."""

    sets: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(self.sets) or "as written"

    @property
    def folder(self) -> str:
        """A folder name made of the settings, stable across restarts: ``precision=fp64``, ``batch=32__lr=...``."""
        return "__".join(re.sub(r"[^\w.=+-]+", "_", text).strip("_") for text in self.sets)


def grid(sets: list[str]) -> list[Point]:
    """``--set`` texts -> every combination: the values given for one NAME are that NAME's axis."""
    from itertools import product

    from ..overrides import parse_override
    axes: dict[str, list[str]] = {}
    for text in sets:
        o = parse_override(text)
        if o.text not in axes.setdefault(o.name, []):
            axes[o.name].append(o.text)
    points = [Point(tuple(combo)) for combo in product(*axes.values())]
    folders = [p.folder for p in points]
    if len(set(folders)) != len(folders):
        raise ValueError("two --set values give the same folder name; write them differently")
    return points


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
    """Per point (``--set`` combination) and seed, the final epoch's metric; the runs that failed; where."""

    out: Path
    metric: str
    points: list[Point] = field(default_factory=lambda: [Point()])
    results: dict[Point, dict[int, float]] = field(default_factory=dict)
    failed: list[tuple[Point, int]] = field(default_factory=list)

    def folder(self, point: Point, seed: int) -> Path:
        return (self.out / point.folder if point.folder else self.out) / f"seed_{seed}"

    @property
    def values(self) -> dict[int, float]:
        """The seeds' values of the first (with no ``--set``, the only) point."""
        return self.results.get(self.points[0], {})

    def summary(self, point: Point | None = None) -> dict[str, float]:
        v = list(self.results.get(point or self.points[0], {}).values())
        if not v:
            return {}
        spread = statistics.stdev(v) if len(v) > 1 else 0.0
        return {"n": len(v), "mean": statistics.fmean(v), "std": spread, "min": min(v), "max": max(v),
                "range": max(v) - min(v)}

    def write(self) -> None:
        names = [parse_name(text) for text in self.points[0].sets]
        with open(self.out / "sweep.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*names, "seed", self.metric, "folder"])
            for point in self.points:
                values = [text.split("=", 1)[1] for text in point.sets]
                for seed, value in sorted(self.results.get(point, {}).items()):
                    w.writerow([*values, seed, repr(value), self.folder(point, seed).relative_to(self.out)])
        columns = {p.label: self.results[p] for p in self.points if self.results.get(p)}
        if columns:
            (self.out / "sweep.png").write_bytes(strip_plot(columns, self.metric))


def parse_name(text: str) -> str:
    return text.split("=", 1)[0].strip()


def strip_plot(columns: dict[str, dict[int, float]], metric: str) -> bytes:
    """Per column (a point of the grid), one dot per seed (jittered sideways by seed), the mean as a
    line and ±1 standard deviation as a band."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.6 + 2.2 * len(columns), 4.5), dpi=100)
    for x, (label, values) in enumerate(columns.items()):
        seeds = sorted(values)
        ys = [values[s] for s in seeds]
        mean = statistics.fmean(ys)
        std = statistics.stdev(ys) if len(ys) > 1 else 0.0
        xs = [x + ((s * 0.6180339887) % 1.0 - 0.5) * 0.5 for s in seeds]
        ax.scatter(xs, ys, s=28, alpha=0.8, zorder=3, color=f"C{x % 10}")
        ax.hlines(mean, x - 0.35, x + 0.35, color="black", lw=1.5, zorder=4)
        ax.fill_between([x - 0.35, x + 0.35], mean - std, mean + std, color=f"C{x % 10}", alpha=0.15)
        ax.annotate(f"mean {mean:.4g}\nstd {std:.2g}\nrange {max(ys) - min(ys):.3g}", (x, min(ys)),
                    xytext=(0, -14), textcoords="offset points", ha="center", va="top", fontsize=8)
    ax.set_xticks(range(len(columns)), [label.replace(", ", "\n") for label in columns], fontsize=8)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.22 * (high - low), high)  # room for the numbers under each column
    ax.set_ylabel(f"final {metric}")
    n = max(len(v) for v in columns.values())
    ax.set_title(f"{n} seed{'s' if n != 1 else ''} per column: dots are runs, black lines means, bands ±1 std",
                 fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def sweep(spec_path: str, plan: TrainPlan, seeds: list[int], out: Path, jobs: int = 1,
          epochs: int | None = None, metric: str | None = None, log: Callable[[str], None] = print,
          sets: list[str] | None = None) -> Sweep:
    """Train every (point, seed) not yet done (``jobs`` at a time), then collect the final metric of each.

    ``sets``: ``--set`` texts; their grid's every point trains once per seed, in ``out/<point>/seed_<k>``.
    """
    result = Sweep(out, metric or default_metric(plan), grid(sets or []))
    todo: dict[tuple[Point, int], list[str]] = {}
    for point in result.points:
        total = _total_epochs(spec_path, plan, point, epochs)
        for seed in seeds:
            folder = result.folder(point, seed)
            how = state(folder, total)
            said = f"{point.label}: " if point.sets else ""
            if how == "done":
                log(f"{said}seed {seed}: skipped, {folder} is complete")
            else:
                log(f"{said}seed {seed}: {'resuming' if how == 'resume' else 'training'} in {folder}")
                todo[point, seed] = command(spec_path, folder, seed, epochs, how == "resume", point.sets)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        codes = dict(zip(todo, pool.map(lambda key: _train_one(todo[key], result.folder(*key)), todo)))
    for point in result.points:
        for seed in seeds:
            value = final_value(result.folder(point, seed), result.metric)
            if codes.get((point, seed), 0) != 0 or value is None:  # a run may end early (steps, early_stop)
                result.failed.append((point, seed))
            else:
                result.results.setdefault(point, {})[seed] = value
    return result


def _total_epochs(spec_path: str, plan: TrainPlan, point: Point, epochs: int | None) -> int:
    """How many epochs a complete run of this point has: ``--set`` may change the plan (epochs, stages)."""
    from .session import with_overrides
    if point.sets:
        from ..api import load
        plan = load(spec_path, point.sets).program.train
    return with_overrides(plan, epochs).total_epochs
