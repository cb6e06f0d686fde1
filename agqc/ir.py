"""The IR: one graph per block instantiation, behind a small API with a networkx view.

Made by ``agqc.elaborate``; read by the passes and every backend.  A
``Graph`` holds ``Node`` records in program (hence topological) order; each
edge carries the tensor type flowing along it.  ``Program`` is the checked
whole: every graph by key, the model's networks and its optional flow.
``dump`` gives a readable text form (like torch.fx's graph printout).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping, NamedTuple

from .diagnostics import Diagnostic, Span
from .kinds import GraphKind, NodeKind
from .types import Precision, TensorType

if TYPE_CHECKING:  # `agqc check` never needs the facts: they are imported with the annotate pass
    from .facts import GraphFacts, NodeFacts, Signature

Ref = tuple[str, int]  # (node name, output port)


@dataclass(frozen=True)
class Node:
    name: str  # unique in its graph; the module attribute for ops with state and calls
    kind: NodeKind
    op: str  # op name; block name for call; "repeat"; "input"
    args: Mapping[str, Any]
    inputs: tuple[Ref, ...]
    outputs: tuple[TensorType, ...]
    precision: Precision  # as annotated (or inherited)
    computes: tuple[Precision, ...]  # per output: the precision the backend produces
    span: Span
    callee: str | None = None  # graph key, for call and repeat
    count: int = 1  # copies, for repeat
    module: str | None = None  # attribute name; two calls of one network share it
    hints: tuple[str, ...] = ()  # variable names for the generated forward
    _facts: NodeFacts | None = field(default=None, compare=False, repr=False)  # set by passes.annotate

    @property
    def facts(self) -> NodeFacts:
        """What the annotate pass stored on this node; backends read only this."""
        if self._facts is None:
            raise RuntimeError(f"node {self.name} is not annotated: run passes.annotate.annotate(program) first")
        return self._facts

    def with_facts(self, facts: NodeFacts) -> "Node":
        return replace(self, _facts=facts)


@dataclass
class Graph:
    """One block instantiation's nodes, in program order (which is topological).

    Nodes and their users are kept in plain dicts so that checking a spec needs
    no graph library; ``.nx`` gives the same graph as a networkx ``DiGraph``
    (edges carry their tensor types) for the passes and drawings that analyse it.
    """

    key: str
    name: str  # block name (or model name)
    kind: GraphKind
    span: Span
    inputs: list[str] = field(default_factory=list)
    outputs: list[Ref] = field(default_factory=list)
    class_name: str = ""
    boundary: list[Precision] | None = None  # precisions the outputs are cast to on leaving
    config: dict[str, Any] = field(default_factory=dict)  # the block's arguments; a symbolic size by its name
    facts: GraphFacts | None = None  # set by passes.annotate
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)
    _users: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _nx: Any = field(default=None, repr=False)

    def add(self, node: Node) -> None:
        self._nodes[node.name] = node
        self._users[node.name] = []
        for src, _ in node.inputs:
            if node.name not in self._users[src]:
                self._users[src].append(node.name)
        if node.kind == NodeKind.INPUT:
            self.inputs.append(node.name)
        self._nx = None

    def replace(self, node: Node) -> None:
        """Put an annotated copy of a node in its place (same name, same edges)."""
        assert node.inputs == self._nodes[node.name].inputs
        self._nodes[node.name] = node
        self._nx = None

    def node(self, name: str) -> Node:
        return self._nodes[name]

    def has(self, name: str) -> bool:
        return name in self._nodes

    def nodes(self) -> list[Node]:
        """All nodes in program order: every node after the nodes it reads."""
        return list(self._nodes.values())

    def type_of(self, ref: Ref) -> TensorType:
        return self.node(ref[0]).outputs[ref[1]]

    def compute_of(self, ref: Ref) -> Precision:
        return self.node(ref[0]).computes[ref[1]]

    def result_computes(self) -> list[Precision]:
        """The precision of each output as the caller receives it."""
        return list(self.boundary) if self.boundary is not None else [self.compute_of(r) for r in self.outputs]

    def users(self, name: str) -> list[Node]:
        return [self._nodes[n] for n in self._users[name]]

    def output_types(self) -> list[TensorType]:
        return [self.type_of(r) for r in self.outputs]

    def input_types(self) -> list[TensorType]:
        return [self.node(n).outputs[0] for n in self.inputs]

    @property
    def nx(self) -> Any:
        """The graph as a networkx DiGraph: node attribute ``node``, edge attribute ``types``."""
        if self._nx is None:
            import networkx  # only analyses and drawings need it; `agqc check` stays fast

            g = networkx.DiGraph()
            for node in self._nodes.values():
                g.add_node(node.name, node=node)
            for node in self._nodes.values():
                for src, port in node.inputs:
                    g.add_edge(src, node.name)
                    g.edges[src, node.name].setdefault("types", []).append(self.type_of((src, port)))
            self._nx = g
        return self._nx


class Placed(NamedTuple):
    """One node of the expanded program: every call opened, every repeat copy listed."""

    name: str  # qualified, as summaries and plans name it: lm.h.0.attn.c_attn
    node: Node
    graph: Graph  # the graph the node sits in
    depth: int  # 1 for a network's own nodes, 2 inside a block it calls, ...
    copy: int | None = None  # the repeat copy it sits in (innermost), None outside repeats
    weight: int = 1  # identical copies this one stands for: more than 1 in a folded repeat (see ``expand``)
    folded: bool = False  # a repeat whose copies after the first are not listed


@dataclass(frozen=True)
class Network:
    name: str
    role: str
    graph: str  # key into Program.graphs
    span: Span


@dataclass
class Program:
    file: str
    model: str
    graphs: dict[str, Graph]
    networks: list[Network]
    flow: Graph | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str]
    annotated: bool = False  # passes.annotate has stored its facts
    signature: Signature | None = None  # the model's forward (passes.annotate); None without networks
    train: Any = None  # the model's checked training recipe (agqc.train.plan.TrainPlan), when it has one
    _expanded: dict[str, int] = field(default_factory=dict, repr=False)

    def graph(self, key: str) -> Graph:
        return self.graphs[key]

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    def repeat_body_call(self, body: Graph) -> Node | None:
        """A repeat body that is one block call on its inputs: each copy *is* that block.

        The torch backend then makes a ModuleList of the block itself, so
        state_dict keys read ``blocks.3.attn...`` rather than ``blocks.3.block.attn...``.
        """
        inner = [n for n in body.nodes() if n.kind != NodeKind.INPUT]
        if body.kind != GraphKind.REPEAT or len(inner) != 1 or inner[0].kind != NodeKind.CALL:
            return None
        node = inner[0]
        same_io = list(node.inputs) == [(n, 0) for n in body.inputs] and body.outputs == [
            (node.name, i) for i in range(len(node.outputs))]
        same_precision = body.result_computes() == self.graph(node.callee or "").result_computes()
        return node if same_io and same_precision else None

    def expanded_size(self, key: str) -> int:
        """Nodes in one graph with every call and repeat copy counted: what a build or a full drawing visits."""
        if key not in self._expanded:
            self._expanded[key] = 0  # recursion is a user error reported earlier; stay finite regardless
            self._expanded[key] = sum(1 + n.count * (self.expanded_size(n.callee) if n.callee else 0)
                                      for n in self.graph(key).nodes())
        return self._expanded[key]

    def repeat_copy(self, node: Node) -> tuple[Graph, str]:
        """What one copy of a repeat node is: its body, or the one block the body calls; and its name."""
        body = self.graph(node.callee or "")
        single = self.repeat_body_call(body)
        if single is not None:
            return self.graph(single.callee or ""), self.graph(single.callee or "").name
        return body, node.name

    def expand(self, network: str | None = None, fold_above: int | None = None) -> Iterator[Placed]:
        """Every node of every network (or one), in program order, calls opened and repeats unwrapped.

        A call or repeat comes before the nodes inside it.  A repeat of more than
        ``fold_above`` copies lists only its first copy, whose nodes then stand for
        every copy (``weight``); the repeat's own entry says ``folded``.
        """
        for net in self.networks:
            if network is None or net.name == network:
                yield from self._expand(self.graph(net.graph), net.name, 1, None, 1, fold_above)

    def _expand(self, graph: Graph, prefix: str, depth: int, copy: int | None, weight: int,
                fold_above: int | None) -> Iterator[Placed]:
        for node in graph.nodes():
            if node.kind == NodeKind.INPUT:
                continue
            name = f"{prefix}.{node.name}"
            if node.kind == NodeKind.REPEAT:
                folded = fold_above is not None and node.count > fold_above
                yield Placed(name, node, graph, depth, copy, weight, folded)
                inner, _ = self.repeat_copy(node)
                for i in range(1 if folded else node.count):
                    yield from self._expand(inner, f"{name}.{i}", depth + 1, i,
                                            weight * (node.count if folded else 1), fold_above)
                continue
            yield Placed(name, node, graph, depth, copy, weight)
            if node.kind == NodeKind.CALL:
                yield from self._expand(self.graph(node.callee or ""), name, depth + 1, copy, weight, fold_above)


def dump(program: Program) -> str:
    """A readable text form of the IR, one line per node."""
    lines = []
    for g in list(program.graphs.values()) + ([program.flow] if program.flow else []):
        lines.append(f"graph {g.class_name or g.name} ({g.kind}):")
        for n in g.nodes():
            ins = ", ".join(f"{s}.{p}" if p else s for s, p in n.inputs)
            outs = ", ".join(str(t) for t in n.outputs)
            extra = f" -> {n.callee}" if n.callee else ""
            lines.append(f"  {n.name} = {n.op}({ins}){extra} : {outs} @{n.precision}")
        lines.append("  return " + ", ".join(f"{s}.{p}" if p else s for s, p in g.outputs))
    return "\n".join(lines) + "\n"
