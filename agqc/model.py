"""Model: ``model Name { networks; optional flow }`` -> networks and a flow graph.

Takes the ``Elaborator`` and the ``ast.Model``; instantiates each declared
network (a block with its role: generator, discriminator, encoder, ...),
then checks the flow: ``input`` declarations and statements that call the
networks, as on the lecture's GAN slide (noise -> G -> D <- real data).
Gives the networks and the flow's graph (None when the model has no flow).
``misused_name`` says what a name is when it is used where it means nothing
(a block read as a value, a role word, a network or a model input inside a
block), for the diagnostics of calls and names.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from . import ast
from .diagnostics import did_you_mean
from .errorcodes import Code
from .ir import Graph, Network
from .kinds import GraphKind
from .naming import finalize_graph
from .types import FP32
from .values import POISON, Context, Frame, NetRef, new_env

if TYPE_CHECKING:
    from .elaborate import Elaborator

ROLES = ("generator", "discriminator", "critic", "encoder", "decoder", "classifier", "regressor",
         "network", "backbone", "head")


def elaborate_model(el: Elaborator, m: ast.Model) -> tuple[list[Network], Graph | None]:
    precision = el.evaluator.precision(m.annotations, FP32)
    f = Frame("<model>", m.name, GraphKind.MODEL, m.span, new_env(el.scope.consts))
    networks: list[Network] = []
    has_flow = False
    for s in m.body:
        if isinstance(s, ast.TrainSection):
            continue  # the training recipe: agqc.train.check reads it once the graphs are checked
        if isinstance(s, ast.NetworkDecl):
            _network(el, s, f, el.evaluator.annotated(s.annotations, Context(precision=precision)), networks)
        else:
            has_flow = True
            el.stmts([s], f, precision)
    if not any(isinstance(s, ast.NetworkDecl) for s in m.body):
        el.reporter.error(Code.NO_MODEL, f"model `{m.name}` declares no network", m.name_span,
                          "declare one: `classifier net = MyBlock()`")
    for name, span in f.input_spans.items():
        if name not in f.reads and name not in el.misread:
            el.reporter.error(Code.UNUSED_INPUT, f"model input `{name}` is never used", span,
                              "remove it, or pass it to a network in the flow")
    flow = None
    if has_flow:
        if f.outputs is None:
            el.reporter.error(Code.MISSING_RETURN, f"the flow of model `{m.name}` has no return statement", m.name_span,
                              "a model with inputs ends its flow with `return <tensor>, ...`")
        elif not el.reporter.errors:
            el.warn_unused(f)
            flow = finalize_graph(f, el.reporter, boundary=None)
    return networks, flow


def _network(el: Elaborator, s: ast.NetworkDecl, f: Frame, ctx: Context, networks: list[Network]) -> None:
    """Instantiates the network's block; names it in ``f.env`` and adds it to ``networks``."""
    if s.role not in ROLES:
        note = did_you_mean(s.role, ROLES) or ("roles: " + ", ".join(ROLES))
        el.reporter.error(Code.UNKNOWN_ROLE, f"unknown network role `{s.role}`", s.role_span, note)
    if s.name in f.env:
        first = f.env[s.name]
        where = [f"first defined at {first.span.where()}"] if hasattr(first, "span") else []
        el.reporter.error(Code.DUPLICATE_NAME, f"`{s.name}` is already defined", s.name_span, *where)
        return
    f.env[s.name] = POISON  # until it checks: calls to it are then quietly skipped
    value, precision = s.value, ctx.precision
    if isinstance(value, ast.Annotated):
        precision = el.evaluator.precision(value.annotations, precision)
        value = value.expr
    if isinstance(value, ast.Name):
        value = ast.Call(value.id, (), (), None, value.span, value.span)
    if not isinstance(value, ast.Call) or value.func not in el.scope.blocks:
        what = f"`{value.func}`" if isinstance(value, ast.Call) else "this"
        suggestion = did_you_mean(value.func, el.scope.blocks) if isinstance(value, ast.Call) else None
        other = f.env.get(value.func) if isinstance(value, ast.Call) else None
        if isinstance(other, NetRef) and isinstance(value, ast.Call):
            block_name = el.graphs[other.graph_key].name
            suggestion = (f"`{value.func}` is a network: call it twice in the flow to share its weights, or "
                          f"declare `{s.role} {s.name} = {block_name}()` for an instance with weights of its own")
        el.reporter.error(Code.UNKNOWN_OP, f"a network is made from a block; {what} is not a block", value.span,
                          *([suggestion] if suggestion else []))
        return
    block = el.scope.blocks[value.func]
    positional, kwargs = el.evaluator.call_args(value, f, ctx)
    config = el.bind_config(block, positional, kwargs, value.span)
    if config is None:
        return
    site = dataclasses.replace(el.site(block, value.span, positional, kwargs), network=s.name)
    graph = el.instantiate(block, config, None, precision, value.span, kind=GraphKind.NETWORK, site=site)
    if graph is None:
        return
    f.env[s.name] = NetRef(s.name, graph.key, s.span)
    networks.append(Network(s.name, s.role, graph.key, s.span))


