"""Lecture 4's sinusoid test: a DNN, an RNN, an LSTM and a small transformer on a clean sine, before and after training.

Each of specs/sinusoid_{dnn,rnn,lstm,transformer}.agq trains on the same data (its train section: windows of a
clean sine whose times all lie in t = 0 .. span, early stopping on the test loss standing for "until it has
converged", 1,000 passes over the data at most). Each model is then run autoregressively from the first T true
samples to t = 2 x span: inside its training span and beyond it (agqc.studies.sinusoid), once with the weights
training starts from and once with the trained ones. The RNN is trained at the lecture's seeds 42 and 420, and
every model at seeds 0 .. N-1 (`--seeds N`) for the spread. A fifth model, "DNN on time"
(specs/sinusoid_dnn_time.agq), maps the time t to the value instead of reading a window: it is trained on times in
t = 0 .. span of the same sine and read at every t to 2 x span (no rollout); its "rollout" and "one_step" errors
are both that direct prediction's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lecture/sinusoid.py            # about 5 minutes on one core
    .venv/bin/python benchmarks/lecture/sinusoid.py --quick --out /tmp/sinusoid  # 2 epochs, for the tests

Writes benchmarks/results/lecture/sinusoid.json (per model and seed: epochs run, seconds, final val_loss, RMSE
inside and beyond the span, autoregressive and one-step) and docs/images/lecture/sinusoid_before.png,
sinusoid_after.png and sinusoid_rnn_seeds.png; `--out DIR` puts all four files in DIR instead.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import agqc  # noqa: E402
from agqc.studies import sinusoid as study  # noqa: E402
from machine import machine_info  # noqa: E402

MODELS = {"DNN": "sinusoid_dnn", "RNN": "sinusoid_rnn", "LSTM": "sinusoid_lstm", "Transformer": "sinusoid_transformer",
          "DNN on time": "sinusoid_dnn_time"}
TIME_MODELS = {"DNN on time"}  # these read the time t, not a window: read at every t, no rollout
TIME_NOTE = "reads the time t; no rollout"
MAIN_SEED = 42
RNN_SEEDS = (42, 420)  # the lecture's two RNN seeds
QUICK_EPOCHS = 2


def data_params(spec) -> dict:
    """The spec's `sine(...)` parameters, as its checked train section holds them."""
    return dict(spec.program.train.to_json()["data"]["dataset"]["params"])


def early_stop(spec) -> str:
    """The spec's early-stopping rule as the spec writes it: `val_loss(patience=50, min_delta=0.0)`."""
    rule = spec.program.train.to_json()["stages"][0]["early_stop"]
    return f"{rule['name']}({', '.join(f'{k}={v}' for k, v in rule['params'])})" if rule else "none"


def rmse_text(rmse: dict) -> str:
    """A panel's measured errors: the rollout's RMSE inside and beyond the training span."""
    return f"RMSE {rmse['rollout']['inside']:.2g} inside the span, {rmse['rollout']['beyond']:.2g} beyond"


def measure(model, truth: torch.Tensor, window: int, span: int, time: bool = False) -> tuple[torch.Tensor, dict]:
    """The autoregressive rollout from the first `window` true samples, and its RMSEs and the one-step ones; for a
    model of the time (`time`), its prediction at every t, whose RMSEs stand for both."""
    if time:
        predicted = study.at_times(model, len(truth))
        errors = study.errors(predicted, truth, window, span)  # the same range as the window models'
        return predicted, {"rollout": errors, "one_step": dict(errors)}
    predicted = study.rollout(model, truth[:window], len(truth) - window)
    return predicted, {"rollout": study.errors(predicted, truth, window, span),
                       "one_step": study.errors(study.one_step(model, truth, window), truth, window, span)}


