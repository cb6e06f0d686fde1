"""Is ``agqc check`` slower than it was?  A paired A/B timing against a git revision.

Extracts the baseline revision (``git archive``) into a temporary folder,
compiles both trees to byte code (so neither pays for compiling), then
times ``python -m agqc check SPEC`` as fresh processes, alternating the
baseline (A) and the working tree (B) in ABBA order for every spec in every
round, so a noisy spell on a shared machine hits both alike.  Reports, per
spec and over all, the median of the paired ratios B/A (below 1: faster now).

    .venv/bin/python benchmarks/check_ratio.py --baseline HEAD~1 --rounds 10

Results go to benchmarks/results/check_ratio.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "check_ratio.json"


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def time_check(tree: Path, spec: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "agqc", "check", str(spec)], cwd=tree, env=env,
                            capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{spec.name} failed in {tree}: {result.stderr.decode()[-400:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    specs = sorted((ROOT / "specs").glob("*.agq"))
    ratios: dict[str, list[float]] = {s.stem: [] for s in specs}
    with tempfile.TemporaryDirectory() as tmp:
        base = extract(args.baseline, Path(tmp))
        for tree in (base, ROOT):  # both from byte code: this environment may set PYTHONDONTWRITEBYTECODE
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "agqc")], check=True)
        for spec in specs:  # one untimed warm-up each: byte-code and lark grammar caches
            time_check(base, base / "specs" / spec.name), time_check(ROOT, spec)
        for _ in range(args.rounds):
            for spec in specs:
                a1 = time_check(base, base / "specs" / spec.name)
                b1 = time_check(ROOT, spec)
                b2 = time_check(ROOT, spec)
                a2 = time_check(base, base / "specs" / spec.name)
                ratios[spec.stem].append((b1 + b2) / (a1 + a2))
    per_spec = {name: round(statistics.median(r), 3) for name, r in ratios.items()}
    overall = statistics.median(r for rs in ratios.values() for r in rs)
    for name, ratio in per_spec.items():
        print(f"{name:24s} {ratio:.3f}")
    print(f"overall median ratio (now / {args.baseline}): {overall:.3f} over {args.rounds} ABBA rounds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"baseline": args.baseline, "rounds": args.rounds, "per_spec": per_spec,
                                   "overall": round(overall, 3), "machine": machine_info()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