# ---- names used where they mean nothing: a block, role, network or model input out of place ----
def _block_of(decl: ast.NetworkDecl) -> str | None:
    """The block a network declaration instantiates (``G = Gen()``, ``G = Gen``, ``G = Gen() @bf16``)."""
    value = decl.value.expr if isinstance(decl.value, ast.Annotated) else decl.value
    if isinstance(value, ast.Call):
        return value.func
    return value.id if isinstance(value, ast.Name) else None


def _networks(el: Elaborator) -> list[ast.NetworkDecl]:
    return [s for s in el.scope.model.body if isinstance(s, ast.NetworkDecl)] if el.scope.model else []


def did_you_mean_network(names: list[str]) -> str | None:
    """A note naming the networks meant, or None when there are none."""
    if not names:
        return None
    return "did you mean the network " + " or ".join(f"`{n}`" for n in names) + "?"


def networks_of(el: Elaborator, block: str) -> list[str]:
    """The model's networks made from ``block``, in declaration order."""
    return [d.name for d in _networks(el) if _block_of(d) == block]


def misused_name(el: Elaborator, name: str, f: Frame, called: bool) -> tuple[str, list[str]] | None:
    """What ``name`` (not a value in ``f``) is elsewhere in the spec, as a message and notes, or None.

    ``called``: written as ``name(...)`` rather than read as a value.  A block read as a
    value, a role word, a network or model input used inside a block, a network or input
    used in the flow before its declaration: each gets its own explanation.
    """
    model = el.scope.model
    in_flow = f.kind == GraphKind.MODEL
    use = "called" if called else "used"
    if model is not None and name == model.name:
        return (f"`{name}` is the model itself, not {'an op' if called else 'a value'}",
                ["a model's flow calls its networks" if in_flow else "a block sees only its parameters"])
    if not called and name in el.scope.blocks:
        if in_flow:
            note = did_you_mean_network(networks_of(el, name)) or (
                f"a model's flow calls networks: declare one, `network net = {name}()`, and call it")
            return f"`{name}` is a block, not a value", [note]
        return f"`{name}` is a block, not a value", [f"call it: `x -> {name}(...)`"]
    decl = next((d for d in _networks(el) if d.name == name), None)
    if decl is not None and model is not None:
        if in_flow:  # declared, but not yet: the flow comes after the networks
            return (f"network `{name}` is {use} before its declaration at line {decl.span.line}",
                    ["declare a model's networks before the flow that uses them"])
        block = _block_of(decl)
        alternative = f"call its block, `{block}(...)`, which makes its own weights" if block else ""
        return (f"`{name}` is a network of model `{model.name}`; a block cannot {'call' if called else 'use'} it",
                [f"networks are called in the model's flow; inside a block, {alternative}" if alternative
                 else "networks are called in the model's flow"])
    if name in ROLES:
        with_role = [d.name for d in _networks(el) if d.role == name]
        note = did_you_mean_network(with_role) or (
            f"a role says what a network is for, where it is declared: `{name} net = SomeBlock()`")
        return f"`{name}` is a network role, not {'an op' if called else 'a value'}", [note]
    inputs = [s for s in model.body if isinstance(s, ast.InputDecl) and s.name == name] if model else []
    if inputs and model is not None:
        if in_flow:
            return (f"model input `{name}` is {use} before its declaration at line {inputs[0].span.line}",
                    ["declare the inputs before the flow that uses them"])
        el.misread.add(name)
        return (f"`{name}` is an input of model `{model.name}`; a block cannot read it",
                [f"a block sees only its parameters: add `{name}: [...]` to `{f.name}`'s signature "
                 "and pass the tensor where the block is called"])
    return None
