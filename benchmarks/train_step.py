"""Training-step speed of `agqc train` against a hand-written PyTorch loop, and of `--compile`.

The claim (issue 13): `agqc train`'s step runs at least 0.97x as many steps per second as
a hand-written loop on the same model, data and optimiser.

For each model (default: the zoo's ConvNet, ``specs/cnn_classifier.agq``, and its MLP,
``specs/dnn_classifier.agq``), the spec's train section is replaced by a plain one
(``TRAIN`` below: digits resized to 28x28, batch 64, Adam lr=1e-3, no augmentation,
no schedule), then:

- agqc (A): ``make_trainer(spec, plan)`` -- what `agqc train` runs -- and its
  ``trainer.train_batch(batch)``;
- by hand (B): a deep copy of the same built module (same weights), ``torch.optim.Adam``
  with the plan's settings, and ``logits = model.net(x); loss = F.cross_entropy(logits, y);
  opt.zero_grad(); loss.backward(); opt.step()``.

Both take the same batches (one shuffled epoch of ``core.data.batches``, made before
timing, cycled).  Timing, in one process, torch's thread count fixed (``--threads``,
default 1): both warm up; then ``--rounds`` rounds (default 30), each timing ``steps``
steps (calibrated to about ``--sample-ms``) of A and B back to back, in ABBA order
(with a third arm, every order of the three in turn).
Each round reseeds torch's generator the same for both arms (dropout), so A and B take
the very same steps: their losses are compared bit for bit (``losses_identical``).
The verdict is the median paired ratio A/B of steps per second, with a bootstrap 95%
interval, the ratio of medians and each arm's median steps/s beside it.

``--compile`` (on by default; ``--no-compile`` skips it) measures, on the ConvNet,
``make_trainer(spec, plan, compile=True)`` (what `agqc train --compile` runs) and, for
comparison, the same trainer with its network compiled (``model.net.compile()``), each
against the eager trainer, interleaved the same way after an untimed first step whose
time (the compilation) is reported on its own.

    .venv/bin/python benchmarks/train_step.py
    .venv/bin/python benchmarks/train_step.py --models cnn --rounds 60 --no-compile

Exit status: 1 when a model's median ratio is below ``--limit`` (0.97) or A's and B's
losses differ, else 0.  Results go to benchmarks/results/train_step.json.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info as _machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "train_step.json"
LIMIT = 0.97
MODELS = {"cnn": ROOT / "specs" / "cnn_classifier.agq", "dnn": ROOT / "specs" / "dnn_classifier.agq"}
TRAIN = """    train {
        data = digits() -> resize(28, 28)
        batch = 64
        optimizer = adam(lr=1e-3)
        epochs = 1
        seed = 0
    }
"""

sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import agqc  # noqa: E402
from agqc.train.core import data as datasets  # noqa: E402
from agqc.train.session import make_trainer  # noqa: E402


def with_plain_train(text: str) -> str:
    """The spec's text with its train section (if any) replaced by ``TRAIN``, at the end of its model."""
    start = text.find("    train {")
    if start >= 0:
        depth, i = 0, text.index("{", start)
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        text = text[:start] + text[i:].lstrip("\n")
    end = text.rindex("}")  # the model's closing brace
    return text[:end].rstrip() + "\n\n" + TRAIN + text[end:]


def load_model(path: Path, folder: Path):
    out = folder / path.name
    out.write_text(with_plain_train(path.read_text(encoding="utf-8")), encoding="utf-8")
    spec = agqc.load(out)
    return spec, spec.program.train


def the_batches(trainer) -> list[dict]:
    return list(datasets.batches(trainer.train_data, trainer.batch, shuffle=True, seed=0, epoch=0))


def agqc_step(trainer):
    trainer.model.train()

    def step(batch):
        return trainer.train_batch(batch)["loss"]
    return step


