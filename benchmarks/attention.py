"""agqc's compiled attention against naive softmax(Q K^T / sqrt(d)) V, on the CPU.

The claim: at sequence length T = 512 the attention agqc compiles is at least
1.3x faster than the textbook formula written with explicit matmuls, with
equal outputs.

(a) compiled: the network agqc builds from a small spec (``SPEC``: linear q,
k, v -> ``attention(q, k, v, heads=H)`` -> linear out), and the ``attention``
helper the generated source defines (it calls F.scaled_dot_product_attention).
(b) naive: ``NaiveSelfAttention``, the same four nn.Linear layers (weights
copied from (a)) around ``naive_attention``, which builds the [B, H, T, T]
score matrix with ``q @ k^T``, divides it by sqrt(d), softmaxes it and
multiplies by v.

Four cases, each compiled (A) against naive (B): the attention core alone
(helper vs ``naive_attention`` on the same q, k, v, so the linear layers do
not dilute the ratio) and the whole module, each forward-only under
torch.inference_mode and forward+backward (``out.backward(g)``, g a fixed
random cotangent).  Before any timing, outputs and every gradient are
compared with torch.allclose(rtol=RTOL, atol=ATOL); a mismatch stops the run.

Timing follows benchmarks/overhead.py: one process, torch threads fixed
(``--threads``, default 1), warm-up, then ``--repeats`` rounds; in each round
every case times A and B back to back in ABBA order, one sample being
``inner`` calls calibrated to about ``--sample-ms``.  Each round gives a
paired speed-up B/A (naive time / compiled time, > 1 means compiled is
faster); reported are its median, a bootstrap 95% interval of the median, the
ratio of medians and of minima.  An A/A control (naive vs naive, a second
hand-written instance for the module) runs in the same rounds to show the
noise floor.  ``--sweep`` adds the core forward at other batch and head counts.

    .venv/bin/python benchmarks/attention.py                # 100 rounds, 1 thread
    .venv/bin/python benchmarks/attention.py --repeats 40 --threads 1 2 --sweep

Exit status: 1 when the outputs differ or the verdict case (the attention core,
forward) has a median speed-up below ``--claim`` (1.3); else 0.  Results go to
benchmarks/results/attention.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info as _machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "attention.json"

import torch  # noqa: E402
from torch import nn  # noqa: E402

import agqc  # noqa: E402

CLAIM = 1.3
VERDICT_CASE = "core/forward"
# float32 throughout.  The fused kernel sums in another order than three separate
# ops, so bitwise equality is not expected; 1e-4 relative (plus 1e-5 absolute for
# entries near zero) is far above float32 rounding at these sizes (observed diffs
# ~1e-7 on outputs) and far below any real error (a wrong scale or a head mix-up
# moves outputs by ~1e-1).
RTOL, ATOL = 1e-4, 1e-5
DIM, HEADS, SEQ, BATCH = 256, 4, 512, 2  # head size 64, as in GPT-2 and BERT-base

SPEC = """\
const D = {dim}

block SelfAttention(x: [B, T, D], heads) -> [B, T, D] {{
    q = x -> linear(D) as q
    k = x -> linear(D) as k
    v = x -> linear(D) as v
    out = attention(q, k, v, heads=heads) -> linear(D) as out
    return out
}}

model AttentionBench {{
    network mha = SelfAttention({heads})
}}
"""


def naive_attention(q, k, v, heads: int):
    """softmax(q k^T / sqrt(d)) v per head, with explicit matmuls; q, k, v: [B, T, heads*d]."""
    q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))  # [B, H, T, d]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # [B, H, T, T]
    return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).flatten(2)


class NaiveSelfAttention(nn.Module):
    """The compiled network written by hand: same layer names, so state_dicts match."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        return self.out(naive_attention(self.q(x), self.k(x), self.v(x), self.heads))


