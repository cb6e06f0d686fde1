"""Study 1, seed spread: the same classifier at 64 bits and at 1 bit, trained over 20 seeds each.

Runs ``agqc sweep`` (agqc.train.sweep) for specs/seed_spread_fp64.agq and specs/seed_spread_bit1.agq
(one process per seed, ``--jobs`` at a time, resumable in runs/lecture/seed_spread/), then writes
seed_spread.json (each seed's final test accuracy, mean, std, min, max, range) and seed_spread.png (a
strip plot, a column per precision).  The lecture: about 1% spread at 64 bits, about 10% at 1 bit.

    .venv/bin/python benchmarks/lecture/seed_spread.py [--seeds 0..19] [--jobs 2]
"""
from __future__ import annotations

from pathlib import Path

from common import ROOT, SPECS, Study, arguments

TWINS = {"64-bit (fp64)": "seed_spread_fp64.agq", "1-bit": "seed_spread_bit1.agq"}


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--seeds", default="0..19")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "lecture" / "seed_spread",
                    help="where the runs go (a restart skips the finished ones)")
    args = ap.parse_args()
    study = Study("seed_spread", args)
    import agqc
    from agqc.train import sweep as sw
    seeds = sw.parse_seeds("0..1" if args.quick else args.seeds)
    epochs = 1 if args.quick else None
    columns, result = {}, {"seeds": seeds, "metric": "val_accuracy", "models": {}}
    for label, file in TWINS.items():
        spec = agqc.load(SPECS / file)
        runs = (args.out / "runs" if args.out else args.runs) / Path(file).stem
        done = sw.sweep(str(SPECS / file), spec.program.train, seeds, runs, args.jobs, epochs)
        if done.failed:
            raise SystemExit(f"{file}: runs {done.failed} failed; see their stderr.txt under {runs}")
        done.write()
        columns[label] = done.values
        result["models"][label] = {"spec": f"specs/{file}", "epochs": spec.program.train.total_epochs
                                   if epochs is None else epochs, "values": done.values, **done.summary()}
    study.png("seed_spread.png", sw.strip_plot(columns, "test accuracy (val_accuracy)"))
    study.save(result)


if __name__ == "__main__":
    main()
