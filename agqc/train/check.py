"""Checking a model's ``train`` section: AST + checked IR -> ``TrainPlan``.

Takes the checked ``Program``, the model's AST, the spec's constants and the
reporter; gives a ``TrainPlan`` or None after reporting located diagnostics:
unknown settings and words (with did-you-mean), data that does not fit the inputs
it feeds, an objective the roles cannot serve (``agqc.train.fit``), networks the
loss reaches with no optimiser, a network frozen in every stage.  Nothing here
loads data or imports torch: ``agqc check`` runs it on every spec with a train section.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import ast
from ..diagnostics import Reporter, Span, did_you_mean
from ..errorcodes import Code
from ..ir import Program
from ..kinds import NodeKind
from .bind import Word, bind, scalar
from .core import data as datasets
from .fit import Fitter
from .generated import check_generated
from .options import GENERATED, LOSS_CHOICES, OBJECTIVES, SETTINGS, SettingSpec, Target, Value
from .plan import Choice, DataPlan, FieldType, StagePlan, TrainPlan

Settings = dict[tuple[str, str | None], ast.Setting]


def check_train(program: Program, model: ast.Model, consts: dict, reporter: Reporter) -> TrainPlan | None:
    sections = [s for s in model.body if isinstance(s, ast.TrainSection)]
    if not sections:
        return None
    for extra in sections[1:]:
        reporter.error(Code.DUPLICATE_NAME, f"model `{model.name}` has two train sections", extra.span,
                       f"the first is at {sections[0].span.where()}; use `stage name {{ ... }}` for steps of training")
    before = reporter.error_count
    plan = _Checker(program, model, consts, reporter).section(sections[0])
    return plan if reporter.error_count == before else None


@dataclass
class _Checker:
    program: Program
    model: ast.Model
    consts: dict
    reporter: Reporter
    feed_spans: dict[str, Span] = field(default_factory=dict)

    def section(self, section: ast.TrainSection) -> TrainPlan | None:
        top = self.settings(section.settings, in_stage=False)
        stages = [(s, self.settings(s.settings, in_stage=True)) for s in section.stages]
        self._unique_stages(section.stages)
        data = self.data(top, section.span)
        if data is None:
            return None
        fitter = Fitter(self.program, data, self.feeds(top), self.reporter)
        seed = int(self.number(top, "seed", 0) or 0)
        inits = []
        for (key, target), s in top.items():
            selector = self.module(target, s.target_span or s.key_span) if key == "init" else None
            choice = bind(s.values[0], SETTINGS["init"].registry or {}, "initialisation", self.consts,
                          self.reporter) if selector is not None else None
            if selector is not None and choice is not None:
                inits.append((selector, choice))
        plans = [self.stage(name, span, {**top, **own}, fitter)
                 for name, span, own in ([("train", section.span, {})] if not stages
                                         else [(st.name, st.name_span, own) for st, own in stages])]
        if any(p is None for p in plans):
            return None
        checked = tuple(p for p in plans if p is not None)
        self._every_network_trains(checked, section.span)
        for name, span in self.feed_spans.items():
            if name not in fitter.used_feeds:
                inputs = sorted(fitter.input_names())
                self.reporter.error(Code.UNKNOWN_NAME, f"`feed {name}`: no input the training feeds is called "
                                    f"`{name}`", span, did_you_mean(name, inputs) or "inputs: " + ", ".join(inputs))
        return TrainPlan(self.model.name, data, checked, tuple(inits), seed, section.span)

    # ---- settings -----------------------------------------------------------------
    def settings(self, settings: tuple[ast.Setting, ...], in_stage: bool) -> Settings:
        out: Settings = {}
        for s in settings:
            spec = SETTINGS.get(s.key)
            if spec is None:
                note = did_you_mean(s.key, SETTINGS) or "settings: " + ", ".join(SETTINGS)
                self.reporter.error(Code.UNKNOWN_SETTING, f"unknown train setting `{s.key}`", s.key_span, note)
                continue
            if in_stage and not spec.per_stage:
                self.reporter.error(Code.MISPLACED, f"`{s.key}` is set once for the whole train section, not per "
                                    "stage", s.span, "move it out of the stage")
                continue
            if not self._target_ok(spec, s) or not self._arity_ok(spec, s):
                continue
            if (s.key, s.target) in out:
                first = out[(s.key, s.target)]
                self.reporter.error(Code.DUPLICATE_NAME, f"`{s.key}` is set twice", s.key_span,
                                    f"first set at {first.span.where()}")
                continue
            out[(s.key, s.target)] = s
        return out

    def _target_ok(self, spec: SettingSpec, s: ast.Setting) -> bool:
        if spec.target == Target.NONE and s.target is not None:
            self.reporter.error(Code.UNKNOWN_SETTING, f"`{s.key}` applies to the whole model, not to `{s.target}`",
                                s.target_span or s.span, f"write `{s.key} = ...`")
            return False
        if spec.target == Target.INPUT and s.target is None:
            self.reporter.error(Code.MISSING_ARG, f"`{s.key}` names the model input it feeds", s.key_span,
                                f"write `{s.key} x = images`: input `x` receives the field `images`")
            return False
        if spec.target == Target.NETWORK and s.target is not None and s.target not in self.networks:
            self._unknown_network(s.target, s.target_span or s.span)
            return False
        return True

    def _arity_ok(self, spec: SettingSpec, s: ast.Setting) -> bool:
        if spec.value not in (Value.MODULES, Value.CALLS) and len(s.values) > 1:
            self.reporter.error(Code.TOO_MANY_ARGS, f"`{s.key}` takes one value, {len(s.values)} given",
                                s.values[1].span)
            return False
        return True

    @property
    def networks(self) -> list[str]:
        return [n.name for n in self.program.networks]

    def _unknown_network(self, name: str, span: Span) -> None:
        note = did_you_mean(name, self.networks) or "networks: " + ", ".join(self.networks)
        self.reporter.error(Code.UNKNOWN_NAME, f"`{name}` is not a network of model `{self.model.name}`", span, note)

    def number(self, settings: Settings, key: str, default: int | float | None) -> int | float | None:
        s = settings.get((key, None))
        if s is None:
            return default
        spec = SETTINGS[key]
        value = scalar(s.values[0], self.consts, self.reporter)
        ok = isinstance(value, float if spec.value == Value.FLOAT else int) or (
            spec.value == Value.FLOAT and isinstance(value, int))
        if value is None or isinstance(value, (bool, Word, str)) or not ok:
            if value is not None:
                kind = "a whole number" if spec.value == Value.INT else "a number"
                self.reporter.error(Code.ARG_TYPE, f"`{key}` is {kind}; found `{value}`", s.values[0].span)
            return default
        if spec.min is not None and value < spec.min:
            self.reporter.error(Code.BAD_VALUE, f"`{key}` is at least {spec.min:g}; found {value}", s.values[0].span)
            return default
        return value

    # ---- data ---------------------------------------------------------------------
    def data(self, top: Settings, span: Span) -> DataPlan | None:
        s = top.get(("data", None))
        if s is None:
            self.reporter.error(Code.MISSING_ARG, "the train section names no data", span,
                                "add `data = digits()` (or mnist(), sine(), sequences(), npz(path=...), ...)")
            return None
        expr = s.values[0]
        head, steps = (expr.head, expr.steps) if isinstance(expr, ast.Chain) else (expr, ())
        dataset = bind(head, datasets.DATASETS, "dataset", self.consts, self.reporter)
        if dataset is None:
            return None
        dataset = self._anchored(dataset)
        try:
            described = datasets.DATASETS[dataset.name].describe(dataset.kwargs)
        except datasets.DataMissing as missing:
            self.reporter.error(Code.DATA_MISSING, str(missing), head.span, "agqc never downloads data")
            return None
        except ValueError as why:  # a parameter value the dataset cannot use: `window=0`, `waveform="sqaure"`
            self.reporter.error(Code.BAD_VALUE, f"`{dataset.name}`: {why}", head.span)
            return None
        fields = [FieldType(name, f.dtype, tuple(f.shape), f.classes) for name, f in described.items()]
        transforms = []
        for step in steps:
            choice = bind(step, datasets.TRANSFORMS, "transform", self.consts, self.reporter)
            if choice is None:
                return None
            transformed = self._transformed(fields, choice, step.span)
            if transformed is None:
                return None
            fields = transformed
            transforms.append(choice)
        batch = self.number(top, "batch", 64)
        assert isinstance(batch, int)
        return DataPlan(dataset, tuple(transforms), batch, tuple(fields), s.span)

    def _anchored(self, dataset: Choice) -> Choice:
        """A relative `path=` read from the spec's folder, wherever `agqc` runs (the plan keeps it absolute)."""
        path = dataset.kwargs.get("path")
        if not isinstance(path, str) or not path or Path(path).is_absolute():
            return dataset
        resolved = str((Path(self.program.file).resolve().parent / path).resolve())
        return Choice(dataset.name, tuple((k, resolved if k == "path" else v) for k, v in dataset.params),
                      dataset.span)

    def _transformed(self, fields: list[FieldType], choice: Choice, span: Span) -> list[FieldType] | None:
        transform = datasets.TRANSFORMS[choice.name]
        out = []
        images = datasets.image_fields({f.name: datasets.Field(f.dtype, f.shape, f.classes) for f in fields})
        for f in fields:
            if f.name not in images:  # the rule the runtime's transform() follows
                out.append(f)
                continue
            try:
                new = transform.reshape(choice.kwargs, datasets.Field(f.dtype, f.shape, f.classes))
            except ValueError as why:
                self.reporter.error(Code.DATA_MISMATCH, f"`{choice.name}` cannot apply to `{f.name}` "
                                    f"{list(f.shape)}: {why}", span)
                return None
            out.append(FieldType(f.name, new.dtype, tuple(new.shape), new.classes))
        return out

    def feeds(self, top: Settings) -> dict[str, tuple[str, Span]]:
        out = {}
        for (key, target), s in top.items():
            if key == "feed" and target is not None:
                value = s.values[0]
                if not isinstance(value, ast.Name):
                    self.reporter.error(Code.ARG_TYPE, "`feed` names a dataset field", value.span,
                                        "write `feed x = images`")
                    continue
                out[target] = (value.id, value.span)
                self.feed_spans[target] = s.target_span or s.span
        return out

    # ---- stages -------------------------------------------------------------------
    def _unique_stages(self, stages: tuple[ast.Stage, ...]) -> None:
        seen: dict[str, ast.Stage] = {}
        for st in stages:
            if st.name in seen:
                self.reporter.error(Code.DUPLICATE_NAME, f"stage `{st.name}` is declared twice", st.name_span,
                                    f"first declared at {seen[st.name].span.where()}")
            seen[st.name] = st

    def stage(self, name: str, span: Span, settings: Settings, fitter: Fitter) -> StagePlan | None:
        s = settings.get(("objective", None))
        choice = None
        if s is not None:
            choice = bind(s.values[0], OBJECTIVES, "objective", self.consts, self.reporter,
                          {f"{k}.loss" if k != "vae" else "vae.reconstruction": v for k, v in LOSS_CHOICES.items()})
            if choice is None:
                return None
        objective = fitter.objective(choice, s.values[0].span if s else span)
        if objective is None:
            return None
        frozen = self.frozen(settings)
        if frozen is None:
            return None
        frozen_networks = {f.split(":", 1)[1] for f in frozen if f.startswith("network:")}
        trained = tuple(n for n in objective.networks if n not in frozen_networks)
        before = self.reporter.error_count
        per_network = {key: self.per_network(settings, key, trained) for key in
                       ("optimizer", "schedule", "clip", "regularize", "ema")}
        missing = [n for n in trained if n not in dict(per_network["optimizer"])]
        if missing and self.reporter.error_count == before:  # not when an optimiser given was misspelt
            where = settings[("objective", None)].span if ("objective", None) in settings else span
            self.reporter.error(Code.NOT_TRAINED, f"stage `{name}` trains " + ", ".join(f"`{n}`" for n in missing)
                                + " but gives " + ("it" if len(missing) == 1 else "them") + " no optimiser", where,
                                f"add `optimizer = adam(lr=1e-3)` for every network, or `optimizer {missing[0]} = "
                                "adam(...)`, or freeze it: `freeze = " + missing[0] + "`")
        early = settings.get(("early_stop", None))
        return StagePlan(
            name, objective, per_network["optimizer"], per_network["schedule"], per_network["clip"],
            per_network["regularize"], per_network["ema"], frozen, trained,
            int(self.number(settings, "accumulate", 1) or 1), int(self.number(settings, "epochs", 1) or 1),
            self.number(settings, "steps", None),  # type: ignore[arg-type]
            bind(early.values[0], SETTINGS["early_stop"].registry or {}, "early-stopping metric", self.consts,
                 self.reporter) if early else None,
            self.augmentations(settings, fitter.data),
            self.calls(settings, "monitor", SETTINGS["monitor"].registry or {}, "monitor"), span)

    def per_network(self, settings: Settings, key: str, trained: tuple[str, ...]) -> tuple:
        """``key``'s value for each trained network: its own setting, else the one for all."""
        out: list[tuple[str, Choice | float]] = []
        spec = SETTINGS[key]
        for net in trained:
            s = settings.get((key, net)) or settings.get((key, None))
            if s is None:
                continue
            if spec.value == Value.FLOAT:
                value = scalar(s.values[0], self.consts, self.reporter)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
                    out.append((net, float(value)))
                elif value is not None:
                    self.reporter.error(Code.BAD_VALUE, f"`{key}` is a decay between 0 and 1; found `{value}`",
                                        s.values[0].span, "0.999 averages over about the last 1,000 steps")
                continue
            for expr in s.values:
                choice = bind(expr, spec.registry or {}, key, self.consts, self.reporter)
                if choice is not None:
                    out.append((net, choice))
        return tuple(out)

    def augmentations(self, settings: Settings, data: DataPlan) -> tuple[Choice, ...]:
        """The `augment` calls, each checked against the image fields it will change."""
        choices = self.calls(settings, "augment", {**datasets.AUGMENTATIONS, "generated": GENERATED}, "augmentation")
        images = datasets.image_fields({f.name: datasets.Field(f.dtype, f.shape, f.classes) for f in data.fields})
        s = settings.get(("augment", None))
        checked = []
        for choice in choices:
            if choice.name == "generated":
                resolved = check_generated(choice, self.program.file, data, self.reporter)
                checked += [resolved] if resolved else []
                continue
            checked.append(choice)
            for f in data.fields:
                if f.name not in images:
                    continue
                try:
                    datasets.AUGMENTATIONS[choice.name].reshape(choice.kwargs, datasets.Field(f.dtype, f.shape))
                except ValueError as why:
                    self.reporter.error(Code.DATA_MISMATCH, f"`{choice.name}` cannot apply to `{f.name}` "
                                        f"{list(f.shape)}: {why}", choice.span if s else data.span)
        return tuple(checked)

    def calls(self, settings: Settings, key: str, registry: Mapping[str, Any], what: str) -> tuple[Choice, ...]:
        s = settings.get((key, None))
        if s is None:
            return ()
        return tuple(c for c in (bind(v, registry, what, self.consts, self.reporter) for v in s.values) if c)

    def frozen(self, settings: Settings) -> tuple[str, ...] | None:
        s = settings.get(("freeze", None))
        if s is None:
            return ()
        out = []
        for v in s.values:
            if not isinstance(v, ast.Name):
                self.reporter.error(Code.ARG_TYPE, "`freeze` names networks, blocks or `as` layers", v.span)
                return None
            selector = self.module(v.id, v.span)
            if selector is None:
                return None
            out.append(selector)
        return tuple(out)

    def module(self, name: str | None, span: Span) -> str | None:
        """A network, block or `as` layer as a selector: ``network:G``, ``block:ConvBlock``, ``layer:head``."""
        if name is None or name in self.networks:
            return f"network:{name or '*'}"
        classes = sorted({g.class_name for g in self.program.graphs.values() if g.name == name and g.class_name})
        if classes:
            return "block:" + ",".join(classes)
        if name in _layer_aliases(self.program):
            return f"layer:{name}"
        known = self.networks + sorted({g.name for g in self.program.graphs.values()}) + sorted(
            _layer_aliases(self.program))
        note = did_you_mean(name, known) or "networks: " + ", ".join(self.networks)
        self.reporter.error(Code.UNKNOWN_NAME, f"`{name}` is not a network, block or `as` layer of model "
                            f"`{self.model.name}`", span, note)
        return None

    def _every_network_trains(self, stages: tuple[StagePlan, ...], span: Span) -> None:
        for net in self.networks:
            if any(net in st.objective.networks for st in stages) and not any(net in st.trained for st in stages):
                self.reporter.error(Code.NOT_TRAINED, f"network `{net}` is frozen in every stage, so nothing "
                                    "trains it", span, "unfreeze it in one stage, or load its weights with "
                                    "`agqc train --weights` and say so in a comment")


def _layer_aliases(program: Program) -> set[str]:
    """Every layer's attribute name (an `as` name, a repeat's name, `linear2`, ...) in the program's graphs."""
    return {n.name for g in program.graphs.values() for n in g.nodes() if n.kind != NodeKind.INPUT}