def compile_spec(dim: int = DIM, heads: int = HEADS):
    """(compiled network, the generated `attention` helper, spec text) through agqc.load().build()."""
    text = SPEC.format(dim=dim, heads=heads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "attention_bench.agq"
        path.write_text(text)
        net = agqc.load(path).build().mha
    # The helper lives in the generated module's globals, where its forward finds it.
    return net, type(net).forward.__globals__["attention"], text


def hand_written(compiled: nn.Module, heads: int) -> NaiveSelfAttention:
    dim = compiled.q.in_features
    ref = NaiveSelfAttention(dim, heads)
    ref.load_state_dict(compiled.state_dict())  # strict: every name and shape must match
    return ref


def _close(a: torch.Tensor, b: torch.Tensor) -> dict:
    return {"max_abs_diff": float((a - b).abs().max()), "max_abs_value": float(b.abs().max()),
            "allclose": bool(torch.allclose(a, b, rtol=RTOL, atol=ATOL))}


def _inputs(batch: int, seq: int, dim: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    # Unit-variance q and k give scores of unit variance after the 1/sqrt(d): a
    # softmax far from uniform, so the check would see a wrong scale or mask.
    x, q, k, v, cot = (torch.randn(batch, seq, dim, generator=g) for _ in range(5))
    return x, q, k, v, cot


def check_equal(compiled, helper, naive_mod, heads: int, batch: int, seq: int, seed: int = 0) -> dict:
    """Compare outputs and every gradient, compiled vs naive: {name: {max_abs_diff, allclose}}."""
    x, q, k, v, cot = _inputs(batch, seq, compiled.q.in_features, seed)
    checks = {}
    with torch.inference_mode():
        checks["core output"] = _close(helper(q, k, v, heads=heads), naive_attention(q, k, v, heads))
        checks["module output"] = _close(compiled(x), naive_mod(x))
    leaves = []
    for run in (lambda a, b, c: helper(a, b, c, heads=heads), lambda a, b, c: naive_attention(a, b, c, heads)):
        qkv = [t.clone().requires_grad_() for t in (q, k, v)]
        run(*qkv).backward(cot)
        leaves.append([t.grad for t in qkv])
    for name, a, b in zip(("q", "k", "v"), *leaves):
        checks[f"core grad {name}"] = _close(a, b)
    grads = []
    for mod in (compiled, naive_mod):
        mod.zero_grad(set_to_none=True)
        xg = x.clone().requires_grad_()
        mod(xg).backward(cot)
        grads.append({"x": xg.grad, **{n: p.grad for n, p in mod.named_parameters()}})
        mod.zero_grad(set_to_none=True)
    for name in grads[0]:
        checks[f"module grad {name}"] = _close(grads[0][name], grads[1][name])
    return {"rtol": RTOL, "atol": ATOL, "checks": checks, "equal": all(c["allclose"] for c in checks.values())}


def sdpa_backend(batch: int, seq: int, dim: int, heads: int) -> str:
    """Which kernel F.scaled_dot_product_attention picks for these shapes (private torch API: best effort)."""
    try:
        from torch.nn.attention import SDPBackend
        q = torch.zeros(batch, heads, seq, dim // heads)
        return SDPBackend(torch._fused_sdp_choice(q, q, q)).name
    except Exception as exc:  # noqa: BLE001 - informative only
        return f"unknown ({type(exc).__name__})"


def make_cases(compiled, helper, naive_mod, naive_twin, heads: int, batch: int, seq: int,
               which=None) -> dict[str, tuple]:
    """{case: (A, B)}: zero-argument callables; 'control: ...' cases are naive vs naive (A/A)."""
    x, q, k, v, cot = _inputs(batch, seq, compiled.q.in_features, seed=1)
    qkv = [t.clone().requires_grad_() for t in (q, k, v)]
    xg = x.clone().requires_grad_()

    def core(fn, grad):
        if grad:
            def f():
                for t in qkv:
                    t.grad = None
                fn(*qkv).backward(cot)
        else:
            def f():
                with torch.inference_mode():
                    fn(q, k, v)
        return f

    def module(mod, grad):
        if grad:
            def f():
                mod.zero_grad(set_to_none=True)
                xg.grad = None
                mod(xg).backward(cot)
        else:
            def f():
                with torch.inference_mode():
                    mod(x)
        return f

    compiled_core = lambda a, b, c: helper(a, b, c, heads=heads)  # noqa: E731
    naive_core = lambda a, b, c: naive_attention(a, b, c, heads)  # noqa: E731
    cases = {}
    for grad, kind in ((False, "forward"), (True, "forward+backward")):
        cases[f"core/{kind}"] = (core(compiled_core, grad), core(naive_core, grad))
        cases[f"module/{kind}"] = (module(compiled, grad), module(naive_mod, grad))
    for grad, kind in ((False, "forward"), (True, "forward+backward")):
        cases[f"control: core/{kind}"] = (core(naive_core, grad), core(naive_core, grad))
        cases[f"control: module/{kind}"] = (module(naive_twin, grad), module(naive_mod, grad))
    return {n: c for n, c in cases.items() if which is None or n in which}


def _time(fn, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def speedup_stats(a: list[float], b: list[float], boot: int = 2000, seed: int = 0) -> dict:
    """Paired speed-ups b/a (naive time over compiled time) with a bootstrap interval of the median."""
    ratios = [y / x for x, y in zip(a, b)]
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(boot))
    return {"median_speedup": statistics.median(ratios),
            "ci95": [meds[int(0.025 * boot)], meds[min(boot - 1, int(0.975 * boot))]],
            "ratio_of_medians": statistics.median(b) / statistics.median(a),
            "ratio_of_minima": min(b) / min(a),
            "compiled_median_ms": statistics.median(a) * 1000, "naive_median_ms": statistics.median(b) * 1000,
            "compiled_min_ms": min(a) * 1000, "naive_min_ms": min(b) * 1000, "rounds": len(ratios)}


def time_cases(cases: dict[str, tuple], repeats: int, warmup: int, sample_ms: float) -> dict[str, dict]:
    """ABBA rounds over every case; per case the speed-up statistics and calls per sample."""
    for a, b in cases.values():  # allocator, autograd graph, kernels' first calls
        _time(a, warmup), _time(b, warmup)
    inner = {n: max(1, round(sample_ms / 1000 / max(_time(a, 2), _time(b, 2), 1e-6)))
             for n, (a, b) in cases.items()}
    a_t = {n: [] for n in cases}
    b_t = {n: [] for n in cases}
    for r in range(repeats):
        for name, (a, b) in cases.items():
            if r % 2 == 0:
                ta = _time(a, inner[name])
                tb = _time(b, inner[name])
            else:
                tb = _time(b, inner[name])
                ta = _time(a, inner[name])
            a_t[name].append(ta)
            b_t[name].append(tb)
    return {n: {**speedup_stats(a_t[n], b_t[n]), "calls_per_sample": inner[n]} for n in cases}


def measure(dim: int = DIM, heads: int = HEADS, seq: int = SEQ, batch: int = BATCH, repeats: int = 100,
            warmup: int = 3, sample_ms: float = 20.0, which=None) -> dict:
    """Compile, check equality, then time; raises RuntimeError when outputs differ."""
    torch.manual_seed(0)
    compiled, helper, text = compile_spec(dim, heads)
    naive_mod, naive_twin = hand_written(compiled, heads), hand_written(compiled, heads)
    equality = check_equal(compiled, helper, naive_mod, heads, batch, seq)
    if not equality["equal"]:
        bad = [n for n, c in equality["checks"].items() if not c["allclose"]]
        raise RuntimeError(f"compiled and naive attention differ (rtol={RTOL}, atol={ATOL}) in: {', '.join(bad)}")
    cases = make_cases(compiled, helper, naive_mod, naive_twin, heads, batch, seq, which)
    return {"config": {"batch": batch, "seq": seq, "dim": dim, "heads": heads, "head_dim": dim // heads,
                       "dtype": "float32", "threads": torch.get_num_threads()},
            "sdpa_backend": sdpa_backend(batch, seq, dim, heads), "equality": equality,
            "cases": time_cases(cases, repeats, warmup, sample_ms), "spec": text}


def table(cases: dict[str, dict]) -> str:
    head = (f"{'case':<34} {'compiled':>10} {'naive':>10} {'speed-up':>9} {'95% CI':>15} "
            f"{'of medians':>11} {'of minima':>10}")
    lines = [head, "-" * len(head)]
    for name, s in cases.items():
        ci = f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
        lines.append(f"{name:<34} {s['compiled_median_ms']:>8.2f}ms {s['naive_median_ms']:>8.2f}ms "
                     f"{s['median_speedup']:>9.3f} {ci:>15} {s['ratio_of_medians']:>11.3f} "
                     f"{s['ratio_of_minima']:>10.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=100, help="ABBA rounds (default 100)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per callable first (default 3)")
    p.add_argument("--sample-ms", type=float, default=20.0, help="target length of one sample (default 20 ms)")
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads; several for several runs")
    p.add_argument("--batch", type=int, default=BATCH, help=f"batch size (default {BATCH})")
    p.add_argument("--seq", type=int, default=SEQ, help=f"sequence length T (default {SEQ})")
    p.add_argument("--dim", type=int, default=DIM, help=f"model width D (default {DIM})")
    p.add_argument("--heads", type=int, default=HEADS, help=f"attention heads (default {HEADS})")
    p.add_argument("--claim", type=float, default=CLAIM, help=f"required median speed-up (default {CLAIM})")
    p.add_argument("--sweep", action="store_true",
                   help="also time the core forward at batch 1, 2, 4 x heads 4, 8 (a third of the rounds)")
    p.add_argument("--json", default=str(RESULTS), help="where to write results ('' for nowhere)")
    args = p.parse_args(argv)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or torch already ran parallel work in this process
        pass

    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    runs, sweeps = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        try:
            res = measure(args.dim, args.heads, args.seq, args.batch, args.repeats, args.warmup, args.sample_ms)
        except RuntimeError as exc:
            print(f"FAIL: {exc}", file=sys.stderr)
            return 1
        runs.append(res)
        c = res["config"]
        print(f"\n{threads} thread(s); B={c['batch']} T={c['seq']} D={c['dim']} H={c['heads']} "
              f"(d={c['head_dim']}), float32; SDPA kernel: {res['sdpa_backend']}; outputs and gradients "
              f"allclose(rtol={RTOL}, atol={ATOL}); {args.repeats} ABBA rounds; speed-up = naive / compiled")
        print(table(res["cases"]), flush=True)
        if args.sweep:
            for b in (1, 2, 4):
                for h in (4, 8):
                    sw = measure(args.dim, h, args.seq, b, max(3, args.repeats // 3), args.warmup,
                                 args.sample_ms, which={"core/forward", "control: core/forward"})
                    sweeps.append({"config": sw["config"], "sdpa_backend": sw["sdpa_backend"],
                                   "equal": sw["equality"]["equal"], "cases": sw["cases"]})
                    print(f"sweep B={b} H={h} @{threads}t: core forward speed-up "
                          f"{sw['cases']['core/forward']['median_speedup']:.3f} (A/A "
                          f"{sw['cases']['control: core/forward']['median_speedup']:.3f})", flush=True)

    verdict = {f"{r['config']['threads']}t": r["cases"][VERDICT_CASE]["median_speedup"] for r in runs}
    failed = [t for t, s in verdict.items() if s < args.claim]
    out = {"benchmark": "attention", "claim": f"{VERDICT_CASE} median speed-up (naive / compiled) >= {args.claim}",
           "verdict_case": VERDICT_CASE, "claim_speedup": args.claim, "repeats": args.repeats,
           "warmup": args.warmup, "sample_ms": args.sample_ms, "order": "ABBA", "device": "cpu",
           "machine": _machine_info(torch=torch.__version__, loadavg_at_start=load_at_start),
           "runs": runs, "sweep": sweeps,
           "verdict": verdict, "failed": failed, "passed": not failed,
           "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path}")
    for t, s in verdict.items():
        print(f"{VERDICT_CASE} @{t}: median speed-up {s:.3f} ({'meets' if s >= args.claim else 'BELOW'} "
              f"{args.claim})", file=sys.stderr if s < args.claim else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
