"""Figures of a run: loss curves and sample grids, as PNG bytes (matplotlib, no display needed).

``loss_curves(history)`` plots every loss column per epoch; ``generate(spec, model, plan, n,
label, seed)`` draws images from a trained generator or decoder (one row per class for a
conditional generator); ``sample_grid`` and ``reconstruction_grid`` tile them for the run
folder and for `agqc sample`.
"""
from __future__ import annotations

import io

import torch

from .options import ObjectiveKind
from .plan import TrainPlan


def _figure():
    import matplotlib
    matplotlib.use("Agg")  # no display: runs on servers and in tests
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _figure().close(fig)
    return buffer.getvalue()


def loss_curves(history: list[dict], title: str = "") -> bytes:
    plt = _figure()
    columns = [k for k in dict.fromkeys(k for row in history for k in row)
               if "loss" in k or k in ("accuracy", "val_accuracy")]
    losses = [k for k in columns if "loss" in k]
    scores = [k for k in columns if "accuracy" in k]
    fig, axes = plt.subplots(1, 2 if scores else 1, figsize=(9 if scores else 5.5, 3.4), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for key in losses:
        axes[0][0].plot(epochs, [row.get(key, float("nan")) for row in history], marker="o", ms=3, label=key)
    axes[0][0].set(xlabel="epoch", ylabel="loss", title=f"{title} loss".strip())
    axes[0][0].legend(fontsize=8)
    if scores:
        for key in scores:
            axes[0][1].plot(epochs, [row.get(key, float("nan")) for row in history], marker="o", ms=3, label=key)
        axes[0][1].set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title="accuracy")
        axes[0][1].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def generative(plan: TrainPlan) -> ObjectiveKind | None:
    kinds = [s.objective.kind for s in plan.stages]
    return next((k for k in kinds if k in (ObjectiveKind.ADVERSARIAL, ObjectiveKind.VAE)), None)


@torch.no_grad()
def generate(spec, model, plan: TrainPlan, n: int = 64, label: int | None = None, seed: int = 0):
    """``n`` images from the generator (labels: ``label``, or one row per class) or the VAE's decoder."""
    kind = generative(plan)
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    if kind == ObjectiveKind.ADVERSARIAL:
        call = next(s.objective.generator for s in plan.stages if s.objective.generator is not None)
        assert call is not None and call.network is not None
        inputs, rows = [], 8
        classes = next((f.classes for f in plan.data.fields if f.dtype == "int" and f.classes), None)
        for feed in call.inputs:
            if feed.field is None:
                inputs.append(torch.randn((n, *feed.shape), generator=g).to(device))
                continue
            if label is not None:
                labels = torch.full((n,), label, dtype=torch.long)
            else:
                rows = classes or 8
                per_row = max(1, n // rows)
                labels = torch.arange(rows).repeat_interleave(per_row)
                n = labels.shape[0]
                inputs = [x[:n] if x.shape[0] >= n else torch.randn((n, *x.shape[1:]), generator=g) for x in inputs]
            inputs.append(labels.to(device))
        return getattr(model, call.network)(*inputs), rows if label is None else 8
    if kind == ObjectiveKind.VAE:
        decoder = next(n.name for n in spec.program.networks if n.role == "decoder")
        z_type = spec.input_types(decoder)[0]
        z = torch.randn((n, *[int(d) for d in z_type.shape[1:]]), generator=g).to(device)
        return getattr(model, decoder)(z), 8
    return None


def tile(images: torch.Tensor, rows: int) -> bytes:
    """Images [N, C, H, W] (or [N, H*W]) in a grid of ``rows`` rows, as a PNG."""
    x = images.detach().float().cpu()
    if x.dim() == 2:
        side = int(round(x.shape[1] ** 0.5))
        x = x.reshape(-1, 1, side, side)
    if x.min() < 0:
        x = (x + 1) / 2  # a tanh generator's [-1, 1]
    x = x.clamp(0, 1)
    n, c, h, w = x.shape
    cols = max(1, -(-n // rows))
    canvas = torch.ones(c, rows * (h + 2), cols * (w + 2))
    for i in range(n):
        r, col = divmod(i, cols)
        canvas[:, r * (h + 2) + 1:r * (h + 2) + 1 + h, col * (w + 2) + 1:col * (w + 2) + 1 + w] = x[i]
    plt = _figure()
    fig = plt.figure(figsize=(cols * 0.45 + 0.2, rows * 0.45 + 0.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray" if c == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    return _png(fig)


def sample_grid(spec, model, plan: TrainPlan, seed: int = 0) -> bytes | None:
    made = generate(spec, model, plan, 80 if conditional(plan) else 64, seed=seed)
    if made is None:
        return None
    images, rows = made
    model.train()
    return tile(images, rows)


def conditional(plan: TrainPlan) -> bool:
    return any(s.objective.generator is not None and any(f.field for f in s.objective.generator.inputs)
               for s in plan.stages)


@torch.no_grad()
def reconstruction_grid(model, trainer, n: int = 32) -> bytes | None:
    """Test images (odd rows) above their reconstructions (even rows), for autoencoders and VAEs."""
    objective = trainer.stage["objective"]
    if objective["kind"] not in ("reconstruction", "vae"):
        return None
    from .core import objectives
    from .core.loop import plain
    batch = {k: v[:n] for k, v in trainer.test_data.items()}
    model.eval()
    outs = objectives.run(plain(model), objective["models"][0], batch, trainer.gen, trainer.device)
    recon = outs[objectives.output(objective, "reconstruction")]
    original = batch[objective["target"]]
    pairs = torch.stack([original.reshape(recon.shape), recon], 1)  # [n, 2, ...]
    rows = 8
    per = n // (rows // 2)
    tiles = pairs.reshape(rows // 2, per, 2, *recon.shape[1:]).transpose(1, 2).reshape(-1, *recon.shape[1:])
    model.train()
    return tile(tiles, rows)