def hand_step(model, opt_settings: dict, x_field: str, y_field: str):
    """The hand-written loop's step on ``model`` (a copy of the trainer's, same weights)."""
    model.train()
    opt = torch.optim.Adam(model.net.parameters(), lr=opt_settings["lr"],
                           betas=(opt_settings["beta1"], opt_settings["beta2"]), eps=opt_settings["eps"],
                           weight_decay=opt_settings["weight_decay"])

    def step(batch):
        x, y = batch[x_field], batch[y_field]
        logits = model.net(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()
    return step


def _round(step, batches, start: int, steps: int, seed: int) -> tuple[float, list]:
    """Seconds for ``steps`` steps from batch ``start`` on, and their losses."""
    torch.manual_seed(seed)
    chosen = [batches[(start + i) % len(batches)] for i in range(steps)]
    losses = []
    t0 = time.perf_counter()
    for b in chosen:
        losses.append(step(b))
    return time.perf_counter() - t0, losses


def interleave(arms: dict, batches: list, rounds: int, steps: int) -> tuple[dict, dict]:
    """Per arm: steps per second of each round, and every loss.

    Round r runs the arms in the r-th of their orders (every permutation in turn: AB, BA for two arms),
    so that no arm always runs first, last or between the same two.
    """
    names = list(arms)
    orders = list(itertools.permutations(names))
    rates = {n: [] for n in names}
    losses = {n: [] for n in names}
    for r in range(rounds):
        order = orders[r % len(orders)]
        for n in order:
            seconds, ls = _round(arms[n], batches, r * steps, steps, 1000 + r)
            rates[n].append(steps / seconds)
            losses[n].extend(ls)
    return rates, {n: [float(v) for v in ls] for n, ls in losses.items()}


def calibrate(arms: dict, batches: list, sample_ms: float) -> int:
    """Steps per round so that one round of the slowest arm takes about sample_ms."""
    per_step = max(_round(s, batches, 0, 3, 0)[0] / 3 for s in arms.values())
    return max(1, round(sample_ms / 1000 / max(per_step, 1e-6)))


def pair_stats(a: list[float], b: list[float], boot: int = 2000, seed: int = 0) -> dict:
    """Ratios A/B of steps per second from paired rounds, with a bootstrap interval of the median."""
    ratios = [x / y for x, y in zip(a, b)]
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(boot))
    return {
        "median_ratio": statistics.median(ratios),
        "ci95": [meds[int(0.025 * boot)], meds[min(boot - 1, int(0.975 * boot))]],
        "ratio_of_medians": statistics.median(a) / statistics.median(b),
        "a_median_steps_per_s": statistics.median(a),
        "b_median_steps_per_s": statistics.median(b),
        "a_iqr": _iqr(a), "b_iqr": _iqr(b),
        "rounds": len(ratios),
    }


def _iqr(xs: list[float]) -> list[float]:
    if len(xs) < 2:
        return [xs[0], xs[0]]
    q = statistics.quantiles(xs, n=4)
    return [q[0], q[2]]


