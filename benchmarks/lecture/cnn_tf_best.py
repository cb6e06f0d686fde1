"""Study 3, CNN_TF_Best: a pre-trained, frozen, then fine-tuned encoder + transformer head vs scratch.

Trains specs/cnn_tf_best.agq (stage 1: the convolutional autoencoder; stage 2: the transformer head on
the frozen encoder; stage 3: both fine-tuned) and specs/cnn_tf_scratch.agq (the same encoder and head,
as many epochs, classification only), each as written and with augmented training data.  Measures
all four on the clean test digits, on an augmented test set (every test digit shifted up to 2
pixels, turned up to 15 degrees and given noise of std 0.1, by agqc's own augmentations, seeded) and
on the robustness curves of agqc.studies.robustness.  Writes cnn_tf_best.json and cnn_tf_best.png.

    .venv/bin/python benchmarks/lecture/cnn_tf_best.py
"""
from __future__ import annotations

from common import SPECS, Study, arguments, test_images

AUGMENTED = (("shift", {"pixels": 2}), ("rotate", {"degrees": 15.0}), ("noise", {"std": 0.1}))
# The lecture quotes its figures for "artificially supplemented" test *and training* sets: the last two
# variants train with the augmented test set's distortions too (`--set augment=...`; drawn afresh
# each epoch; in the pre-training stage that makes a denoising autoencoder, its target the clean digit).
TRAIN_AUGMENTED = ["augment = shift(2), rotate(15), noise(0.1)"]
VARIANTS = {"pre-trained (CNN_TF_Best)": ("cnn_tf_best.agq", []),
            "from scratch": ("cnn_tf_scratch.agq", []),
            "pre-trained, augmented training": ("cnn_tf_best.agq", TRAIN_AUGMENTED),
            "from scratch, augmented training": ("cnn_tf_scratch.agq", TRAIN_AUGMENTED)}


def augmented(images, seed: int):
    import torch

    from agqc.train.core import data
    g = torch.Generator().manual_seed(seed)
    fields = {"images": images}
    for name, params in AUGMENTED:
        fields = data.augment(fields, name, params, g)
    return fields["images"].clamp(0, 1)


def main() -> None:
    args = arguments(__doc__).parse_args()
    study = Study("cnn_tf_best", args)
    import torch

    import agqc
    from agqc.studies import robustness
    quick = ["epochs=1"] if args.quick else []
    classifiers, result = {}, {"augmented_test": [f"{n}({', '.join(f'{k}={v}' for k, v in p.items())})"
                                                  for n, p in AUGMENTED], "models": {}}
    for label, (file, sets) in VARIANTS.items():
        spec = agqc.load(SPECS / file, sets + quick)
        run = spec.train(seed=args.seed, progress=False)
        classifiers[label] = torch.nn.Sequential(run.model.enc, run.model.head)
        result["models"][label] = {"spec": f"specs/{file}", "set": sets, "epochs": len(run.history),
                                   "stages": [r.get("stage") for r in run.history],
                                   "train_seconds": round(sum(r.get("seconds", 0.0) for r in run.history), 1)}
    images, labels = test_images(spec)
    if args.quick:
        images, labels = images[:100], labels[:100]
    shaken = augmented(images, args.seed)
    for label, net in classifiers.items():
        result["models"][label]["clean_accuracy"] = robustness.accuracy(net, images, labels)
        result["models"][label]["augmented_accuracy"] = robustness.accuracy(net, shaken, labels)
    result["curves"] = robustness.curves(classifiers, images, labels, seed=args.seed)
    result["test_images"] = len(images)
    study.png("cnn_tf_best.png", robustness.plot_curves(
        result["curves"], f"CNN_TF_Best vs the same classifier from scratch: {len(images):,} MNIST test digits"))
    study.save(result)


if __name__ == "__main__":
    main()
