"""Does the trained cGAN draw the digit it is asked for?  Recognition by a separate classifier.

Trains specs/cgan.agq with ``agqc`` (or takes a run folder it wrote), trains the
convolutional classifier of specs/cnn_classifier.agq on real MNIST (``--set
data=mnist()``), then generates 100 images of
each digit 0-9 from the generator and reports the fraction the classifier
recognises as the digit that was asked for (issue 13's goal: at least 80%).

    .venv/bin/python benchmarks/cgan_recognition.py --run runs/cgan          # a finished run
    .venv/bin/python benchmarks/cgan_recognition.py --epochs 30 -o runs/cgan  # train first

The generator's weights are the run's exponential moving average when the spec
keeps one (``ema G = ...``), else its last weights.  Results go to
benchmarks/results/cgan_recognition.json; ``--grid FILE`` also writes the
generated samples as a PNG, one row per digit.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "cgan_recognition.json"
PER_CLASS = 100


def generator_weights(spec, run: Path):
    """The cGAN model with the run's weights: last.safetensors, with the averaged G where the run kept one."""
    from agqc.train.checkpoint import PREFIX, read, weights_only
    model = spec.build()
    tensors, _ = read(run / "last.safetensors")
    model.load_state_dict(weights_only(tensors))
    averaged = {}
    for key, value in tensors.items():
        if key.startswith(f"{PREFIX}ema/"):
            net, name = key[len(f"{PREFIX}ema/"):].split("/", 1)
            averaged.setdefault(net, {})[name] = value
    for net, state in averaged.items():
        getattr(model, net).load_state_dict(state)
    return model, sorted(averaged)


def train_classifier(epochs: int | None, seed: int):
    """specs/cnn_classifier.agq's network trained on real MNIST (4,000 train), and its test accuracy."""
    import agqc
    spec = agqc.load(ROOT / "specs" / "cnn_classifier.agq", {"data": "mnist()"})  # as `--set data=mnist()`
    run = spec.train(epochs=epochs, seed=seed, progress=False)
    return run.model, run.history[-1].get("val_accuracy")


def recognise(spec, model, classifier, per_class: int = PER_CLASS, seed: int = 0):
    """Per digit, the fraction of ``per_class`` generated images ``classifier`` assigns to it; and the images."""
    import torch

    from agqc.train.figures import generate
    classifier.eval()
    fractions, samples = {}, []
    for digit in range(10):
        images, _ = generate(spec, model, spec.program.train, per_class, label=digit, seed=seed + digit)
        images = (images.clamp(-1, 1) + 1) / 2  # the generator's tanh range -> MNIST's [0, 1]
        with torch.no_grad():
            predicted = classifier(images).argmax(1)
        fractions[digit] = float((predicted == digit).float().mean())
        samples.append(images)
    return fractions, samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a run folder of specs/cgan.agq (else train one)")
    ap.add_argument("-o", "--out", type=Path, help="where to train the cGAN run (default: a temporary folder)")
    ap.add_argument("--epochs", type=int, help="cGAN epochs when training (default: the spec's)")
    ap.add_argument("--classifier-epochs", type=int, default=5, help="classifier epochs on MNIST (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", type=Path, help="also write the generated samples (10 per digit) as a PNG")
    args = ap.parse_args()

    import torch

    import agqc
    from agqc.train.figures import tile
    spec = agqc.load(ROOT / "specs" / "cgan.agq")
    started = time.perf_counter()
    tmp = None
    if args.run is None:
        if args.out is None:
            tmp = tempfile.TemporaryDirectory()
            args.out = Path(tmp.name)
        spec.train(out=args.out, epochs=args.epochs, seed=args.seed)
        args.run = args.out
    gan_seconds = time.perf_counter() - started
    model, averaged = generator_weights(spec, args.run)

    torch.manual_seed(args.seed)
    classifier, classifier_accuracy = train_classifier(args.classifier_epochs, args.seed)
    classifier.eval()

    per_class, samples = recognise(spec, model, classifier.net, PER_CLASS, args.seed)
    grids = [images[:10] for images in samples]
    recognised = sum(per_class.values()) / len(per_class)
    if args.grid is not None:
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        args.grid.write_bytes(tile(torch.cat(grids), 10))

    history = []
    metrics = args.run / "metrics.csv"
    if metrics.exists():
        history = metrics.read_text().splitlines()
    result = {"run": str(args.run), "cgan_epochs": len(history) - 1 if history else None,
              "cgan_train_seconds": round(gan_seconds, 1) if tmp is not None or args.out else None,
              "generator_weights": "ema" if "G" in averaged else "last",
              "classifier_test_accuracy_on_mnist": classifier_accuracy,
              "samples": PER_CLASS * 10, "recognised": round(recognised, 4),
              "recognised_per_class": {str(k): round(v, 3) for k, v in per_class.items()}, "goal": 0.8}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0 if recognised >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
