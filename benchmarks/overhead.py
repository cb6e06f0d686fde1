"""Run-time overhead of agqc's generated modules against hand-written PyTorch.

The claim: a compiled network trains as fast as the same network written by
hand, i.e. compiled / hand-written time per forward+backward step <= 1.05.

For every spec in specs/*.agq that has a hand-written reference in
tests/reference_models.py (``REFERENCES``, keyed by spec stem), this builds
the compiled model (``agqc.load(path).build()``) and the reference, copies
the compiled weights into the reference per network (``copy_weights``), and
for each network of the spec (``getattr(model, name)`` for ``name`` in
``spec.networks``) times one training step: forward on
``spec.example_inputs(network=name, sizes={'B': 64})``, loss = sum of every
output, backward.

Timing, in one process: torch's thread count is fixed (``--threads``, default
1: the least noisy on a shared 2-core machine); both models warm up; then
``--repeats`` rounds (default 100), each timing ``inner`` steps (calibrated to about
``--sample-ms``) of compiled (A) and reference (B) back to back, in ABBA order
(A,B then B,A) so slow drift cancels.  Each round gives a paired ratio A/B;
the verdict is the median paired ratio, with a bootstrap 95% interval of that
median, the ratio of medians and the ratio of minima beside it.  A spec's
ratio pairs the sums over its networks round by round.

    .venv/bin/python benchmarks/overhead.py                 # every spec with a reference
    .venv/bin/python benchmarks/overhead.py specs/cgan.agq --repeats 40 --threads 1 2

Exit status: 1 when a spec's median ratio is above 1 + ``--tolerance``
(default 0.05), else 0.  Results go to benchmarks/results/overhead.json.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info as _machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "overhead.json"
TOLERANCE = 0.05
BATCH = 64

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # reference_models.py lives with the tests

import torch  # noqa: E402

import agqc  # noqa: E402


def references():
    """(REFERENCES, copy_weights) from tests/reference_models.py."""
    import reference_models
    return reference_models.REFERENCES, reference_models.copy_weights


def find_specs(root: Path = ROOT) -> list[Path]:
    """Shipped specs that have a hand-written reference."""
    refs, _ = references()
    return [p for p in sorted((root / "specs").glob("*.agq")) if p.stem in refs]


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    flat = []
    for o in out:
        flat.extend(_outputs(o))
    return flat


def make_step(module: torch.nn.Module, inputs: tuple, device: str):
    """One training step: forward, loss = sum of every output, backward."""
    def step():
        module.zero_grad(set_to_none=True)
        loss = sum(o.float().sum() for o in _outputs(module(*inputs)))
        loss.backward()
    if device.startswith("cuda"):
        def synced():
            step()
            torch.cuda.synchronize()
        return synced
    return step


def _time(step, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        step()
    return (time.perf_counter() - start) / inner


def _calibrate(steps, sample_ms: float) -> int:
    """Steps per sample so that one sample of the slowest step takes about sample_ms."""
    per_step = max(_time(s, 3) for s in steps)
    return max(1, round(sample_ms / 1000 / max(per_step, 1e-6)))


def pair_stats(a: list[float], b: list[float], boot: int = 2000, seed: int = 0) -> dict:
    """Ratios compiled/reference from paired samples, with a bootstrap interval of the median."""
    ratios = [x / y for x, y in zip(a, b)]
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(boot))
    return {
        "median_ratio": statistics.median(ratios),
        "ci95": [meds[int(0.025 * boot)], meds[min(boot - 1, int(0.975 * boot))]],
        "ratio_of_medians": statistics.median(a) / statistics.median(b),
        "ratio_of_minima": min(a) / min(b),
        "compiled_median_ms": statistics.median(a) * 1000,
        "reference_median_ms": statistics.median(b) * 1000,
        "compiled_min_ms": min(a) * 1000,
        "reference_min_ms": min(b) * 1000,
        "rounds": len(ratios),
    }


def _max_abs_diff(a_mod, b_mod, inputs) -> float:
    """Largest output difference in eval mode (deterministic): are we timing the same network?"""
    a_was, b_was = a_mod.training, b_mod.training
    a_mod.eval(), b_mod.eval()
    try:
        with torch.no_grad():
            oa, ob = _outputs(a_mod(*inputs)), _outputs(b_mod(*inputs))
        return max(float((x.float() - y.float()).abs().max()) for x, y in zip(oa, ob))
    finally:
        a_mod.train(a_was), b_mod.train(b_was)


def measure_spec(path: Path, repeats: int = 100, warmup: int = 5, sample_ms: float = 20.0,
                 batch: int = BATCH, device: str = "cpu", reference=None, copy=None,
                 control: bool = False) -> dict:
    """Time compiled vs hand-written training steps for every network of one spec.

    control=True times a second hand-written instance in place of the compiled
    one (an A/A run): its ratios show the noise floor of the machine.
    """
    if reference is None or copy is None:
        refs, copy_weights = references()
        reference, copy = reference or refs[path.stem], copy or copy_weights
    spec = agqc.load(path)
    torch.manual_seed(0)
    compiled = (reference() if control else spec.build()).to(device).train()
    handmade = reference().to(device).train()
    nets, steps, diffs = [], {}, {}
    for name in spec.networks:
        a_mod, b_mod = getattr(compiled, name), getattr(handmade, name)
        copy(a_mod, b_mod)
        inputs = tuple(t.to(device) for t in spec.example_inputs(network=name, sizes={"B": batch}))
        diffs[name] = _max_abs_diff(a_mod, b_mod, inputs)
        steps[name] = (make_step(a_mod, inputs, device), make_step(b_mod, inputs, device))
        nets.append(name)

    for name in nets:  # warm-up: allocator, autograd, kernels' first calls
        for s in steps[name]:
            _time(s, warmup)
    inner = {name: _calibrate(steps[name], sample_ms) for name in nets}

    a_t = {n: [] for n in nets}
    b_t = {n: [] for n in nets}
    for r in range(repeats):
        for name in nets:
            a_step, b_step = steps[name]
            if r % 2 == 0:
                a = _time(a_step, inner[name])
                b = _time(b_step, inner[name])
            else:
                b = _time(b_step, inner[name])
                a = _time(a_step, inner[name])
            a_t[name].append(a)
            b_t[name].append(b)

    networks = {}
    for name in nets:
        networks[name] = pair_stats(a_t[name], b_t[name])
        networks[name].update(steps_per_sample=inner[name], max_abs_output_diff=diffs[name])
    total_a = [sum(a_t[n][i] for n in nets) for i in range(repeats)]
    total_b = [sum(b_t[n][i] for n in nets) for i in range(repeats)]
    return {"spec": _rel(path), "networks": networks, "total": pair_stats(total_a, total_b),
            "batch": batch, "device": device, "control": control}


def machine_info() -> dict:
    return _machine_info(torch=torch.__version__)


def table(results: list[dict]) -> str:
    head = (f"{'spec / network':<28} {'compiled':>10} {'by hand':>10} {'median A/B':>11} "
            f"{'95% CI':>15} {'ratio of medians':>17} {'of minima':>10}")
    lines = [head, "-" * len(head)]
    for res in results:
        rows = [(res["spec"] + f" @{res['threads']}t", res["total"])]
        rows += [("  " + n, s) for n, s in res["networks"].items()]
        for label, s in rows:
            ci = f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
            lines.append(f"{label:<28} {s['compiled_median_ms']:>8.2f}ms {s['reference_median_ms']:>8.2f}ms "
                         f"{s['median_ratio']:>11.3f} {ci:>15} {s['ratio_of_medians']:>17.3f} "
                         f"{s['ratio_of_minima']:>10.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("specs", nargs="*", help="specs to time (default: specs/*.agq with a reference)")
    p.add_argument("--repeats", type=int, default=100, help="ABBA rounds per network (default 100)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per model first (default 5)")
    p.add_argument("--sample-ms", type=float, default=20.0, help="target length of one sample (default 20 ms)")
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads; several for several runs")
    p.add_argument("--batch", type=int, default=BATCH, help="size bound to B (default 64)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--tolerance", type=float, default=TOLERANCE, help="allowed overhead (default 0.05)")
    p.add_argument("--control", action="store_true",
                   help="also time hand-written vs hand-written (A/A) to show the noise floor")
    p.add_argument("--json", default=str(RESULTS), help="where to write results ('' for nowhere)")
    args = p.parse_args(argv)

    refs, _ = references()
    specs = [Path(s).resolve() for s in args.specs] or find_specs()
    missing = [s for s in specs if s.stem not in refs]
    if missing:
        print("no hand-written reference for: " + ", ".join(_rel(s) for s in missing), file=sys.stderr)
        specs = [s for s in specs if s.stem in refs]
    if not specs:
        print("no spec with a reference to time", file=sys.stderr)
        return 1
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or torch already ran parallel work in this process
        pass

    results, controls = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for path in specs:
            res = measure_spec(path, args.repeats, args.warmup, args.sample_ms, args.batch, args.device)
            res["threads"] = threads
            results.append(res)
            print(f"timed {res['spec']} with {threads} thread(s): median ratio "
                  f"{res['total']['median_ratio']:.3f}", flush=True)
            if args.control:
                ctl = measure_spec(path, args.repeats, args.warmup, args.sample_ms, args.batch, args.device,
                                   control=True)
                ctl["threads"] = threads
                controls.append(ctl)

    limit = 1 + args.tolerance
    failed = [f"{r['spec']}@{r['threads']}t" for r in results if r["total"]["median_ratio"] > limit]
    print(f"\ncompiled (A) vs hand-written (B): one forward+backward step, B={args.batch}, "
          f"{args.device}; {args.repeats} ABBA rounds; median paired ratio must be <= {limit:.2f}")
    print(table(results))
    if controls:
        print("\ncontrol (A/A: hand-written vs a second hand-written instance; the noise floor)")
        print(table(controls))
    odd = [f"{r['spec']}:{n}" for r in results for n, s in r["networks"].items()
           if s["max_abs_output_diff"] > 1e-2]
    if odd:
        print("warning: compiled and reference outputs differ (eval mode) for " + ", ".join(odd), file=sys.stderr)

    out = {"benchmark": "overhead", "tolerance": args.tolerance, "repeats": args.repeats,
           "warmup": args.warmup, "sample_ms": args.sample_ms, "batch": args.batch, "device": args.device,
           "order": "ABBA", "machine": machine_info(), "results": results, "controls": controls,
           "failed": failed,
           "passed": not failed, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {_rel(path)}")
    if failed:
        print(f"FAIL: median ratio above {limit:.2f} for: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
