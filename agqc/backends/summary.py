"""Summary backend: a checked ``Program`` -> a per-node table, from the IR alone.

No weights are made, so any size of model is summarised at once.  Rows:
qualified name, op, output shape, parameters, precision, MACs (symbolic
sizes taken as 1: per example).  Parameters of a network used twice are
counted once; repeat copies are expanded.  Gives ``Summary`` with ``text()``
and ``as_dict()`` (the JSON written by ``agqc build``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph, Program
from ..ops.registry import OpCall, lookup
from ..types import dim_eval


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    shape: str
    params: int
    precision: str
    macs: int
    depth: int
    kind: str = "op"  # op | call | repeat | network: only op rows add to totals


@dataclass
class Summary:
    model: str
    rows: list[Row] = field(default_factory=list)
    networks: dict[str, int] = field(default_factory=dict)

    @property
    def total_params(self) -> int:
        return sum(self.networks.values())

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows if r.kind == "op")

    def as_dict(self) -> dict:
        return {"model": self.model, "total_params": self.total_params, "total_macs_per_example": self.total_macs,
                "networks": self.networks,
                "rows": [r.__dict__ for r in self.rows]}

    def text(self) -> str:
        head = ("name", "op", "output shape", "params", "precision", "MACs")
        table = [head] + [("  " * r.depth + r.name, r.op, r.shape, f"{r.params:,}", r.precision, f"{r.macs:,}")
                          for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        right = {3, 5}
        lines = []
        for k, row in enumerate(table):
            cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if k == 0:
                lines.append("-" * len(lines[0]))
        lines.append("-" * len(lines[0]))
        for net, count in self.networks.items():
            lines.append(f"{net}: {count:,} parameters")
        lines.append(f"total: {self.total_params:,} parameters, {self.total_macs:,} MACs per example")
        return "\n".join(lines) + "\n"


def summarize(program: Program) -> Summary:
    s = Summary(program.model)
    for net in program.networks:
        graph = program.graph(net.graph)
        before = len(s.rows)
        s.rows.append(Row(net.name, f"{net.role}", ", ".join(map(str, graph.output_types())), 0,
                          str(_precision_of(graph)), 0, 0, "network"))
        params = _walk(program, graph, net.name, 1, s.rows)
        s.rows[before] = Row(net.name, net.role, s.rows[before].shape, params, s.rows[before].precision,
                             sum(r.macs for r in s.rows[before + 1:] if r.kind == "op"), 0, "network")
        s.networks[net.name] = params
    return s


def _precision_of(graph: Graph) -> str:
    precs = {str(n.precision) for n in graph.nodes() if n.kind != "input"}
    return precs.pop() if len(precs) == 1 else "mixed"


def _walk(program: Program, graph: Graph, prefix: str, depth: int, rows: list[Row]) -> int:
    total = 0
    for node in graph.nodes():
        if node.kind == "input":
            continue
        name = f"{prefix}.{node.name}"
        shape = ", ".join(str(t) for t in node.outputs)
        if node.kind == "op":
            op = lookup(node.op)
            call = OpCall([graph.type_of(r) for r in node.inputs], dict(node.args), list(node.outputs))
            params, macs = op.params(call), dim_eval(op.macs(call), {})
            shown = str(node.precision) + ("*" if node.computes[0] != node.precision else "")
            rows.append(Row(name, node.op, shape, params, shown, macs, depth))
        elif node.kind == "call":
            at = len(rows)
            rows.append(Row(name, node.op, shape, 0, str(node.precision), 0, depth, "call"))
            params = _walk(program, program.graph(node.callee), name, depth + 1, rows)
            rows[at] = Row(name, node.op, shape, params, rows[at].precision,
                           sum(r.macs for r in rows[at + 1:] if r.kind == "op"), depth, "call")
        else:  # repeat: every copy has its own weights
            at = len(rows)
            rows.append(Row(name, f"repeat x{node.count}", shape, 0, str(node.precision), 0, depth, "repeat"))
            body = program.graph(node.callee)
            single = program.repeat_body_call(body)
            body = program.graph(single.callee) if single else body
            params = 0
            for i in range(node.count):
                params += _walk(program, body, f"{name}.{i}", depth + 1, rows)
            rows[at] = Row(name, rows[at].op, shape, params, rows[at].precision,
                           sum(r.macs for r in rows[at + 1:] if r.kind == "op"), depth, "repeat")
        total += rows[-1].params if node.kind == "op" else params
    return total
