"""Annotate: a checked ``Program`` -> the same program with ``NodeFacts`` on every node.

Takes the IR once elaboration found no error; stores, on each node, what
every backend needs (after torch.fx's ``ShapeProp``: one interpreter over
the graph, one method per node kind): the op call, parameters (stored and
quantised), MACs kept symbolic, stored and compute precision, the helpers
the generated source needs and where TensorRT would run it; and, on each
graph, ``GraphFacts`` (totals with every call and repeat copy counted).
Callees are annotated before their callers.  Facts come only from the op
registry and the precision table; backends read them and derive nothing.
"""
from __future__ import annotations

from ..facts import GraphFacts, NodeFacts, Placement, Runtime, Signature, Stored
from ..ir import Graph, Node, Program
from ..kinds import GraphKind, NodeKind
from ..ops.registry import OpCall, OpDef, TensorRT, lookup
from ..types import (
    FP32,
    PRECISIONS,
    Dim,
    Precision,
    SizeTooComplex,
    TensorType,
    dim_eval,
    dim_mul,
    dim_subst,
    dim_total,
)

# Why TensorRT does not run an op of this kind, and what it does with the ones it drops.
FALLBACK_NOTES = {TensorRT.RANDOM: "random sampling stays in PyTorch",
                  TensorRT.RECURRENT: "recurrent layer: agqc keeps it in PyTorch"}


def annotate(program: Program) -> Program:
    """Store facts on every node and graph (once: a second call changes nothing)."""
    if program.annotated:
        return program
    annotator = _Annotator(program)
    for key in program.graphs:
        annotator.graph(key)
    if program.flow is not None:
        annotator.annotate_graph(program.flow)
    program.signature = forward_signature(program)
    program.annotated = True
    return program


def forward_signature(program: Program) -> Signature | None:
    """The model's forward: the flow's inputs, its only network's, or side-by-side networks' in turn.

    Networks side by side that all take the same inputs share them (three classifiers of
    one image); otherwise each network's inputs are listed in turn, prefixed with its name.
    """
    if program.flow is not None:
        flow = program.flow
        return Signature(tuple(flow.inputs), tuple(flow.input_types()), ("",) * len(flow.inputs))
    graphs = [program.graph(n.graph) for n in program.networks]
    if not graphs:
        return None
    shared = len(graphs) > 1 and all(g.input_types() == graphs[0].input_types() for g in graphs)
    if len(graphs) == 1 or shared:
        g = graphs[0]
        return Signature(tuple(g.inputs), tuple(g.input_types()), (g.key,) * len(g.inputs), shared)
    names: list[str] = []
    for net, g in zip(program.networks, graphs):
        for i in g.inputs:  # `a_b` with `x` and `a` with `b_x` would both give `a_b_x`: number the second
            name, k = f"{net.name}_{i}", 2
            while name in names:
                name, k = f"{net.name}_{i}_{k}", k + 1
            names.append(name)
    types = tuple(t for g in graphs for t in g.input_types())
    return Signature(tuple(names), types, tuple(g.key for g in graphs for _ in g.inputs))


class _Annotator:
    def __init__(self, program: Program):
        self.program = program
        self.busy: set[str] = set()

    def graph(self, key: str) -> GraphFacts:
        graph = self.program.graph(key)
        if graph.facts is None:
            if key in self.busy:  # recursion is a user error reported earlier; stay finite regardless
                return GraphFacts(0, 0, (), ())
            self.busy.add(key)
            self.annotate_graph(graph)
            self.busy.discard(key)
        assert graph.facts is not None
        return graph.facts

    def annotate_graph(self, graph: Graph) -> None:
        for node in graph.nodes():
            graph.replace(getattr(self, f"_{node.kind}")(graph, node))
        nodes = graph.nodes()
        inner = [self.graph(n.callee) for n in nodes if n.callee]
        precisions = {n.precision.name for n in nodes if n.kind == NodeKind.OP}
        precisions.update(p for g in inner for p in g.precisions)
        helpers = {h for n in nodes for h in n.facts.helpers} | {h for g in inner for h in g.helpers}
        graph.facts = GraphFacts(
            params=sum(n.facts.params for n in nodes),
            macs=dim_total(*(n.facts.macs for n in nodes)),
            precisions=tuple(p for p in PRECISIONS if p in precisions),
            helpers=_in_helper_order(helpers))

    # ---- one method per node kind ----------------------------------------------------
    def _input(self, graph: Graph, node: Node) -> Node:
        return node.with_facts(NodeFacts())

    def _call(self, graph: Graph, node: Node) -> Node:
        callee = self.graph(node.callee or "")
        # A model's flow calls its networks: their parameters belong to the network, counted there once.
        params = 0 if graph.kind == GraphKind.MODEL else callee.params
        return node.with_facts(NodeFacts(params=params, macs=callee.macs))

    def _repeat(self, graph: Graph, node: Node) -> Node:
        body = self.graph(node.callee or "")
        return node.with_facts(NodeFacts(params=node.count * body.params, macs=dim_mul(node.count, body.macs)))

    def _op(self, graph: Graph, node: Node) -> Node:
        op = lookup(node.op)
        assert op is not None, node.op
        call = OpCall([graph.type_of(r) for r in node.inputs], dict(node.args), list(node.outputs),
                      refs=_refs(graph, op, node))
        params = op.params(call)
        compute = node.computes[0] if node.computes else node.precision
        quantized = node.precision.quantized and op.quantized_params is not None
        return node.with_facts(NodeFacts(
            params=params, macs=_op_macs(op, call), call=call, label=op.label(call),
            stored=_stored(op, call, node.precision, params, quantized), compute=compute, quantized=quantized,
            kept=op.precision_sensitive and compute != node.precision,
            helpers=op.helpers_for(node.args) + (("quantization",) if quantized else ()),
            ties=op.tied_layers(node.args), placement=_placement(op, node.precision, compute, params)))


