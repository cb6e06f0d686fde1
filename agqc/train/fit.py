"""Fitting an objective to a model: roles, inputs, outputs and data -> ``ObjectivePlan``.

Takes the checked ``Program``, the ``DataPlan`` and the section's ``feed`` settings;
``Fitter.objective`` gives the plan for one objective (or the one the roles imply)
or None after a located diagnostic: cross-entropy on a [B, 1] output, an adversarial
objective without a generator and a discriminator, KL without `mu` and `logvar`,
data whose shape does not fit the input it feeds (naming both shapes).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..diagnostics import Reporter, Span, did_you_mean
from ..errorcodes import Code
from ..ir import Graph, Program
from ..kinds import DType, NodeKind
from ..types import TensorType, format_dims
from .options import OBJECTIVES, ObjectiveKind
from .plan import Call, Choice, DataPlan, Feed, FieldType, ObjectivePlan

SHAPE_ONLY = {"reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "index"}
ROLE_OBJECTIVES = (  # the objective a model's roles imply, in the order they are tried
    (ObjectiveKind.ADVERSARIAL, lambda r: "generator" in r and ("discriminator" in r or "critic" in r)),
    (ObjectiveKind.VAE, lambda r: "decoder" in r and "mu" in r and "logvar" in r),
    (ObjectiveKind.RECONSTRUCTION, lambda r: "encoder" in r and "decoder" in r),
    (ObjectiveKind.CLASSIFICATION, lambda r: "classifier" in r),
    (ObjectiveKind.NEXT_VALUE, lambda r: "regressor" in r),
    (ObjectiveKind.NEXT_TOKEN, lambda r: "tokens" in r),
)


@dataclass
class Fitter:
    program: Program
    data: DataPlan
    feeds: dict[str, tuple[str, Span]]
    reporter: Reporter
    used_feeds: set[str] = field(default_factory=set)

    # ---- which objective -----------------------------------------------------------
    def objective(self, choice: Choice | None, span: Span) -> ObjectivePlan | None:
        if choice is None:
            kinds = [k for k, fits in ROLE_OBJECTIVES if fits(self._traits())]
            if not kinds:
                self.reporter.error(Code.OBJECTIVE_MISMATCH, "agqc cannot tell what to train this model for", span,
                                    "add `objective = ...`, one of " + ", ".join(OBJECTIVES))
                return None
            if len(kinds) > 1 and kinds[:2] != [ObjectiveKind.VAE, ObjectiveKind.RECONSTRUCTION]:
                self.reporter.error(Code.OBJECTIVE_MISMATCH, "the model's roles fit " + " and ".join(
                    f"`{k}`" for k in kinds) + ": say which", span, f"add `objective = {kinds[0]}()`, or stages "
                    "with one objective each")
                return None
            entry = OBJECTIVES[kinds[0]]
            choice = Choice(entry.name, tuple((p.name, p.default) for p in entry.params), span)
        kind = ObjectiveKind(choice.name)
        return getattr(self, "_" + kind.value)(choice, kind)

    def _traits(self) -> set[str]:
        traits = {n.role for n in self.program.networks}
        flow = self.program.flow
        if flow is not None:
            traits |= {self._output_name(flow, i) for i in range(len(flow.outputs))}
        if any(t.dtype == DType.INT and t.rank == 2 for n in self.program.networks
               for t in self._graph(n.name).input_types()):
            traits.add("tokens")
        return traits

    # ---- objectives ---------------------------------------------------------------
    def _classification(self, choice: Choice, kind: ObjectiveKind) -> ObjectivePlan | None:
        return self._predicting(choice, kind, "classifier", self._check_logits)

    def _next_value(self, choice: Choice, kind: ObjectiveKind) -> ObjectivePlan | None:
        return self._predicting(choice, kind, "regressor", self._check_values)

    def _next_token(self, choice: Choice, kind: ObjectiveKind) -> ObjectivePlan | None:
        nets = [n.name for n in self.program.networks
                if any(t.dtype == DType.INT and t.rank == 2 for t in self._graph(n.name).input_types())]
        if not nets:
            return self._mismatch(choice, "a network whose input is int[B, T] tokens")
        calls = [self._network_call(n, choice.span) for n in nets]
        if any(c is None for c in calls):
            return None
        for n in nets:
            if not self._check_token_logits(n, choice.span):
                return None
        return ObjectivePlan(kind, choice, models=tuple(c for c in calls if c), outputs=(("prediction", 0),),
                             target="tokens", names=tuple(nets), networks=tuple(nets))

    def _predicting(self, choice: Choice, kind: ObjectiveKind, role: str,
                    check: Callable[[Graph, int, str, Choice], bool]) -> ObjectivePlan | None:
        """One output per network of ``role`` (all of them, side by side), or the flow's output from it."""
        nets = self._with_role(role)
        if not nets:
            return self._mismatch(choice, f"a {role} network")
        target = self._target(kind)  # what the networks predict is never what they read
        flow = self.program.flow
        if flow is not None:  # every flow output a network of the role computes gets its own loss
            found = [(i, flow.node(node).module) for i, (node, _) in enumerate(flow.outputs)
                     if flow.node(node).module in nets]
            if not found:
                return self._mismatch(choice, f"a flow output computed by the {role} `{nets[0]}`")
            call = self._flow_call(choice.span, reserved=target)
            if call is None or not all(check(flow, i, net or "", choice) for i, net in found):
                return None
            reached = set(self._reached(flow, *(i for i, _ in found)))
            return ObjectivePlan(kind, choice, models=(call,), outputs=tuple(("prediction", i) for i, _ in found),
                                 target=self._target(kind), names=tuple(net or "" for _, net in found),
                                 networks=tuple(n.name for n in self.program.networks if n.name in reached))
        calls = []
        for net in nets:
            call = self._network_call(net, choice.span, reserved=target)
            if call is None or not check(self._graph(net), 0, net, choice):
                return None
            calls.append(call)
        return ObjectivePlan(kind, choice, models=tuple(calls), outputs=(("prediction", 0),),
                             target=self._target(kind), names=tuple(nets), networks=tuple(nets))

    def _target(self, kind: ObjectiveKind) -> str | None:
        if kind == ObjectiveKind.CLASSIFICATION:
            return self._field_named(("labels",), "int")
        return self._field_named(("targets",), "float")

    def _reconstruction(self, choice: Choice, kind: ObjectiveKind) -> ObjectivePlan | None:
        flow = self.program.flow
        decoders = self._with_role("decoder")
        if flow is None or not decoders:
            return self._mismatch(choice, "a model flow that runs an encoder and a decoder")
        index = next((i for i, (node, _) in enumerate(flow.outputs) if flow.node(node).module in decoders), None)
        if index is None:
            return self._mismatch(choice, f"a flow output computed by the decoder `{decoders[0]}`")
        call = self._flow_call(choice.span)
        if call is None:
            return None
        source = next((f for f in call.inputs if f.field is not None and f.dtype == "float"), None)
        if source is None or source.field is None:
            return self._mismatch(choice, "a float input to reconstruct")
        out, field_type = flow.output_types()[index], self.data.field(source.field)
        if tuple(out.shape[1:]) != field_type.shape:
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"the decoder gives {out} but reconstructs "
                                f"`{source.field}` {format_dims(('B',) + field_type.shape)}", choice.span)
            return None
        loss = choice["loss"] if kind == ObjectiveKind.RECONSTRUCTION else choice["reconstruction"]
        probabilities = self._last_op(flow, index) == "sigmoid"
        if loss == "bce" and not probabilities:
            self.reporter.error(Code.OBJECTIVE_MISMATCH, "`bce` compares probabilities, and the decoder's output "
                                f"ends in `{self._last_op(flow, index)}`, not a sigmoid", choice.span,
                                "end the decoder with `-> sigmoid()`, or use `loss=\"mse\"`")
            return None
        outputs = [("reconstruction", index)]
        if kind == ObjectiveKind.VAE:
            names = {self._output_name(flow, i): i for i in range(len(flow.outputs))}
            missing = [n for n in ("mu", "logvar") if n not in names]
            if missing:
                return self._mismatch(choice, "flow outputs named `mu` and `logvar` (missing " +
                                      ", ".join(f"`{m}`" for m in missing) + ")")
            outputs += [("mu", names["mu"]), ("logvar", names["logvar"])]
        return ObjectivePlan(kind, choice, models=(call,), outputs=tuple(outputs), target=source.field,
                             probabilities=probabilities, networks=self._reached(flow, *(i for _, i in outputs)))

    _vae = _reconstruction

    def _adversarial(self, choice: Choice, kind: ObjectiveKind) -> ObjectivePlan | None:
        gens, discs = self._with_role("generator"), self._with_role("discriminator") + self._with_role("critic")
        if len(gens) != 1 or len(discs) != 1:
            return self._mismatch(choice, "one generator and one discriminator (or critic) network")
        g, d = gens[0], discs[0]
        g_call = self._network_call(g, choice.span, noise=True)
        d_graph = self._graph(d)
        g_out = self._graph(g).output_types()
        image = next((i for i, t in enumerate(d_graph.input_types()) if t.dtype == DType.FLOAT), None)
        if g_call is None or image is None:
            return None if g_call is None else self._mismatch(choice, f"a float image input to `{d}`")
        if g_out[0].shape[1:] != d_graph.input_types()[image].shape[1:]:
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"the generator `{g}` makes {g_out[0]} but the "
                                f"discriminator `{d}` takes {d_graph.input_types()[image]}", choice.span)
            return None
        d_call = self._network_call(d, choice.span)
        if d_call is None:
            return None
        d_type = d_graph.output_types()[0]
        if d_type.rank > 2 or (d_type.rank == 2 and d_type.shape[1] != 1):
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"a discriminator scores each example once: [B, 1] or "
                                f"[B]; `{d}` gives {d_type}", choice.span)
            return None
        probabilities = self._last_op(d_graph, 0) == "sigmoid"
        if probabilities and choice["loss"] != "bce":
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"`{choice['loss']}` needs raw scores, and `{d}` ends in a "
                                "sigmoid", choice.span, "remove the discriminator's final `sigmoid()`, or use "
                                "`loss=\"bce\"`")
            return None
        if self._last_op(self._graph(g), 0) == "tanh":
            self._warn_range(g, choice.span)
        return ObjectivePlan(kind, choice, generator=g_call, discriminator=d_call, outputs=(("image", image),),
                             probabilities=probabilities, networks=(g, d))

    # ---- outputs -------------------------------------------------------------------
    def _check_logits(self, graph: Graph, index: int, net: str, choice: Choice) -> bool:
        out = graph.output_types()[index]
        labels = self._target(ObjectiveKind.CLASSIFICATION)
        if labels is None:
            self.reporter.error(Code.DATA_MISMATCH, f"classification needs integer labels; `{self.data.dataset.name}`"
                                " has " + ", ".join(f"`{f.name}`" for f in self.data.fields), choice.span)
            return False
        classes = self.data.field(labels).classes
        if out.dtype != DType.FLOAT or out.rank != 2 or not isinstance(out.shape[1], int) or out.shape[1] < 2:
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"cross-entropy needs one logit per class, [B, classes]; "
                                f"`{net}` gives {out}", choice.span,
                                f"end `{net}` with `linear({classes or 'CLASSES'})`" + (
                                    "; a [B, 1] output is a regressor's or a discriminator's" if out.rank == 2 else ""))
            return False
        if classes is not None and out.shape[1] < classes:
            self.reporter.error(Code.DATA_MISMATCH, f"`{self.data.dataset.name}` has {classes} classes but `{net}` "
                                f"gives {out.shape[1]} logits", choice.span)
            return False
        if self._last_op(graph, index) in ("softmax", "log_softmax", "sigmoid"):
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"cross-entropy takes logits; `{net}` ends in "
                                f"`{self._last_op(graph, index)}`", choice.span,
                                "remove the final activation: the loss applies softmax itself")
            return False
        return True

    def _check_values(self, graph: Graph, index: int, net: str, choice: Choice) -> bool:
        out, target = graph.output_types()[index], self._target(ObjectiveKind.NEXT_VALUE)
        if target is None:
            self.reporter.error(Code.DATA_MISMATCH, f"next-value regression needs a `targets` field; "
                                f"`{self.data.dataset.name}` has none", choice.span, "use `data = sine()`")
            return False
        want = self.data.field(target).shape
        if tuple(out.shape[1:]) != want:
            self.reporter.error(Code.DATA_MISMATCH, f"`{net}` predicts {out} but the targets are "
                                f"{format_dims(('B',) + want)}", choice.span)
            return False
        return True

    def _check_token_logits(self, net: str, span: Span) -> bool:
        out = self._graph(net).output_types()[0]
        tokens = self.data.fields[0] if self.data.fields else None
        vocab = tokens.classes if tokens else None
        if out.rank != 3 or not isinstance(out.shape[2], int):
            self.reporter.error(Code.OBJECTIVE_MISMATCH, f"next-token prediction needs [B, T, vocab] logits; "
                                f"`{net}` gives {out}", span)
            return False
        if vocab is not None and out.shape[2] < vocab:
            self.reporter.error(Code.DATA_MISMATCH, f"the data has {vocab} distinct tokens but `{net}` gives "
                                f"{out.shape[2]} logits per position", span)
            return False
        return True

    def _warn_range(self, g: str, span: Span) -> None:
        low = next((c["low"] for c in self.data.transforms if c.name == "scale"), 0.0)
        if low >= 0:
            self.reporter.warning(Code.DATA_MISMATCH, f"the generator `{g}` ends in tanh, in [-1, 1], but the real "
                                  "images are in [0, 1], so the discriminator can tell them apart by range", span,
                                  "add `-> scale(-1, 1)` to the data")

    # ---- inputs --------------------------------------------------------------------
    def _network_call(self, net: str, span: Span, noise: bool = False, reserved: str | None = None) -> Call | None:
        graph = self._graph(net)
        feeds = [self._feed(name, t, span, noise, reserved) for name, t in zip(graph.inputs, graph.input_types())]
        return None if any(f is None for f in feeds) else Call(net, tuple(f for f in feeds if f))

    def _flow_call(self, span: Span, reserved: str | None = None) -> Call | None:
        flow = self.program.flow
        assert flow is not None
        feeds = [self._feed(name, t, span, False, reserved) for name, t in zip(flow.inputs, flow.input_types())]
        return None if any(f is None for f in feeds) else Call(None, tuple(f for f in feeds if f))

    def _feed(self, name: str, t: TensorType, span: Span, noise: bool, reserved: str | None = None) -> Feed | None:
        """What input ``name`` of type ``t`` receives: the field it is fed, the one that fits, or noise.

        ``reserved`` is the field the objective predicts (``labels``, ``targets``): feeding it to an input
        would let the network read its answer, so it is an error when asked for and never chosen otherwise.
        """
        dtype = "int" if t.dtype == DType.INT else "float"
        if t.rank and isinstance(t.shape[0], int) and t.shape[0] != self.data.batch:
            self.reporter.error(Code.DATA_MISMATCH, f"input `{name}` takes {t}: batches of exactly {t.shape[0]}, "
                                f"and the train section's batch is {self.data.batch}", self.data.span,
                                f"set `batch = {t.shape[0]}`, or give the input a symbolic batch size `B`")
            return None
        if name in self.feeds:
            field_name, where = self.feeds[name]
            self.used_feeds.add(name)
            known = [f.name for f in self.data.fields]
            if field_name not in known:
                self.reporter.error(Code.UNKNOWN_NAME, f"`{self.data.dataset.name}` has no field `{field_name}`",
                                    where, did_you_mean(field_name, known) or "fields: " + ", ".join(known))
                return None
            if field_name == reserved:
                self.reporter.error(Code.DATA_MISMATCH, f"input `{name}` is fed `{field_name}`, the field the "
                                    "objective predicts: the network would read its own answer", where)
                return None
            candidates = [self.data.field(field_name)]
            span = where
        else:
            candidates = [f for f in self.data.fields if f.dtype == dtype and f.name != reserved]
            span = self.data.span  # the data is what does not fit
        fitting = [f for f in candidates if _fits(t, f)]
        if fitting:
            f = fitting[0]
            tokens = dtype == "int" and len(f.shape) == 1 and f.classes is not None  # all but the last go in
            return Feed(f.name, (f.shape[0] - 1,) if tokens else f.shape, dtype)
        if noise and dtype == "float" and name not in self.feeds and all(isinstance(d, int) for d in t.shape[1:]):
            return Feed(None, tuple(int(d) for d in t.shape[1:]), "float")
        shown = ", ".join(f"`{f.name}` {format_dims(('N',) + f.shape)}" + ("" if f.dtype == "float" else " (int)")
                          for f in candidates or self.data.fields)
        notes = [n for n in (_transform_hint(t, candidates),) if n]
        if reserved is not None and name not in self.feeds and _fits(t, self.data.field(reserved)):
            notes.append(f"`{reserved}` fits, but it is what the network predicts, so it is never its input")
        self.reporter.error(Code.DATA_MISMATCH, f"input `{name}` takes {t}, and no field of "
                            f"`{self.data.dataset.name}` fits it: {shown}", span, *notes)
        return None

    def input_names(self) -> set[str]:
        """Every input a training call could feed: the flow's and each network's."""
        names = set(self.program.flow.inputs) if self.program.flow is not None else set()
        return names.union(*(self._graph(n.name).inputs for n in self.program.networks))

    # ---- the IR --------------------------------------------------------------------
    def _graph(self, net: str) -> Graph:
        return self.program.graph(self.program.network(net).graph)

    def _with_role(self, role: str) -> list[str]:
        return [n.name for n in self.program.networks if n.role == role]

    def _field_named(self, names: tuple[str, ...], dtype: str) -> str | None:
        typed = [f for f in self.data.fields if f.dtype == dtype and (dtype == "float" or not f.shape)]
        return next((f.name for f in typed if f.name in names), typed[0].name if typed and dtype == "int" else None)

    def _output_name(self, graph: Graph, index: int) -> str:
        node_name, i = graph.outputs[index]
        node = graph.node(node_name)
        return node.hints[i] if i < len(node.hints) else node_name

    def _last_op(self, graph: Graph, index: int) -> str:
        """The op that computes output ``index``, looking into the blocks and networks that return it."""
        node = graph.node(graph.outputs[index][0])
        while True:
            if node.kind == NodeKind.CALL and node.callee:
                graph = self.program.graph(node.callee)
                node = graph.node(graph.outputs[0 if len(graph.outputs) == 1 else index][0])
            elif node.op in SHAPE_ONLY and node.inputs:
                node = graph.node(node.inputs[0][0])  # a reshape keeps what the values are
            else:
                return node.op

    def _reached(self, flow: Graph, *indices: int) -> tuple[str, ...]:
        """The networks whose weights the outputs at ``indices`` depend on.

        A walk back along the nodes' inputs: the graph library is not imported for it, so that
        `agqc check` stays quick.
        """
        todo = [flow.outputs[i][0] for i in indices]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(ref[0] for ref in flow.node(name).inputs)
        modules = {flow.node(x).module for x in seen}
        return tuple(n.name for n in self.program.networks if n.name in modules)

    def _mismatch(self, choice: Choice, needs: str) -> ObjectivePlan | None:
        """Report that the model cannot serve ``choice``; None, for the caller to return."""
        have = ", ".join(f"{n.role} `{n.name}`" for n in self.program.networks)
        self.reporter.error(Code.OBJECTIVE_MISMATCH, f"`{choice.name}` needs {needs}; model "
                            f"`{self.program.model}` has {have}", choice.span, OBJECTIVES[choice.name].doc)
        return None


