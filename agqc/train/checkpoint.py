"""Checkpoints as safetensors: a ``Trainer``'s whole state -> one file, and back.

``save(path, trainer)`` writes the model's weights under their own names (so the file
loads into the built module like any state_dict) and the training state under
``trainer/`` keys: optimiser tensors, weight averages and random-generator states, with
the rest (position, history, optimiser settings) as JSON in the file's metadata.  No
pickle is involved.  The file is written beside its target and renamed over it, so a
crash leaves the previous checkpoint whole.  ``load(path, trainer)`` restores it all.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

PREFIX = "trainer/"


def save_weights(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file
    # safetensors refuses tensors sharing memory (tied weights): each is stored as its own copy.
    own = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(own, str(tmp), metadata=metadata)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save(path: Path, trainer) -> None:
    tensors = dict(trainer.model.state_dict())
    for net, average in trainer.averages.items():
        tensors.update({f"{PREFIX}ema/{net}/{k}": v for k, v in average.shadow.items()})
    optimizers = {}
    for net, opt in trainer.opts.items():
        state = opt.state_dict()
        scalars = {}
        for index, entry in state["state"].items():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{PREFIX}optim/{net}/{index}/{key}"] = value
                else:
                    scalars[f"{index}/{key}"] = value
        optimizers[net] = {"param_groups": state["param_groups"], "scalars": scalars}
    tensors[f"{PREFIX}rng/torch"] = torch.get_rng_state()
    tensors[f"{PREFIX}rng/gen"] = trainer.gen.get_state()
    meta = {"stage_index": trainer.stage_index, "epoch": trainer.epoch, "batch_index": trainer.batch_index,
            "global_epoch": trainer.global_epoch, "sums": trainer.sums, "history": trainer.history,
            "best": trainer.best, "stopped": trainer.stopped, "steps": trainer.steps,
            "micro": [[list(k), v] for k, v in trainer.micro.items()],
            "plateaus": {n: p.state() for n, p in trainer.plateaus.items()}, "optimizers": optimizers}
    save_weights(path, tensors, {"agqc": json.dumps(meta)})


def read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open
    tensors = {}
    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads((fh.metadata() or {}).get("agqc", "{}"))
        for key in fh.keys():
            tensors[key] = fh.get_tensor(key)
    return tensors, meta


def load(path: Path, trainer) -> None:
    tensors, meta = read(path)
    if not meta:
        raise ValueError(f"{path} holds weights but no training state: resume from a run's last.safetensors")
    trainer.stage_index = meta["stage_index"]
    trainer._setup_stage()
    trainer.model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(PREFIX)})
    for net, average in trainer.averages.items():
        average.shadow = {k: tensors[f"{PREFIX}ema/{net}/{k}"] for k in average.shadow}
    for net, opt in trainer.opts.items():
        saved = meta["optimizers"][net]
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith(f"{PREFIX}optim/{net}/"):
                index, name = key[len(f"{PREFIX}optim/{net}/"):].split("/", 1)
                state.setdefault(int(index), {})[name] = value
        for key, value in saved["scalars"].items():
            index, name = key.split("/", 1)
            state.setdefault(int(index), {})[name] = value
        opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    torch.set_rng_state(tensors[f"{PREFIX}rng/torch"])
    trainer.gen.set_state(tensors[f"{PREFIX}rng/gen"])
    for key in ("epoch", "batch_index", "global_epoch", "sums", "history", "stopped", "steps"):
        setattr(trainer, key, meta[key])
    trainer.best = tuple(meta["best"]) if meta["best"] is not None else None
    trainer.micro = {tuple(k): v for k, v in meta["micro"]}
    for net, state in meta["plateaus"].items():
        trainer.plateaus[net].load(state)
    trainer._set_lrs()


def weights_only(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's model weights, without the training state."""
    return {k: v for k, v in tensors.items() if not k.startswith(PREFIX)}
