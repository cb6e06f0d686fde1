"""The training registries: every word a `train` section may use, declared once.

Takes nothing; gives ``SETTINGS`` (the keys of a train section, what each takes and
which of the lecture's stability techniques it turns on), ``OBJECTIVES``,
``OPTIMIZERS``, ``SCHEDULES``, ``INITS``, ``CLIPS``, ``REGULARIZERS``, ``METRICS`` and
``MONITORS``.  Datasets, transforms and augmentations are declared beside their loaders
in ``agqc.train.core.data``.  The checker (``agqc.train.check``) binds calls against
these entries, and docs/training.md's tables are generated from them, so a word cannot
be accepted in one place and missing from another.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .core.data import REQUIRED, Param


@dataclass(frozen=True)
class Entry:
    """One word of a registry: its parameters and a line for the docs."""

    name: str
    params: tuple[Param, ...]
    doc: str


def _p(name: str, kind: type, default: object, doc: str = "") -> Param:
    return Param(name, kind, default, doc)


def _registry(*entries: Entry) -> dict[str, Entry]:
    return {e.name: e for e in entries}


class ObjectiveKind(StrEnum):
    CLASSIFICATION = "classification"
    RECONSTRUCTION = "reconstruction"
    VAE = "vae"
    ADVERSARIAL = "adversarial"
    NEXT_VALUE = "next_value"
    NEXT_TOKEN = "next_token"


@dataclass(frozen=True)
class Objective(Entry):
    needs: str  # the roles or outputs it needs, said in the diagnostics and the docs


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("classification", (_p("label_smoothing", float, 0.0, "spread this much of the target over all classes"),),
              "cross-entropy on a classifier's logits [B, classes]; reports accuracy", "a classifier network"),
    Objective("reconstruction", (_p("loss", str, "mse", "`mse`, or `bce` for a decoder ending in sigmoid"),),
              "the decoder's output against the input it was given", "an encoder and a decoder (an autoencoder)"),
    Objective("vae", (_p("beta", float, 1.0, "weight of the KL term (beta-VAE)"),
                      _p("reconstruction", str, "bce", "`bce` (summed per image) or `mse`")),
              "reconstruction + beta * KL(N(mu, exp(logvar)) || N(0, 1))",
              "a decoder and outputs named `mu` and `logvar`"),
    Objective("adversarial", (_p("loss", str, "bce", "`bce` (non-saturating), `hinge` or `wasserstein` (with GP)"),
                              _p("real_label", float, 1.0, "one-sided label smoothing: 0.9 is the usual choice"),
                              _p("instance_noise", float, 0.0, "std of noise added to D's real and fake inputs"),
                              _p("d_steps", int, 1, "discriminator steps per generator step"),
                              _p("gp", float, 10.0, "gradient-penalty weight (wasserstein only)")),
              "G and D steps alternate", "a generator and a discriminator (or critic)"),
    Objective("next_value", (_p("loss", str, "mse", "`mse` or `l1`"),),
              "a regressor predicts the next value of a sequence", "a regressor network"),
    Objective("next_token", (), "cross-entropy of each position's logits against the next token",
              "a network from int[B, T] tokens to [B, T, vocab] logits"),
)}
LOSS_CHOICES = {"reconstruction": ("mse", "bce"), "vae": ("bce", "mse"), "adversarial": ("bce", "hinge", "wasserstein"),
                "next_value": ("mse", "l1")}

OPTIMIZERS = _registry(
    Entry("sgd", (_p("lr", float, 0.01), _p("momentum", float, 0.0), _p("nesterov", bool, False),
                  _p("weight_decay", float, 0.0)), "stochastic gradient descent"),
    Entry("adam", (_p("lr", float, 1e-3), _p("beta1", float, 0.9), _p("beta2", float, 0.999), _p("eps", float, 1e-8),
                   _p("weight_decay", float, 0.0)), "Adam (Kingma & Ba 2014); DCGAN uses lr=2e-4, beta1=0.5"),
    Entry("adamw", (_p("lr", float, 1e-3), _p("beta1", float, 0.9), _p("beta2", float, 0.999), _p("eps", float, 1e-8),
                    _p("weight_decay", float, 0.01)), "Adam with decoupled weight decay (Loshchilov & Hutter 2017)"),
    Entry("rmsprop", (_p("lr", float, 0.01), _p("alpha", float, 0.99), _p("momentum", float, 0.0),
                      _p("weight_decay", float, 0.0)), "RMSprop; WGAN's original choice"),
)

_WARMUP = _p("warmup", int, 0, "steps of linear warm-up from 0 first")
SCHEDULES = _registry(
    Entry("constant", (_WARMUP,), "the optimiser's rate throughout"),
    Entry("step", (_p("every", int, REQUIRED, "epochs between decays"), _p("gamma", float, 0.1), _WARMUP),
          "multiply the rate by gamma every few epochs"),
    Entry("cosine", (_p("min_lr", float, 0.0), _WARMUP), "cosine decay to min_lr over the stage's steps"),
    Entry("plateau", (_p("factor", float, 0.5), _p("patience", int, 2), _p("metric", str, "val_loss"), _WARMUP),
          "reduce on plateau: multiply by factor when the metric stalls for `patience` epochs"),
)

INITS = _registry(
    Entry("xavier", (_p("gain", float, 1.0),), "Glorot & Bengio 2010, uniform; biases zero"),
    Entry("kaiming", (_p("nonlinearity", str, "relu"),), "He et al. 2015, normal, fan-in; biases zero"),
    Entry("normal", (_p("mean", float, 0.0), _p("std", float, 0.02)), "N(mean, std) weights; biases zero"),
    Entry("dcgan", (), "DCGAN (Radford et al. 2015): weights N(0, 0.02), norm scales N(1, 0.02), biases zero"),
)

CLIPS = _registry(
    Entry("norm", (_p("max", float, 1.0), _p("norm_type", float, 2.0)),
          "scale gradients to a total norm of at most max"),
    Entry("value", (_p("max", float, 0.5),), "clamp each gradient element to [-max, max]"),
)

REGULARIZERS = _registry(
    Entry("l2", (_p("weight", float, REQUIRED),), "add weight * sum of squared weights to the loss"),
    Entry("l1", (_p("weight", float, REQUIRED),), "add weight * sum of absolute weights to the loss (sparsity)"),
)

METRICS = _registry(
    Entry("val_loss", (_p("patience", int, 3), _p("min_delta", float, 0.0)), "the test split's loss; lower is better"),
    Entry("accuracy", (_p("patience", int, 3), _p("min_delta", float, 0.0)), "test accuracy; higher is better"),
    Entry("loss", (_p("patience", int, 3), _p("min_delta", float, 0.0)), "the epoch's training loss; lower is better"),
)
HIGHER_IS_BETTER = {"accuracy"}

# "Use real and generated data" (lecture 4, technique 6): a trained conditional generator's images replace a
# fraction of each training batch, labelled with the class they were asked for.  Declared here, not beside the
# other augmentations in core/: it loads another spec, which the torch-only core cannot.
GENERATED = Entry("generated", (_p("spec", str, REQUIRED, "the generator's spec, relative to this one"),
                                _p("weights", str, REQUIRED, "its trained weights (a run's best.safetensors)"),
                                _p("fraction", float, 0.25, "of each batch replaced by generated images")),
                  "real plus generated data: a trained conditional generator draws part of each batch")

MONITORS = _registry(
    Entry("dead_neurons", (), "per ReLU layer, the fraction of units never active on an epoch's batches"),
)


class Target(StrEnum):
    """What the word after a setting's key may name."""

    NONE = "none"  # `epochs = 5`
    NETWORK = "network"  # `optimizer G = adam()`
    MODULE = "module"  # a network, a block (every instance) or an `as` layer: `init head = xavier()`
    INPUT = "input"  # a model input: `feed y = labels`


