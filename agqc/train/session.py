"""A training run: a checked spec -> a run folder with metrics, curves, samples and checkpoints.

``train(spec, out, ...)`` seeds torch, builds the model, runs ``core.loop.Trainer`` with a
progress bar (tqdm: a bar per epoch on a terminal or in a notebook, one plain line per
epoch otherwise), and after each epoch writes into ``out``: ``metrics.csv``, ``loss.png``,
``samples.png`` (generative models), ``last.safetensors`` (weights + training state) and
``best.safetensors`` (weights alone, when the watched metric improved).  ``spec.agq``
and ``options.json`` (resolved plan, versions, seed) record what ran.  Ctrl-C (or
SIGTERM) stops at the next batch and saves ``last``; ``resume=`` continues from one.
"""
from __future__ import annotations

import csv
import io
import json
import platform
import signal
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from . import checkpoint
from .core.loop import Trainer
from .plan import TrainPlan


@dataclass
class Run:
    """What a run gives back: the trained module, its history and where it was written."""

    model: Any
    history: list[dict] = field(default_factory=list)
    folder: Path | None = None
    interrupted: bool = False

    def __repr__(self) -> str:
        last = self.history[-1] if self.history else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float) and k != "seconds")
        return f"<agqc run: {len(self.history)} epochs{', ' if shown else ''}{shown}>"


def with_overrides(plan: TrainPlan, epochs: int | None = None, seed: int | None = None) -> TrainPlan:
    if epochs is not None:
        plan = replace(plan, stages=tuple(replace(s, epochs=epochs) for s in plan.stages))
    if seed is not None:
        plan = replace(plan, seed=seed)
    return plan


def make_trainer(spec, plan: TrainPlan, device: str = "cpu", compile: bool = False, rank: int = 0, world: int = 1,
                 wrap=None) -> Trainer:
    """Seed, build and put the model on ``device``: the order the emitted script follows too."""
    torch.manual_seed(plan.seed)
    model = spec.build().to(device)
    if compile:  # the objectives call the networks as often as the flow: compile each (in place: same keys)
        model.compile()
        for network in model.children():
            network.compile()
    from .generated import generators
    return Trainer(model, plan.to_json(), device=device, rank=rank, world=world, wrap=wrap,
                   generators=generators(plan, device))


def train(spec, out: Path | None = None, epochs: int | None = None, seed: int | None = None, device: str = "cpu",
          compile: bool = False, resume: Path | None = None, progress: bool = True, rank: int = 0, world: int = 1,
          wrap=None, setup=None) -> Run:
    """``wrap``: what runs the model's pieces (``Trainer``'s); ``setup(trainer)``: called once the trainer is
    made, before ``resume`` loads (``ddp`` sets its all-reduce there)."""
    plan = with_overrides(spec.program.train, epochs, seed)
    trainer = make_trainer(spec, plan, device, compile, rank, world, wrap)
    if setup is not None:
        setup(trainer)
    if resume is not None:
        checkpoint.load(Path(resume) / "last.safetensors", trainer)
    writer = _Folder(spec, plan, out) if out is not None and rank == 0 else None
    stop = threading.Event()
    with _stop_on_signals(stop), _Progress(trainer, progress and rank == 0) as bar:
        def on_epoch(t: Trainer, row: dict) -> None:
            bar.epoch_done(row)
            if writer is not None:
                writer.epoch(t, row)
        trainer.run(on_batch=bar.batch_done, on_epoch=on_epoch, should_stop=stop.is_set)
    if writer is not None:
        writer.finish(trainer)
    return Run(trainer.model, trainer.history, out, trainer.interrupted)


class _stop_on_signals:
    """Ctrl-C and SIGTERM set ``stop``: the loop ends after its batch and the checkpoint is saved."""

    def __init__(self, stop: threading.Event):
        self.stop, self.saved = stop, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, lambda *_: self.stop.set())
        return self

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


