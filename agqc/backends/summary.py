"""Summary backend: a checked ``Program`` -> a per-node table, from the IR alone.

No weights are made, so any size of model is summarised at once.  Rows:
qualified name, op, output shape, parameters, precision, MACs (symbolic
sizes taken as 1: per example).  Parameters of a network used twice are
counted once; repeat copies are expanded.  Gives ``Summary`` with ``text()``
and ``as_dict()`` (the JSON written by ``agqc build``).  The JSON lists every
row; the text reads from an outline in which each repeat lists its first copy
and counts the rest in one row (``GPT2Block ×12``), and ``depth`` (as
``agqc draw --depth``) shows a block nested deeper as one row with its totals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..ir import Graph, Placed, Program
from ..kinds import NodeKind
from ..passes.annotate import annotate, macs_per_example
from ..policy import SHOWN_COPIES
from ..types import PRECISIONS, Dim, dim_eval, dim_mul, dim_pretty, dim_total


class RowKind(StrEnum):
    OP = "op"
    CALL = "call"
    REPEAT = "repeat"
    NETWORK = "network"
    COPIES = "copies"  # the copies of a big repeat after the first, counted in one row


TOTALLED = (RowKind.OP, RowKind.COPIES)  # the rows that add up to a total (the others are subtotals)


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    shape: str
    params: int
    precision: str
    macs: int
    depth: int
    kind: RowKind = RowKind.OP
    macs_formula: str = ""  # MACs per example as they scale with symbolic sizes (1,536·T² + ...), when they do


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
    macs_formula: str = ""  # the total per example, as it scales with symbolic sizes, when it does
    outline: list[Row] = field(default_factory=list)  # what text() shows: each repeat's first copy (see summarize)

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
        return sum(r.macs for r in self.rows if r.kind in TOTALLED)

    def as_dict(self, depth: int | None = None) -> dict:
        """Every row (repeat copies listed), or the rows nested at most ``depth`` deep; the totals always."""
        return {"model": self.model, "total_params": self.total_params, "total_macs_per_example": self.total_macs,
                "total_macs_formula": self.macs_formula,
                "networks": self.networks, "memory_bytes": round(self.memory_bytes),
                "fp32_memory_bytes": 4 * self.total_params, "compression": round(self.compression, 3),
                "precisions": {k: {"params": v.params, "memory_bytes": round(v.bytes), "macs": v.macs}
                               for k, v in self.by_precision()},
                "rows": [r.__dict__ for r in self.rows if depth is None or r.depth <= depth]}

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """A notebook shows a summary as its table, not as the dataclass."""
        printer.text(self.text())

    def text(self, depth: int | None = None) -> str:
        """The table: rows nested at most ``depth`` deep (0: one row per network; None: every level),
        each repeat as its first copy and one row counting the rest; then the totals."""
        rows = self.outline or self.rows
        shown = [r for r in rows if depth is None or r.depth <= depth]
        head = ("name", "op", "output shape", "params", "precision", "MACs")
        table = [head] + [("  " * r.depth + r.name, r.op, r.shape, f"{r.params:,}", r.precision,
                           r.macs_formula or f"{r.macs:,}") for r in shown]
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
        lines.append(f"total: {self.total_params:,} parameters, {self.macs_formula or f'{self.total_macs:,}'} "
                     "MACs per example")
        if self.macs_formula:  # attention's cost grows with T²: a per-token figure would hide it
            lines.append("MACs grow with the sizes named above; the table below counts each such size as 1")
        if len(shown) < len(rows):
            lines.append(f"depth {depth}: the rows inside a block or repeat at that depth are left out; its own row "
                         "has their totals")
        if any(r.kind == RowKind.COPIES for r in shown) and rows is self.outline:
            lines.append("each repeat lists its first copy and counts the others in one row (--json lists every copy)")
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
        ratio = (f"{self.compression:.2f}x smaller" if self.compression >= 1  # fp64 weights: larger than fp32
                 else f"{1 / self.compression:.2f}x larger")
        lines.append(f"fp32 equivalent: {_size(4 * self.total_params)}; stored: {_size(self.memory_bytes)} "
                     f"({ratio})")
        return "\n".join(lines) + "\n"


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def summarize(program: Program) -> Summary:
    """One row per node of every network (calls opened, repeat copies listed), read from the IR's facts;
    and the outline ``text()`` shows, in which every repeat lists only its first copy."""
    annotate(program)
    s = Summary(program.model)
    for net in program.networks:
        graph = program.graph(net.graph)
        assert graph.facts is not None
        s.rows.append(Row(net.name, net.role, ", ".join(map(str, graph.output_types())), graph.facts.params,
                          _precision_of(graph), dim_eval(graph.facts.macs, {}), 0, RowKind.NETWORK,
                          _formula(graph.facts.macs)))
        s.outline.append(s.rows[-1])
        s.networks[net.name] = graph.facts.params
        s.macs_formula = _formula(dim_total(*(program.graph(n.graph).facts.macs for n in program.networks)))
        s.rows += _rows(program, net.name, SHOWN_COPIES, s)
        s.outline += _rows(program, net.name, 1, None)
    return s


def _rows(program: Program, network: str, fold_above: int, store: Summary | None) -> list[Row]:
    """A network's rows, repeats of more than ``fold_above`` copies folded into their first; each op's
    parameters, bytes and MACs added to ``store``'s precisions.  The outline (``store`` None) names a
    repeat after what it repeats (``GPT2Block ×12``)."""
    rows: list[Row] = []
    folded: list[tuple[int, Placed]] = []  # open folded repeats: their "more copies" row comes after copy 0
    for entry in program.expand(network, fold_above=fold_above):
        while folded and folded[-1][0] >= entry.depth:
            rows.append(_more_copies(program, folded.pop()[1]))
        rows.append(_row(entry, None if store is not None else program))
        if store is not None and entry.node.kind == NodeKind.OP:
            _store(store, entry)
        if entry.folded:
            folded.append((entry.depth, entry))
    while folded:
        rows.append(_more_copies(program, folded.pop()[1]))
    return rows


def _row(entry: Placed, outline: Program | None = None) -> Row:
    node, facts = entry.node, entry.node.facts
    shape = ", ".join(str(t) for t in node.outputs)
    precision = str(node.precision)
    if node.kind == NodeKind.OP:
        kind, op = RowKind.OP, node.op
        precision += "*" if facts.compute != node.precision else ""
    elif node.kind == NodeKind.CALL:
        kind, op = RowKind.CALL, node.op
    elif outline is not None:  # as the drawing labels it: the block repeated, else `repeat`
        single = outline.repeat_body_call(outline.graph(node.callee or ""))
        kind, op = RowKind.REPEAT, f"{single.op if single is not None else 'repeat'} \u00d7{node.count}"
    else:
        kind, op = RowKind.REPEAT, f"repeat x{node.count}"
    return Row(entry.name, op, shape, facts.params, precision, dim_eval(facts.macs, {}), entry.depth, kind,
               _formula(facts.macs))


def _more_copies(program: Program, entry: Placed) -> Row:
    """The copies of a folded repeat after the first: identical, so counted rather than listed."""
    node, rest = entry.node, entry.node.count - 1
    one = program.repeat_copy(node)[0].facts
    assert one is not None
    params, macs = rest * one.params, dim_mul(rest, one.macs)
    return Row(f"{entry.name}.1" + (f"-{rest}" if rest > 1 else ""),
               f"{rest:,} more cop{'ies' if rest > 1 else 'y'} of {entry.name}.0",
               ", ".join(str(t) for t in node.outputs), params, str(node.precision), dim_eval(macs, {}),
               entry.depth + 1, RowKind.COPIES, _formula(macs))


def _store(s: Summary, entry: Placed) -> None:
    """Add one op's stored parameters and bytes to their precisions, and its MACs to its compute precision."""
    facts, weight = entry.node.facts, entry.weight
    for stored in facts.stored:
        here = s.storage.setdefault(stored.precision, Storage())
        here.params += weight * stored.params
        here.bytes += weight * stored.bytes
    assert facts.compute is not None
    s.storage.setdefault(facts.compute.name, Storage()).macs += weight * dim_eval(facts.macs, {})


def _formula(macs: Dim) -> str:
    """MACs per example as they scale with the spec's sizes (B is 1); empty when they are a plain number."""
    per_example = macs_per_example(macs)
    return "" if isinstance(per_example, int) else dim_pretty(per_example)


def _precision_of(graph: Graph) -> str:
    precs = {str(n.precision) for n in graph.nodes() if n.kind != NodeKind.INPUT}
    return precs.pop() if len(precs) == 1 else "mixed"
