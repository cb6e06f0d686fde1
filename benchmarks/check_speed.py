"""How long ``agqc check SPEC`` takes, wall clock, as a fresh process.

The requirement: ``agqc check`` finishes in under 0.5 s on every shipped spec
(``specs/*.agq``), and never imports torch.

Each run is a new ``python -m agqc check SPEC`` subprocess (interpreter
start-up and every import included, as a user sees it).  Runs are interleaved
across specs (spec1, spec2, ..., spec1, spec2, ...) so that a noisy spell on a
shared machine hits every spec alike; one untimed warm-up round goes first
(byte-code caches, page cache, lark's grammar cache).  The verdict uses the
median of N runs.  Reference rows in the same rounds show the floor
(``python -c pass``) and what ``import networkx``, ``import lark`` and
``import agqc`` cost on their own; the child's CPU time (user + system) is
reported beside the wall clock, being less sensitive to other load.

    .venv/bin/python benchmarks/check_speed.py            # 7 runs per spec
    .venv/bin/python benchmarks/check_speed.py --runs 15 specs/cgan.agq

Exit status: 0 when every median is under the limit and torch was never
imported; 1 otherwise.  Results go to benchmarks/results/check_speed.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info as _machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "check_speed.json"
LIMIT_S = 0.5

# Run in a child: check the spec through the CLI entry point, then say whether
# torch (or any torch submodule) ended up in sys.modules.
_TORCH_PROBE = """\
import io, sys, contextlib, json, time
t0 = time.perf_counter()
from agqc.cli import main
t1 = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    status = main(['check', sys.argv[1]])
t2 = time.perf_counter()
mods = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
print(json.dumps({'status': status, 'torch_modules': mods[:5], 'n_torch_modules': len(mods),
                  'import_agqc_s': round(t1 - t0, 4), 'check_after_import_s': round(t2 - t1, 4)}))
"""


def find_specs(root: Path = ROOT) -> list[Path]:
    return sorted((root / "specs").glob("*.agq"))


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def check_command(spec: Path, python: str = sys.executable) -> list[str]:
    return [python, "-m", "agqc", "check", str(spec)]


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed_run(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, child CPU seconds, result) of one subprocess."""
    cpu0, start = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - start, _child_cpu() - cpu0, proc


