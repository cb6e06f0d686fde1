"""Calls: an op, a block or a network applied to values -> new nodes.

Takes the evaluated arguments of one ``ast.Call`` (the value before ``->``
comes first); checks them against the op's signature and shape rule, the
block's typed inputs, or the network's inputs; adds a node to the frame (the
``Context`` gives its precision and its variable name) and gives its output
values.  Every problem is a located diagnostic.  A block call instantiates the
block through the ``Elaborator``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .diagnostics import Span, did_you_mean
from .errorcodes import Code
from .evaluate import Keywords, Positional, kind_of
from .kinds import DType, GraphKind, NodeKind
from .ops.registry import BindProblem, OpCall, OpDef, ShapeError, Sym, all_ops, bind_args, lookup
from .types import FP32, Dim, Precision, SizeTooComplex, TensorType, format_dims
from .values import POISON, Context, Draft, Frame, NetRef, TupleVal, TVal, Value, own_names

if TYPE_CHECKING:
    from .elaborate import Elaborator

TensorArgs = list[tuple[TVal, Span]]  # a call's tensor arguments, each with where it was written


class Calls:
    """Calls and tensor arithmetic, for the ``Evaluator`` (its ``CallSite``)."""

    def __init__(self, elaborator: Elaborator):
        self.elaborator = elaborator
        self.reporter = elaborator.reporter

    def call(self, e: ast.Call, piped: Value | None, f: Frame, ctx: Context) -> Value:
        positional, kwargs = self.elaborator.evaluator.call_args(e, f, ctx)
        if piped is not None:
            positional.insert(0, (piped, e.span))  # a piped tensor is used here, at the call
        if f.env.get(e.func) is POISON:  # a network whose block had errors: already reported
            return POISON
        named = f.env.get(e.func)
        target = named if isinstance(named, NetRef) else None
        op = lookup(e.func)
        block = self.elaborator.scope.blocks.get(e.func)
        if target is None and op is None and block is None:
            self._unknown_callee(e, f)
            return POISON
        if target is None and op is None and block is not None and f.kind == GraphKind.MODEL:
            self._block_in_flow(e, block)
            return POISON
        values = [v for v, _ in positional] + [v for v, _ in kwargs.values()]
        if any(v is POISON for v in values):
            self._check_args_only(op, block, positional, kwargs, e.span)
            return POISON
        for value, span in positional:
            if isinstance(value, TupleVal):
                span = value.span  # point at the call that gave several tensors
                self.reporter.error(Code.TUPLE_VALUE,
                                    f"this gives {len(value.items)} tensors; `{e.func}` takes them one by one",
                                    span, "unpack them first: `a, b = ...`")
                return POISON
        if target is not None:
            return self.network_call(target, e, positional, kwargs, f, ctx)
        if op is not None:
            return self.op_call(op, e.span, e.alias, e.span, positional, kwargs, f, ctx, piped is not None)
        assert block is not None
        return self.block_call(block, e, positional, kwargs, f, ctx, piped is not None)

    def _unknown_callee(self, e: ast.Call, f: Frame) -> None:
        """``e.func`` is neither a network here, an op nor a block: say what it is, or what it is close to."""
        from .model import misused_name
        named = f.env.get(e.func)
        if isinstance(named, (TVal, TupleVal)):
            f.reads.add(e.func)  # meant as a use: no `unused-input` besides
            self.reporter.error(Code.UNKNOWN_OP, f"`{e.func}` is a tensor, not an op or block", e.func_span,
                                f"pass it to one: `{e.func} -> relu()`, `Block({e.func})`")
            return
        misuse = misused_name(self.elaborator, e.func, f, called=True)
        if misuse is not None:
            self.reporter.error(Code.UNKNOWN_OP, misuse[0], e.func_span, *misuse[1])
            return
        known = list(all_ops()) + list(self.elaborator.scope.blocks) + [k for k, v in own_names(f.env).items()
                                                               if isinstance(v, NetRef)]
        note = did_you_mean(e.func, known)
        self.reporter.error(Code.UNKNOWN_OP, f"unknown op or block `{e.func}`", e.func_span,
                            note or "see `agqc ops` for the list of ops")

    def _block_in_flow(self, e: ast.Call, block: ast.Block) -> None:
        """A block called in a model's flow: the flow calls networks (the block's instances with weights)."""
        from .model import did_you_mean_network, networks_of
        note = did_you_mean_network(networks_of(self.elaborator, block.name)) or (
            f"declare a network made from it in the model, `network {snake(block.name)} = {block.name}()`, "
            "and call that")
        self.reporter.error(Code.MISPLACED, f"`{block.name}` is a block; a model's flow calls its networks",
                            e.func_span, note, "a network is one instance of a block, with its own weights: "
                            "its role and name are declared in the model")

    # ---- ops ---------------------------------------------------------------------
    def _check_args_only(self, op: OpDef | None, block: ast.Block | None, positional: Positional,
                         kwargs: Keywords, span: Span) -> None:
        """After an error upstream, still check the call's own (non-tensor) arguments.

        The leading positional values are taken to be the tensor inputs; when a
        later one is itself broken, nothing more can be said.
        """
        if op is not None:
            n_tensors = max(op.inputs, 1)
        elif block is not None:
            n_tensors = sum(isinstance(p, ast.TensorParam) for p in block.params)
        else:
            return
        others = positional[n_tensors:]
        if any(v is POISON or isinstance(v, TVal) for v, _ in others + list(kwargs.values())):
            return
        with self.reporter.only(lambda code: code != Code.SYMBOLIC_DIM):  # sizes are unknown after the error
            if op is not None:
                self._bind(op, others, kwargs, span)
            elif block is not None:
                self.elaborator.bind_config(block, others, kwargs, span)

    def _bind(self, op: OpDef, others: Positional, kwargs: Keywords,
              span: Span) -> tuple[dict[str, Any], list[BindProblem]]:
        bound, problems = bind_args(op.args, [v for v, _ in others], {k: v for k, (v, _) in kwargs.items()})
        for p in problems:
            where = (kwargs[p.kwarg][1] if p.kwarg in kwargs else
                     others[p.index][1] if p.index is not None and p.index < len(others) else span)
            notes = [p.note] if p.note else []
            if p.code == Code.SYMBOLIC_DIM:
                notes.append("a symbolic size gets a number where the network is declared, "
                             "e.g. `classifier net = Block(D=64)`, or from a concrete input shape")
            self.reporter.error(p.code, f"{op.name}: {p.message}", where, *notes)
        return bound, problems

    def op_call(self, op: OpDef, span: Span, alias: str | None, alias_span: Span | None, positional: Positional,
                kwargs: Keywords, f: Frame, ctx: Context, piped: bool) -> Value:
        tensors: TensorArgs = [(v, s) for v, s in positional if isinstance(v, TVal)]
        others: Positional = [(v, s) for v, s in positional if not isinstance(v, TVal)]
        if not self._tensor_count(op.name, op.inputs, len(tensors), span, piped):
            return POISON
        extra = self._tensor_kwargs(op, kwargs)
        if extra is None:
            return POISON
        given = kwargs  # every keyword, for locating a complaint about one
        kwargs = {k: v for k, v in kwargs.items() if k not in op.tensor_args}
        bound, problems = self._bind(op, others, kwargs, span)
        if problems or not self._dtypes_ok(op, tensors):
            return POISON
        for name in op.tensor_args:  # keyword tensors follow the positional ones; args hold their index
            bound[name] = len(tensors) if name in extra else None
            if name in extra:
                tensors.append(extra[name])
        refs = self._node_refs(op, bound, kwargs, f, span)
        if refs is None:
            return POISON
        call = OpCall([t.type for t, _ in tensors], bound, refs=refs)
        try:
            call.outputs = op.infer(call)
        except ShapeError as err:
            self._shape_error(op, err, tensors, self._arg_span(op, err.arg, others, given) or span)
            return POISON
        except SizeTooComplex as err:
            self.reporter.error(Code.LIMIT, f"{op.name}: {err}", span)
            return POISON
        if f.kind == GraphKind.MODEL and op.params(call):  # weights outside every network: no module holds them
            self.reporter.error(Code.MISPLACED, f"`{op.name}` has weights; a model's flow calls networks and "
                                "ops without weights", span, "put the layer in a block, and call it there "
                                "(or declare a network made from a block that holds it)")
            return POISON
        precision, compute = ctx.precision, self._compute(op, call, ctx.precision, span)
        draft = Draft(f.new_id(), NodeKind.OP, op.name, bound, tuple(t.ref for t, _ in tensors), tuple(call.outputs),
                      precision, (compute,) * len(call.outputs), span, base=op.name, alias=alias,
                      alias_span=alias_span)
        vals = f.add(draft, ctx)
        return vals[0] if len(vals) == 1 else TupleVal(tuple(vals), span)

    def _node_refs(self, op: OpDef, bound: dict[str, Any], kwargs: Keywords, f: Frame,
                   span: Span) -> dict[str, dict[str, Any]] | None:
        """Arguments naming an earlier layer of this block (``tie="wte"``): that layer's op and shapes."""
        refs = {}
        for arg in op.args:
            name = bound.get(arg.name) if arg.kind == "node" else None
            if name is None:
                continue
            target = next((d for d in f.drafts if d.alias == name and d.kind == NodeKind.OP), None)
            if target is None:
                where = kwargs[arg.name][1] if arg.name in kwargs else span
                self.reporter.error(Code.UNKNOWN_NAME,
                                    f"{op.name}: `{arg.name}` names no layer `{name}` before this line in this block",
                                    where, f'name a layer with `as`, e.g. `embedding(V, D) as {name}`')
                return None
            refs[arg.name] = {"op": target.op, "args": dict(target.args), "outputs": target.outputs}
        return refs

    def _tensor_kwargs(self, op: OpDef, kwargs: Keywords) -> dict[str, tuple[TVal, Span]] | None:
        """The keyword tensors an op accepts (``mask=m``); None after reporting a non-tensor."""
        extra: dict[str, tuple[TVal, Span]] = {}
        for name in op.tensor_args:
            if name not in kwargs:
                continue
            value, where = kwargs[name]
            if not isinstance(value, TVal):
                self.reporter.error(Code.ARG_TYPE, f"{op.name}: `{name}` expects a tensor, found {kind_of(value)}",
                                    where)
                return None
            extra[name] = (value, where)
        return extra

    def _tensor_count(self, name: str, want: int, got: int, span: Span, piped: bool, *more: str) -> bool:
        if (want == -1 and got >= 1) or want == got:
            return True
        need = "one or more tensor inputs" if want == -1 else (
            "no tensor input" if want == 0 else f"{want} tensor input{'s' if want > 1 else ''}")
        code = Code.MISSING_ARG if got < max(want, 1) else Code.TOO_MANY_ARGS
        notes = ["the tensor before `->` is its first input"] if piped else []
        self.reporter.error(code, f"`{name}` takes {need}, found {got}", span, *notes, *more)
        return False

    def _dtypes_ok(self, op: OpDef, tensors: TensorArgs) -> bool:
        ok = True
        for t, span in tensors:
            if op.input_dtype != "any" and t.type.dtype != op.input_dtype:
                want = "integer ids" if op.input_dtype == DType.INT else "a float tensor"
                self.reporter.error(Code.DTYPE_MISMATCH, f"`{op.name}` takes {want}, found {t.type}", span,
                                    f"that tensor comes from {t.span.short()}")
                ok = False
        return ok

    def _arg_span(self, op: OpDef, arg: str | None, others: Positional, kwargs: Keywords) -> Span | None:
        """Where the argument named in a shape rule's complaint was written."""
        if arg is None:
            return None
        if arg in kwargs:
            return kwargs[arg][1]
        fixed = [a.name for a in op.args if not a.variadic and not a.keyword]
        if arg in fixed and fixed.index(arg) < len(others):
            return others[fixed.index(arg)][1]
        return None

    def _shape_error(self, op: OpDef, err: ShapeError, tensors: TensorArgs, span: Span) -> None:
        name = op.name
        notes = []
        if err.expected:
            notes.append(f"expected {err.expected}")
        source = tensors[err.input_index] if err.input_index is not None and err.input_index < len(tensors) else None
        if err.found:
            origin = f" (from line {source[0].span.line})" if source else ""
            notes.append(f"found {err.found}{origin}")
        message = err.message if err.message.startswith(name) else f"{name}: {err.message}"
        self.reporter.error(err.code, message, span, *notes)

    def _compute(self, op: OpDef, call: OpCall, precision: Precision, span: Span) -> Precision:
        if op.precision_sensitive and precision.bits < FP32.bits:  # at fp64 they compute in fp64, as asked
            self.reporter.warning(Code.PRECISION_KEPT, f"{op.name} runs in fp32 inside this @{precision} region",
                                  span, "normalisation statistics and softmax lose accuracy in low precision")
            return FP32
        if precision.torch_dtype or op.quantized_params is not None:
            return precision  # fp64/fp16/bf16 compute, or a layer quantised at fp8/int8/int4/binary
        # Elsewhere in a low-bit region: ops without weights are exact in fp32, so they carry the
        # region's precision; weights no quantiser handles (an lstm, a class token) stay fp32 ("kept").
        if op.params(call) and precision.name != "fp32":
            self.reporter.warning(Code.PRECISION_KEPT, f"{op.name} keeps fp32 weights inside this @{precision} region",
                                  span, "agqc quantises linear, convolution, embedding and patch layers")
            return FP32
        return precision

    def tensor_binop(self, e: ast.BinOp, left: Value, right: Value, f: Frame, ctx: Context) -> Value:
        names = {"+": "add", "*": "mul"}
        if (isinstance(left, TVal) and _number(right)) or (_number(left) and isinstance(right, TVal)):
            return self._scaled(e, left, right, f, ctx)  # `x * 0.5`, `x - 1`, `1 - x`, `x / 255`
        if e.op not in names or not (isinstance(left, TVal) and isinstance(right, TVal)):
            if isinstance(left, TupleVal) or isinstance(right, TupleVal):
                self.reporter.error(Code.TUPLE_VALUE, f"`{e.op}` takes one tensor on each side", e.span,
                                    "unpack the call's results first: `a, b = ...`")
            else:
                self.reporter.error(Code.ARG_TYPE,
                                    f"`{e.op}` between {kind_of(left)} and {kind_of(right)} is not supported", e.span,
                                    "tensors can be added (`+`) and multiplied (`*`) element-wise")
            return POISON
        op = lookup(names[e.op])
        assert op is not None
        return self.op_call(op, e.span, None, None, [(left, e.left.span), (right, e.right.span)], {}, f, ctx, False)

    def _scaled(self, e: ast.BinOp, left: Value, right: Value, f: Frame, ctx: Context) -> Value:
        """A tensor and a number as one ``scale(factor, offset)``: x*c, c*x, x/c, x+c, c+x, x-c, c-x."""
        tensor_first = isinstance(left, TVal)
        tensor, number = (left, right) if tensor_first else (right, left)
        span = e.right.span if tensor_first else e.left.span
        c = float(number)  # type: ignore[arg-type]
        factor_offset = {"*": (c, 0.0), "+": (1.0, c), "-": (1.0, -c) if tensor_first else (-1.0, c)}
        if e.op == "/" and tensor_first and c != 0:
            factor_offset["/"] = (1.0 / c, 0.0)
        if e.op not in factor_offset:
            hint = "dividing by 0 gives no finite tensor" if e.op == "/" and tensor_first else (
                "a tensor combines with a number by `+`, `-`, `*`, and `/` by a number")
            self.reporter.error(Code.ARG_TYPE, f"`{e.op}` between {kind_of(left)} and {kind_of(right)} is not "
                                "supported", e.span, hint)
            return POISON
        factor, offset = factor_offset[e.op]
        op = lookup("scale")
        assert op is not None
        return self.op_call(op, e.span, None, None, [(tensor, e.span), (factor, span), (offset, span)], {}, f, ctx,
                            False)

    # ---- blocks --------------------------------------------------------------------
    def block_call(self, block: ast.Block, e: ast.Call, positional: Positional, kwargs: Keywords, f: Frame,
                   ctx: Context, piped: bool) -> Value:
        tparams = [p for p in block.params if isinstance(p, ast.TensorParam)]
        tensors: TensorArgs = [(v, s) for v, s in positional if isinstance(v, TVal)]
        others: Positional = [(v, s) for v, s in positional if not isinstance(v, TVal)]
        if len(tensors) != len(tparams):
            self._tensor_count(block.name, len(tparams), len(tensors), e.span, piped,
                               f"`{block.name}` (defined at {block.name_span.where()}) takes "
                               + (f"the tensor input{'s' if len(tparams) > 1 else ''} "
                                  + ", ".join(f"`{p.name}`" for p in tparams) if tparams else "no tensor input"))
            return POISON
        config = self.elaborator.bind_config(block, others, kwargs, e.span)
        if config is None:
            return POISON
        site = self.elaborator.site(block, e.span, others, kwargs, tensors)
        graph = self.elaborator.instantiate(block, config, tensors, ctx.precision, e.span, site=site, caller=f)
        if graph is None:
            return POISON
        outs = graph.output_types()
        computes = tuple(graph.result_computes())
        draft = Draft(f.new_id(), NodeKind.CALL, block.name, {}, tuple(t.ref for t, _ in tensors), tuple(outs),
                      ctx.precision, computes, e.span, base=snake(block.name), alias=e.alias,
                      alias_span=e.span, callee=graph.key)
        vals = f.add(draft, ctx)
        return vals[0] if len(vals) == 1 else TupleVal(tuple(vals), e.span)

    # ---- networks (in a model's flow) ------------------------------------------------
    def network_call(self, net: NetRef, e: ast.Call, positional: Positional, kwargs: Keywords, f: Frame,
                     ctx: Context) -> Value:
        graph = self.elaborator.graphs[net.graph_key]
        for name, (_, span) in kwargs.items():
            self.reporter.error(Code.UNKNOWN_ARG, f"network `{net.name}` takes no keyword `{name}`", span,
                                f"networks are configured where they are declared (line {net.span.line})")
        bad = [(v, s) for v, s in positional if not isinstance(v, TVal)]
        for v, span in bad:
            notes = [f"networks are configured where they are declared (line {net.span.line}); "
                     "the flow passes them tensors"] if not isinstance(v, NetRef) else []
            self.reporter.error(Code.NOT_A_TENSOR, f"network `{net.name}` takes tensors, found {kind_of(v)}", span,
                                *notes)
        tensors: TensorArgs = [(v, s) for v, s in positional if isinstance(v, TVal)]
        inputs = ", ".join(f"{name.split('/')[-1]}: {t}" for name, t in zip(graph.inputs, graph.input_types()))
        if kwargs or bad or not self._tensor_count(net.name, len(graph.inputs), len(tensors), e.span, False,
                                                   f"network `{net.name}` (block `{graph.name}`) takes {inputs}"):
            return POISON
        binding: dict[str, Dim] = {}
        for (value, span), declared in zip(tensors, graph.input_types()):
            problem = match_type(declared, value.type, binding)
            if problem:
                self.reporter.error(Code.SHAPE_MISMATCH if "dtype" not in problem else Code.DTYPE_MISMATCH,
                                    f"network `{net.name}`: {problem}", span, f"expected {declared}",
                                    f"found {value.type} (from line {value.span.line})")
                return POISON
        outs = tuple(substitute(t, binding) for t in graph.output_types())
        computes = tuple(FP32 for _ in outs)  # networks hand back float32 at their boundary
        draft = Draft(f.new_id(), NodeKind.CALL, graph.name, {}, tuple(t.ref for t, _ in tensors), outs, FP32,
                      computes, e.span, base=net.name, callee=graph.key, module=net.name)
        vals = f.add(draft, ctx)
        return vals[0] if len(vals) == 1 else TupleVal(tuple(vals), e.span)


