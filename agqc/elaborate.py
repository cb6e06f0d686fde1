"""Elaborate: the loaded scope -> the checked IR ``Program``.

Takes a ``Scope`` from ``agqc.loader``; instantiates the model's networks,
each block once per distinct (arguments, input types, precision), repeats
as one body graph run N times, and the model's flow.  Shapes are inferred
while instantiating, because a block's sizes (``linear(4 * D)``) depend on
the shapes it is called with.  Names nodes deterministically.

``Elaborator`` holds what lasts the whole spec (the scope, the graphs made so
far, the blocks being built); a ``Frame`` is one graph being built; a
``Context`` (target names, precision) is passed down to each expression.
``repeat.py``, ``model.py`` and ``unused_blocks.py`` take the ``Elaborator``.
"""
from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import ast
from .calls import Calls, TensorArgs, linear_hint, match_type
from .diagnostics import Reporter, Site, Span
from .errorcodes import Code
from .evaluate import Evaluator, Keywords, Positional, kind_of
from .ir import Graph, Program
from .kinds import DType, GraphKind, NodeKind
from .model import elaborate_model, misused_name
from .naming import assign_class_names, finalize_graph
from .ops.registry import REQUIRED, Arg, Sym, bind_args
from .trail import call_site
from .types import FP32, Dim, Precision, TensorType
from .unused_blocks import check_unused_blocks
from .values import (
    POISON,
    TOP_LEVEL,
    Context,
    Draft,
    Env,
    Frame,
    NetRef,
    Poison,
    TupleVal,
    TVal,
    Value,
    new_env,
    own_names,
)
from .walk import assigned_names, expr_names

if TYPE_CHECKING:
    from .loader import Scope

NOT_GIVEN = object()
Config = dict[str, Value]  # a block's configuration arguments and sizes, by name


