"""Study 2, ModelCompare: DNN, CNN and transformer classifiers on digits unlike their training set.

Trains specs/model_compare.agq (three classifiers on the same batches), then measures each one's test
accuracy on shifted, rotated, noisy and inverted test digits at several strengths
(agqc.studies.robustness).  Writes model_compare.json (accuracy per model, distortion and strength,
training time) and model_compare.png (accuracy against strength, a panel per distortion, a curve per
model), plus model_compare_inputs.png (one test digit at every strength).

    .venv/bin/python benchmarks/lecture/model_compare.py
"""
from __future__ import annotations

from common import SPECS, Study, arguments, test_images

NAMES = {"dnn": "DNN", "cnn": "CNN", "tf": "transformer"}


def main() -> None:
    args = arguments(__doc__).parse_args()
    study = Study("model_compare", args)
    import agqc
    from agqc.studies import robustness
    spec = agqc.load(SPECS / "model_compare.agq", ["epochs=1"] if args.quick else [])
    run = spec.train(seed=args.seed, progress=False)
    images, labels = test_images(spec)
    if args.quick:
        images, labels = images[:100], labels[:100]
    classifiers = {label: getattr(run.model, net) for net, label in NAMES.items()}
    curves = robustness.curves(classifiers, images, labels, seed=args.seed)
    study.png("model_compare.png", robustness.plot_curves(
        curves, f"ModelCompare: {len(images):,} MNIST test digits, trained {len(run.history)} epochs on clean ones"))
    study.png("model_compare_inputs.png", robustness.examples(images[:1], seed=args.seed))
    last = run.history[-1]
    study.save({"spec": "specs/model_compare.agq", "epochs": len(run.history), "test_images": len(images),
                "train_seconds": round(sum(r.get("seconds", 0.0) for r in run.history), 1),
                "clean_accuracy": {label: last.get(f"val_accuracy_{net}") for net, label in NAMES.items()},
                "curves": curves})


if __name__ == "__main__":
    main()
