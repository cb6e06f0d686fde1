"""How classifiers cope with inputs unlike their training set: accuracy against distortion strength.

Takes trained image classifiers (modules mapping [N, C, H, W] in [0, 1] to logits), test images and
labels; gives, per distortion (``shift``, ``rotate``, ``noise``, ``invert``) and strength, each
classifier's accuracy (``curves``), and a figure with one panel per distortion and one curve per
classifier (``plot_curves``).  Every distortion has an exact strength, so a curve's x axis means
something: ``shift`` moves each digit by that many pixels in a random one of the eight compass
directions, ``rotate`` turns it by that many degrees either way, ``noise`` adds gaussian noise of that
standard deviation (clamped back to [0, 1]), ``invert`` blends the image towards 1 - image (1.0: white
digit on black becomes black on white).  The random parts (direction, sign, noise) are drawn from
``seed`` alone, so every classifier sees the same distorted images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Distortion:
    name: str
    unit: str                          # the x axis' label
    strengths: tuple[float, ...]       # 0 first: the clean test set
    apply: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _shift(images: torch.Tensor, pixels: float, g: torch.Generator) -> torch.Tensor:
    k = int(pixels)
    if k == 0:
        return images.clone()
    n, _, h, w = images.shape
    compass = torch.tensor([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
    dy, dx = (compass[torch.randint(8, (n,), generator=g)] * k).T
    padded = F.pad(images, (k,) * 4)
    rows = torch.arange(h) + k - dy[:, None]  # output row i reads input row i - dy
    cols = torch.arange(w) + k - dx[:, None]
    picked = padded[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2).contiguous()  # advanced indices first: [N, H, W, C] -> [N, C, H, W]


def _rotate(images: torch.Tensor, degrees: float, g: torch.Generator) -> torch.Tensor:
    n, _, h, w = images.shape
    sign = torch.randint(2, (n,), generator=g).to(images.dtype) * 2 - 1
    angle = sign * math.radians(degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def _noise(images: torch.Tensor, std: float, g: torch.Generator) -> torch.Tensor:
    return (images + std * torch.randn(images.shape, generator=g).to(images.dtype)).clamp(0, 1)


def _invert(images: torch.Tensor, amount: float, g: torch.Generator) -> torch.Tensor:
    return (1 - amount) * images + amount * (1 - images)


DISTORTIONS: dict[str, Distortion] = {d.name: d for d in (
    Distortion("shift", "pixels", (0, 1, 2, 3, 4, 5, 6), _shift),
    Distortion("rotate", "degrees", (0, 10, 20, 30, 45, 60, 90), _rotate),
    Distortion("noise", "noise standard deviation", (0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0), _noise),
    Distortion("invert", "fraction inverted", (0, 0.25, 0.5, 0.75, 1.0), _invert),
)}


def distort(images: torch.Tensor, name: str, strength: float, seed: int = 0) -> torch.Tensor:
    """``images`` ([N, C, H, W] in [0, 1]) distorted by ``name`` at ``strength``; the same for the same seed."""
    if images.dim() != 4:
        raise ValueError(f"expected images [N, C, H, W], found a tensor of shape {list(images.shape)}")
    return DISTORTIONS[name].apply(images, strength, torch.Generator().manual_seed(seed))


@torch.no_grad()
def accuracy(classifier: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """The fraction of ``images`` whose largest logit is at the label (the classifier in eval mode)."""
    classifier.eval()
    right = 0
    for start in range(0, len(images), batch):
        logits = classifier(images[start:start + batch])
        right += int((logits.argmax(-1) == labels[start:start + batch]).sum())
    return right / max(1, len(images))


Curves = dict[str, dict[str, list[tuple[float, float]]]]  # distortion -> classifier -> [(strength, accuracy)]


def curves(classifiers: Mapping[str, torch.nn.Module], images: torch.Tensor, labels: torch.Tensor,
           distortions: tuple[str, ...] = tuple(DISTORTIONS), seed: int = 0,
           strengths: Mapping[str, tuple[float, ...]] | None = None) -> Curves:
    """Each classifier's accuracy on the test images distorted at every strength of every distortion."""
    out: Curves = {}
    for name in distortions:
        out[name] = {c: [] for c in classifiers}
        for strength in (strengths or {}).get(name, DISTORTIONS[name].strengths):
            seen = distort(images, name, strength, seed)
            for c, net in classifiers.items():
                out[name][c].append((float(strength), accuracy(net, seen, labels)))
    return out


def plot_curves(result: Curves, title: str = "") -> bytes:
    """A PNG: one panel per distortion, accuracy (%) against strength, one line per classifier."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(result)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), dpi=110, sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        for i, (classifier, points) in enumerate(result[name].items()):
            xs, ys = zip(*points)
            ax.plot(xs, [100 * y for y in ys], marker="os^Dv"[i % 5], label=classifier, lw=1.6)
        ax.axhline(10, color="grey", lw=0.8, ls=":")  # chance for ten classes
        ax.set_title(name)
        ax.set_xlabel(DISTORTIONS[name].unit if name in DISTORTIONS else "strength")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def examples(images: torch.Tensor, distortions: tuple[str, ...] = tuple(DISTORTIONS), seed: int = 0) -> bytes:
    """A PNG: one row per distortion, one test image at each of its strengths, to see what the models saw."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    width = max(len(DISTORTIONS[d].strengths) for d in distortions)
    fig, axes = plt.subplots(len(distortions), width, figsize=(1.1 * width, 1.25 * len(distortions)), dpi=100,
                             squeeze=False)
    for row, name in zip(axes, distortions):
        for ax in row:
            ax.axis("off")
        for ax, strength in zip(row, DISTORTIONS[name].strengths):
            ax.imshow(distort(images[:1], name, strength, seed)[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{name} {strength:g}", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