class Elaborator:
    """What lasts while one spec is elaborated: its scope, the graphs made so far, the blocks being built."""

    def __init__(self, scope: Scope, reporter: Reporter):
        self.scope = scope
        self.reporter = reporter
        self.calls = Calls(self)
        self.evaluator: Evaluator = _Evaluator(self)
        self.graphs: dict[str, Graph] = {}
        self.failed: set[str] = set()  # keys whose instantiation reported errors
        self.attempted: set[str] = set()  # block names anything tried to instantiate
        self.stack: list[str] = []  # blocks being built, outermost first
        self.defaults_in_progress: set[tuple[str, str]] = set()  # (block, parameter) whose default is evaluated
        self.uses: dict[str, dict[Span, str]] = {}  # per standard-library block: where it reads its parameters
        self.misread: set[str] = set()  # model inputs a block tried to read (reported; not also "unused")

    # ---- blocks ------------------------------------------------------------------
    def signature_dims(self, block: ast.Block) -> list[str]:
        """Bare names in the input types that are neither constants nor parameters."""
        taken = {p.name for p in block.params}
        dims = []
        for p in block.params:
            if isinstance(p, ast.TensorParam):
                dims += [d.id for d in p.type.dims if isinstance(d, ast.Name) and d.id not in taken
                         and d.id not in self.scope.consts]
        return list(dict.fromkeys(dims))

    def bind_config(self, block: ast.Block, others: Positional, kwargs: Keywords, span: Span) -> Config | None:
        """A call's non-tensor arguments matched to the block's parameters and signature sizes."""
        # Sizes are keyword-only: bound positionally, `Block(x, 12, 250)` would silently set B and T.
        sig = [Arg(p.name, "any", REQUIRED if p.default is None else self.default_value(block, p))
               for p in block.params if isinstance(p, ast.ConfigParam)]
        sig += [Arg(d, "dim", NOT_GIVEN, keyword=True) for d in self.signature_dims(block)]
        takes = f"`{block.name}` (defined at {block.name_span.where()}) takes {_takes(sig)}"
        wrong = [(v, where) for v, where in others + list(kwargs.values()) if isinstance(v, (TVal, TupleVal, NetRef))]
        for v, where in wrong:  # a tensor or network among the configuration: never a value a block can hold
            self.reporter.error(Code.ARG_TYPE, f"{block.name}: a configuration value is a number, a string or "
                                f"a flag; found {kind_of(v)}", where, _NOT_CONFIG[type(v)], takes)
        if wrong:
            return None
        bound, problems = bind_args(tuple(sig), [v for v, _ in others], {k: v for k, (v, _) in kwargs.items()})
        for p in problems:
            where = (kwargs[p.kwarg][1] if p.kwarg in kwargs else
                     others[p.index][1] if p.index is not None and p.index < len(others) else span)
            self.reporter.error(p.code, f"{block.name}: {p.message}", where, *([p.note] if p.note else []), takes)
        if problems or any(v is POISON for v in bound.values()):
            return None
        return {k: v for k, v in bound.items() if v is not NOT_GIVEN}

    def default_value(self, block: ast.Block, p: ast.ConfigParam) -> Value:
        """A configuration parameter's written default (it must have one), evaluated."""
        assert p.default is not None
        if (block.name, p.name) in self.defaults_in_progress:  # `block A(n = A())`
            self.reporter.error(Code.RECURSIVE_BLOCK, f"the default of `{p.name}` in block `{block.name}` "
                                "needs itself", p.default.span,
                                "a default is a constant: a number, a string, true/false or arithmetic on constants")
            return POISON
        frame = Frame.for_constants("<default>", p.span, new_env(self.scope.consts))
        self.defaults_in_progress.add((block.name, p.name))
        try:
            return self.evaluator.eval(p.default, frame, TOP_LEVEL)
        finally:
            self.defaults_in_progress.discard((block.name, p.name))

    def site(self, block: ast.Block, call: Span, others: Positional, kwargs: Keywords,
             tensors: TensorArgs | None = None) -> Site:
        """The call of ``block`` at ``call`` as the instantiation trail shows it (see ``agqc.trail``)."""
        return call_site(block, call, others, kwargs, tensors, self.uses)

    def instantiate(self, block: ast.Block, config: Config, tensors: TensorArgs | None, precision: Precision,
                    span: Span, kind: GraphKind = GraphKind.BLOCK, site: Site | None = None,
                    caller: Frame | None = None) -> Graph | None:
        """The block's graph for this configuration, input types and precision: made once, then reused.

        ``tensors`` None: a network (or a probe of an unused block), whose input types are its declared ones.
        ``site``: the call, for the trail of diagnostics reported inside (none for a probe);
        ``caller``: the frame the tensors come from, for hints about how they were made.
        """
        self.attempted.add(block.name)
        if len({p.name for p in block.params}) < len(block.params):
            return None  # a parameter declared twice: the loader has said so
        if block.name in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(block.name):] + [block.name])
            self.reporter.error(Code.RECURSIVE_BLOCK, f"block `{block.name}` calls itself: {chain}", span,
                                "a block cannot contain itself; use `repeat` for a stack of layers")
            return None
        precision = self.evaluator.precision(block.annotations, precision)
        dims = set(self.signature_dims(block))
        env = new_env(self.scope.consts)
        env.update({k: v for k, v in config.items() if k not in dims})
        binding = _sizes(config, dims)
        types = self._input_types(block, env, binding, tensors, caller)
        if types is None:
            return None
        computes = [t.compute for t, _ in tensors] if tensors is not None else [FP32] * len(types)
        key = f"{block.name}({_fmt(config)})[{', '.join(map(str, types))}]@{precision}" + (
            f"<{','.join(map(str, computes))}>" if kind == GraphKind.BLOCK else f"<{kind}>")
        if key in self.failed:
            return None
        if key not in self.graphs:
            env.update({k: (Sym(v) if isinstance(v, str) else v) for k, v in binding.items()})
            self.stack.append(block.name)
            try:
                if site is None:
                    graph = self._build_block(block, key, kind, env, precision, types, computes, binding)
                else:
                    with self.reporter.within(site):
                        graph = self._build_block(block, key, kind, env, precision, types, computes, binding)
            finally:
                self.stack.pop()
            if graph is None:
                self.failed.add(key)
                return None
            graph.config = {k: v.name if isinstance(v, Sym) else v for k, v in sorted(config.items())}
            self.graphs[key] = graph
        return self.graphs[key]

    def _input_types(self, block: ast.Block, env: Env, binding: dict[str, Dim],
                     tensors: TensorArgs | None, caller: Frame | None) -> list[TensorType] | None:
        tparams = [p for p in block.params if isinstance(p, ast.TensorParam)]
        types, ok = [], True
        for i, p in enumerate(tparams):
            declared = self.eval_type(p.type, env, binding, bind_free=tensors is None)
            if declared is None:
                return None
            if tensors is not None:
                actual, where = tensors[i]
                problem = match_type(declared, actual.type, binding)
                if problem:
                    code = Code.DTYPE_MISMATCH if "dtype" in problem else Code.SHAPE_MISMATCH
                    self.reporter.error(code, f"{block.name}: input `{p.name}`: {problem}", where,
                                        f"expected {declared} (declared at line {p.span.line})",
                                        f"found {actual.type} (from line {actual.span.line})",
                                        *(linear_hint(caller, actual, declared) if caller else []))
                    ok = False
                declared = actual.type
            types.append(declared)
        return types if ok else None

    def eval_type(self, t: ast.TensorType, env: Env, binding: dict[str, Dim],
                  bind_free: bool) -> TensorType | None:
        """A written tensor type -> TensorType; unknown bare names become symbolic sizes."""
        if t.dtype not in (DType.FLOAT, DType.INT):
            self.reporter.error(Code.ARG_TYPE, f"unknown element type `{t.dtype}`", t.span, "use `int[...]` or `[...]`")
            return None
        dims = []
        for d in t.dims:
            if isinstance(d, ast.Name) and d.id not in env:
                dims.append(binding.setdefault(d.id, d.id) if bind_free or d.id in binding else d.id)
                continue
            sizes = {k: Sym(v) if isinstance(v, str) else v for k, v in binding.items()}
            if self._size_used_before_introduced(d, env, sizes):
                return None
            frame = Frame.for_constants("<type>", d.span, ChainMap(sizes, *env.maps))
            value = self.evaluator.eval(d, frame, TOP_LEVEL)
            if value is POISON:
                return None
            if isinstance(value, Sym):
                dims.append(value.name)
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                dims.append(value)
            else:
                notes = ["`/` is true division; use `//` for an integer size"] if isinstance(value, float) else []
                self.reporter.error(Code.BAD_VALUE, f"a size must be a positive integer, found {kind_of(value)}",
                                    d.span, *notes)
                return None
        return TensorType(tuple(dims), DType(t.dtype))

    def _size_used_before_introduced(self, d: ast.Expr, env: Env, sizes: Mapping[str, Value]) -> bool:
        """``[B, T + 1]`` with no bare ``T`` before it: say how a size name is introduced (True if said)."""
        unknown = [n for n in expr_names(d) if n not in env and n not in sizes]
        if not unknown:
            return False
        name = unknown[0]
        self.reporter.error(Code.UNKNOWN_NAME, f"the size `{name}` is used before it is introduced", d.span,
                            f"a size name is introduced where it stands alone in a type, as in `[B, {name}]`; "
                            f"a later dimension or input can then use it in arithmetic, such as `{name} + 1`",
                            f"to declare an input one longer than another, write `a: [B, {name}], "
                            f"b: [B, {name} + 1]`; or give the size a number (`const {name} = 128`)")
        return True

    def _build_block(self, block: ast.Block, key: str, kind: GraphKind, env: Env, precision: Precision,
                     types: list[TensorType], computes: list[Precision], binding: dict[str, Dim]) -> Graph | None:
        errors_before = self.reporter.error_count
        f = Frame(key, block.name, kind, block.span, env)
        tparams = [p for p in block.params if isinstance(p, ast.TensorParam)]
        for p, t, c in zip(tparams, types, computes):
            self.add_input(f, p.name, t, c, p.span)
        self.stmts(block.body, f, precision)
        if f.outputs is None:
            self.reporter.error(Code.MISSING_RETURN, f"block `{block.name}` has no return statement", block.name_span,
                                "end the block with `return <tensor>`")
        elif block.outputs is not None:
            self._check_outputs(block, block.outputs, f, env, binding)
        for p in tparams:  # after an error in the body (a misspelt input, say) this would be noise
            if p.name not in f.reads and self.reporter.error_count == errors_before:
                self.reporter.error(Code.UNUSED_INPUT, f"input `{p.name}` of block `{block.name}` is never used",
                                    p.span, "remove it, or use it in the block's body")
        # A poisoned output comes from an error reported elsewhere (a block's own signature, say).
        if self.reporter.error_count > errors_before or any(v is POISON for v in f.outputs or []):
            return None
        self.warn_unused(f)
        boundary = None
        if kind == GraphKind.NETWORK:  # a network hands back float tensors as float32
            boundary = [FP32 if t.type.dtype == DType.FLOAT else t.compute for t in f.results()]
        return finalize_graph(f, self.reporter, boundary)

    def _check_outputs(self, block: ast.Block, outputs: tuple[ast.TensorType, ...], f: Frame, env: Env,
                       binding: dict[str, Dim]) -> None:
        """The returned tensors against the block's declared output types."""
        returned = [v for v in f.outputs or [] if isinstance(v, TVal)]
        if len(returned) < len(f.outputs or []):  # a poisoned output: its error is reported
            return
        assert f.return_span is not None  # set with f.outputs
        if len(outputs) != len(returned):
            self.reporter.error(Code.RETURN_TYPE, f"block `{block.name}` declares {len(outputs)} output(s) "
                                f"but returns {len(returned)}", f.return_span,
                                f"declared at line {block.span.line}")
            return
        for declared_ast, value, where in zip(outputs, returned, f.return_spans):
            declared = self.eval_type(declared_ast, env, dict(binding), bind_free=True)
            if declared is not None and match_type(declared, value.type, dict(binding)):
                self.reporter.error(Code.RETURN_TYPE,
                                    f"block `{block.name}` returns {value.type}, but declares {declared}", where,
                                    f"expected {declared} (declared at line {declared_ast.span.line})",
                                    f"found {value.type} (from line {value.span.line})",
                                    *linear_hint(f, value, declared))

    def warn_unused(self, f: Frame) -> None:
        """A warning for each assigned tensor that nothing reads (likely a forgotten line)."""
        used = {ref for d in f.drafts for ref in d.inputs} | {v.ref for v in f.outputs or [] if isinstance(v, TVal)}
        for name, value, span in f.assigned:
            if isinstance(value, TVal) and value.ref not in used and not name.startswith("_"):
                self.reporter.warning(Code.UNUSED_VALUE, f"`{name}` is computed but never used", span,
                                      "use it, or delete the line, or call it `_` if dropping it is deliberate")

    def add_input(self, f: Frame, name: str, t: TensorType, compute: Precision, span: Span) -> TVal:
        draft = Draft(f.new_id(), NodeKind.INPUT, "input", {}, (), (t,), compute, (compute,), span, base=name,
                      alias=name, alias_span=span)
        value = f.add(draft, Context((name,), compute))[0]
        draft.hints = [name]
        f.env[name] = value
        f.input_spans[name] = span
        return value

    # ---- statements ------------------------------------------------------------------
    def stmts(self, body: Sequence[ast.Stmt], f: Frame, precision: Precision) -> None:
        """Statements into ``f``, each under ``precision`` or its own annotation."""
        for s in body:
            if f.outputs is not None:
                self.reporter.error(Code.MISPLACED, "statement after `return`", s.span, "`return` ends a block")
                return
            ctx = self.evaluator.annotated(s.annotations, Context(precision=precision))
            getattr(self, "_" + type(s).__name__.lower())(s, f, ctx)

    def _assign(self, s: ast.Assign, f: Frame, ctx: Context) -> None:
        value = self.evaluator.eval(s.value, f, ctx.assigning(s.targets))
        values: list[Value]
        if value is POISON:
            values = [POISON] * len(s.targets)
        elif len(s.targets) == 1 and not isinstance(value, TupleVal):
            values = [value]
        elif isinstance(value, TupleVal) and len(value.items) == len(s.targets):
            values = list(value.items)
        else:
            found = len(value.items) if isinstance(value, TupleVal) else 1
            self.reporter.error(Code.UNPACK_COUNT,
                                f"{len(s.targets)} name(s) on the left, {found} value(s) on the right", s.span)
            values = [POISON] * len(s.targets)
        for name, v in zip(s.targets, values):
            if isinstance(f.env.get(name), NetRef):
                self.reporter.error(Code.DUPLICATE_NAME, f"`{name}` names a network", s.span)
            f.env[name] = v
            f.locals_defined.add(name)
            f.assigned.append((name, v, s.span))
            if isinstance(v, TVal):
                self._hint(f, v, name)

    def _hint(self, f: Frame, v: TVal, name: str) -> None:
        for d in f.drafts:
            if d.id == v.ref[0] and d.kind != NodeKind.INPUT:
                d.hints[v.ref[1]] = name

    def _return(self, s: ast.Return, f: Frame, ctx: Context) -> None:
        outputs: list[TVal | Poison] = []
        spans: list[Span] = []
        for expr in s.values:
            v = self.evaluator.eval(expr, f, ctx.assigning(("out",)))  # the forward's name for an unnamed result
            items = v.items if isinstance(v, TupleVal) else (v,)
            for item in items:
                if item is not POISON and not isinstance(item, TVal):
                    what = "a model's flow" if f.kind == GraphKind.MODEL else "a block"
                    notes = [f"call it: `{item.name}(...)`"] if isinstance(item, NetRef) else []
                    self.reporter.error(Code.NOT_A_TENSOR, f"{what} returns tensors, found {kind_of(item)}", expr.span,
                                        *notes)
                    item = POISON
                outputs.append(item)
                spans.append(expr.span)
        f.outputs = outputs
        f.return_span = s.span
        f.return_spans = spans

    def _inputdecl(self, s: ast.InputDecl, f: Frame, ctx: Context) -> None:
        if f.kind != GraphKind.MODEL:
            self.reporter.error(Code.MISPLACED, "`input` declares a model's inputs; a block takes them as parameters",
                                s.span, "write it in the block's signature: block Name(x: [B, 784])")
            return
        if s.name in f.env:
            known = f.env[s.name]
            first = ([f"first defined at {f.input_spans[s.name].where()}"] if s.name in f.input_spans else
                     [f"`{s.name}` is the network declared at {known.span.where()}"] if isinstance(known, NetRef) else
                     [f"`{s.name}` is the constant defined at {self.scope.const_spans[s.name].where()}"]
                     if s.name in self.scope.const_spans else [])
            self.reporter.error(Code.DUPLICATE_NAME, f"`{s.name}` is already defined", s.name_span, *first)
            return
        binding: dict[str, Dim] = {k: v.name for k, v in own_names(f.env).items() if isinstance(v, Sym)}
        t = self.eval_type(s.type, f.env, binding, bind_free=True)
        if t is None:
            f.env[s.name] = POISON  # its uses are not errors of their own
            return
        for name, dim in binding.items():
            f.env.setdefault(name, Sym(dim) if isinstance(dim, str) else dim)
        self.add_input(f, s.name, t, FP32, s.name_span)

    def _networkdecl(self, s: ast.NetworkDecl, f: Frame, ctx: Context) -> None:
        value = s.value.expr if isinstance(s.value, ast.Annotated) else s.value
        block = value.func if isinstance(value, ast.Call) else value.id if isinstance(value, ast.Name) else "Block"
        self.reporter.error(Code.MISPLACED, "networks are declared inside a `model`", s.span,
                            f"inside a block, call the block itself: `h = x -> {block}()`, with weights of its own")

    def _trainsection(self, s: ast.TrainSection, f: Frame, ctx: Context) -> None:
        self.reporter.error(Code.MISPLACED, "a `train` section belongs to a `model`", s.span,
                            "move it into the model whose networks it trains")

    def _repeat(self, s: ast.Repeat, f: Frame, ctx: Context) -> None:
        if f.kind == GraphKind.MODEL:
            self.reporter.error(Code.MISPLACED, "`repeat` stacks layers inside a block; a model's flow calls "
                                "its networks", s.span, "move the repeat into the network's block")
            for name in assigned_names(s.body):  # what it would have carried: no follow-on errors
                if name in f.env:
                    f.env[name] = POISON
            return
        from .repeat import elaborate_repeat  # only specs with a repeat pay for importing it
        elaborate_repeat(self, s, f, ctx)