def linear_hint(f: Frame, value: TVal, declared: TensorType) -> list[str]:
    """A note when ``value`` has more dimensions than ``declared`` because a linear layer met an image.

    ``linear`` maps only the last dimension, so ``[B, 16, 14, 14] -> linear(10)`` gives
    ``[B, 16, 14, 10]``: the classic forgotten ``flatten()``.
    """
    if value.type.rank <= declared.rank:
        return []
    drafts = {d.id: d for d in f.drafts}
    todo, seen = [value.ref[0]], set()
    while todo:
        d = drafts.get(todo.pop())
        if d is None or d.id in seen:
            continue
        seen.add(d.id)
        if d.op == "linear" and d.kind == NodeKind.OP and d.inputs:
            src, port = d.inputs[0]
            x = drafts[src].outputs[port] if src in drafts else None
            if x is not None and x.rank > max(2, declared.rank):
                return [f"linear acts on the last dimension: line {d.span.line} maps {x} to {d.outputs[0]}; "
                        "to classify an image, flatten() first: `x -> flatten() -> linear(...)`"]
        todo += [src for src, _ in d.inputs]
    return []


def snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def match_type(declared: TensorType, actual: TensorType, binding: dict[str, Dim]) -> str | None:
    """Unify a declared type (symbols allowed) with an actual one; None if they fit."""
    if declared.dtype != actual.dtype:
        return f"expected a {declared.dtype} tensor (dtype), found {actual.dtype}"
    if declared.rank != actual.rank:
        return f"expected rank {declared.rank} {format_dims(declared.shape)}, found rank {actual.rank}"
    for i, (want, have) in enumerate(zip(declared.shape, actual.shape)):
        if isinstance(want, str) and want.isidentifier():  # a bare size name, bound here
            if binding.setdefault(want, have) != have:
                return f"dimension {i} is {have}, but `{want}` is already {binding[want]}"
        elif want != have and resolve_dim(want, binding) != have:  # equal text: already the caller's size
            return f"dimension {i} is {have}, but {want} is declared"
    return None


def resolve_dim(d: Dim, binding: dict[str, Dim]) -> Dim:
    return d if isinstance(d, int) else _subst_product(d, binding)


def _subst_product(d: str, binding: dict[str, Dim]) -> Dim:
    from .types import dim_subst
    return dim_subst(d, binding)


def substitute(t: TensorType, binding: dict[str, Dim]) -> TensorType:
    shape = tuple(d if isinstance(d, int) else _subst_product(d, binding)
                  for d in t.shape)
    return TensorType(shape, t.dtype)


__all__ = ["Calls", "linear_hint", "match_type", "substitute", "snake", "Sym"]


def _number(v: Value) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
