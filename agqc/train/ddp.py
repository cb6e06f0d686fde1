"""Training on several processes: ``agqc train SPEC --nproc N`` (DistributedDataParallel).

``launch(argv, nproc)`` re-runs the same command line under PyTorch's own launcher
(``python -m torch.distributed.run --standalone --nproc-per-node=N -m agqc ...``); each
process it starts sees ``LOCAL_RANK`` and runs ``train_distributed``: one process group
(gloo on CPU, NCCL on ``--device cuda``: process k on ``cuda:k``), the usual
``session.train`` with

- ``wrap``: what runs the model's pieces, re-made at each stage start.  When the
  stage's loss runs the model's flow, the whole model in one ``DistributedDataParallel``
  (the parameters no trained network owns, frozen ones included, are left out of it);
  otherwise each trained network in its own, frozen and untrained networks as they are.
- the epoch's sums of losses and metrics added up over the processes (``seconds``: the
  slowest process's), so the history rank 0 logs is the whole batch's;
- batch norms synchronised (``SyncBatchNorm``) on GPUs.  On CPU torch has no
  synchronised batch norm (it raises "SyncBatchNorm expected input tensor to be on
  GPU"), so there each process normalises by its own share of the batch: a warning says so.

The plan's ``batch`` is per process: N processes step on N * batch examples, each taking
its share of every global batch (``core.data.batches``), and gradients are averaged, so
one step equals a one-process step on the whole N * batch (without batch norm or dropout,
to float rounding).  Rank 0 alone writes the run folder and shows progress.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import session
from .core.loop import plain

_WARNED: set[int] = set()  # models whose CPU batch norms were reported


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less ``--nproc N`` / ``--nproc=N`` (and argparse's abbreviations of it); ``--`` ends options."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        name, eq, _ = arg.partition("=")
        if len(name) > 3 and "--nproc".startswith(name):
            i += 1 if eq else 2
            continue
        out.append(arg)
        i += 1
    return out


def launch(argv: list[str], nproc: int) -> int:
    """Run ``agqc ARGV`` (less ``--nproc``) in ``nproc`` processes under torchrun; its exit status.

    While it runs, Ctrl-C is the processes' business (the terminal signals them all; they
    agree on a batch to stop after, rank 0 saves ``last``): this process waits for them,
    passes SIGTERM on, and then says 130 as a one-process run would.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "agqc", *without_nproc(argv)]
    proc = subprocess.Popen(command)
    handlers, stopped = {}, []

    def on_signal(sig, _frame) -> None:
        stopped.append(sig)
        if sig == signal.SIGTERM:
            proc.send_signal(sig)

    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = proc.wait()
        return 130 if stopped and status else status  # torchrun says 1 when its processes were signalled
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def train_distributed(spec, out: Path | None, args) -> session.Run:
    """This process's share of a torchrun launch (``LOCAL_RANK``, ``RANK``, ``WORLD_SIZE`` set by the launcher)."""
    local = int(os.environ["LOCAL_RANK"])
    cuda = str(args.device).startswith("cuda")  # `cuda:N` too: process k takes cuda:LOCAL_RANK
    if cuda:
        torch.cuda.set_device(local)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local))
    else:
        dist.init_process_group("gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        device = f"cuda:{local}" if cuda else "cpu"

        def setup(trainer) -> None:
            trainer.reduce = reduce_sums
            if rank:  # noise, dropout: each process its own draws (the model itself was built alike)
                torch.manual_seed(torch.initial_seed() + rank)
            run = trainer.run
            trainer.run = lambda on_batch=None, on_epoch=None, should_stop=None: run(
                on_batch, on_epoch, None if should_stop is None else _agreed(should_stop, device))

        resume = Path(args.resume) if args.resume else None
        run = session.train(spec, out, args.epochs, args.seed, device, args.compile, resume, progress=True,
                            rank=rank, world=world, wrap=wrap, setup=setup)
        return run if rank == 0 else replace(run, folder=None, interrupted=False)  # rank 0 reports
    finally:
        dist.destroy_process_group()


def reduce_sums(sums: dict[str, float]) -> dict[str, float]:
    """The epoch's sums added up over the processes; ``seconds`` is the slowest process's."""
    keys = sorted(set().union(*_gathered(list(sums))))
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    values = torch.tensor([sums.get(k, 0.0) for k in keys], dtype=torch.float64, device=device)
    seconds = torch.tensor([sums.get("seconds", 0.0)], dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    total = dict(zip(keys, values.tolist()))
    if "seconds" in total:
        total["seconds"] = seconds.item()
    return total


def _agreed(should_stop, device: str):
    """``should_stop`` asked before each batch, true in every process once it is in one: all stop at one batch."""
    def agreed() -> bool:
        flag = torch.tensor([1.0 if should_stop() else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())
    return agreed


def _gathered(item):
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, item)
    return out


def wrap(trainer) -> dict:
    """What runs the flow (None) and each network in this stage: DistributedDataParallel where gradients flow."""
    model, stage = trainer.model, trainer.stage
    _sync_batchnorms(model, trainer.device, trainer.rank)
    for t in (*model.parameters(), *model.buffers()):  # DDP marks what it ignores on the tensors themselves
        if hasattr(t, "_ddp_ignored"):
            del t._ddp_ignored
    nets = plain(model)
    trained = [n for n in stage["trained"] if trainer.params.get(n)]
    if not trained:
        return nets
    ids = [torch.cuda.current_device()] if str(trainer.device).startswith("cuda") else None
    reached = _reached(trainer)
    if any(call["network"] is None for call in stage["objective"]["models"]):
        # One DDP for the whole flow: the named calls of the same loss (if any) run the plain networks, and
        # their gradients land in the same parameters, which DDP averages once they are complete.
        keep = {id(p) for n in trained for p in trainer.params[n]}
        ignored = [name for name, p in model.named_parameters() if id(p) not in keep]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ignored)
        nets[None] = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=not keep <= reached)
        return nets
    for n in trained:
        unused = not {id(p) for p in trainer.params[n]} <= reached
        nets[n] = DistributedDataParallel(getattr(model, n), device_ids=ids, find_unused_parameters=unused)
    return nets