class _Evaluator(Evaluator):
    """The evaluator, saying what a name is when it is a block, role, network or model input out of place."""

    def __init__(self, el: Elaborator):
        super().__init__(el.reporter, el.calls)
        self.el = el

    def _name(self, e: ast.Name, f: Frame, ctx: Context) -> Value:
        if e.id not in f.env:
            misuse = misused_name(self.el, e.id, f, called=False)
            if misuse is not None:
                self.reporter.error(Code.UNKNOWN_NAME, misuse[0], e.span, *misuse[1])
                return POISON
        return super()._name(e, f, ctx)


_NOT_CONFIG: dict[type, str] = {
    TVal: "a block's tensors are its typed inputs, given first (`Block(x, 3)`, `x -> Block(3)`); "
          "a network's tensors are given where the flow calls it",
    TupleVal: "a block's tensors are its typed inputs, given first, one by one",
    NetRef: "a network is called in the model's flow; it is not an argument",
}


def _takes(sig: list[Arg]) -> str:
    config = [a.name for a in sig if a.kind != "dim"]
    sizes = [a.name for a in sig if a.kind == "dim"]
    parts = ([f"{len(config)} argument{'s' if len(config) > 1 else ''} ({', '.join(config)})"] if config else
             ["no arguments besides its input tensors"]) + (
        [f"its size{'s' if len(sizes) > 1 else ''} {', '.join(sizes)} come{'' if len(sizes) > 1 else 's'} from "
         f"its inputs, or by name only (`{sizes[0]}=...`)"] if sizes else [])
    return "; ".join(parts)


