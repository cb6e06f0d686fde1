"""Classes: every block instantiation -> Python classes, one per block wherever the code allows.

Takes a ``Program``; gives ``ClassPlan``: each class's text, in program order, and for
every graph its class name and the constructor call that makes it (``ConvBlock(C=1,
out=32)``).  Each graph is first rendered on its own (``torch_graph``).  Variants of one
block whose code is the same but for numbers share one class; each number that differs
becomes a constructor argument, named after the block parameter that holds it in every
variant (``out``), else the input size it is (``C`` of ``x: [B, C, H, W]``), else the
layer argument it comes from (``conv2d1_kernel``).  Putting a variant's arguments back
gives exactly that variant's code, so sharing a class never changes what a module
computes or its ``state_dict``; shape comments name the sizes that differ.  Same
program, same text.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from ..ir import Graph, Node, Program
from ..kinds import GraphKind
from ..naming import RESERVED
from .torch_graph import TAKEN, GraphWriter, Rendered, fmt_types, source_name
from .torch_symbols import Signature, block_signature, config_of, symbol
from .torch_text import align, context, is_number, number_value, tokens, write_class

# What torch calls the positional arguments of the layers agqc writes, for constructor argument names.
_POSITIONAL = {"Linear": ("in_features", "out_features"), "Embedding": ("num_embeddings", "embedding_dim"),
               "LayerNorm": ("normalized_shape",), "RMSNorm": ("normalized_shape",), "Dropout": ("p",),
               "BatchNorm1d": ("num_features",), "BatchNorm2d": ("num_features",),
               **{k: ("in_channels", "out_channels") for k in ("Conv1d", "Conv2d", "ConvTranspose2d")},
               **{k: ("input_size", "hidden_size") for k in ("RNN", "GRU", "LSTM")}}


@dataclass
class ClassPlan:
    program: Program
    texts: dict[str, str] = field(default_factory=dict)  # first variant's graph key -> class text
    class_of: dict[str, str] = field(default_factory=dict)  # graph key -> class name
    construct_of: dict[str, str] = field(default_factory=dict)  # graph key -> "ConvBlock(C=1, out=32)"
    rendered: dict[str, Rendered] = field(default_factory=dict)  # graph key -> its own rendering

    def construct(self, key: str) -> str:
        """The constructor call a call or repeat node makes (a repeat of one block call: that block's)."""
        graph = self.program.graphs[key]
        single = self.program.repeat_body_call(graph) if graph.kind == GraphKind.REPEAT else None
        return self.construct(single.callee) if single else self.construct_of[key]


@dataclass
class _Number:
    unit: int
    token: int
    texts: tuple[str, ...]  # as each variant writes it
    forward: bool  # in forward's code (read as self.name) rather than __init__'s


def plan_classes(program: Program, reserved: set[str], merge: bool = True) -> ClassPlan:
    """Classes for every graph; ``merge=False`` keeps one class per variant (to test that merging is exact)."""
    return _Planner(program, reserved, merge).plan()


class _Planner:
    def __init__(self, program: Program, reserved: set[str], merge: bool):
        self.program, self.used, self.merge = program, set(reserved), merge
        self.out = ClassPlan(program)
        self.skip = {k for k, g in program.graphs.items() if g.kind == GraphKind.REPEAT and program.repeat_body_call(g)}
        # What a constructor argument must not be called, lest it hide a name __init__ uses: classes, nn, torch...
        blocks = {g.name for g in program.graphs.values()}
        self.taken = set(reserved) | blocks | {f"{b}Layer" for b in blocks} | TAKEN | RESERVED | {"super", "range"}

    def plan(self) -> ClassPlan:
        groups: dict[tuple[str, str], list[Graph]] = {}
        for key, g in self.program.graphs.items():
            if key not in self.skip:
                groups.setdefault(_group(g), []).append(g)
        levels: dict[tuple[str, str], int] = {}
        for group in groups:
            self._level(group, groups, levels)
        first = {group: i for i, group in enumerate(groups)}
        for group in sorted(groups, key=lambda grp: (levels[grp], first[grp])):
            self._classes(group, groups[group])
        order = list(self.program.graphs)
        self.out.texts = dict(sorted(self.out.texts.items(), key=lambda kv: order.index(kv[0])))
        return self.out

    def _callee_group(self, key: str) -> tuple[str, str]:
        graph = self.program.graphs[key]
        single = self.program.repeat_body_call(graph) if graph.kind == GraphKind.REPEAT else None
        return self._callee_group(single.callee) if single else _group(graph)

    def _level(self, group, groups, levels) -> int:
        if group not in levels:
            levels[group] = 0  # no recursion in a checked program; this only keeps a bad one finite
            deps = {self._callee_group(n.callee) for g in groups[group] for n in g.nodes() if n.callee}
            levels[group] = 1 + max((self._level(d, groups, levels) for d in deps if d in groups), default=0)
        return levels[group]

    # ---- one block's classes ----------------------------------------------------------------
    def _classes(self, group: tuple[str, str], graphs: list[Graph]) -> None:
        partitions: list[list[tuple[Graph, Rendered, list, list]]] = []
        for g in graphs:
            rendered = GraphWriter(g, self.program, self.out.construct).render()
            self.out.rendered[g.key] = rendered
            units, nodes = _units(rendered, class_doc(g))
            for members in partitions if self.merge else []:
                aligned = align([m[2] for m in members] + [units])
                if aligned is not None:
                    members.append((g, rendered, units, nodes))
                    for member, new in zip(members, aligned):
                        member[2][:] = new
                    break
            else:
                partitions.append([(g, rendered, units, nodes)])
        for members in partitions:
            stem = f"{group[0]}Layer" if group[1] else group[0]
            name = self._allocate(stem, "" if group[1] else "_")
            _ClassWriter(self.program, name, members, self.out, self.taken).write()

    def _allocate(self, stem: str, sep: str) -> str:
        if stem.startswith("__") or stem == "_":  # written inside a class, `__D()` would be mangled to `_Net__D()`
            stem = f"Block{stem}"
        name, k = stem, 1
        while name in self.used:
            k += 1
            name = f"{stem}{sep}{k}"
        self.used.add(name)
        return name



def class_doc(g: Graph) -> str:
    """A class's docstring: what it is, where the spec defines it, its inputs and outputs."""
    inputs = [g.node(n) for n in g.inputs]
    sig = ", ".join(f"{n.name}: {n.outputs[0]}" for n in inputs)
    where = f"{source_name(g.span.file)}:{g.span.line}"
    kind = {GraphKind.REPEAT: "one copy of a repeat in", GraphKind.MODEL: "model"}.get(g.kind, "block")
    return f"{kind} {g.name} ({where}): ({sig}) -> {fmt_types(g.output_types())}"


def _group(g: Graph) -> tuple[str, str]:
    if g.kind != GraphKind.REPEAT:
        return g.name, ""
    found = re.search(r"(/repeat\d+)+$", g.key)
    return g.name, found.group() if found else g.key


def _units(r: Rendered, doc: str) -> tuple[list[tuple[str, str]], list[list[Node]]]:
    """A rendering as text units (doc, init, code, note), with the IR nodes each comes from."""
    units, nodes = [("doc", doc)], [[]]
    for node, line in r.init:
        units.append(("init", line))
        nodes.append([node] if node else [])
    inputs = ", ".join(r.graph.inputs)
    units.append(("code", f"def forward(self, {inputs}):"))
    nodes.append([])
    for s in r.statements:
        for line in s.lines:
            units.append(("code", line))
            nodes.append(s.nodes)
        units.append(("note", s.note))
        nodes.append(s.nodes)
    return units, nodes


class _ClassWriter:
    """One class for several variants of a block: the differing numbers become constructor arguments."""

    def __init__(self, program: Program, name: str, members, out: ClassPlan, taken: set[str]):
        self.program, self.name, self.out, self.taken = program, name, out, taken
        self.graphs = [m[0] for m in members]
        self.owners = [_owner(program, g) for g in self.graphs]  # whose inputs the block's size names describe
        self.units = [m[2] for m in members]
        self.nodes = members[0][3]
        self.toks = [[tokens(text) for _, text in units] for units in self.units]

    def write(self) -> None:
        numbers = self._numbers()
        names = self._names(numbers) if numbers else {}
        params = list(dict.fromkeys(names[n.texts] for n in numbers if n.texts in names))
        params = self._order(params)
        attrs = [p for p in params if any(n.forward and names.get(n.texts) == p for n in numbers)]
        named = self._named(numbers, names)
        axes = {k: axis for k, (_, axis) in block_signature(self.program, self.graphs[0]).dims.items()}
        at = {(n.unit, n.token): n for n in numbers}
        first, kinds = self.toks[0], [kind for kind, _ in self.units[0]]
        texts = []
        for u, line in enumerate(first):
            parts = []
            for t, tok in enumerate(line):
                number = at.get((u, t))
                if number is None:
                    parts.append(tok)
                elif kinds[u] in ("doc", "note"):
                    values = tuple(number_value(x) for x in number.texts)
                    parts.append(symbol(values, number.texts, named, axes, context(line, t)[1]))
                else:
                    parts.append(f"self.{names[number.texts]}" if kinds[u] == "code" else names[number.texts])
            texts.append("".join(parts))
        init = [t for t, k in zip(texts, kinds) if k == "init"]
        statements, code = [], []
        for text, kind in list(zip(texts, kinds))[len(init) + 2:]:
            if kind == "code":
                code.append(text)
            else:
                statements.append((code, text))
                code = []
        text = write_class(self.name, texts[0], params, attrs, init, list(self.graphs[0].inputs), statements)
        self.out.texts[self.graphs[0].key] = text
        for i, g in enumerate(self.graphs):
            values = {names[n.texts]: n.texts[i] for n in numbers if n.texts in names}
            args = ", ".join(f"{p}={values[p]}" for p in params)
            self.out.class_of[g.key] = self.name
            self.out.construct_of[g.key] = f"{self.name}({args})"

    def _numbers(self) -> list[_Number]:
        """Every number the variants write differently, where they write it."""
        numbers = []
        kinds = [kind for kind, _ in self.units[0]]
        for u, line in enumerate(self.toks[0]):
            for t, tok in enumerate(line):
                if not is_number(tok):
                    continue
                texts = tuple(v[u][t] for v in self.toks)
                if len(set(texts)) > 1:
                    numbers.append(_Number(u, t, texts, kinds[u] == "code"))
        return numbers

    # ---- naming the constructor arguments ------------------------------------------------------
    def _names(self, numbers: list[_Number]) -> dict[tuple[str, ...], str]:
        sig = block_signature(self.program, self.graphs[0])
        configs = [config_of(self.program, g) for g in self.graphs]
        modules = {n.module for n in self.graphs[0].nodes() if n.module}
        names: dict[tuple[str, ...], str] = {}
        taken: set[str] = set()
        for number in numbers:
            kind = self.units[0][number.unit][0]
            if kind in ("doc", "note") or number.texts in names:
                continue
            values = tuple(number_value(x) for x in number.texts)
            name = self._name(number, values, sig, configs)
            base, k = self._safe(name), 1
            name = base
            while name in taken or (name in modules and any(n.forward for n in numbers if n.texts == number.texts)):
                k += 1
                name = f"{base}_{k}"
            names[number.texts] = name
            taken.add(name)
        return names

    def _name(self, number: _Number, values: tuple, sig: Signature, configs: list[dict]) -> str:
        callee, index, kw = context(self.toks[0][number.unit], number.token)
        matching = [k for k in sig.config if all(_same(c.get(k), v) for c, v in zip(configs, values))]
        if matching:
            return kw if kw in matching else matching[0]
        for name, (i, axis) in sig.dims.items():
            if all(_same(g.input_types()[i].shape[axis], v) for g, v in zip(self.owners, values)):
                return name
        nodes = self.nodes[number.unit]
        for node in nodes:
            for arg in node.args:
                if all(_same(g.node(node.name).args.get(arg), v) for g, v in zip(self.graphs, values)):
                    return f"{node.module or node.name}_{arg}"
        owner = (nodes[-1].module or nodes[-1].name) if nodes else "value"
        if kw:
            return f"{owner}_{kw}"
        positional = _POSITIONAL.get(callee.removeprefix("Quant"), ()) if callee else ()
        if index is not None and index < len(positional):
            return f"{owner}_{positional[index]}"
        return f"{owner}_{number.token}"

    def _safe(self, name: str) -> str:
        if name.startswith("__"):  # a parameter `__w` of __init__ would be mangled to `_Dense__w`
            name = name.lstrip("_")
        if not name.isidentifier():
            name = "value"
        while keyword.iskeyword(name) or name in self.taken or re.fullmatch(r"\w+_\d+", name) and name.rsplit(
                "_", 1)[0] in self.taken:
            name += "_"
        return name

    def _order(self, params: list[str]) -> list[str]:
        """Block parameters in the spec's order, then input sizes, then the rest as they appear."""
        sig = block_signature(self.program, self.graphs[0])
        known = [p for p in sig.order if p in params]
        return known + [p for p in params if p not in known]

    def _named(self, numbers: list[_Number], names: dict) -> dict[str, tuple]:
        """Sizes that comments may name: constructor arguments, block parameters, input sizes."""
        named = {names[n.texts]: tuple(number_value(x) for x in n.texts) for n in numbers if n.texts in names}
        sig = block_signature(self.program, self.graphs[0])
        configs = [config_of(self.program, g) for g in self.graphs]
        for k in sig.config:
            values = tuple(c.get(k) for c in configs)
            if k not in named and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                named[k] = values
        for k, (i, axis) in sig.dims.items():
            values = tuple(g.input_types()[i].shape[axis] for g in self.owners)
            if k not in named and all(isinstance(v, int) for v in values):
                named[k] = values
        return named


def _owner(program: Program, graph: Graph) -> Graph:
    """The block instantiation a graph belongs to: itself, or for a repeat body the block around it."""
    while graph.kind == GraphKind.REPEAT and graph.key.rsplit("/", 1)[0] in program.graphs:
        graph = program.graphs[graph.key.rsplit("/", 1)[0]]
    return graph


def _same(a, b) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and a == b
