"""docs/lecture4.md's tables, from the studies' JSON in benchmarks/results/lecture/.

Each table sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` in docs/lecture4.md;
``python benchmarks/lecture/report.py`` rewrites them from the JSON, ``--check`` exits 1 when the
document and the JSON disagree (tests/test_lecture_docs.py runs it), so no figure in the prose can
drift from what a study measured.  A study whose JSON is missing keeps its table as it is.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "lecture"
DOC = ROOT / "docs" / "lecture4.md"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def seed_spread(r: dict) -> str:
    rows = [[label, str(m["n"]), str(m["epochs"]), pct(m["mean"]), f"{100 * m['std']:.2f} points", pct(m["min"]),
             pct(m["max"]), f"{100 * m['range']:.1f} points"] for label, m in r["models"].items()]
    return _table(["classifier", "seeds", "epochs", "mean test accuracy", "std", "min", "max", "range (max - min)"],
                  rows)


PICKED = (("shift", 2), ("shift", 4), ("rotate", 30), ("rotate", 60), ("noise", 0.3), ("noise", 0.75),
          ("invert", 0.25), ("invert", 1.0))
UNITS = {"shift": " px", "rotate": "°", "noise": "", "invert": ""}


def _at(curve: list, strength: float) -> float | None:
    return next((acc for s, acc in curve if abs(s - strength) < 1e-9), None)


def _robust_columns(curves: dict, model: str) -> list[str]:
    return [pct(_at(curves[d][model], s)) for d, s in PICKED]


def _robust_head() -> list[str]:
    return [f"{d} {s:g}{UNITS[d]}" for d, s in PICKED]


def model_compare(r: dict) -> str:
    rows = [[m, pct(_at(r["curves"]["shift"][m], 0))] + _robust_columns(r["curves"], m) for m in r["curves"]["shift"]]
    return _table(["model", "clean"] + _robust_head(), rows)


def cnn_tf_best(r: dict) -> str:
    rows = [[label, str(m["epochs"]), f"{m['train_seconds']:.0f} s", pct(m["clean_accuracy"]),
             pct(m["augmented_accuracy"])] + _robust_columns(r["curves"], label) for label, m in r["models"].items()]
    return _table(["classifier", "epochs", "training", "clean test", "augmented test"] + _robust_head(), rows)


def cgan_control(r: dict) -> str:
    per = r["recognised_per_class"]
    return _table(["asked for"] + [str(d) for d in range(10)] + ["all"],
                  [["recognised"] + [f"{100 * per[str(d)]:.0f}%" for d in range(10)] + [pct(r["recognised"])]])


def _g(x: float) -> str:
    return f"{x:.2g}" if x >= 1e-3 else f"{x:.1e}"


def sinusoid(r: dict) -> str:
    """Two tables: each model at the main seed (and the RNN at the lecture's seeds), then the spread over seeds."""
    runs = []
    for name, m in r["models"].items():
        lecture = {run["seed"]: run for run in m.get("lecture_seeds", [])}
        lecture.setdefault(m["main"]["seed"], m["main"])
        for seed, run in sorted(lecture.items()):
            before = m["main"]["before"]["rollout"] if seed == m["main"]["seed"] else None
            rmse = run["rmse"]
            runs.append([name, str(seed), str(run["epochs"]), f"{run['seconds']:.1f} s", _g(run["val_loss"]),
                         _g(rmse["rollout"]["inside"]), _g(rmse["rollout"]["beyond"]),
                         f"{_g(rmse['one_step']['inside'])} / {_g(rmse['one_step']['beyond'])}",
                         f"{_g(before['inside'])} / {_g(before['beyond'])}" if before else "not run"])
    first = _table(["model", "seed", "epochs run", "training", "final test MSE", "rollout RMSE inside",
                    "rollout RMSE beyond", "one-step RMSE inside / beyond", "before training: inside / beyond"],
                   runs)
    spread = []
    for name, m in r["models"].items():
        sp, n = m["spread"], len(m["seeds"])
        spread.append([name, str(n), f"{sp['epochs']['median']:g} ({sp['epochs']['min']}-{sp['epochs']['max']})",
                       f"{_g(sp['inside']['median'])} ({_g(sp['inside']['min'])} - {_g(sp['inside']['max'])})",
                       f"{_g(sp['beyond']['median'])} ({_g(sp['beyond']['min'])} - {_g(sp['beyond']['max'])})",
                       f"{sp['beyond']['max'] / sp['beyond']['min']:.1f}x"])
    second = _table(["model", "seeds", "epochs run: median (range)", "rollout RMSE inside: median (range)",
                     "rollout RMSE beyond: median (range)", "worst / best beyond"], spread)
    return first + "\n\nOver more seeds (" + ", ".join(str(s["seed"]) for s in m["seeds"]) + "):\n\n" + second


def times(results: dict[str, dict]) -> str:
    seconds = {name: r["seconds"] for name, r in results.items()}
    rows = [[f"`{name}`", f"{s / 60:.1f} min"] for name, s in seconds.items()]
    total = sum(seconds.values())
    return _table(["study", "wall time on this machine"], rows + [["all", f"{total / 60:.1f} min"]])


TABLES = {"seed_spread": seed_spread, "model_compare": model_compare, "cnn_tf_best": cnn_tf_best,
          "sinusoid": sinusoid, "cgan_control": cgan_control}


def results() -> dict[str, dict]:
    found = {}
    for name in TABLES:
        path = RESULTS / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def render(doc: str) -> str:
    measured = results()
    tables = {name: TABLES[name](r) for name, r in measured.items()}
    tables["times"] = times(measured)
    for name, text in tables.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n)(?:.*?\n)?(<!-- end: {name} -->)", re.S)
        doc = pattern.sub(lambda m: m[1] + text + "\n" + m[2], doc)
    return doc


def main() -> int:
    doc = DOC.read_text()
    new = render(doc)
    if "--check" in sys.argv:
        if new != doc:
            print(f"{DOC} disagrees with {RESULTS}; run: python benchmarks/lecture/report.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
