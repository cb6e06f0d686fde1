"""Elaborate: the loaded scope -> the checked IR ``Program``.

Takes a ``Scope`` from ``agqc.loader``; instantiates the model's networks,
each block once per distinct (arguments, input types, precision), repeats
as one body graph run N times, and the model's flow.  Shapes are inferred
while instantiating, because a block's sizes (``linear(4 * D)``) depend on
the shapes it is called with.  Names nodes deterministically.
"""
from __future__ import annotations

from . import ast
from .calls import Calls, match_type
from .diagnostics import Reporter, Span
from .evaluate import Evaluator, kind_of
from .ir import Graph, Program
from .ops.registry import REQUIRED, Arg, Sym, bind_args
from .types import FP32, Precision, TensorType
from .values import POISON, Draft, Frame, NetRef, TupleVal, TVal
from .naming import finalize_graph, assign_class_names

NOT_GIVEN = object()


class Elaborator:
    def __init__(self, scope, reporter: Reporter):
        self.scope, self.rep = scope, reporter
        self.ev = Evaluator(self, reporter)
        self.calls = Calls(self)
        self.graphs: dict[str, Graph] = {}
        self.failed: set[str] = set()  # keys whose instantiation reported errors
        self.attempted: set[str] = set()  # block names anything tried to instantiate
        self.stack: list[str] = []

    # ---- blocks ------------------------------------------------------------------
    def signature_dims(self, block: ast.Block) -> list[str]:
        """Bare names in the input types that are neither constants nor parameters."""
        taken = set(self.scope.consts) | {p.name for p in block.params}
        dims = []
        for p in block.params:
            if isinstance(p, ast.TensorParam):
                dims += [d.id for d in p.type.dims if isinstance(d, ast.Name) and d.id not in taken]
        return list(dict.fromkeys(dims))

    def bind_config(self, block: ast.Block, others, kwargs, span: Span) -> dict | None:
        sig = [Arg(p.name, "any", self._default(p)) for p in block.params if isinstance(p, ast.ConfigParam)]
        sig += [Arg(d, "dim", NOT_GIVEN) for d in self.signature_dims(block)]
        bound, problems = bind_args(tuple(sig), [v for v, _ in others], {k: v for k, (v, _) in kwargs.items()})
        for p in problems:
            where = (kwargs[p.kwarg][1] if p.kwarg in kwargs else
                     others[p.index][1] if p.index is not None and p.index < len(others) else span)
            self.rep.error(p.code, f"{block.name}: {p.message}", where, *([p.note] if p.note else []),
                           f"`{block.name}` (defined at {block.name_span.where()}) takes {_takes(sig)}")
        if problems or any(v is POISON for v in bound.values()):
            return None
        return {k: v for k, v in bound.items() if v is not NOT_GIVEN}

    def _default(self, p: ast.ConfigParam):
        if p.default is None:
            return REQUIRED
        return self.ev.eval(p.default, Frame("<default>", "", "const", p.span, dict(self.scope.consts)))

    def instantiate(self, block: ast.Block, config: dict, tensors, precision: Precision, span: Span,
                    kind: str = "block") -> Graph | None:
        self.attempted.add(block.name)
        if len({p.name for p in block.params}) < len(block.params):
            return None  # a parameter declared twice: the loader has said so
        if block.name in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(block.name):] + [block.name])
            self.rep.error("recursive-block", f"block `{block.name}` calls itself: {chain}", span,
                           "a block cannot contain itself; use `repeat` for a stack of layers")
            return None
        precision = self.ev.precision(block.annotations, precision)
        dims = set(self.signature_dims(block))
        env = dict(self.scope.consts)
        env.update({k: v for k, v in config.items() if k not in dims})
        binding = {k: (v.name if isinstance(v, Sym) else v) for k, v in config.items() if k in dims}
        types = self._input_types(block, env, binding, tensors)
        if types is None:
            return None
        computes = [t.compute for t, _ in tensors] if tensors is not None else [FP32] * len(types)
        key = f"{block.name}({_fmt(config)})[{', '.join(map(str, types))}]@{precision}" + (
            f"<{','.join(map(str, computes))}>" if kind == "block" else f"<{kind}>")
        if key in self.failed:
            return None
        if key not in self.graphs:
            env.update({k: (Sym(v) if isinstance(v, str) else v) for k, v in binding.items()})
            self.stack.append(block.name)
            try:
                graph = self._build_block(block, key, kind, env, precision, types, computes, binding)
            finally:
                self.stack.pop()
            if graph is None:
                self.failed.add(key)
                return None
            self.graphs[key] = graph
        return self.graphs[key]

    def _input_types(self, block, env, binding, tensors) -> list[TensorType] | None:
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
                    code = "dtype-mismatch" if "dtype" in problem else "shape-mismatch"
                    self.rep.error(code, f"{block.name}: input `{p.name}`: {problem}", where,
                                   f"expected {declared} (declared at line {p.span.line})",
                                   f"found {actual.type} (from line {actual.span.line})")
                    ok = False
                declared = actual.type
            types.append(declared)
        return types if ok else None

    def eval_type(self, t: ast.TensorType, env: dict, binding: dict, bind_free: bool) -> TensorType | None:
        """A written tensor type -> TensorType; unknown bare names become symbolic sizes."""
        if t.dtype not in ("float", "int"):
            self.rep.error("arg-type", f"unknown element type `{t.dtype}`", t.span, "use `int[...]` or `[...]`")
            return None
        dims = []
        for d in t.dims:
            if isinstance(d, ast.Name) and d.id not in env:
                dims.append(binding.setdefault(d.id, d.id) if bind_free or d.id in binding else d.id)
                continue
            frame = Frame("<type>", "", "const", d.span, {**env, **{k: Sym(v) if isinstance(v, str) else v
                                                                    for k, v in binding.items()}})
            value = self.ev.eval(d, frame)
            if value is POISON:
                return None
            if isinstance(value, Sym):
                dims.append(value.name)
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                dims.append(value)
            else:
                notes = ["`/` is true division; use `//` for an integer size"] if isinstance(value, float) else []
                self.rep.error("bad-value", f"a size must be a positive integer, found {kind_of(value)}", d.span,
                               *notes)
                return None
        return TensorType(tuple(dims), t.dtype)

    def _build_block(self, block, key, kind, env, precision, types, computes, binding) -> Graph | None:
        errors_before = self.rep.error_count
        f = Frame(key, block.name, kind, block.span, env, precision)
        tparams = [p for p in block.params if isinstance(p, ast.TensorParam)]
        for p, t, c in zip(tparams, types, computes):
            self.add_input(f, p.name, t, c, p.span)
        self.stmts(block.body, f)
        if f.outputs is None:
            self.rep.error("missing-return", f"block `{block.name}` has no return statement", block.name_span,
                           "end the block with `return <tensor>`")
        elif block.outputs is not None:
            self._check_outputs(block, f, env, binding)
        for p in tparams:  # after an error in the body (a misspelt input, say) this would be noise
            if p.name not in f.reads and self.rep.error_count == errors_before:
                self.rep.error("unused-input", f"input `{p.name}` of block `{block.name}` is never used", p.span,
                               "remove it, or use it in the block's body")
        # A poisoned output comes from an error reported elsewhere (a block's own signature, say).
        if self.rep.error_count > errors_before or any(v is POISON for v in f.outputs or []):
            return None
        self.warn_unused(f)
        boundary = [FP32 if t.type.dtype == "float" else t.compute for t in f.outputs] if kind == "network" else None
        return finalize_graph(f, self.rep, boundary)

    def _check_outputs(self, block, f: Frame, env, binding) -> None:
        if any(v is POISON for v in f.outputs):
            return
        if len(block.outputs) != len(f.outputs):
            self.rep.error("return-type", f"block `{block.name}` declares {len(block.outputs)} output(s) "
                           f"but returns {len(f.outputs)}", f.return_span,
                           f"declared at line {block.span.line}")
            return
        for declared_ast, value, where in zip(block.outputs, f.outputs, f.return_spans):
            declared = self.eval_type(declared_ast, env, dict(binding), bind_free=True)
            if declared is not None and match_type(declared, value.type, dict(binding)):
                self.rep.error("return-type", f"block `{block.name}` returns {value.type}, but declares {declared}",
                               where, f"expected {declared} (declared at line {declared_ast.span.line})",
                               f"found {value.type} (from line {value.span.line})")

    def warn_unused(self, f: Frame) -> None:
        """A warning for each assigned tensor that nothing reads (likely a forgotten line)."""
        used = {ref for d in f.drafts for ref in d.inputs} | {v.ref for v in f.outputs or [] if isinstance(v, TVal)}
        for name, value, span in f.assigned:
            if isinstance(value, TVal) and value.ref not in used and not name.startswith("_"):
                self.rep.warning("unused-value", f"`{name}` is computed but never used", span,
                                 "use it, or delete the line, or call it `_` if dropping it is deliberate")

    def add_input(self, f: Frame, name: str, t: TensorType, compute: Precision, span: Span) -> TVal:
        draft = Draft(f.new_id(), "input", "input", {}, (), (t,), compute, (compute,), span, base=name,
                      alias=name, alias_span=span)
        value = f.add(draft)[0]
        draft.hints = [name]
        f.env[name] = value
        f.input_spans[name] = span
        return value

    # ---- statements ------------------------------------------------------------------
    def stmts(self, body, f: Frame) -> None:
        for s in body:
            if f.outputs is not None:
                self.rep.error("misplaced", "statement after `return`", s.span, "`return` ends a block")
                return
            outer = f.precision
            f.precision = self.ev.precision(s.annotations, outer)
            try:
                getattr(self, "_" + type(s).__name__.lower())(s, f)
            finally:
                f.precision = outer

    def _assign(self, s: ast.Assign, f: Frame) -> None:
        f.target = s.targets
        try:
            value = self.ev.eval(s.value, f)
        finally:
            f.target = ()
        if value is POISON:
            values = [POISON] * len(s.targets)
        elif len(s.targets) == 1 and not isinstance(value, TupleVal):
            values = [value]
        elif isinstance(value, TupleVal) and len(value.items) == len(s.targets):
            values = list(value.items)
        else:
            found = len(value.items) if isinstance(value, TupleVal) else 1
            self.rep.error("unpack-count", f"{len(s.targets)} name(s) on the left, {found} value(s) on the right",
                           s.span)
            values = [POISON] * len(s.targets)
        for name, v in zip(s.targets, values):
            if isinstance(f.env.get(name), NetRef):
                self.rep.error("duplicate-name", f"`{name}` names a network", s.span)
            f.env[name] = v
            f.locals_defined.add(name)
            f.assigned.append((name, v, s.span))
            if isinstance(v, TVal):
                self._hint(f, v, name)

    def _hint(self, f: Frame, v: TVal, name: str) -> None:
        for d in f.drafts:
            if d.id == v.ref[0] and d.kind != "input":
                d.hints[v.ref[1]] = name

    def _return(self, s: ast.Return, f: Frame) -> None:
        outputs, spans = [], []
        for expr in s.values:
            f.target = ("out",)  # the generated forward's name for an unnamed result
            try:
                v = self.ev.eval(expr, f)
            finally:
                f.target = ()
            items = v.items if isinstance(v, TupleVal) else (v,)
            for item in items:
                if item is not POISON and not isinstance(item, TVal):
                    self.rep.error("not-a-tensor", f"a block returns tensors, found {kind_of(item)}", expr.span)
                    item = POISON
                outputs.append(item)
                spans.append(expr.span)
        f.outputs = outputs
        f.return_span = s.span
        f.return_spans = spans

    def _inputdecl(self, s: ast.InputDecl, f: Frame) -> None:
        if f.kind != "model":
            self.rep.error("misplaced", "`input` declares a model's inputs; a block takes them as parameters",
                           s.span, "write it in the block's signature: block Name(x: [B, 784])")
            return
        if s.name in f.env:
            self.rep.error("duplicate-name", f"`{s.name}` is already defined", s.name_span,
                           *([f"first defined at {f.input_spans[s.name].where()}"] if s.name in f.input_spans else []))
            return
        binding = {k: v.name for k, v in f.env.items() if isinstance(v, Sym)}
        t = self.eval_type(s.type, f.env, binding, bind_free=True)
        if t is None:
            return
        for name, dim in binding.items():
            f.env.setdefault(name, Sym(dim))
        self.add_input(f, s.name, t, FP32, s.name_span)

    def _networkdecl(self, s: ast.NetworkDecl, f: Frame) -> None:
        self.rep.error("misplaced", "networks are declared inside a `model`", s.span)

    def _repeat(self, s: ast.Repeat, f: Frame) -> None:
        from .repeat import elaborate_repeat
        elaborate_repeat(self, s, f)


def _takes(sig: list[Arg]) -> str:
    config = [a.name for a in sig if a.kind != "dim"]
    sizes = [a.name for a in sig if a.kind == "dim"]
    parts = ([f"the arguments {', '.join(config)}"] if config else []) + (
        [f"its sizes {', '.join(sizes)} by name"] if sizes else [])
    return " and ".join(parts) or "nothing besides its input tensors"


def _fmt(config: dict) -> str:
    return ", ".join(f"{k}={v.name if isinstance(v, Sym) else v!r}" for k, v in sorted(config.items()))


def elaborate(scope, reporter: Reporter) -> Program:
    from .model import elaborate_model
    from .passes.budget import check_budget
    from .unused_blocks import check_unused_blocks
    el = Elaborator(scope, reporter)
    networks, flow = elaborate_model(el, scope.model) if scope.model else ([], None)
    if scope.model is None:
        reporter.warning("no-model", "no model in this file: only the blocks' names and calls are checked",
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
