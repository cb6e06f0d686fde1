"""Real plus generated data (lecture 4, technique 6): `augment = generated(spec=..., weights=...)`.

``check_generated`` takes the bound ``generated(...)`` call, the spec it is in, the data plan and
the reporter; it checks the other spec (it must train a conditional generator whose images have
this data's shape, for the same classes), finds the weights file, and gives the call with
absolute paths and what the runtime needs (the generator network, its output range), or None
after a located diagnostic.  ``make_generator`` takes those parameters and gives a function from
labels (and a random generator) to images in [0, 1], which ``core.loop.Trainer`` mixes into
its batches and then transforms as it did the real ones.
"""
from __future__ import annotations

from pathlib import Path

from ..diagnostics import AgqcError, Reporter
from ..errorcodes import Code
from .core import data as datasets
from .plan import Choice, DataPlan

_CHECKING: set[Path] = set()  # specs being checked now: a generator may not feed its own training


def check_generated(choice: Choice, spec_file: str, data: DataPlan, reporter: Reporter) -> Choice | None:
    base = Path(spec_file).resolve()
    spec_path = (base.parent / choice["spec"]).resolve()
    weights = (base.parent / choice["weights"]).resolve()
    if not spec_path.is_file():
        reporter.error(Code.DATA_MISSING, f"no spec at {spec_path}", choice.span,
                       "`spec` is the generator's .agq file, relative to this spec's folder")
        return None
    if spec_path == base or spec_path in _CHECKING:
        reporter.error(Code.DATA_MISMATCH, f"`{choice['spec']}` would generate data for its own training",
                       choice.span, "name a generator trained by another spec")
        return None
    program = _checked(spec_path)
    if program is None:
        reporter.error(Code.DATA_MISMATCH, f"`{choice['spec']}` does not check", choice.span,
                       f"run `agqc check {spec_path}` to see why")
        return None
    stage = next((s for s in program.train.stages if s.objective.generator is not None), None) \
        if program.train is not None else None
    labels = next((f for f in data.fields if f.dtype == "int" and not f.shape and f.classes), None)
    if stage is None or stage.objective.generator is None or not any(f.field for f in stage.objective.generator.inputs):
        reporter.error(Code.OBJECTIVE_MISMATCH, f"`{choice['spec']}` trains no conditional generator", choice.span,
                       "generated images need labels: a generator that takes the class it draws (a cGAN)")
        return None
    their = next((f for f in program.train.data.fields if f.dtype == "int" and f.classes), None)
    if labels is None or their is None or their.classes != labels.classes:
        reporter.error(Code.DATA_MISMATCH, f"the generator draws {their.classes if their else 'no'} classes; this "
                       f"data has {labels.classes if labels else 'no labels'}", choice.span)
        return None
    network = stage.objective.generator.network or ""
    made = program.graph(program.network(network).graph).output_types()[0]
    raw = datasets.DATASETS[data.dataset.name].describe(data.dataset.kwargs)
    images = datasets.image_fields(raw)
    if not images or tuple(made.shape[1:]) != tuple(raw[images[0]].shape):
        shape = list(raw[images[0]].shape) if images else "no images"
        reporter.error(Code.DATA_MISMATCH, f"`{network}` of `{choice['spec']}` draws {made}, and "
                       f"`{data.dataset.name}`'s images are {shape}", choice.span)
        return None
    if not weights.is_file():
        reporter.error(Code.DATA_MISSING, f"no trained weights at {weights}", choice.span,
                       f"train the generator first: agqc train {spec_path} -o {weights.parent}")
        return None
    scale = next((t for t in program.train.data.transforms if t.name == "scale"), None)
    low, high = (scale["low"], scale["high"]) if scale else (0.0, 1.0)
    return Choice("generated", (("spec", str(spec_path)), ("weights", str(weights)), ("fraction", choice["fraction"]),
                                ("network", network), ("low", low), ("high", high)), choice.span)


def _checked(path: Path):
    from ..frontend import check
    _CHECKING.add(path)
    try:
        return check(path)
    except AgqcError:
        return None
    finally:
        _CHECKING.discard(path)


def make_generator(params: dict, device: str):
    """Labels -> images in [0, 1] from the trained generator ``params`` names (no gradients, eval mode)."""
    import torch

    from ..api import load
    from ..build import read_weights
    spec = load(params["spec"])
    model = spec.build().to(device)
    model.load_state_dict(read_weights(Path(params["weights"])))
    network = getattr(model, params["network"]).eval()
    call = next(s.objective.generator for s in spec.program.train.stages if s.objective.generator is not None)
    low, high = params["low"], params["high"]

    @torch.no_grad()
    def draw(labels, generator):
        inputs = [labels if feed.field is not None else
                  torch.randn((labels.shape[0], *feed.shape), generator=generator).to(device) for feed in call.inputs]
        return ((network(*inputs).float() - low) / (high - low)).clamp(0, 1)
    return draw


def generators(plan, device: str) -> dict:
    """Each `generated(...)` augmentation of the plan, made once: key -> draw function."""
    out = {}
    for stage in plan.stages:
        for a in stage.augment:
            if a.name == "generated":
                out.setdefault(key(a.kwargs), make_generator(a.kwargs, device))
    return out


def key(params: dict) -> str:
    return f"{params['spec']}|{params['weights']}"
