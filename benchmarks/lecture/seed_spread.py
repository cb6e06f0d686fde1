"""Study 1, seed spread: the same classifier at 64 bits and at 1 bit, trained over 20 seeds each.

Runs ``agqc sweep`` (agqc.train.sweep) for specs/seed_spread_fp64.agq, specs/seed_spread_bit1.agq and
the latter with ``--set precision=binary`` (one process per seed, ``--jobs`` at a time, resumable in
runs/lecture/seed_spread/), then writes seed_spread.json (each seed's final test accuracy, mean, std,
min, max, range) and seed_spread.png (a strip plot, a column per variant).  The lecture: about 1%
spread at 64 bits, about 10% at 1 bit.

    .venv/bin/python benchmarks/lecture/seed_spread.py [--seeds 0..19] [--jobs 2]
"""
from __future__ import annotations

from pathlib import Path

from common import ROOT, SPECS, Study, arguments

# label: (spec, --set overrides). The third column tests one reason the 1-bit spread may be smaller here
# than in the lecture: with `precision=binary` on the model, the first and last layers' weights are
# binary too (their inputs stay real), as in Larq's fully binarised examples.
# The last two test another: one epoch instead of ten, a network far from converged.
VARIANTS = {"64-bit (fp64)": ("seed_spread_fp64.agq", []),
            "1-bit hidden layers": ("seed_spread_bit1.agq", []),
            "1-bit, first and last too": ("seed_spread_bit1.agq", ["precision=binary"]),
            "64-bit, 1 epoch": ("seed_spread_fp64.agq", ["epochs=1"]),
            "1-bit, first and last too, 1 epoch": ("seed_spread_bit1.agq", ["precision=binary", "epochs=1"])}


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
    for label, (file, sets) in VARIANTS.items():
        spec = agqc.load(SPECS / file, sets)
        runs = (args.out / "runs" if args.out else args.runs) / Path(file).stem
        done = sw.sweep(str(SPECS / file), spec.program.train, seeds, runs, args.jobs, epochs, sets=sets)
        if done.failed:
            raise SystemExit(f"{file} {sets}: runs {done.failed} failed; see their stderr.txt under {runs}")
        columns[label] = done.values
        result["models"][label] = {"spec": f"specs/{file}", "set": sets, "epochs": spec.program.train.total_epochs
                                   if epochs is None else epochs, "values": done.values, **done.summary()}
    study.png("seed_spread.png", sw.strip_plot(columns, "test accuracy (val_accuracy)"))
    study.save(result)


if __name__ == "__main__":
    main()