class Value(StrEnum):
    """What a setting's value is."""

    INT = "int"
    FLOAT = "float"
    DATA = "data"  # a dataset call, then transforms: `digits() -> resize(28, 28)`
    FIELD = "field"  # a dataset field's name
    MODULES = "modules"  # networks, blocks or layers, comma-separated
    CALL = "call"  # one call of the setting's registry
    CALLS = "calls"  # calls of the setting's registry, comma-separated


@dataclass(frozen=True)
class SettingSpec:
    key: str
    target: Target
    value: Value
    doc: str
    registry: dict[str, Entry] | None = None
    technique: int | None = None  # the lecture's training-stability technique it turns on (1-12)
    per_stage: bool = True  # may a stage override it
    min: float | None = None  # for numbers


SETTINGS: dict[str, SettingSpec] = {s.key: s for s in (
    SettingSpec("data", Target.NONE, Value.DATA, "the dataset and its transforms", per_stage=False),
    SettingSpec("batch", Target.NONE, Value.INT, "examples per step (per process under --nproc)", per_stage=False,
                min=1),
    SettingSpec("feed", Target.INPUT, Value.FIELD, "which dataset field a model input receives (inferred when "
                "one field fits)", per_stage=False),
    SettingSpec("objective", Target.NONE, Value.CALL, "what the loss is (inferred from the roles when left out)",
                OBJECTIVES),  # type: ignore[arg-type]
    SettingSpec("optimizer", Target.NETWORK, Value.CALL, "the optimiser, for every network or one", OPTIMIZERS,
                technique=9),
    SettingSpec("schedule", Target.NETWORK, Value.CALL, "the learning-rate schedule", SCHEDULES, technique=3),
    SettingSpec("regularize", Target.NETWORK, Value.CALLS, "L1 / L2 penalties on the weights", REGULARIZERS,
                technique=2),
    SettingSpec("clip", Target.NETWORK, Value.CALL, "gradient clipping", CLIPS, technique=5),
    SettingSpec("accumulate", Target.NONE, Value.INT, "micro-batches whose gradients add up before a step",
                technique=10, min=1),
    SettingSpec("init", Target.MODULE, Value.CALL, "weight initialisation of a network, block or layer", INITS,
                technique=8, per_stage=False),
    SettingSpec("ema", Target.NETWORK, Value.FLOAT, "decay of an exponential moving average of the weights, "
                "used for evaluation and saved as `ema` (0.999)", technique=11, min=0.0),
    SettingSpec("early_stop", Target.NONE, Value.CALL, "stop the stage when a metric stops improving", METRICS,
                technique=7),
    SettingSpec("augment", Target.NONE, Value.CALLS, "random changes to the training images each step",
                technique=6),
    SettingSpec("monitor", Target.NONE, Value.CALLS, "measurements logged per epoch", MONITORS, technique=12),
    SettingSpec("freeze", Target.NONE, Value.MODULES, "networks, blocks or layers not trained in this stage"),
    SettingSpec("epochs", Target.NONE, Value.INT, "passes over the training split", min=1),
    SettingSpec("steps", Target.NONE, Value.INT, "stop a stage after this many optimiser steps", min=1),
    SettingSpec("seed", Target.NONE, Value.INT, "seeds weights, batches, noise and augmentation", per_stage=False,
                min=0),
)}

# Techniques that are ops in the model rather than settings: (number, name, the op that turns it on).
TECHNIQUE_OPS = ((1, "Dropout", "dropout(p)"), (4, "Batch normalisation", "batchnorm()"))
TECHNIQUES = {1: "Dropout", 2: "Regularization", 3: "Learning rate scheduling", 4: "Batch normalization",
              5: "Gradient clipping", 6: "Data augmentation", 7: "Early stopping", 8: "Weight initialization",
              9: "Optimizer selection & tuning", 10: "Gradient accumulation", 11: "Smoothing model weights",
              12: "Avoiding dead neurons"}
