"""The pieces a training loop is made of: module selection, initialisation, optimisers,
learning-rate schedules, weight averaging and the dead-neuron monitor.

Takes a model and the plan's choices (JSON-like dicts); gives torch objects and plain
functions.  Torch and the standard library only: copied into `agqc emit --train` scripts.
"""
import math

import torch
from torch import nn


def select(model, selector):
    """The submodules a plan's selector names: ``network:G``, ``block:ConvBlock,ConvBlock_2``, ``layer:head``."""
    kind, _, name = selector.partition(":")
    if kind == "network":
        return [model] if name == "*" else [getattr(model, name)]
    if kind == "block":
        classes = set(name.split(","))
        return [m for m in model.modules() if type(m).__name__ in classes]
    return [m for path, m in model.named_modules() if path.rsplit(".", 1)[-1] == name]


def initialise(modules, choice):
    """Re-initialise every weight under ``modules``: xavier, kaiming, normal or DCGAN's N(0, 0.02)."""
    params = dict(choice["params"])
    for root in modules:
        for m in root.modules():
            weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
            if not isinstance(weight, torch.Tensor) or not weight.requires_grad or isinstance(m, nn.Embedding):
                continue  # embedding tables keep N(0, 1): at 0.02 a label would scale cGAN's noise to nothing
            norm = isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm))
            with torch.no_grad():
                if norm:
                    if choice["name"] == "dcgan":
                        nn.init.normal_(weight, 1.0, 0.02)
                elif weight.dim() < 2:
                    continue
                elif choice["name"] == "xavier":
                    nn.init.xavier_uniform_(weight, gain=params["gain"])
                elif choice["name"] == "kaiming":
                    nn.init.kaiming_normal_(weight, nonlinearity=params["nonlinearity"])
                else:
                    mean, std = (0.0, 0.02) if choice["name"] == "dcgan" else (params["mean"], params["std"])
                    nn.init.normal_(weight, mean, std)
                if isinstance(bias, torch.Tensor):
                    nn.init.zeros_(bias)


def optimizer(params, choice):
    p = dict(choice["params"])
    name = choice["name"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=p["lr"], momentum=p["momentum"], nesterov=p["nesterov"],
                               weight_decay=p["weight_decay"])
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=p["lr"], alpha=p["alpha"], momentum=p["momentum"],
                                   weight_decay=p["weight_decay"])
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return kind(params, lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"], weight_decay=p["weight_decay"])


def lr_factor(choice, step, total_steps, epoch, plateau_scale, base_lr):
    """The multiple of the optimiser's rate at ``step`` (0-based) of ``total_steps`` in the stage."""
    if choice is None:
        return 1.0
    p = dict(choice["params"])
    warm = p["warmup"]
    if warm and step < warm:
        return (step + 1) / warm
    name = choice["name"]
    if name == "step":
        return p["gamma"] ** (epoch // p["every"])
    if name == "cosine":
        span = max(1, total_steps - warm)
        progress = min(1.0, (step - warm) / span)
        low = min(1.0, p["min_lr"] / base_lr) if base_lr else 0.0
        return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
    if name == "plateau":
        return plateau_scale
    return 1.0


class Plateau:
    """Reduce-on-plateau bookkeeping: the scale, the best value seen and epochs without improvement."""

    def __init__(self, factor, patience, higher_is_better):
        self.factor, self.patience, self.higher = factor, patience, higher_is_better
        self.scale, self.best, self.bad = 1.0, None, 0

    def update(self, value):
        if self.best is None or (value > self.best if self.higher else value < self.best):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.scale, self.bad = self.scale * self.factor, 0

    def state(self):
        return {"scale": self.scale, "best": self.best, "bad": self.bad}

    def load(self, state):
        self.scale, self.best, self.bad = state["scale"], state["best"], state["bad"]


class Average:
    """An exponential moving average of one network's parameters and buffers (technique 11)."""

    def __init__(self, module, decay):
        self.module, self.decay = module, decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self):
        for k, v in self.module.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.shadow[k].copy_(v)

    def swap(self):
        """Exchange the live weights and the average (twice restores them)."""
        live = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        self.module.load_state_dict(self.shadow)
        self.shadow = live


class DeadNeurons(torch.overrides.TorchFunctionMode):
    """Records, per ReLU call site, which units (dim 1) were ever positive (technique 12).

    The generated forward calls ``F.relu``, not an ``nn.ReLU`` module, so a function mode
    (not a module hook) sees every call; a call site is the calling module and its count.
    """

    ACTIVATIONS = {"relu", "relu_", "leaky_relu"}

    def __init__(self, names):
        super().__init__()
        self.names, self.alive, self.order = names, {}, {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if getattr(func, "__name__", "") in self.ACTIVATIONS and isinstance(out, torch.Tensor) and out.dim() >= 2:
            site = self._site()
            seen = (out.detach() > 0).transpose(0, 1).reshape(out.shape[1], -1).any(dim=1)
            self.alive[site] = self.alive[site] | seen if site in self.alive else seen
        return out

    def _site(self):
        import sys
        frame = sys._getframe(2)
        while frame is not None and not isinstance(frame.f_locals.get("self"), nn.Module):
            frame = frame.f_back
        owner = self.names.get(id(frame.f_locals["self"]), "?") if frame is not None else "?"
        key = (owner, frame.f_lineno if frame is not None else 0)
        return self.order.setdefault(key, f"{owner or 'model'}:relu{sum(k[0] == owner for k in self.order) + 1}")

    def dead_fractions(self):
        return {site: 1.0 - float(alive.float().mean()) for site, alive in self.alive.items()}