class _Progress:
    """A bar per epoch (tqdm) when someone watches; one line per epoch otherwise."""

    def __init__(self, trainer: Trainer, show: bool):
        self.trainer, self.show, self.bar = trainer, show, None
        self.tty = show and (sys.stderr.isatty() or "ipykernel" in sys.modules)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close()
        return False

    def batch_done(self, trainer: Trainer, out: dict) -> None:
        if not self.tty:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            from .core import data as datasets
            total = datasets.steps_per_epoch(len(next(iter(trainer.train_data.values()))), trainer.batch,
                                             trainer.world)
            self.bar = tqdm(total=total, desc=f"epoch {trainer.global_epoch + 1}", leave=False, file=sys.stderr,
                            initial=trainer.batch_index - 1)
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in out.items()}, refresh=False)

    def epoch_done(self, row: dict) -> None:
        if not self.show:
            return
        shown = "  ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k not in ("epoch", "stage") and
                          not k.startswith("dead "))
        line = f"epoch {row['epoch']} ({row['stage']})  {shown}"
        self._close()  # the bar goes; the epoch's line stays
        print(line, file=sys.stderr, flush=True)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class _Folder:
    """The run folder's files, rewritten whole after each epoch (each by a rename)."""

    def __init__(self, spec, plan: TrainPlan, out: Path):
        self.spec, self.plan, self.out = spec, plan, Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.watch = "val_accuracy" if any(s.objective.kind == "classification" for s in plan.stages) else "val_loss"
        self.best: float | None = None
        from ..build import write_atomically
        self.write = write_atomically
        text = Path(spec.program.file).read_text(encoding="utf-8")
        options = {"plan": plan.to_json(), "seed": plan.seed, "agqc": __version__, "torch": torch.__version__,
                   "python": platform.python_version(), "spec": spec.program.file, "argv": sys.argv}
        self.write({self.out / "spec.agq": text, self.out / "options.json": json.dumps(options, indent=1) + "\n"})
        self.tensorboard = _tensorboard(self.out)

    def epoch(self, trainer: Trainer, row: dict) -> None:
        checkpoint.save(self.out / "last.safetensors", trainer)
        value = row.get(self.watch)
        if value is not None and (self.best is None or (value > self.best if self.watch == "val_accuracy"
                                                         else value < self.best)):
            self.best = value
            self._save_best(trainer, row)
        self.write({self.out / "metrics.csv": _csv(trainer.history)})
        from .figures import loss_curves, sample_grid
        self.write({self.out / "loss.png": loss_curves(trainer.history, self.spec.name)})
        for a in trainer.averages.values():  # samples from the weights `best` keeps: the averages, if any
            a.swap()
        try:
            grid = sample_grid(self.spec, trainer.model, self.plan)
        finally:
            for a in trainer.averages.values():
                a.swap()
        if grid is not None:
            self.write({self.out / "samples.png": grid})
        if self.tensorboard is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)):
                    self.tensorboard.add_scalar(k, v, row["epoch"])

    def _save_best(self, trainer: Trainer, row: dict) -> None:
        for a in trainer.averages.values():
            a.swap()
        try:
            checkpoint.save_weights(self.out / "best.safetensors", trainer.model.state_dict(),
                                    {"epoch": str(row["epoch"]), self.watch: str(row[self.watch])})
        finally:
            for a in trainer.averages.values():
                a.swap()

    def finish(self, trainer: Trainer) -> None:
        if trainer.interrupted:
            checkpoint.save(self.out / "last.safetensors", trainer)
        if not (self.out / "best.safetensors").exists() and not trainer.interrupted:
            self._save_best(trainer, {"epoch": trainer.global_epoch, self.watch: float("nan")})
        if self.tensorboard is not None:
            self.tensorboard.close()


def _csv(history: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    w = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(history)
    return buffer.getvalue()


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: metrics.csv has every number
        return None
    return SummaryWriter(str(out / "tensorboard"))