def train(spec, seed: int, epochs: int | None, truth, window: int, span: int,
          time_model: bool = False) -> tuple[dict, torch.Tensor]:
    """Train one seed; its record and its rollout (for a model of the time, its prediction at every t)."""
    started = time.perf_counter()
    run = spec.train(seed=seed, epochs=epochs, progress=False)
    seconds = time.perf_counter() - started
    predicted, rmse = measure(run.model, truth, window, span, time_model)
    last = run.history[-1]
    planned = epochs if epochs is not None else spec.program.train.stages[0].epochs
    return {"seed": seed, "epochs": len(run.history), "stopped_early": len(run.history) < planned,
            "seconds": round(seconds, 2), "train_seconds": round(sum(r["seconds"] for r in run.history), 2),
            "val_loss": last["val_loss"], "best_val_loss": min(r["val_loss"] for r in run.history),
            "rmse": rmse}, predicted


def spread(records: list[dict]) -> dict:
    """Median, minimum and maximum over seeds of the autoregressive RMSE inside and beyond the span."""
    out = {}
    for where in ("inside", "beyond"):
        values = [r["rmse"]["rollout"][where] for r in records]
        out[where] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    out["epochs"] = {"median": statistics.median(r["epochs"] for r in records),
                     "min": min(r["epochs"] for r in records), "max": max(r["epochs"] for r in records)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs a run and 1 spread seed (tests)")
    ap.add_argument("--seeds", type=int, default=6, help="train every model at seeds 0 .. N-1 too (default 6)")
    ap.add_argument("--out", type=Path, help="write the JSON and the figures into this folder")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = QUICK_EPOCHS if args.quick else None
    seeds = range(1 if args.quick else args.seeds)
    started, load_at_start = time.perf_counter(), list(os.getloadavg())

    specs = {name: agqc.load(ROOT / "specs" / f"{stem}.agq") for name, stem in MODELS.items()}
    params = {name: data_params(spec) for name, spec in specs.items()}
    p = params["DNN"]
    assert all(params[n] == p for n in specs if n not in TIME_MODELS), f"the window models must share data: {params}"
    assert all((params[n]["period"], params[n]["span"], params[n]["inputs"]) == (p["period"], p["span"], "time")
               for n in TIME_MODELS), f"the time models must read the same sine: {params}"
    window, span, period = p["window"], int(p["span"]), p["period"]
    truth = study.true_series(period, 2 * span)

    before, after, rnn_seeds, results = {}, {}, {}, {}
    for name, spec in specs.items():
        # the weights training starts from: the same seed, build and initialisation, zero epochs
        initial = spec.train(seed=MAIN_SEED, epochs=0, progress=False).model
        before[name], before_rmse = measure(initial, truth, window, span, name in TIME_MODELS)
        record, after[name] = train(spec, MAIN_SEED, epochs, truth, window, span, name in TIME_MODELS)
        record["before"] = before_rmse
        results[name] = {"spec": f"specs/{MODELS[name]}.agq", "parameters": sum(spec.parameter_counts().values()),
                         "main": record, "seeds": []}
        if name in TIME_MODELS:
            results[name]["note"] = TIME_NOTE
        print(f"{name} seed {MAIN_SEED}: {record['epochs']} epochs, {record['seconds']} s, "
              f"rollout RMSE inside {record['rmse']['rollout']['inside']:.3g}, "
              f"beyond {record['rmse']['rollout']['beyond']:.3g}", flush=True)
    rnn_seeds[MAIN_SEED] = after["RNN"]
    results["RNN"]["lecture_seeds"] = [results["RNN"]["main"]]
    for seed in RNN_SEEDS:
        if seed != MAIN_SEED:
            record, rnn_seeds[seed] = train(specs["RNN"], seed, epochs, truth, window, span)
            results["RNN"]["lecture_seeds"].append(record)
            print(f"RNN seed {seed}: {record['epochs']} epochs, {record['seconds']} s, rollout RMSE beyond "
                  f"{record['rmse']['rollout']['beyond']:.3g}", flush=True)
    for seed in seeds:
        for name, spec in specs.items():
            record, _ = train(spec, seed, epochs, truth, window, span, name in TIME_MODELS)
            results[name]["seeds"].append(record)
            print(f"{name} seed {seed}: {record['epochs']} epochs, {record['seconds']} s, rollout RMSE beyond "
                  f"{record['rmse']['rollout']['beyond']:.3g}", flush=True)
    for name in results:
        results[name]["spread"] = spread(results[name]["seeds"]) if results[name]["seeds"] else None

    total = time.perf_counter() - started
    out = {
        "study": "Lecture 4's sinusoid test: next-sample models on a clean sine, rolled out inside and beyond "
                 "their training span",
        "command": "python benchmarks/lecture/sinusoid.py" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "data": {"dataset": "sine", **p, "test_count": p["count"] // 5},
        "evaluation": {"series": f"sin(2 pi t / {period}), t = 0 .. {2 * span - 1}",
                       "seed_window": f"t = 0 .. {window - 1} (the truth)",
                       "inside": f"t = {window} .. {span - 1}", "beyond": f"t = {span} .. {2 * span - 1}",
                       "rollout": "each prediction made from the T values before it, the model's own included",
                       "one_step": "each prediction made from the T true values before it",
                       "time_models": f"{', '.join(sorted(TIME_MODELS))}: trained on times in [0, {span}) and read "
                                      "at every t; rollout and one_step are both that prediction"},
        "training": {"epochs_cap": QUICK_EPOCHS if args.quick else specs["DNN"].program.train.stages[0].epochs,
                     "early_stop": early_stop(specs["DNN"]),
                     "main_seed": MAIN_SEED, "rnn_seeds": list(RNN_SEEDS), "spread_seeds": list(seeds),
                     "note": "the weights after the last epoch run (agqc keeps no best-epoch weights in Run.model)"},
        "models": results,
        "seconds": round(total, 1),
        "machine": machine_info(torch=torch.__version__, threads=torch.get_num_threads(),
                                loadavg_at_start=load_at_start),
    }
    json_path = (args.out or ROOT / "benchmarks" / "results" / "lecture") / "sinusoid.json"
    images = args.out or ROOT / "docs" / "images" / "lecture"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(out, indent=1) + "\n")
    seed_note = f"seed {MAIN_SEED}; window models rolled out from the first {window} true samples"

    def label(n: str) -> str:
        return n + (" (reads t, no rollout)" if n in TIME_MODELS else "")
    (images / "sinusoid_before.png").write_bytes(study.figure(
        truth, {f"{label(n)} before training: {rmse_text(results[n]['main']['before'])}": v
                for n, v in before.items()},
        span, window, f"Predictions vs original data, before training ({seed_note})",
        fit=tuple(f"{label(n)} before training: {rmse_text(results[n]['main']['before'])}" for n in TIME_MODELS)))
    (images / "sinusoid_after.png").write_bytes(study.figure(
        truth, {f"{label(n)} after {results[n]['main']['epochs']} epochs: {rmse_text(results[n]['main']['rmse'])}": v
                for n, v in after.items()},
        span, window, f"Predictions vs original data, after training ({seed_note})",
        fit=tuple(f"{label(n)} after {results[n]['main']['epochs']} epochs: {rmse_text(results[n]['main']['rmse'])}"
                  for n in TIME_MODELS)))
    by_seed = {r["seed"]: r for r in results["RNN"]["lecture_seeds"]}
    (images / "sinusoid_rnn_seeds.png").write_bytes(study.figure(
        truth, {f"RNN, seed {s}, {by_seed[s]['epochs']} epochs: {rmse_text(by_seed[s]['rmse'])}": v
                for s, v in rnn_seeds.items()},
        span, window, f"RNN after training, the lecture's two seeds (rolled out from the first {window} true samples)"))
    print(f"wrote {json_path} and three figures in {images} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