def measure_model(path: Path, rounds: int = 30, warmup: int = 3, sample_ms: float = 600.0,
                  control: bool = False) -> dict:
    """agqc's train_batch (A) against the hand-written step (B) on one model; optional A/A control."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, plan = load_model(path, Path(tmp))
        trainer = make_trainer(spec, plan)
    stage = trainer.plan["stages"][0]
    (net, choice), = stage["optimizers"]
    call, = stage["objective"]["models"]
    x_field, y_field = call["inputs"][0]["field"], stage["objective"]["target"]
    settings = dict(choice["params"])
    hand_model = copy.deepcopy(trainer.model)
    arms = {"agqc": agqc_step(trainer), "hand": hand_step(hand_model, settings, x_field, y_field)}
    if control:
        arms["hand2"] = hand_step(copy.deepcopy(trainer.model), settings, x_field, y_field)
    batches = the_batches(trainer)
    for s in arms.values():  # warm-up: allocator, autograd, first calls; the same batches keep A and B equal
        _round(s, batches, 0, warmup, 0)
    steps = calibrate(arms, batches, sample_ms)
    rates, losses = interleave(arms, batches, rounds, steps)
    res = {"spec": str(path.relative_to(ROOT)), "network": net, "optimizer": choice["name"], "settings": settings,
           "batch": trainer.batch, "steps_per_round": steps, "warmup": warmup,
           "losses_identical": losses["agqc"] == losses["hand"], "last_loss": losses["agqc"][-1],
           "agqc_vs_hand": pair_stats(rates["agqc"], rates["hand"]),
           "samples": {n: rates[n] for n in arms}}
    if control:
        res["control_hand_vs_hand"] = pair_stats(rates["hand2"], rates["hand"])
    return res


def measure_compile(path: Path, rounds: int = 15, warmup: int = 3, sample_ms: float = 600.0) -> dict:
    """Eager trainer against `--compile`'s (make_trainer(compile=True)) and a compiled network's."""
    from torch._dynamo.utils import counters
    with tempfile.TemporaryDirectory() as tmp:
        spec, plan = load_model(path, Path(tmp))
        eager = make_trainer(spec, plan)
        counters.clear()
        flag = make_trainer(spec, plan, compile=True)
        net = make_trainer(spec, plan)
    net.model.net.compile()  # what compiling the network the step calls would give
    arms = {"eager": agqc_step(eager), "compile_flag": agqc_step(flag), "net_compiled": agqc_step(net)}
    batches = the_batches(eager)
    first, frames = {}, {}
    for n, s in arms.items():  # the first step compiles: timed on its own
        before = sum(counters["stats"].values()) if "stats" in counters else 0
        first[n] = _round(s, batches, 0, 1, 0)[0]
        frames[n] = (sum(counters["stats"].values()) if "stats" in counters else 0) - before
        _round(s, batches, 1, warmup, 0)
    steps = calibrate(arms, batches, sample_ms)
    rates, _ = interleave(arms, batches, rounds, steps)
    return {"spec": str(path.relative_to(ROOT)), "steps_per_round": steps,
            "first_step_s": first, "dynamo_stats_during_first_step": frames,
            "compile_flag_vs_eager": pair_stats(rates["compile_flag"], rates["eager"]),
            "net_compiled_vs_eager": pair_stats(rates["net_compiled"], rates["eager"]),
            "samples": rates}


def machine_info() -> dict:
    return _machine_info(torch=torch.__version__, threads=torch.get_num_threads())


def _row(label: str, s: dict) -> str:
    ci = f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
    return (f"{label:<34} {s['a_median_steps_per_s']:>9.2f} {s['b_median_steps_per_s']:>9.2f} "
            f"{s['median_ratio']:>11.3f} {ci:>15} {s['ratio_of_medians']:>17.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    p.add_argument("--rounds", type=int, default=30, help="ABBA rounds per model (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per arm first (default 3)")
    p.add_argument("--sample-ms", type=float, default=600.0, help="target length of one round (default 600 ms)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--limit", type=float, default=LIMIT, help="least median ratio agqc/hand (default 0.97)")
    p.add_argument("--control", action="store_true", help="also hand-written vs hand-written (the noise floor)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure --compile on the ConvNet (default on)")
    p.add_argument("--compile-rounds", type=int, default=15, help="rounds of the --compile comparison (default 15)")
    p.add_argument("--json", default=str(RESULTS), help="where to write results ('' for nowhere)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    results = []
    for name in args.models:
        res = measure_model(MODELS[name], args.rounds, args.warmup, args.sample_ms, args.control)
        res["model"] = name
        results.append(res)
        print(f"{name}: agqc/hand median ratio {res['agqc_vs_hand']['median_ratio']:.3f}", flush=True)

    compiled, compile_error = None, None
    if args.compile:
        try:
            compiled = measure_compile(MODELS["cnn"], args.compile_rounds, args.warmup, args.sample_ms)
        except Exception as e:  # e.g. no C++ compiler for inductor: reported, not fatal
            compile_error = f"{type(e).__name__}: {e}"[:2000]

    print(f"\nagqc train's step (A) vs a hand-written loop (B): steps/s, {args.threads} thread(s); "
          f"{args.rounds} ABBA rounds; median paired ratio must be >= {args.limit:.2f}")
    head = f"{'model':<34} {'A step/s':>9} {'B step/s':>9} {'median A/B':>11} {'95% CI':>15} {'ratio of medians':>17}"
    print(head + "\n" + "-" * len(head))
    for res in results:
        print(_row(f"{res['model']} ({res['steps_per_round']} steps/round)", res["agqc_vs_hand"]))
        if "control_hand_vs_hand" in res:
            print(_row("  control: hand vs hand", res["control_hand_vs_hand"]))
        print(f"  losses identical: {res['losses_identical']}")
    if compiled is not None:
        print(f"\n--compile on the ConvNet ({args.compile_rounds} rounds; A = compiled, B = eager)")
        print(_row("make_trainer(compile=True)", compiled["compile_flag_vs_eager"]))
        print(_row("model.net.compile()", compiled["net_compiled_vs_eager"]))
        print("  first step (s): " + ", ".join(f"{k} {v:.2f}" for k, v in compiled["first_step_s"].items()))
    elif compile_error:
        print(f"\n--compile failed: {compile_error}", file=sys.stderr)

    failed = [r["model"] for r in results
              if r["agqc_vs_hand"]["median_ratio"] < args.limit or not r["losses_identical"]]
    out = {"benchmark": "train_step", "limit": args.limit, "rounds": args.rounds, "warmup": args.warmup,
           "sample_ms": args.sample_ms, "order": "ABBA", "train_section": TRAIN, "machine": machine_info(),
           "results": results, "compile": compiled, "compile_error": compile_error, "failed": failed,
           "passed": not failed, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {path}")
    if failed:
        print(f"FAIL: median ratio below {args.limit:.2f} or losses differ for: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
