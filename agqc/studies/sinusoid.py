"""The lecture's sinusoid test: a next-sample model run on its own outputs, inside and beyond its training span.

Takes a trained next-value model (a module mapping windows [B, T, 1] to the next sample [B, 1]) and a series.
Gives ``true_series`` (the clean sine the models are trained on, phase 0 at t = 0), ``rollout`` (autoregressive
prediction: the first T true samples, then the model's own predictions fed back in), ``one_step`` (each sample
predicted from the T true samples before it), ``at_times`` (a model of the time t, [B, 1] -> [B, 1], read at every
t: no rollout), ``errors`` (RMSE inside the training span and beyond it) and
``figure`` (PNG bytes: the truth, each model's prediction and the shaded training span, one panel per model).
Every series here is 1-D and indexed by time: value ``t`` is the sample at time t, so predictions and the truth
line up index for index.
"""
from __future__ import annotations

import io
import math
from typing import Mapping

import torch

YLIM = 1.8  # the figures' vertical range: a prediction beyond it runs off the panel, and the panel says so


def true_series(period: float, length: int) -> torch.Tensor:
    """sin(2 pi t / period) for t = 0 .. length - 1 (float32, computed in float64), as `sine(span=...)` makes it."""
    t = torch.arange(length, dtype=torch.float64)
    return torch.sin(2 * math.pi * t / period).float()


def _next(net, windows: torch.Tensor) -> torch.Tensor:
    """The model's next sample for each row of windows [B, T] -> [B]."""
    return net(windows.unsqueeze(-1)).reshape(len(windows))


def _evaluating(net):
    """Eval mode for the duration of a with-block, then the mode the module had."""
    class _Mode:
        def __enter__(self):
            self.was = net.training
            net.eval()

        def __exit__(self, *exc):
            net.train(self.was)
    return _Mode()


@torch.no_grad()
def rollout(net, seed_window: torch.Tensor, steps: int) -> torch.Tensor:
    """The seed window (T true samples) followed by `steps` predictions, each made from the T values before it,
    the model's own predictions included: a 1-D tensor of T + steps values."""
    series = seed_window.detach().reshape(-1).clone()
    window = len(series)
    out = torch.empty(window + steps, dtype=series.dtype, device=series.device)
    out[:window] = series
    with _evaluating(net):
        for t in range(window, window + steps):
            out[t] = _next(net, out[t - window:t][None])[0]
    return out


@torch.no_grad()
def one_step(net, series: torch.Tensor, window: int) -> torch.Tensor:
    """Each sample from t = window on predicted from the `window` true samples before it (the first `window`
    values are the truth's): what the training loss measures, along the whole series."""
    windows = series.unfold(0, window, 1)[:-1]  # [len - window, window]: the window before each t >= window
    with _evaluating(net):
        predicted = _next(net, windows)
    return torch.cat([series[:window], predicted.to(series.dtype)])


@torch.no_grad()
def at_times(net, length: int) -> torch.Tensor:
    """A model of the time, mapping t [B, 1] to the value there [B, 1], read at t = 0 .. length - 1: a 1-D tensor of
    `length` values. Nothing is fed back, so there is no seed window: every value is the model's."""
    t = torch.arange(length, dtype=torch.float32)[:, None]
    with _evaluating(net):
        return net(t).reshape(length)


def rmse(predicted: torch.Tensor, truth: torch.Tensor, start: int, stop: int) -> float:
    """Root mean squared error over t = start .. stop - 1."""
    diff = predicted[start:stop].double() - truth[start:stop].double()
    return math.sqrt(float((diff ** 2).mean()))


def errors(predicted: torch.Tensor, truth: torch.Tensor, window: int, span: int) -> dict[str, float]:
    """RMSE of the predicted samples inside the training span (t = window .. span - 1: the seed window itself is
    the truth) and beyond it (t = span .. the end)."""
    return {"inside": rmse(predicted, truth, window, span), "beyond": rmse(predicted, truth, span, len(truth))}


def figure(truth: torch.Tensor, predictions: Mapping[str, torch.Tensor], span: int, window: int,
           title: str = "", fit: tuple[str, ...] = ()) -> bytes:
    """PNG bytes: one panel per prediction (its name as the panel's title), each with the truth, the prediction,
    the training span shaded and the end of the seed window marked. A panel named in `fit` widens its vertical
    range to hold the whole prediction (and says so) instead of letting it leave the panel."""
    import matplotlib
    matplotlib.use("Agg")  # no display: runs on servers and in tests
    import matplotlib.pyplot as plt
    t = torch.arange(len(truth)).numpy()
    fig, axes = plt.subplots(len(predictions), 1, figsize=(10, 1.9 * len(predictions) + 0.8), sharex=True,
                             squeeze=False)
    for ax, (name, predicted) in zip(axes[:, 0], predictions.items()):
        ax.axvspan(0, span - 1, color="tab:blue", alpha=0.09, lw=0, label="training span")
        ax.axvline(window - 0.5, color="0.4", ls=":", lw=1, label="end of the seed window")
        ax.plot(t, truth.numpy(), color="0.55", lw=2.2, label="original data")
        ax.plot(t, predicted.detach().float().numpy(), color="tab:red", lw=1.3, dashes=(4, 2),
                label="prediction")  # dashed: where it lies on the truth, the truth shows between the dashes
        top = float(predicted.abs().max())
        wide = name in fit and top > YLIM
        note = (f"  (a wider scale: to ±{top:.3g})" if wide else
                "  (the prediction leaves the panel)" if top > YLIM else "")
        ax.set_title(name + note, fontsize=10, loc="left")
        ax.set_ylim(*((-1.05 * top, 1.05 * top) if wide else (-YLIM, YLIM)))
        ax.set_xlim(0, len(truth) - 1)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=4, framealpha=0.9)
    axes[-1, 0].set_xlabel("time step t")
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
