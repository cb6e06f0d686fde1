"""The transforms and augmentations of `agqc train`'s data, by name, and the fields they act on.

Takes the fields of a dataset: at check time their `Field`s (dtype and shape per example), at run time tensors with
the examples first; and a transform's or augmentation's name and parameters as the spec gives them.
Gives `TRANSFORMS` and `AUGMENTATIONS`, each entry with its parameters, a line of docs, `reshape()` (check time: the
field it makes, or ValueError when it cannot apply) and `apply()`; `image_fields()`, the fields they act on; and
`transform()` and `augment()`, which apply one to those fields (an augmentation drawing from its generator only).

Imports: the standard library, and torch only inside the functions that make tensors, as data.py, which re-exports
every public name here. The source is copied verbatim into the standalone training script, and `agqc check`, which
never imports torch, calls reshape().
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from .schema import REQUIRED, Field, Param, positive, with_defaults

if TYPE_CHECKING:
    import torch

__all__ = ["Transform", "Augmentation", "TRANSFORMS", "AUGMENTATIONS", "image_fields", "transform", "augment"]


def image_fields(fields: Mapping[str, Field | torch.Tensor]) -> list[str]:
    """The fields transforms and augmentations act on: float fields with two or more dimensions per example (images
    [C, H, W] or [H, W]), and a float field named `images` whatever its rank (it stays one after flatten())."""
    def is_image(name, f):
        if isinstance(f, Field):
            return f.dtype == "float" and (name == "images" or len(f.shape) >= 2)
        return f.is_floating_point() and (name == "images" or f.dim() >= 3)
    return [name for name, f in fields.items() if is_image(name, f)]


def _float(field: Field, what: str) -> Field:
    if field.dtype != "float":
        raise ValueError(f"{what} applies to float images, not int {list(field.shape)}")
    return field


def _spatial(field: Field, what: str) -> Field:
    if len(_float(field, what).shape) not in (2, 3):
        raise ValueError(f"{what} needs images [C, H, W] or [H, W], not {list(field.shape)}")
    return field


def _as_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1) if x.dim() == 3 else x  # [N, H, W] -> [N, 1, H, W]; the caller reshapes back


@dataclass(frozen=True)
class Transform:
    name: str
    params: tuple[Param, ...]
    doc: str
    reshape: Callable[[Mapping, Field], Field]                 # check time; ValueError when it cannot apply
    apply: Callable[[Mapping, torch.Tensor], torch.Tensor]     # on [N, ...] tensors


@dataclass(frozen=True)
class Augmentation:
    name: str
    params: tuple[Param, ...]
    doc: str
    reshape: Callable[[Mapping, Field], Field]   # check time: the field unchanged, or ValueError when it cannot apply
    apply: Callable[[Mapping, torch.Tensor, torch.Generator], torch.Tensor]   # random from the generator only


TRANSFORMS: dict[str, Transform] = {}
AUGMENTATIONS: dict[str, Augmentation] = {}


def _transform(name, params, doc, reshape, apply):
    what = f"transform {name}"
    TRANSFORMS[name] = Transform(name, params, doc, with_defaults(params, what, lambda p, f: reshape(p, f, what)),
                                 with_defaults(params, what, apply))


def _augmentation(name, params, doc, check, apply):
    what = f"augmentation {name}"

    def reshape(p, f):
        for k, v in p.items():  # every augmentation parameter is a size: pixels, degrees, std
            if v < 0:
                raise ValueError(f"{what}: {k} must not be negative, not {v}")
        return check(f, what)
    AUGMENTATIONS[name] = Augmentation(name, params, doc, with_defaults(params, what, reshape),
                                       with_defaults(params, what, apply))


def _resize_shape(p, f, what):
    positive(p, "h", "w")
    return Field("float", _spatial(f, what).shape[:-2] + (p["h"], p["w"]))


def _resize(p, x):
    import torch.nn.functional as F
    shrinking = p["h"] < x.shape[-2] or p["w"] < x.shape[-1]  # antialias, or shrinking drops pixels and aliases
    out = F.interpolate(_as_nchw(x), size=(p["h"], p["w"]), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.reshape(*x.shape[:-2], p["h"], p["w"])


def _pad_shape(p, f, what):
    if p["n"] < 0:
        raise ValueError(f"{what}: n must not be negative, not {p['n']}")
    s = _spatial(f, what).shape
    return Field("float", s[:-2] + (s[-2] + 2 * p["n"], s[-1] + 2 * p["n"]))


def _pad(p, x):
    import torch.nn.functional as F
    return F.pad(x, (p["n"],) * 4)


def _flatten_shape(p, f, what):
    return Field("float", (math.prod(_float(f, what).shape),))


def _normalise_shape(p, f, what):
    if p["std"] == 0:
        raise ValueError(f"{what}: std must not be 0")
    return _float(f, what)


_transform("resize", (Param("h", int, REQUIRED, "height"), Param("w", int, REQUIRED, "width")),
           "bilinear resize to h x w (antialiased when shrinking)", _resize_shape, _resize)
_transform("pad", (Param("n", int, REQUIRED, "pixels of zeros on each side"),),
           "zeros on all four sides: H + 2n, W + 2n", _pad_shape, _pad)
_transform("flatten", (), "[C, H, W] -> [C*H*W]", _flatten_shape, lambda p, x: x.flatten(1))
_transform("normalise", (Param("mean", float, 0.5, "subtracted"), Param("std", float, 0.5, "then divided by")),
           "(x - mean) / std", _normalise_shape, lambda p, x: (x - p["mean"]) / p["std"])
_transform("scale", (Param("low", float, -1.0, "what 0 becomes"), Param("high", float, 1.0, "what 1 becomes")),
           "maps [0, 1] to [low, high] (a GAN with a tanh output wants [-1, 1])",
           lambda p, f, what: _float(f, what), lambda p, x: x * (p["high"] - p["low"]) + p["low"])


def _uniform(g: torch.Generator, n: int, bound: float, x: torch.Tensor) -> torch.Tensor:
    """n draws from U(-bound, bound) on the generator's device, then moved to x's."""
    import torch
    return ((torch.rand(n, generator=g, device=g.device) * 2 - 1) * bound).to(x.device, x.dtype)


def _shift(p, x, g):
    import torch
    import torch.nn.functional as F
    k, images = p["pixels"], _as_nchw(x)
    n, _, h, w = images.shape
    dy, dx = (torch.randint(-k, k + 1, (2, n), generator=g, device=g.device)).to(x.device)
    padded = F.pad(images, (k,) * 4)
    rows = torch.arange(h, device=x.device) + k - dy[:, None]  # output row i reads input row i - dy
    cols = torch.arange(w, device=x.device) + k - dx[:, None]
    picked = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2).reshape(x.shape)  # advanced indices first: [N, H, W, C] -> [N, C, H, W]


def _rotate(p, x, g):
    import torch
    import torch.nn.functional as F
    images = _as_nchw(x)
    n, _, h, w = images.shape
    angle = _uniform(g, n, math.radians(p["degrees"]), x)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    # affine_grid works in [-1, 1] coordinates on both axes; h/w and w/h keep a non-square image's rotation rigid
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros").reshape(x.shape)


def _noise(p, x, g):
    import torch
    return x + p["std"] * torch.randn(x.shape, generator=g, device=g.device).to(x.device, x.dtype)


def _flip(p, x, g):
    import torch
    flip = (torch.rand(len(x), generator=g, device=g.device) < 0.5).to(x.device)
    return torch.where(flip.reshape(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


_augmentation("shift", (Param("pixels", int, 2, "at most this far in each direction"),),
              "a random whole-pixel translation per image, zeros filling in", _spatial, _shift)
_augmentation("rotate", (Param("degrees", float, 10.0, "at most this far either way"),),
              "a random rotation per image, zeros filling the corners", _spatial, _rotate)
_augmentation("noise", (Param("std", float, 0.05, "standard deviation"),), "gaussian noise", _float, _noise)
_augmentation("flip", (), "a horizontal flip of half the images, at random", _spatial, _flip)


def transform(fields: Mapping[str, torch.Tensor], name: str, params: Mapping[str, object], *,
              keys: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Transform `name` applied to the image fields (`keys`; by default image_fields()), the rest left as they were."""
    t = TRANSFORMS[name]
    keys = image_fields(fields) if keys is None else keys
    return {k: t.apply(params, v) if k in keys else v for k, v in fields.items()}


def augment(fields: Mapping[str, torch.Tensor], name: str, params: Mapping[str, object], generator: torch.Generator,
            *, keys: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Augmentation `name` applied to the image fields, as transform() does, drawing from `generator` only."""
    a = AUGMENTATIONS[name]
    keys = image_fields(fields) if keys is None else keys
    return {k: a.apply(params, v, generator) if k in keys else v for k, v in fields.items()}
