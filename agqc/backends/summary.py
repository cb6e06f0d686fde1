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
from ..types import PRECISIONS, dim_eval


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    shape: str
    params: int
    precision: str
    macs: int
    depth: int
    kind: str = "op"  # op | call | repeat | network | copies: op and copies rows add to the totals


@dataclass
class Storage:
    """One precision's share of a model: parameters, the bytes they take stored, MACs computed at it."""

    params: int = 0
    bytes: float = 0.0
    macs: int = 0


@dataclass
class Summary:
    model: str
    rows: list[Row] = field(default_factory=list)
    networks: dict[str, int] = field(default_factory=dict)
    storage: dict[str, Storage] = field(default_factory=dict)

    def by_precision(self) -> list[tuple[str, Storage]]:
        """The precisions this model uses, widest first (the order of ``types.PRECISIONS``)."""
        return [(k, self.storage[k]) for k in PRECISIONS if k in self.storage]

    @property
    def memory_bytes(self) -> float:
        return sum(s.bytes for s in self.storage.values())

    @property
    def compression(self) -> float:
        return 4 * self.total_params / self.memory_bytes if self.memory_bytes else 1.0

    @property
    def total_params(self) -> int:
        return sum(self.networks.values())

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows if r.kind in ("op", "copies"))

    def as_dict(self) -> dict:
        return {"model": self.model, "total_params": self.total_params, "total_macs_per_example": self.total_macs,
                "networks": self.networks, "memory_bytes": round(self.memory_bytes),
                "fp32_memory_bytes": 4 * self.total_params, "compression": round(self.compression, 3),
                "precisions": {k: {"params": v.params, "memory_bytes": round(v.bytes), "macs": v.macs}
                               for k, v in self.by_precision()},
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
        return "\n".join(lines) + "\n\n" + self.precision_table()

    def precision_table(self) -> str:
        """Parameters, stored memory and MACs per precision, as in Larq's model summary."""
        head = ("precision", "params", "memory", "MACs")
        table = [head] + [(k, f"{v.params:,}", _size(v.bytes), f"{v.macs:,}") for k, v in self.by_precision()]
        table.append(("total", f"{self.total_params:,}", _size(self.memory_bytes), f"{self.total_macs:,}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                 for row in table]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(-1, "-" * len(lines[0]))
        lines.append(f"fp32 equivalent: {_size(4 * self.total_params)}; stored: {_size(self.memory_bytes)} "
                     f"({self.compression:.2f}x smaller)")
        return "\n".join(lines) + "\n"


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


SHOWN_COPIES = 64  # a repeat with more copies lists the first and counts the rest (they are identical)
BITS = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4, "binary": 1}


def _store(s: Summary, graph: Graph, node, call, params: int, macs: int) -> None:
    """Add one op's parameters, their stored bytes (scales included) and its MACs to its precision."""
    from ..ops.quantization import quantized
    op = lookup(node.op)
    stored = node.precision.name if quantized(node) or node.precision.torch_dtype else "fp32"
    weights = op.quantized_params(call) if quantized(node) else params
    here = s.storage.setdefault(stored, Storage())
    here.params += weights
    here.bytes += weights * BITS[stored] / 8
    if quantized(node):  # biases stay fp32; one scale per output channel (binary keeps alpha in fp16)
        rest = s.storage.setdefault("fp32", Storage())
        rest.params += params - weights
        rest.bytes += 4 * (params - weights) + _channels(call) * (2 if stored == "binary" else 4)
    computed = s.storage.setdefault(node.computes[0].name, Storage())
    computed.macs += macs


def _scale_storage(summary: Summary, before: dict, extra: int) -> None:
    """Add ``extra`` more copies' worth of what one copy added to the storage table."""
    for k, now in summary.storage.items():
        was = before.get(k, Storage())
        now.params += extra * (now.params - was.params)
        now.bytes += extra * (now.bytes - was.bytes)
        now.macs += extra * (now.macs - was.macs)


def _channels(call) -> int:
    a = call.args
    return a.get("out") or a.get("num") or a.get("dim") or 1


def summarize(program: Program) -> Summary:
    s = Summary(program.model)
    for net in program.networks:
        graph = program.graph(net.graph)
        before = len(s.rows)
        s.rows.append(Row(net.name, f"{net.role}", ", ".join(map(str, graph.output_types())), 0,
                          str(_precision_of(graph)), 0, 0, "network"))
        params = _walk(program, graph, net.name, 1, s)
        s.rows[before] = Row(net.name, net.role, s.rows[before].shape, params, s.rows[before].precision,
                             sum(r.macs for r in s.rows[before + 1:] if r.kind in ("op", "copies")), 0, "network")
        s.networks[net.name] = params
    return s


def _precision_of(graph: Graph) -> str:
    precs = {str(n.precision) for n in graph.nodes() if n.kind != "input"}
    return precs.pop() if len(precs) == 1 else "mixed"


def _walk(program: Program, graph: Graph, prefix: str, depth: int, summary: Summary) -> int:
    rows = summary.rows
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
            _store(summary, graph, node, call, params, macs)
        elif node.kind == "call":
            at = len(rows)
            rows.append(Row(name, node.op, shape, 0, str(node.precision), 0, depth, "call"))
            params = _walk(program, program.graph(node.callee), name, depth + 1, summary)
            rows[at] = Row(name, node.op, shape, params, rows[at].precision,
                           sum(r.macs for r in rows[at + 1:] if r.kind in ("op", "copies")), depth, "call")
        else:  # repeat: every copy has its own weights
            at = len(rows)
            rows.append(Row(name, f"repeat x{node.count}", shape, 0, str(node.precision), 0, depth, "repeat"))
            body = program.graph(node.callee)
            single = program.repeat_body_call(body)
            body = program.graph(single.callee) if single else body
            shown = node.count if node.count <= SHOWN_COPIES else 1
            before = {k: Storage(v.params, v.bytes, v.macs) for k, v in summary.storage.items()}
            params = sum(_walk(program, body, f"{name}.{i}", depth + 1, summary) for i in range(shown))
            if shown < node.count:  # the copies are identical: list one, count the rest
                rest = node.count - 1
                macs = sum(r.macs for r in rows[at + 1:] if r.kind in ("op", "copies"))
                rows.append(Row(f"{name}.1-{node.count - 1}", f"{rest:,} more copies of {name}.0", shape,
                                rest * params, rows[at].precision, rest * macs, depth + 1, "copies"))
                _scale_storage(summary, before, rest)
                params *= node.count
            rows[at] = Row(name, rows[at].op, shape, params, rows[at].precision,
                           sum(r.macs for r in rows[at + 1:] if r.kind in ("op", "copies")), depth, "repeat")
        total += rows[-1].params if node.kind == "op" else params
    return total
