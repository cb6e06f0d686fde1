"""Study 5, cGAN control: does the conditional GAN draw the digit it is asked for?

Trains specs/cgan.agq (or takes ``--run``, a run folder it wrote), trains a separate classifier
(specs/cnn_classifier.agq with ``--set data=mnist()``), generates ``--per-class`` images of each digit
0-9 from the generator (its averaged weights) and measures the fraction the classifier assigns to the
requested digit, per digit.  Writes cgan_control.json and cgan_control.png: a row of samples per
requested digit, beside a bar of that digit's recognised fraction.

    .venv/bin/python benchmarks/lecture/cgan_control.py [--run runs/cgan]
"""
from __future__ import annotations

from pathlib import Path

from common import ROOT, SPECS, Study, arguments

from cgan_recognition import generator_weights, recognise, train_classifier


def figure(samples, fractions: dict[int, float], title: str) -> bytes:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    rows = torch.cat([torch.cat(list(images[:10, 0]), dim=1) for images in samples], dim=0)  # [10*28, 10*28]
    fig, (grid, bars) = plt.subplots(1, 2, figsize=(9, 6.4), dpi=110, gridspec_kw={"width_ratios": [3, 1.3]})
    grid.imshow(rows.numpy(), cmap="gray", vmin=0, vmax=1)
    size = samples[0].shape[-1]
    grid.set_yticks([size * (d + 0.5) for d in range(10)], [f"asked {d}" for d in range(10)])
    grid.set_xticks([])
    grid.set_title("10 samples per requested digit", fontsize=10)
    digits = list(range(10))
    bars.barh(digits, [100 * fractions[d] for d in digits], color="C0")
    for d in digits:
        bars.text(100 * fractions[d] + 1, d, f"{100 * fractions[d]:.0f}%", va="center", fontsize=8)
    bars.set_ylim(9.5, -0.5)  # digit 0 at the top, as in the grid
    bars.set_yticks(digits, [str(d) for d in digits])
    bars.set_xlim(0, 115)
    bars.set_xlabel("recognised as the requested digit (%)")
    bars.axvline(10, color="grey", ls=":", lw=0.8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--run", type=Path, help="a finished run folder of specs/cgan.agq (else train one)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "lecture" / "cgan", help="where to train it")
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--classifier-epochs", type=int, default=5)
    args = ap.parse_args()
    study = Study("cgan_control", args)
    import torch

    import agqc
    spec = agqc.load(SPECS / "cgan.agq", ["epochs=1"] if args.quick else [])
    run = args.run
    if run is None:
        run = args.out / "cgan" if args.out else args.runs
        from agqc.train.sweep import state
        if state(run, spec.program.train.total_epochs) == "done":
            print(f"reusing the finished run {run}")
        else:
            spec.train(out=run, seed=args.seed, progress=False)
    model, averaged = generator_weights(spec, run)
    torch.manual_seed(args.seed)
    classifier, accuracy = train_classifier(1 if args.quick else args.classifier_epochs, args.seed)
    per_class = 10 if args.quick else args.per_class
    fractions, samples = recognise(spec, model, classifier.net, per_class, args.seed)
    overall = sum(fractions.values()) / len(fractions)
    epochs = len((run / "metrics.csv").read_text().splitlines()) - 1
    study.png("cgan_control.png", figure(samples, fractions, f"cGAN after {epochs} epochs: {overall:.1%} of "
                                         f"{10 * per_class:,} samples recognised as the digit asked for"))
    study.save({"spec": "specs/cgan.agq", "run": str(run), "cgan_epochs": epochs,
                "generator_weights": "ema" if "G" in averaged else "last",
                "classifier": "specs/cnn_classifier.agq --set data=mnist()",
                "classifier_test_accuracy": accuracy, "samples_per_class": per_class,
                "recognised": overall, "recognised_per_class": {str(k): v for k, v in fractions.items()}})


if __name__ == "__main__":
    main()