def _sizes(config: Config, dims: set[str]) -> dict[str, Dim]:
    """The sizes among a block's configuration (numbers, or symbols by name); binding checked they are sizes."""
    return {k: (v.name if isinstance(v, Sym) else v) for k, v in config.items()
            if k in dims and isinstance(v, (int, Sym))}


def _fmt(config: Config) -> str:
    return ", ".join(f"{k}={v.name if isinstance(v, Sym) else v!r}" for k, v in sorted(config.items()))


def elaborate(scope: Scope, reporter: Reporter) -> Program:
    from .passes.budget import check_budget
    el = Elaborator(scope, reporter)
    networks, flow = elaborate_model(el, scope.model) if scope.model else ([], None)
    if scope.model is None:
        reporter.warning(Code.NO_MODEL, "no model in this file: only the blocks' names and calls are checked",
                         Span(scope.main, 1, 1, 1, 2), "add `model Name { classifier net = SomeBlock() }` "
                         "to check shapes and to build")
    graphs_before = dict(el.graphs)
    check_unused_blocks(el, scope.main)
    el.graphs = graphs_before  # probe instantiations are not part of the program
    assign_class_names(el.graphs, flow, scope.model.name if scope.model else "Model")
    program = Program(scope.main, scope.model.name if scope.model else "", el.graphs, networks, flow,
                      list(reporter.items), scope.sources)
    if not reporter.errors:
        check_budget(program, reporter)
        program.diagnostics = list(reporter.items)
    return program
