"""The training commands: ``agqc train``, ``agqc eval``, ``agqc sample`` and ``agqc sweep``.

Takes the parsed arguments (``add_parsers`` declares them on ``agqc.cli``'s parser);
returns an exit status like every command: 0 fine, 1 the user's problem (a spec with
no train section, a weights file that does not fit), 130 interrupted after saving.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="train the model as its `train` section says; writes a run folder")
    t.add_argument("spec")
    t.add_argument("-o", "--output", metavar="RUN", help="run folder (default: runs/<spec name>/)")
    t.add_argument("--epochs", type=_positive, help="epochs per stage, instead of the spec's")
    t.add_argument("--seed", type=_natural, help="instead of the spec's seed")
    t.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    t.add_argument("--compile", action="store_true", help="torch.compile the model first")
    t.add_argument("--nproc", type=_positive, default=1,
                   help="processes (torchrun + DistributedDataParallel; gloo on CPU, NCCL on GPU)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its last.safetensors")
    e = sub.add_parser("eval", help="the test split's loss and metrics for trained weights")
    e.add_argument("spec")
    e.add_argument("--weights", required=True, metavar="FILE", help="a .safetensors (or torch.save) state_dict")
    e.add_argument("--device", default="cpu")
    s = sub.add_parser("sample", help="generate images from a trained generator or VAE decoder")
    s.add_argument("spec")
    s.add_argument("--weights", required=True, metavar="FILE")
    s.add_argument("--label", type=_natural, help="the class to generate (conditional models); default one row "
                   "per class")
    s.add_argument("-n", type=_positive, default=64, help="how many (default 64)")
    s.add_argument("--seed", type=_natural, default=0)
    s.add_argument("-o", "--output", default="samples.png", help="PNG to write (default samples.png)")
    w = sub.add_parser("sweep", help="train once per seed; the final metric's mean, std, min, max, range")
    w.add_argument("spec")
    w.add_argument("--seeds", required=True, help="0..19 (inclusive), 3, or 1,5,9")
    w.add_argument("--jobs", type=_positive, default=1, help="runs at once, one core each (default 1)")
    w.add_argument("-o", "--output", metavar="DIR", help="sweep folder (default: runs/<spec name>-sweep/)")
    w.add_argument("--epochs", type=_positive, help="epochs per stage, instead of the spec's")
    w.add_argument("--metric", help="metrics.csv column (default val_accuracy for classifiers, else val_loss)")
    w.add_argument("--set", action="append", metavar="NAME=VALUE", dest="sets", type=_override,
                   help="train with this override too; repeat a NAME for several values (a grid of all of them)")
    for p in (t, e, s):
        add_set(p)


def add_set(parser) -> None:
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", dest="sets", type=_override,
                        help="change a train setting, a const or the model's precision, e.g. epochs=3, WIDTH=512, "
                             "precision=fp64 (repeatable)")


def _positive(text: str) -> int:
    import argparse
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, found `{text}`")
    return int(text)


def _override(text: str) -> str:
    import argparse

    from .overrides import parse_override
    try:
        return parse_override(text).text
    except ValueError as why:
        raise argparse.ArgumentTypeError(str(why).removeprefix(f"--set {text}: ")) from None


def _natural(text: str) -> int:
    import argparse
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, found `{text}`")
    return int(text)


def _trainable(path: str, sets: list[str] | None = None):
    from .cli import _load
    spec = _load(path, sets)
    spec.require_model()
    if spec.program.train is None:
        print(f"agqc: error: {path} has no `train` section, so there is nothing to train with.\n"
              "  Add one to the model, e.g.\n    train {\n        data = digits()\n        optimizer = adam(lr=1e-3)"
              "\n        epochs = 5\n    }\n  (docs/training.md lists every setting)", file=sys.stderr)
        return None
    return spec


def cmd_train(args) -> int:
    # MKL may otherwise pick fewer threads when the machine is busy, which changes the order of its sums and
    # so the last bits of a step: a resumed run must end on the same weights as an uninterrupted one.
    os.environ.setdefault("MKL_DYNAMIC", "FALSE")
    from .train.core.data import DataMissing
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        from .train.ddp import launch
        return launch(sys.argv[1:], args.nproc)
    spec = _trainable(args.spec, args.sets)
    if spec is None:
        return 1
    from .build import output_stem
    out = Path(args.resume or args.output or Path("runs") / output_stem(args.spec))
    if args.resume and not (out / "last.safetensors").is_file():
        print(f"agqc: error: {out} has no last.safetensors to resume from", file=sys.stderr)
        return 1
    from .train import session
    problem = _device_problem(args.device)
    if problem:
        print(f"agqc: error: {problem}", file=sys.stderr)
        return 1
    try:
        if "LOCAL_RANK" in os.environ:
            from .train.ddp import train_distributed
            run = train_distributed(spec, out, args)
        else:
            run = session.train(spec, out, args.epochs, args.seed, args.device, args.compile,
                                Path(args.resume) if args.resume else None)
    except DataMissing as missing:
        print(f"agqc: error: {missing}", file=sys.stderr)
        return 1
    if run.interrupted:
        print(f"agqc: interrupted; saved {out / 'last.safetensors'}. Continue with: agqc train {args.spec} "
              f"--resume {out}", file=sys.stderr)
        return 130
    if run.folder is not None:
        print(f"wrote {run.folder}/ (metrics.csv, loss.png, best.safetensors, last.safetensors)")
    return 0


def _device_problem(device: str) -> str | None:
    """Why ``--device`` cannot be used here, or None."""
    import torch
    try:
        where = torch.device(device)
    except RuntimeError:
        return f"--device {device}: expected cpu, cuda or cuda:N"
    if where.type == "cuda" and not torch.cuda.is_available():
        return f"--device {device}: this torch has no usable CUDA GPU (torch {torch.__version__}); train on cpu"
    if where.type == "cuda" and where.index is not None and where.index >= torch.cuda.device_count():
        return f"--device {device}: there are {torch.cuda.device_count()} GPUs"
    if where.type not in ("cpu", "cuda"):
        return f"--device {device}: agqc trains on cpu or cuda"
    return None


def _with_weights(args):
    spec = _trainable(args.spec, args.sets)
    if spec is None:
        return None, None
    from .build import BuildError, read_weights
    model = spec.build()
    try:
        state = read_weights(Path(args.weights))
        model.load_state_dict(state)
    except (BuildError, RuntimeError) as err:
        print(f"agqc: error: {' '.join(str(err).split())[:500]}", file=sys.stderr)
        return None, None
    return spec, model


def weights_report(spec, path: Path) -> str | None:
    """A line saying trained weights fit the model (and what the file says of them), or None after an error."""
    from .build import BuildError, read_weights
    spec.require_model()
    model = spec.build()
    try:
        state = read_weights(path)
        model.load_state_dict(state)
    except (BuildError, RuntimeError) as err:
        print(f"agqc: error: {' '.join(str(err).split())[:500]}", file=sys.stderr)
        return None
    params = sum(p.numel() for p in model.parameters())
    note = ""
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        note = ", ".join(f"{k} {v}" for k, v in meta.items() if k != "agqc")
    return f"weights: {path} fits ({len(state)} tensors, {params:,} parameters{'; ' + note if note else ''})"


def cmd_eval(args) -> int:
    problem = _device_problem(args.device)
    if problem:
        print(f"agqc: error: {problem}", file=sys.stderr)
        return 1
    spec, model = _with_weights(args)
    if spec is None:
        return 1
    from .train.core.loop import Trainer
    plan = spec.program.train
    trainer = Trainer(model.to(args.device), plan.to_json(), device=args.device)
    trainer.stage_index = len(plan.stages) - 1
    trainer._setup_stage()
    for key, value in trainer.evaluate().items():
        print(f"{key:>16}  {value:.6g}")
    return 0


def cmd_sample(args) -> int:
    spec, model = _with_weights(args)
    if spec is None:
        return 1
    from .build import write_atomically
    from .train.figures import conditional, generate, tile
    classes = next((f.classes for f in spec.program.train.data.fields if f.dtype == "int" and f.classes), None)
    if not conditional(spec.program.train):
        classes = None
    if args.label is not None and (classes is None or args.label >= classes):
        print(f"agqc: error: --label {args.label}: " + (f"the data has classes 0 to {classes - 1}" if classes else
              f"{args.spec} generates without labels"), file=sys.stderr)
        return 1
    made = generate(spec, model, spec.program.train, args.n, args.label, args.seed)
    if made is None:
        print(f"agqc: error: {args.spec} trains no generator or VAE decoder to sample from", file=sys.stderr)
        return 1
    images, rows = made
    write_atomically({Path(args.output): tile(images, rows if args.label is None else max(1, args.n // 8))})
    print(f"wrote {args.output}")
    return 0


def cmd_sweep(args) -> int:
    from .train import sweep as sw
    try:
        seeds = sw.parse_seeds(args.seeds)
    except ValueError as err:
        print(f"agqc: error: {err}", file=sys.stderr)
        return 1
    spec = _trainable(args.spec)  # each point of the --set grid is checked as the sweep reaches it
    if spec is None:
        return 1
    from .build import output_stem
    out = Path(args.output or Path("runs") / f"{output_stem(args.spec)}-sweep")
    try:
        result = sw.sweep(args.spec, spec.program.train, seeds, out, args.jobs, args.epochs, args.metric,
                          sets=args.sets)
    except ValueError as why:
        print(f"agqc: error: {why}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    result.write()
    for point in result.points:
        stats = result.summary(point)
        if stats:
            said = f"{point.label}: " if point.sets else ""
            print(f"{said}{result.metric} over {stats['n']} seeds: mean {stats['mean']:.6g}  std {stats['std']:.6g}  "
                  f"min {stats['min']:.6g}  max {stats['max']:.6g}  range {stats['range']:.6g}")
    if result.results:
        print(f"wrote {out / 'sweep.csv'}, {out / 'sweep.png'}")
    if result.failed:
        where = ", ".join(str(result.folder(p, k) / "stderr.txt") for p, k in result.failed)
        print(f"agqc: error: {len(result.failed)} run(s) failed or have no `{result.metric}` column; see {where}",
              file=sys.stderr)
        return 1
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "sweep": cmd_sweep}