def _reached(trainer) -> set[int]:
    """The ids of the parameters the stage's losses reach, from one forward pass on two training examples.

    DDP needs ``find_unused_parameters=True`` (a search of the autograd graph at every step)
    exactly when a trained parameter gets no gradient: an output the loss does not read, a
    layer no output depends on.  The pass runs in eval mode and gives back the random
    generators' states, so training draws and batch norm statistics are as without it.
    """
    from .core import objectives
    model, objective = trainer.model, trainer.stage["objective"]
    batch = {k: v[:2] for k, v in trainer.train_data.items()}
    nets, kind, gen, device = plain(model), objective["kind"], trainer.gen, trainer.device
    modes = [(m, m.training) for m in model.modules()]
    states = (torch.get_rng_state(), gen.get_state(),
              torch.cuda.get_rng_state() if str(device).startswith("cuda") else None)
    try:
        model.eval()
        with torch.enable_grad():
            if kind == "adversarial":
                losses = [objectives.discriminator_loss(nets, objective, batch, gen, device)[0],
                          objectives.generator_loss(nets, model, objective, batch, gen, device)[0]]
            elif kind in ("reconstruction", "vae"):
                losses = [objectives.reconstruction_losses(nets, objective, batch, gen, device)[0]]
            else:
                losses = [objectives.predicting_losses(nets, objective, batch, gen, device)[0]]
        return _leaves([loss.grad_fn for loss in losses if isinstance(loss, torch.Tensor)])
    finally:
        for m, training in modes:
            m.training = training
        torch.set_rng_state(states[0])
        gen.set_state(states[1])
        if states[2] is not None:
            torch.cuda.set_rng_state(states[2])


def _leaves(roots) -> set[int]:
    """The ids of the leaf tensors (parameters) an autograd graph reaches from ``roots``."""
    seen, found, todo = set(), set(), [r for r in roots if r is not None]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            found.add(id(variable))
        todo.extend(f for f, _ in node.next_functions if f is not None)
    return found


def _sync_batchnorms(model: nn.Module, device: str, rank: int) -> None:
    """Batch norms -> SyncBatchNorm, in place (the trainer's frozen lists and optimisers keep their modules).

    What ``nn.SyncBatchNorm.convert_sync_batchnorm`` does, without new module objects: the
    class changes, the parameters and running statistics stay.  Not on CPU, where torch has none.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and not isinstance(m, nn.SyncBatchNorm)]
    if not norms:
        return
    if not str(device).startswith("cuda"):
        if rank == 0 and id(model) not in _WARNED:
            print("agqc: warning: --nproc on CPU: torch's SyncBatchNorm runs on GPUs only, so each process's batch "
                  "norms use its own share of the batch (statistics over `batch`, not batch * nproc, examples)",
                  file=sys.stderr, flush=True)
        _WARNED.add(id(model))
        return
    for m in norms:
        m.__class__ = nn.SyncBatchNorm
        m.process_group = None