def time_check(spec: Path, python: str = sys.executable) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``python -m agqc check SPEC`` subprocess."""
    wall, cpu, proc = _timed_run(check_command(spec, python))
    if proc.returncode != 0:
        raise RuntimeError(f"agqc check {spec} exited {proc.returncode}:\n{proc.stderr}")
    return wall, cpu


# Reference rows timed in the same rounds: the interpreter floor, and what
# importing agqc and its heaviest dependencies costs on its own.
BASELINES = {
    "(python -c pass)": "pass",
    "(import networkx)": "import networkx",
    "(import lark)": "import lark",
    "(import agqc)": "import agqc",
}


def time_startup(python: str = sys.executable, code: str = "pass") -> tuple[float, float]:
    """(wall, CPU) seconds of a bare ``python -c CODE``: the floor under every check."""
    wall, cpu, proc = _timed_run([python, "-c", code])
    proc.check_returncode()
    return wall, cpu


def measure(specs: list[Path], runs: int = 7, warmup: int = 1, python: str = sys.executable,
            baseline: bool = True) -> dict:
    """Interleaved timings: {spec: [(wall, cpu) seconds, ...]}, plus the reference rows of
    ``BASELINES`` (the interpreter floor, bare imports) when ``baseline``."""
    times: dict[str, list[tuple[float, float]]] = {_rel(s): [] for s in specs}
    extra = BASELINES if baseline else {}
    times.update({name: [] for name in extra})
    for round_ in range(warmup + runs):
        for spec in specs:
            t = time_check(spec, python)
            if round_ >= warmup:
                times[_rel(spec)].append(t)
        for name, code in extra.items():
            t = time_startup(python, code)
            if round_ >= warmup:
                times[name].append(t)
    return times


def torch_imported_by_check(spec: Path, python: str = sys.executable) -> dict:
    """Run ``agqc.cli.main(['check', spec])`` in a fresh interpreter; report torch modules loaded."""
    proc = subprocess.run([python, "-c", _TORCH_PROBE, str(spec)], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["torch_imported"] = info["n_torch_modules"] > 0
    return info


def _importtime_rows(spec: Path, python: str) -> list[tuple[str, int, int, int]]:
    """(module, depth, self us, cumulative us) rows of one ``-X importtime`` run of ``agqc check``."""
    proc = subprocess.run([python, "-X", "importtime", "-m", "agqc", "check", str(spec)], cwd=ROOT,
                          capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|", 2)
        rows.append((name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(self_us), int(cum_us)))
    return rows


def import_profile(spec: Path, top: int = 10, runs: int = 3, python: str = sys.executable) -> list[dict]:
    """Import cost of ``agqc check`` (``-X importtime``), grouped by top-level package.

    Each group's ``self_ms`` sums the self time of its modules (so the groups
    add up to the whole import time), median over ``runs`` fresh runs;
    ``imported_by`` names the module whose import first pulled the package in.
    """
    per_run: list[dict[str, dict]] = []
    for _ in range(runs):
        rows = _importtime_rows(spec, python)
        groups: dict[str, dict] = {}
        for i, (name, depth, self_us, cum_us) in enumerate(rows):
            pkg = name.split(".")[0]
            g = groups.setdefault(pkg, {"package": pkg, "self_ms": 0.0, "modules": 0,
                                        "top_cumulative_ms": 0.0, "imported_by": None})
            g["self_ms"] += self_us / 1000
            g["modules"] += 1
            if cum_us / 1000 > g["top_cumulative_ms"]:
                g["top_cumulative_ms"] = cum_us / 1000
                # importtime prints a module after its children: the parent is the next row one level up.
                g["imported_by"] = next((r[0] for r in rows[i + 1:] if r[1] < depth), None)
        per_run.append(groups)
    out = []
    for pkg in set().union(*per_run):
        seen = [run[pkg] for run in per_run if pkg in run]
        out.append({"package": pkg,
                    "self_ms": round(statistics.median(g["self_ms"] for g in seen), 1),
                    "top_cumulative_ms": round(statistics.median(g["top_cumulative_ms"] for g in seen), 1),
                    "modules": seen[0]["modules"], "imported_by": seen[0]["imported_by"]})
    return sorted(out, key=lambda g: -g["self_ms"])[:top]


def phase_breakdown(spec: Path, n: int = 3, python: str = sys.executable) -> dict:
    """Median over n fresh interpreters of: importing agqc, then checking (in-process)."""
    probes = [torch_imported_by_check(spec, python) for _ in range(n)]
    return {"import_agqc_s": round(statistics.median(p["import_agqc_s"] for p in probes), 4),
            "check_after_import_s": round(statistics.median(p["check_after_import_s"] for p in probes), 4),
            "torch_imported": any(p["torch_imported"] for p in probes),
            "torch_modules": sorted({m for p in probes for m in p["torch_modules"]})}


def summarise(times: dict[str, list[tuple[float, float]]], limit: float = LIMIT_S) -> dict[str, dict]:
    """Per spec: wall median/min/max (the verdict uses the wall median) and the CPU median."""
    out = {}
    for name, pairs in times.items():
        ts, cpu = [w for w, _ in pairs], [c for _, c in pairs]
        med = statistics.median(ts)
        out[name] = {"runs": len(ts), "median_s": round(med, 4), "min_s": round(min(ts), 4),
                     "max_s": round(max(ts), 4), "cpu_median_s": round(statistics.median(cpu), 4),
                     "times_s": [round(t, 4) for t in ts], "cpu_s": [round(c, 4) for c in cpu]}
        if not name.startswith("("):
            out[name]["under_limit"] = med < limit
    return out


def machine_info() -> dict:
    return _machine_info()


def table(summary: dict[str, dict], limit: float) -> str:
    width = max(len(n) for n in summary)
    lines = [f"{'spec':<{width}}  {'median':>8}  {'min':>8}  {'max':>8}  {'CPU med':>8}  verdict",
             f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 8}  {'-' * 8}  -------"]
    for name, s in summary.items():
        verdict = "" if "under_limit" not in s else ("ok" if s["under_limit"] else f"SLOW (>= {limit} s)")
        times = "  ".join(f"{s[key]:>7.3f}s" for key in ("median_s", "min_s", "max_s", "cpu_median_s"))
        lines.append(f"{name:<{width}}  {times}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("specs", nargs="*", help="specs to time (default: specs/*.agq)")
    p.add_argument("--runs", type=int, default=7, help="timed runs per spec (default 7)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--limit", type=float, default=LIMIT_S, help="median limit in seconds (default 0.5)")
    p.add_argument("--json", default=str(RESULTS), help="where to write results ('' for nowhere)")
    p.add_argument("--probes", type=int, default=3, help="in-process probes per spec (default 3)")
    p.add_argument("--no-profile", action="store_true", help="skip the -X importtime profile")
    args = p.parse_args(argv)

    specs = [Path(s).resolve() for s in args.specs] or find_specs()
    if not specs:
        print("no specs found", file=sys.stderr)
        return 1
    times = measure(specs, args.runs, args.warmup)
    summary = summarise(times, args.limit)
    probes = {_rel(s): phase_breakdown(s, args.probes) for s in specs}
    torch_specs = [n for n, info in probes.items() if info["torch_imported"]]
    profile = [] if args.no_profile else import_profile(specs[0], runs=3)

    print(f"agqc check, wall clock per fresh process: {args.runs} runs per spec, interleaved, "
          f"{args.warmup} warm-up round(s); limit: median < {args.limit} s")
    print(table(summary, args.limit))
    print("torch imported by check:", ", ".join(torch_specs) if torch_specs else "no (every spec)")
    print(f"\nin-process split (median of {args.probes} fresh interpreters): import agqc | check after import")
    for name, info in probes.items():
        print(f"  {name:<{max(map(len, probes))}}  {info['import_agqc_s'] * 1000:7.1f} ms | "
              f"{info['check_after_import_s'] * 1000:7.1f} ms")
    if profile:
        print(f"\nimport time by package (-X importtime, median of 3 runs of `agqc check {_rel(specs[0])}`):")
        for g in profile:
            print(f"  {g['self_ms']:8.1f} ms  {g['package']:<20} {g['modules']:4d} modules, "
                  f"first imported by {g['imported_by'] or '-'}")

    slow = [n for n, s in summary.items() if s.get("under_limit") is False]
    result = {"benchmark": "check_speed", "limit_s": args.limit, "runs": args.runs, "warmup": args.warmup,
              "interleaved": True, "machine": machine_info(), "specs": summary,
              "in_process": probes, "import_profile": {"spec": _rel(specs[0]), "top": profile},
              "slow": slow, "passed": not slow and not torch_specs,
              "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {_rel(path)}")
    if slow:
        print(f"FAIL: median >= {args.limit} s for: {', '.join(slow)}", file=sys.stderr)
    if torch_specs:
        print(f"FAIL: agqc check imported torch for: {', '.join(torch_specs)}", file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
