"""One IR graph -> the body of its PyTorch class: layers for ``__init__``, statements for ``forward``.

Takes a ``Graph``, its ``Program`` and ``construct`` (graph key -> the constructor call of
the class a call or repeat node makes, ``ConvBlock(C=1, out=32)``); gives ``Rendered``:
the ``__init__`` lines and the ``forward`` statements, each with its shape note and the IR
nodes it computes.  One statement per node, except that values the spec leaves unnamed,
used once right where they are made, are written into the merge (``x = x +
self.attn(self.ln_1(x))``) or the ``return`` that takes them, as nanoGPT writes them.
Variables carry the spec's names; where a name is still in use, an intermediate is named
after its branch (``attn``) or after the parameter of the block it feeds (``z``).
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..ir import Graph, Node, Program, Ref
from ..kinds import DType, GraphKind, NodeKind
from ..ops.registry import Draw, LowerCtx, lookup
from ..types import Precision, dim_terms

MAX_LINE = 100  # the longest line, comment included, that writing values into their merge may give
RETURN_HINT = "out"  # what elaborate names an unnamed result: such values may be written into the return
# Names a forward's variables must not take: its own words and the functions the generated file defines.
TAKEN = {"self", "layer", "torch", "nn", "F", "attention", "rotary", "sinusoidal_positions", "sequence_and_last",
         "layer_weight", "quantize_weight", "quantize_activation"}


def source_name(path: str) -> str:
    """A spec's file name as the generated code may quote it: a name is data, never code.

    File names reach docstrings and comments; a quote or a newline in one must not end
    them, so anything but letters, digits and ``._-+`` becomes ``_``.
    """
    return re.sub(r"[^\w.+-]", "_", Path(path).name, flags=re.ASCII)


def dtype_expr(p: Precision) -> str:
    return p.torch_dtype or "torch.float32"


def fmt_types(types) -> str:
    return ", ".join(str(t) for t in types)


@dataclass
class Statement:
    """One statement of ``forward``: its code (a loop header and body for a repeat) and note."""

    lines: list[str]
    note: str  # output shapes (and compute precision), then the .agq line(s)
    node: Node | None  # the node whose results it assigns; None for the return
    targets: list[str]  # the variables it assigns
    nodes: list[Node] = field(default_factory=list)  # every node it computes, inlined ones first


@dataclass
class Rendered:
    graph: Graph
    init: list[tuple[Node | None, str]]  # (the node whose layer it makes, "self.linear = nn.Linear(...)")
    statements: list[Statement]  # the return last


class GraphWriter:
    def __init__(self, graph: Graph, program: Program, construct: Callable[[str], str]):
        self.g, self.program, self.construct = graph, program, construct
        self.var: dict[Ref, str] = {}
        self.holder: dict[str, Ref] = {}
        self.sym: dict[str, tuple[str, int]] = {}  # a symbolic size -> (the input it is read from, dimension)
        self.captured: dict[str, str] = {}  # a size read before its input was reassigned -> its variable
        self.order = graph.nodes()
        self.position = {n.name: i for i, n in enumerate(self.order)}
        self.inlined: set[str] = set()
        self.branch: dict[str, str] = {}  # node -> the branch name its result was given
        self.loop = "layer"  # a repeat's loop variable: no input's name (`for layer in ...` would rebind it)
        while self.loop in graph.inputs:
            self.loop += "_"

    def render(self, extra_init: list[str] | None = None) -> Rendered:
        init: list[tuple[Node | None, str]] = [(None, line) for line in extra_init or []]
        return Rendered(self.g, init + self._init_lines(), self._forward())

    # ---- __init__ ------------------------------------------------------------------
    def _init_lines(self) -> list[tuple[Node | None, str]]:
        lines, made = [], set()
        for node in self.order:
            if node.module is None or node.module in made or (
                    self.g.kind == GraphKind.MODEL and node.kind == NodeKind.CALL):
                continue  # a model's networks are made once, by the container
            made.add(node.module)
            if node.kind == NodeKind.OP:
                init, _ = self._lower(node, ["_"] * len(node.inputs))
                lines.append((node, f"self.{node.module} = {init}"))
            elif node.kind == NodeKind.CALL:
                lines.append((node, f"self.{node.module} = {self.construct(node.callee)}"))
            elif node.kind == NodeKind.REPEAT:
                lines.append((node, f"self.{node.module} = nn.ModuleList("
                                    f"{self.construct(node.callee)} for _ in range({node.count}))"))
        return lines

    # ---- forward -------------------------------------------------------------------
    def _forward(self) -> list[Statement]:
        out: list[Statement] = []
        for node in self.order:
            if node.kind == NodeKind.INPUT:
                self._bind(node, 0, node.name)
                self._symbols(node)
                continue
            out.append(self._statement(node))
            if node.kind == NodeKind.OP and lookup(node.op).draw == Draw.MERGE:
                self._inline_into(out, node, list(node.inputs), node.hints[0] if node.hints else "")
        outs = [self._value(r, t) for r, t in zip(self.g.outputs, self._boundary())]
        out.append(Statement([f"return {', '.join(outs)}"], "", None, []))
        self._inline_into(out, None, list(self.g.outputs), RETURN_HINT)
        return self._captures(out) + out

    def _captures(self, out: list[Statement]) -> list[Statement]:
        """``T = x.size(2)`` first, for each size read after its input ``x`` was reassigned."""
        code = "\n".join(line for s in out for line in s.lines)
        first = []
        for symbol, name in self.captured.items():
            if re.search(rf"\b{re.escape(name)}\b", code):  # still used once single-use values were folded
                var, dim = self.sym[symbol]
                first.append(Statement([f"{name} = {var}.size({dim})"],
                                       f"{symbol}, read before `{var}` is reassigned", None, [name]))
        return first

    def _statement(self, node: Node) -> Statement:
        if node.kind == NodeKind.REPEAT:
            args = [self._value(ref, want) for ref, want in zip(node.inputs, self._input_computes(node))]
            carried = [self._assign(node, i) for i in range(len(node.outputs))]
            loop = [f"for {self.loop} in self.{node.module}:",
                    f"    {', '.join(carried)} = {self.loop}({', '.join(args)})"]
            return Statement(loop, self._note([node], node), node, carried, [node])
        expr = self._rhs(node)
        targets = [self._assign(node, i) for i in range(len(node.outputs))]
        return Statement([f"{', '.join(targets)} = {expr}"], self._note([node], node), node, targets, [node])

    def _note(self, nodes: list[Node], last: Node | None) -> str:
        """Output shapes (a node's, or the graph's for the return), its compute precision, the .agq line(s)."""
        if not nodes:
            return ""
        note = fmt_types(last.outputs if last else self.g.output_types())
        if last and last.computes and last.computes[0].name != "fp32" and any(
                t.dtype == DType.FLOAT for t in last.outputs):
            note += f" {last.computes[0]}"
        lines = sorted({n.span.line for n in nodes})
        where = str(lines[0]) if len(lines) == 1 else f"{lines[0]}-{lines[-1]}"
        return f"{note}  {source_name(nodes[-1].span.file)}:{where}"

    def _rhs(self, node: Node) -> str:
        """The expression computing a node (inlined inputs written in, parenthesised where they must be)."""
        args = [self._value(ref, want) for ref, want in zip(node.inputs, self._input_computes(node))]
        if node.kind == NodeKind.CALL:
            return f"self.{node.module}({', '.join(args)})"
        if any(ref[0] in self.inlined for ref in node.inputs):
            bare = self._bare_arguments(node)
            args = [a if i in bare or ref[0] not in self.inlined else _atom(a)
                    for i, (a, ref) in enumerate(zip(args, node.inputs))]
        return self._lower(node, args)[1]

    def _bare_arguments(self, node: Node) -> set[int]:
        """The inputs a lowering writes as a whole argument of a call or list (no parentheses needed)."""
        probes = [f"__agqc_input_{i}__" for i in range(len(node.inputs))]
        text = self._lower(node, probes)[1]
        bare = set()
        for i, probe in enumerate(probes):
            at = text.find(probe)
            before, after = text[:at].rstrip()[-1:], text[at + len(probe):].lstrip()[:1]
            if at >= 0 and before in ("(", "[", ",") and after in (")", "]", ","):
                bare.add(i)
        return bare

    def _input_computes(self, node: Node) -> list[Precision | None]:
        if node.kind == NodeKind.OP:
            return [node.computes[0]] * len(node.inputs)
        callee = self.program.graphs[node.callee]
        return [callee.node(n).computes[0] for n in callee.inputs]

    def _value(self, ref: Ref, want: Precision | None) -> str:
        producer = self.g.node(ref[0])
        name = self.var[ref] if ref[0] not in self.inlined else self._rhs(producer)
        have = producer.computes[ref[1]]
        if want is None or producer.outputs[ref[1]].dtype != DType.FLOAT or dtype_expr(have) == dtype_expr(want):
            return name
        return f"{_atom(name)}.to({dtype_expr(want)})"

    # ---- writing single-use values into their merge or the return ------------------------
    def _inline_into(self, out: list[Statement], merge: Node | None, refs: list[Ref], hint: str) -> None:
        """Fold the statements just before ``out[-1]`` into it when each is the one use of its value.

        Python evaluates the folded expression in the order the statements ran (arguments
        left to right, each before its consumer), so only statements that sit right before
        the merge, in exactly that order, are folded; random ops never are.
        """
        chosen: list[Node] = []
        cursor = len(out) - 2

        def visit(refs: list[Ref], consumer: Node | None) -> None:
            nonlocal cursor
            for ref in reversed(refs):
                producer = self.g.node(ref[0])
                if cursor >= 0 and out[cursor].node is producer and self._foldable(producer, ref, consumer, hint):
                    chosen.append(producer)
                    cursor -= 1
                    visit(list(producer.inputs), producer)

        visit(refs, merge)
        if not chosen:
            return
        self.inlined.update(n.name for n in chosen)
        last = out[-1]
        if merge is None:
            outs = [self._value(r, t) for r, t in zip(self.g.outputs, self._boundary())]
            code = f"return {', '.join(outs)}"
        else:
            code = f"{', '.join(last.targets)} = {self._rhs(merge)}"
        nodes = [n for s in out[cursor + 1:-1] for n in s.nodes] + ([merge] if merge else [])
        note = self._note(nodes, merge)
        if len(code) + len(note) + len("        ") + len("  # ") > MAX_LINE:
            self.inlined.difference_update(n.name for n in chosen)
            return
        del out[cursor + 1:]
        out.append(Statement([code], note, merge, last.targets, nodes))

    def _foldable(self, producer: Node, ref: Ref, consumer: Node | None, hint: str) -> bool:
        if producer.kind not in (NodeKind.OP, NodeKind.CALL) or len(producer.outputs) != 1:
            return False
        if producer.kind == NodeKind.OP and lookup(producer.op).random:
            return False
        if not producer.hints or producer.hints[0] != hint or self._uses(ref) != 1:
            return False
        return consumer is None or consumer.kind == NodeKind.CALL or self._reads_once(consumer, ref)

    def _uses(self, ref: Ref) -> int:
        return sum(list(u.inputs).count(ref) for u in self.g.users(ref[0])) + self.g.outputs.count(ref)

    def _reads_once(self, node: Node, ref: Ref) -> bool:
        """Whether the node's lowering writes that input exactly once (it may not be evaluated twice)."""
        probes = [f"__agqc_input_{i}__" for i in range(len(node.inputs))]
        text = self._lower(node, probes)[1]
        return text.count(probes[list(node.inputs).index(ref)]) == 1

    def _boundary(self) -> list[Precision | None]:
        return list(self.g.boundary) if self.g.boundary is not None else [None] * len(self.g.outputs)

    # ---- variable names ---------------------------------------------------------------------
    def _assign(self, node: Node, port: int) -> str:
        """A variable for this output: the spec's name unless that would clobber a live value."""
        hint = node.hints[port] if port < len(node.hints) else node.name
        for name in self._candidates(node, port, hint):
            if self._free(name, node):
                break
        else:
            k = 2
            while not self._free(f"{hint}_{k}", node):
                k += 1
            name = f"{hint}_{k}"
        if name != hint:
            self.branch[node.name] = name
        self._bind(node, port, name)
        return name

    def _candidates(self, node: Node, port: int, hint: str) -> list[str]:
        names = []
        feeds = self._feeds_call(node, hint) if len(node.outputs) == 1 else None
        if feeds:
            names.append(feeds)  # the noise fed to G(z, y) is z, not yet the fake image
        if hint == "out" and node.kind == NodeKind.CALL and len(self.g.outputs) > 1:
            names.append(node.module or hint)  # `return dnn(x), cnn(x)`: each result is named for its network
        names.append(hint)
        if len(node.outputs) == 1:
            names += [self.branch[r[0]] for r in node.inputs if r[0] in self.branch
                      and self.g.node(r[0]).hints[r[1]] == hint]  # the branch goes on under its name
            names.append(self._branch_name(node, hint))
        return [n for n in names if n and n.isidentifier()]

    def _feeds_call(self, node: Node, hint: str) -> str | None:
        """The callee's parameter name, for a chain's intermediate whose one use is a block or network call."""
        users = self.g.users(node.name)
        if len(users) != 1 or (node.name, 0) in self.g.outputs or users[0].kind != NodeKind.CALL:
            return None
        user = users[0]
        if not user.hints or user.hints[0] != hint or list(user.inputs).count((node.name, 0)) != 1:
            return None
        if any(self.g.node(r[0]).kind != NodeKind.INPUT and self.g.node(r[0]).hints[r[1]] == hint
               for r in node.inputs):
            return None  # only the value a chain starts from: `h = x -> stem -> relu() -> Block()` stays h
        callee = self.program.graphs[user.callee]
        return callee.inputs[list(user.inputs).index((node.name, 0))]

    def _branch_name(self, node: Node, hint: str) -> str:
        """A side branch's name, when its spec name is taken: the block it calls (attn), else h."""
        run, cur = [node], node
        while True:
            users = self.g.users(cur.name)
            if len(users) != 1 or len(cur.outputs) != 1 or not users[0].hints or users[0].hints[0] != hint:
                break
            cur = users[0]
            run.append(cur)
        calls = [n.module for n in run if n.kind == NodeKind.CALL and n.module]
        return calls[0] if calls else "h"

    def _free(self, name: str, at: Node) -> bool:
        if name in TAKEN or name == self.loop or name in self.captured.values() or (
                name == "next" and not self.g.inputs):  # next(self.parameters()): the device
            return False
        return not (name in self.holder and self._live(self.holder[name], at))

    def _live(self, ref: Ref, at: Node) -> bool:
        if ref in self.g.outputs:
            return True
        here = self.position[at.name]
        return any(self.position[u.name] > here and ref in u.inputs for u in self.g.users(ref[0]))

    def _bind(self, node: Node, port: int, name: str) -> None:
        self.var[(node.name, port)] = name
        self.holder[name] = (node.name, port)

    # ---- sizes and lowering -------------------------------------------------------------
    def _symbols(self, node: Node) -> None:
        for i, d in enumerate(node.outputs[0].shape):
            if isinstance(d, str) and d.isidentifier():
                self.sym.setdefault(d, (node.name, i))

    def _dim(self, d) -> str:
        if isinstance(d, int):
            return str(d)
        code = ""
        for coef, names in dim_terms(d):
            factors = ([str(abs(coef))] if abs(coef) != 1 or not names else []) + [self._size(n) for n in names]
            sign = ("-" if coef < 0 else "") if not code else (" - " if coef < 0 else " + ")
            code += sign + " * ".join(factors)
        return code

    def _size(self, symbol: str) -> str:
        """A symbolic size as code: read from the input it came in with, while that variable still holds it.

        Once the variable is reassigned (``x = x -> pool(1)``), ``x.size(2)`` would read the new
        tensor's size: the size is then read into its own variable where forward starts.
        """
        if symbol not in self.sym:
            return symbol  # a number written as a name (a coefficient), or a size no input carries
        var, dim = self.sym[symbol]
        if symbol not in self.captured and self.holder.get(var) == (var, 0):
            return f"{var}.size({dim})"
        if symbol not in self.captured:
            taken = {n.name for n in self.order} | {h for n in self.order for h in n.hints} | set(self.holder)
            # nor what forward calls or reads: a size `rotary` would hide rotary(), an input may be `T_size`
            taken |= TAKEN | {self.loop} | set(keyword.kwlist) | set(self.captured.values())
            name, k = symbol if symbol not in taken else f"{symbol}_size", 1
            while name in taken:
                k += 1
                name = f"{symbol}_size{k}"
            self.captured[symbol] = name
        return self.captured[symbol]

    def _device(self) -> str:
        return f"{self.g.inputs[0]}.device" if self.g.inputs else "next(self.parameters()).device"

    def _lower(self, node: Node, args: list[str]) -> tuple[str | None, str]:
        op, facts = lookup(node.op), node.facts
        assert op is not None and facts.call is not None and facts.compute is not None, "an annotated op node"
        ctx = LowerCtx(args, facts.call, f"self.{node.module}", facts.compute.torch_dtype, self._dim, self._device(),
                       node.precision if facts.quantized else None)
        return op.lower(ctx)


def _atom(expr: str) -> str:
    """An expression that can take ``.to(...)`` or sit inside another: parenthesised unless it is one term."""
    depth, quote = 0, ""
    for i, ch in enumerate(expr):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and (ch == " " or (ch == "-" and i == 0)):
            return f"({expr})"
    return expr