def _fits(t: TensorType, f: FieldType) -> bool:
    """Does one example of field ``f`` fit input type ``t`` after its batch dimension?"""
    want = tuple(t.shape[1:])
    shape = f.shape
    if t.dtype == DType.INT and len(want) == 1 and len(shape) == 1 and f.classes is not None:
        shape = (shape[0] - 1,)  # token windows carry one more token: the last position's target
    if len(want) != len(shape) or (t.dtype == DType.INT) != (f.dtype == "int"):
        return False
    binding: dict[str, int] = {}
    for d, n in zip(want, shape):
        if isinstance(d, int):
            if d != n:
                return False
        elif d.isidentifier() and binding.setdefault(d, n) != n:
            return False
    return True


def _transform_hint(t: TensorType, candidates: list[FieldType]) -> str | None:
    want = t.shape[1:]
    images = [f for f in candidates if len(f.shape) == 3]
    if len(want) == 3 and images and all(isinstance(d, int) for d in want):
        f = images[0]
        if f.shape[0] == want[0]:
            return f"add `-> resize({want[1]}, {want[2]})` (or `-> pad(n)`) to the data"
    if len(want) == 1 and images and isinstance(want[0], int):
        f = images[0]
        if f.shape[0] * f.shape[1] * f.shape[2] == want[0]:
            return "add `-> flatten()` to the data"
    return None