def _op_macs(op: OpDef, call: OpCall) -> Dim:
    try:
        return op.macs(call)
    except SizeTooComplex:  # too many terms for a formula: every symbolic size counts as 1, as summary figures do
        at_one = [[TensorType(tuple(dim_eval(d, {}) for d in t.shape), t.dtype) for t in ts]
                  for ts in (call.inputs, call.outputs)]
        return op.macs(OpCall(at_one[0], call.args, at_one[1], call.refs))


def _refs(graph: Graph, op: OpDef, node: Node) -> dict:
    """What a ``node`` argument names (a tied layer): that layer's op, arguments and outputs."""
    refs = {}
    for arg in op.args:
        name = node.args.get(arg.name) if arg.kind == "node" else None
        if name and graph.has(name):
            target = graph.node(name)
            refs[arg.name] = {"op": target.op, "args": dict(target.args), "outputs": list(target.outputs),
                              "precision": target.precision}
    return refs


def _stored(op: OpDef, call: OpCall, precision: Precision, params: int, quantized: bool) -> tuple[Stored, ...]:
    """An op's parameters by the precision they are stored in, with their bytes (scales included)."""
    stored = precision if quantized or precision.torch_dtype else FP32
    weights = op.quantized_params(call) if quantized and op.quantized_params else params
    out = [Stored(stored.name, weights, weights * stored.bits / 8)]
    if quantized and op.channels is not None:  # biases stay fp32, and so does one scale per output channel
        rest = params - weights
        out.append(Stored("fp32", rest, 4 * rest + op.channels(call) * precision.info.scale_bytes))
    return tuple(out)


def _placement(op: OpDef, annotated: Precision, compute: Precision, params: int) -> Placement:
    """Where TensorRT would run this op, and at which precision (``agqc lower --dry-run``)."""
    if op.tensorrt is TensorRT.IDENTITY:
        return Placement(Runtime.TENSORRT, annotated.tensorrt()[0], "identity at inference")
    if op.tensorrt in FALLBACK_NOTES:
        return Placement(Runtime.PYTORCH, "-", FALLBACK_NOTES[op.tensorrt])
    if op.precision_sensitive and compute != annotated:  # before binary: a batchnorm's scale is never 1-bit
        return Placement(Runtime.TENSORRT, compute.tensorrt()[0], f"precision-sensitive: kept at {compute}")
    if not annotated.info.tensorrt_weights and params > 0:
        return Placement(Runtime.PYTORCH, "-", f"TensorRT has no {annotated.bits}-bit weights")
    return Placement(Runtime.TENSORRT, *annotated.tensorrt())


def _in_helper_order(names: set[str]) -> tuple[str, ...]:
    if not names:  # most graphs: no need to import the helpers' source (`agqc check` counts parameters here)
        return ()
    from ..ops import quantization  # noqa: F401  (declares its helper)
    from ..ops.helpers import HELPERS
    return tuple(h for h in HELPERS if h in names)


def macs_per_example(macs: Dim) -> Dim:
    """MACs for one example: the batch size ``B`` is 1; other sizes (``T``) stay symbolic."""
    return dim_subst(macs, {"B": 1})
