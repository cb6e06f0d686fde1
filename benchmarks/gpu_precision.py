"""GPU inference speed by precision: eager fp32 against bf16 and fp16, for agqc-compiled models.

For each spec (default: gpt2 and cnn_classifier) and batch size (1 and 64),
the compiled model runs forward under ``torch.inference_mode`` on the GPU in
fp32, bf16 and fp16 (the whole module and its inputs cast), in interleaved
rounds (every precision once per round, order rotated), with a CUDA
synchronise around each timing.  Reports the median time per forward and the
median paired speed-up over fp32; checks that each low-precision output stays
close to fp32's.  Writes ``benchmarks/results/gpu_precision.json``.

Needs a CUDA GPU and a CUDA build of torch; without one it says so and exits 1.
Run once per device session:  python benchmarks/gpu_precision.py --rounds 30
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import agqc  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SIZES = {"gpt2": {"T": 128}, "cnn_classifier": {}}


def timed(model, inputs) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    model(*inputs)
    torch.cuda.synchronize()
    return time.perf_counter() - start


def prepare(spec, batch: int, extra: dict):
    """One module and one input tuple per precision, on the GPU, same weights."""
    torch.manual_seed(0)
    base = spec.build().eval().cuda()
    inputs = [x.cuda() for x in spec.example_inputs(sizes={"B": batch, **extra})]
    runs = {}
    for name, dtype in DTYPES.items():
        model = base if dtype == torch.float32 else type(base)().cuda().eval()
        if model is not base:
            model.load_state_dict(base.state_dict())
            model.to(dtype)
        cast = [x.to(dtype) if x.is_floating_point() else x for x in inputs]
        runs[name] = (model, cast)
    return runs


def bench(spec_name: str, batch: int, rounds: int) -> dict:
    spec = agqc.load(ROOT / "specs" / f"{spec_name}.agq")
    runs = prepare(spec, batch, SIZES.get(spec_name, {}))
    names = list(runs)
    with torch.inference_mode():
        reference = runs["fp32"][0](*runs["fp32"][1])
        errors = {n: (m(*x).float() - reference).abs().max().item() for n, (m, x) in runs.items()}
        for _ in range(5):  # warm-up: kernels chosen, caches filled
            for model, inputs in runs.values():
                timed(model, inputs)
        samples = {n: [] for n in names}
        for r in range(rounds):
            for n in names[r % len(names):] + names[:r % len(names)]:
                samples[n].append(timed(*runs[n]))
    medians = {n: statistics.median(s) for n, s in samples.items()}
    speedups = {n: statistics.median(f / s for f, s in zip(samples["fp32"], samples[n])) for n in names}
    return {"spec": spec_name, "batch": batch, "rounds": rounds, "median_seconds": medians,
            "median_speedup_over_fp32": speedups, "max_abs_error_vs_fp32": errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=["gpt2", "cnn_classifier"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu_precision.json"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_precision: no CUDA device (or a CPU build of torch): nothing measured", file=sys.stderr)
        return 1
    results = [bench(s, b, args.rounds) for s in args.specs for b in args.batches]
    device = {"name": torch.cuda.get_device_name(), "capability": torch.cuda.get_device_capability(),
              "torch": torch.__version__}
    Path(args.out).write_text(json.dumps({"device": device, "results": results}, indent=2) + "\n")
    for r in results:
        cells = ", ".join(f"{n} {r['median_seconds'][n] * 1e3:.2f} ms ({r['median_speedup_over_fp32'][n]:.2f}x)"
                          for n in DTYPES)
        print(f"{r['spec']} B={r['batch']}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
