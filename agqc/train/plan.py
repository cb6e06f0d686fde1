"""TrainPlan: a model's checked training recipe, as frozen dataclasses with source spans.

Made by ``agqc.train.check`` from a model's ``train`` section and its checked IR;
read by the trainer (``agqc.train.trainer``), the emitted training script and the
run folder's ``options.json``.  Everything the runtime needs is decided here: which
data field goes into which input, which output the loss reads, which networks each
stage trains; the runtime makes no decision of its own.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..diagnostics import Span
from .options import ObjectiveKind


@dataclass(frozen=True)
class Choice:
    """A registry word as written, ``adam(lr=2e-4)``, with every parameter filled in."""

    name: str
    params: tuple[tuple[str, Any], ...]
    span: Span = field(compare=False)

    def __getitem__(self, key: str) -> Any:
        return dict(self.params)[key]

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class FieldType:
    """One dataset field per example (no leading N), after the transforms."""

    name: str
    dtype: str  # "float" or "int"
    shape: tuple[int, ...]
    classes: int | None = None


@dataclass(frozen=True)
class Feed:
    """A tensor the loss computes with: a field of the batch, or noise drawn each step."""

    field: str | None  # the dataset field; None for noise
    shape: tuple[int, ...] = ()  # noise's shape per example
    dtype: str = "float"


@dataclass(frozen=True)
class DataPlan:
    dataset: Choice
    transforms: tuple[Choice, ...]
    batch: int
    fields: tuple[FieldType, ...]
    span: Span = field(compare=False)

    def field(self, name: str) -> FieldType:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Call:
    """How the loss runs one piece of the model: a network by name, or the model's flow (``network=None``)."""

    network: str | None
    inputs: tuple[Feed, ...]


@dataclass(frozen=True)
class ObjectivePlan:
    kind: ObjectiveKind
    choice: Choice
    # Per kind, what each piece of the loss reads:
    #  classification / next_value / next_token: each of `models` gives predictions at each "prediction"
    #    output (side-by-side networks, or a flow returning several classifiers': each has its own loss)
    #  reconstruction: output "reconstruction" against the `target` field; vae: also outputs "mu", "logvar"
    #  adversarial: the `generator` and `discriminator` calls; D's image input's index is output "image"
    models: tuple[Call, ...] = ()
    generator: Call | None = None
    discriminator: Call | None = None
    outputs: tuple[tuple[str, int], ...] = ()
    target: str | None = None  # the field the prediction is compared with
    names: tuple[str, ...] = ()  # the network behind each prediction, in the order the loss meets them
    probabilities: bool = False  # the scored output ends in a sigmoid: BCE on probabilities, not logits
    networks: tuple[str, ...] = ()  # the networks its loss reaches

    def output(self, role: str) -> int:
        return dict(self.outputs)[role]


@dataclass(frozen=True)
class StagePlan:
    name: str
    objective: ObjectivePlan
    optimizers: tuple[tuple[str, Choice], ...]  # per trained network
    schedules: tuple[tuple[str, Choice], ...]
    clips: tuple[tuple[str, Choice], ...]
    regularizers: tuple[tuple[str, Choice], ...]
    ema: tuple[tuple[str, float], ...]
    frozen: tuple[str, ...]  # module paths (`enc`, `head.blocks.0`) not trained
    trained: tuple[str, ...]  # networks with an optimiser in this stage
    accumulate: int
    epochs: int
    steps: int | None
    early_stop: Choice | None
    augment: tuple[Choice, ...]
    monitors: tuple[Choice, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class TrainPlan:
    model: str
    data: DataPlan
    stages: tuple[StagePlan, ...]
    inits: tuple[tuple[str, Choice], ...]  # module path -> init, applied in order before the first stage
    seed: int
    span: Span = field(compare=False)

    @property
    def total_epochs(self) -> int:
        return sum(s.epochs for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        """The resolved options, for the run folder: every default filled in, no spans."""
        def strip(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k != "span"}
            if isinstance(value, (list, tuple)):
                return [strip(v) for v in value]
            return value
        return strip(asdict(self))
