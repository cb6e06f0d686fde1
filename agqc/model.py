"""Model: ``model Name { networks; optional flow }`` -> networks and a flow graph.

Takes the elaborator and the ``ast.Model``; instantiates each declared
network (a block with its role: generator, discriminator, encoder, ...),
then checks the flow: ``input`` declarations and statements that call the
networks, as on the lecture's GAN slide (noise -> G -> D <- real data).
"""
from __future__ import annotations

from . import ast
from .diagnostics import did_you_mean
from .ir import Network
from .naming import finalize_graph
from .types import FP32
from .values import POISON, Frame, NetRef

ROLES = ("generator", "discriminator", "critic", "encoder", "decoder", "classifier", "regressor",
         "network", "backbone", "head")


def elaborate_model(el, m: ast.Model):
    precision = el.ev.precision(m.annotations, FP32)
    f = Frame("<model>", m.name, "model", m.span, dict(el.scope.consts), precision)
    networks: list[Network] = []
    has_flow = False
    for s in m.body:
        if isinstance(s, ast.NetworkDecl):
            outer = f.precision
            f.precision = el.ev.precision(s.annotations, outer)
            _network(el, s, f, networks)
            f.precision = outer
        else:
            has_flow = True
            el.stmts([s], f)
    if not any(isinstance(s, ast.NetworkDecl) for s in m.body):
        el.rep.error("no-model", f"model `{m.name}` declares no network", m.name_span,
                     "declare one: `classifier net = MyBlock()`")
    for name, span in f.input_spans.items():
        if name not in f.reads:
            el.rep.error("unused-input", f"model input `{name}` is never used", span,
                         "remove it, or pass it to a network in the flow")
    flow = None
    if has_flow:
        if f.outputs is None:
            el.rep.error("missing-return", f"the flow of model `{m.name}` has no return statement", m.name_span,
                         "a model with inputs ends its flow with `return <tensor>, ...`")
        elif not el.rep.errors:
            el.warn_unused(f)
            flow = finalize_graph(f, el.rep, boundary=None)
    return networks, flow


def _network(el, s: ast.NetworkDecl, f: Frame, networks: list[Network]) -> None:
    if s.role not in ROLES:
        note = did_you_mean(s.role, ROLES) or ("roles: " + ", ".join(ROLES))
        el.rep.error("unknown-role", f"unknown network role `{s.role}`", s.role_span, note)
    if s.name in f.env:
        first = f.env[s.name]
        where = [f"first defined at {first.span.where()}"] if hasattr(first, "span") else []
        el.rep.error("duplicate-name", f"`{s.name}` is already defined", s.name_span, *where)
        return
    f.env[s.name] = POISON  # until it checks: calls to it are then quietly skipped
    value, precision = s.value, f.precision
    if isinstance(value, ast.Annotated):
        precision = el.ev.precision(value.annotations, precision)
        value = value.expr
    if isinstance(value, ast.Name):
        value = ast.Call(value.id, (), (), None, value.span, value.span)
    if not isinstance(value, ast.Call) or value.func not in el.scope.blocks:
        what = f"`{value.func}`" if isinstance(value, ast.Call) else "this"
        note = did_you_mean(value.func, el.scope.blocks) if isinstance(value, ast.Call) else None
        el.rep.error("unknown-op", f"a network is made from a block; {what} is not a block", value.span,
                     *([note] if note else []))
        return
    block = el.scope.blocks[value.func]
    positional, kwargs = el.ev.call_args(value, f)
    config = el.bind_config(block, positional, kwargs, value.span)
    if config is None:
        return
    graph = el.instantiate(block, config, None, precision, value.span, kind="network")
    if graph is None:
        return
    f.env[s.name] = NetRef(s.name, graph.key, s.span)
    networks.append(Network(s.name, s.role, graph.key, s.span))
