"""Model: ``model Name { networks; optional flow }`` -> networks and a flow graph.

Takes the ``Elaborator`` and the ``ast.Model``; instantiates each declared
network (a block with its role: generator, discriminator, encoder, ...),
then checks the flow: ``input`` declarations and statements that call the
networks, as on the lecture's GAN slide (noise -> G -> D <- real data).
Gives the networks and the flow's graph (None when the model has no flow).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast
from .diagnostics import did_you_mean
from .errorcodes import Code
from .ir import Graph, Network
from .kinds import GraphKind
from .naming import finalize_graph
from .types import FP32
from .values import POISON, Context, Frame, NetRef

if TYPE_CHECKING:
    from .elaborate import Elaborator

ROLES = ("generator", "discriminator", "critic", "encoder", "decoder", "classifier", "regressor",
         "network", "backbone", "head")


def elaborate_model(el: Elaborator, m: ast.Model) -> tuple[list[Network], Graph | None]:
    precision = el.evaluator.precision(m.annotations, FP32)
    f = Frame("<model>", m.name, GraphKind.MODEL, m.span, dict(el.scope.consts))
    networks: list[Network] = []
    has_flow = False
    for s in m.body:
        if isinstance(s, ast.NetworkDecl):
            _network(el, s, f, el.evaluator.annotated(s.annotations, Context(precision=precision)), networks)
        else:
            has_flow = True
            el.stmts([s], f, precision)
    if not any(isinstance(s, ast.NetworkDecl) for s in m.body):
        el.reporter.error(Code.NO_MODEL, f"model `{m.name}` declares no network", m.name_span,
                          "declare one: `classifier net = MyBlock()`")
    for name, span in f.input_spans.items():
        if name not in f.reads:
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
        el.reporter.error(Code.UNKNOWN_OP, f"a network is made from a block; {what} is not a block", value.span,
                          *([suggestion] if suggestion else []))
        return
    block = el.scope.blocks[value.func]
    positional, kwargs = el.evaluator.call_args(value, f, ctx)
    config = el.bind_config(block, positional, kwargs, value.span)
    if config is None:
        return
    graph = el.instantiate(block, config, None, precision, value.span, kind=GraphKind.NETWORK)
    if graph is None:
        return
    f.env[s.name] = NetRef(s.name, graph.key, s.span)
    networks.append(Network(s.name, s.role, graph.key, s.span))
