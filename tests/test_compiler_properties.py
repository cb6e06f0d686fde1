"""Compiler properties over random well-formed specs (issue 6; strategies in tests/strategies.py).

1. every generated spec checks without errors;
2. running the built module, every value the IR names has the checker's shape, element kind
   and compute dtype (a tracer reads each statement's result in the generated forward), and
   every layer and block module the IR names (found by its `module` attribute) gives the
   checker's types to forward hooks;
3. the summary counts the module's parameters (shared ones once), per network too;
4. the emitted source, imported as a module of its own, is the in-memory module, and sharing
   one class among a block's sizes changes no weight and no output;
5. two loads of one spec give byte-identical source, DOT and summary JSON.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import agqc
from agqc.types import dim_eval, dim_symbols
from strategies import SIZES, specs

pytestmark = pytest.mark.property
_counter = itertools.count()
# Ops lowered to one module call whose result *is* the node's (first) output.
DIRECT = {"linear", "conv1d", "conv2d", "conv_transpose2d", "batchnorm", "layernorm", "rmsnorm", "embedding"}
RECURRENT = {"rnn", "gru", "lstm"}


def _load(text: str, factory) -> agqc.Spec:
    path = factory.mktemp("prop") / "spec.agq"
    path.write_text(text)
    return agqc.load(path)


def _flat(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


# ---- comparing a runtime tensor with a checked type ---------------------------------------
def _bind(types, tensors) -> dict:
    """Symbol values from a graph's inputs (plain symbols), over the sizes the inputs were made with."""
    binding = dict(SIZES)
    for t, x in zip(types, tensors):
        for d, n in zip(t.shape, x.shape):
            if isinstance(d, str) and d.isidentifier():
                binding[d] = n
    return binding


def _mismatch(tensor, ttype, compute, binding, where: str) -> str | None:
    """Why `tensor` is not what the checker said (shape, int/float, dtype), or None."""
    if not isinstance(tensor, torch.Tensor):
        return f"{where}: expected a tensor {ttype}, got {type(tensor).__name__}"
    unbound = [s for d in ttype.shape for s in dim_symbols(d) if s not in binding]
    want = tuple(dim_eval(d, binding) for d in ttype.shape)
    if unbound or tuple(tensor.shape) != want:
        return f"{where}: checker says {ttype} = {list(want)} (unbound {unbound}), torch gives {list(tensor.shape)}"
    if (ttype.dtype == "int") == tensor.is_floating_point():
        return f"{where}: checker says {ttype}, torch gives dtype {tensor.dtype}"
    if ttype.dtype == "float" and compute is not None:
        dtype = getattr(torch, (compute.torch_dtype or "torch.float32").split(".")[1])
        if tensor.dtype != dtype:
            return f"{where}: computed in {compute}, but torch gives {tensor.dtype}"
    return None


# ---- every named value, through a tracer on the generated forwards -------------------------
def _statements(spec, model) -> tuple[dict, dict]:
    """(forward code object -> {graph key: {line: (node, targets)}}, module id -> its graph).

    A block used at several sizes is one class: which graph a call runs is told by its module.
    """
    from agqc.backends.torch_source import forward_lines, render_source

    program = spec.program
    emitted = render_source(program)
    namespace = type(model).forward.__globals__
    lines = emitted.text.splitlines()
    out: dict = {}
    for key, (class_name, rows) in forward_lines(emitted, program).items():
        code = namespace[class_name].forward.__code__
        table = {}
        for offset, node, targets in rows:
            line = code.co_firstlineno + offset
            assert lines[line - 1].strip().startswith(f"{', '.join(targets)} = "), (lines[line - 1], node)
            assert len(targets) == len(node.outputs), (lines[line - 1], node)
            table[line] = (node, targets)
        out.setdefault(code, {})[key] = table
    return out, _module_graphs(program, model)


def _module_graphs(program, model) -> dict:
    """id(module) -> the graph it was built from, for every block module in the model."""
    found = {}

    def visit(module, graph):
        found[id(module)] = graph
        for node in graph.nodes():
            if node.module is None or (graph.kind == "model" and node.kind == "call"):
                continue
            sub = getattr(module, node.module)
            if node.kind == "call":
                visit(sub, program.graphs[node.callee])
            elif node.kind == "repeat":
                body = program.graphs[node.callee]
                single = program.repeat_body_call(body)
                for copy in sub:
                    visit(copy, program.graphs[single.callee] if single else body)

    for net in program.networks:
        visit(getattr(model, net.name), program.graph(net.graph))
    if program.flow is not None:
        visit(model, program.flow)
    return found


def _trace_forward(spec, model, inputs) -> tuple:
    """Run forward under a tracer: (problems, how many values it compared, the output)."""
    (codes, graphs), problems, seen = _statements(spec, model), [], [0]

    def check_line(frame, graph, table, binding, line):
        if line in table:
            node, targets = table[line]
            for port, name in enumerate(targets):
                if name in targets[port + 1:]:
                    continue  # `a, _, _ = split(...)`: only the last `_` survives
                seen[0] += 1
                problems.append(_mismatch(frame.f_locals.get(name), node.outputs[port], node.computes[port],
                                          binding, f"{graph.class_name}.{node.name}[{port}] ({node.op})"))

    def tracer(frame, event, arg):
        if event != "call" or frame.f_code not in codes:
            return None
        graph = graphs[id(frame.f_locals["self"])]
        table = codes[frame.f_code][graph.key]
        types = graph.input_types()
        binding = _bind(types, [frame.f_locals[n] for n in graph.inputs])
        for n, t in zip(graph.inputs, types):
            problems.append(_mismatch(frame.f_locals[n], t, None, binding, f"{graph.class_name} input {n}"))
        last = [None]

        def local(frame, event, arg):
            check_line(frame, graph, table, binding, last[0])
            last[0] = frame.f_lineno
            if event == "return":
                for i, (x, t, c) in enumerate(zip(_flat(arg), graph.output_types(), graph.result_computes())):
                    seen[0] += 1
                    problems.append(_mismatch(x, t, c, binding, f"{graph.class_name} output {i}"))
            return local
        return local

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with torch.no_grad():
            out = model(*inputs)
    finally:
        sys.settrace(previous)
    return [p for p in problems if p], seen[0], out


# ---- module-backed nodes, through forward hooks ------------------------------------------------
def _hook_modules(spec, model) -> tuple[list, list]:
    """Forward hooks on every block and layer module the IR names; (problems, handles)."""
    program, problems, handles, stack = spec.program, [], [], []

    def boundary(module, graph):
        def pre(mod, args):
            stack.append(_bind(graph.input_types(), args))

        def post(mod, args, out):
            binding = stack.pop()
            for i, (x, t, c) in enumerate(zip(_flat(out), graph.output_types(), graph.result_computes())):
                problems.append(_mismatch(x, t, c, binding, f"hook {graph.class_name} output {i}"))
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))

    def layer(module, node):
        def post(mod, args, out):
            got = out[0] if node.op in RECURRENT else out
            problems.append(_mismatch(got, node.outputs[0], node.computes[0], stack[-1], f"hook {node.name}"))
        handles.append(module.register_forward_hook(post))

    def visit(module, graph):
        boundary(module, graph)
        for node in graph.nodes():
            if node.module is None or (graph.kind == "model" and node.kind == "call"):
                continue  # a flow's networks are visited as networks
            assert hasattr(module, node.module), (graph.class_name, node.module)
            sub = getattr(module, node.module)
            if node.kind == "call":
                visit(sub, program.graphs[node.callee])
            elif node.kind == "repeat":
                assert isinstance(sub, torch.nn.ModuleList) and len(sub) == node.count
                body = program.graphs[node.callee]
                single = program.repeat_body_call(body)
                for copy in sub:
                    visit(copy, program.graphs[single.callee] if single else body)
            elif node.op in DIRECT | RECURRENT:
                layer(sub, node)

    for net in program.networks:
        visit(getattr(model, net.name), program.graph(net.graph))
    if program.flow is not None:
        visit(model, program.flow)
    return problems, handles


@given(text=specs())
def test_generated_specs_check(text, tmp_path_factory):
    spec = _load(text, tmp_path_factory)
    assert not [d for d in spec.program.diagnostics if d.severity == "error"], text
    assert spec.networks


@given(text=specs())
def test_every_value_has_the_checkers_shape(text, tmp_path_factory):
    spec = _load(text, tmp_path_factory)
    torch.manual_seed(0)
    model = spec.build().eval()
    inputs = spec.example_inputs(sizes=SIZES)
    hook_problems, handles = _hook_modules(spec, model)
    try:
        problems, seen, out = _trace_forward(spec, model, inputs)
    finally:
        for h in handles:
            h.remove()
    problems += [p for p in hook_problems if p]
    assert not problems, "\n".join(problems[:10]) + "\n" + text
    assert seen >= len(_flat(out))  # the tracer did see the statements
    binding = _bind(spec.input_types(), inputs)
    final = [_mismatch(x, t, None, binding, f"output {i}")
             for i, (x, t) in enumerate(zip(_flat(out), spec.output_types()))]
    assert len(_flat(out)) == len(spec.output_types()) and not any(final), (final, text)


@given(text=specs())
def test_summary_counts_the_modules_parameters(text, tmp_path_factory):
    spec = _load(text, tmp_path_factory)
    model = spec.build(device="meta")
    summary = spec.summary()
    unique = {id(p): p for p in model.parameters()}
    assert summary.total_params == sum(p.numel() for p in unique.values()), text
    for name, count in summary.networks.items():
        net = {id(p): p for p in getattr(model, name).parameters()}
        assert count == sum(p.numel() for p in net.values()), (name, text)


def _import_source(source: str, folder):
    name = f"agqc_emitted_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _same(a, b) -> bool:
    return all(x.shape == y.shape and x.dtype == y.dtype and torch.equal(x.nan_to_num(), y.nan_to_num())
               and torch.equal(x.isnan(), y.isnan()) if x.is_floating_point() else torch.equal(x, y)
               for x, y in zip(_flat(a), _flat(b))) and len(_flat(a)) == len(_flat(b))


def _fewer(k: int) -> settings:
    """1/k of the profile's examples for an expensive property in CI; `make fuzz` keeps all 10,000."""
    n = settings.default.max_examples
    return settings(parent=settings.default, max_examples=n if n >= 10_000 else max(1, n // k))


@_fewer(2)  # two builds, an import and four forward passes per example
@given(text=specs())
def test_emitted_source_is_the_built_module(text, tmp_path_factory):
    spec = _load(text, tmp_path_factory)
    source = spec.emit_python()
    built = spec.build()
    emitted = getattr(_import_source(source, tmp_path_factory.mktemp("emit")), spec.name)()
    assert list(emitted.state_dict()) == list(built.state_dict()), text
    emitted.load_state_dict(built.state_dict())
    inputs = spec.example_inputs(sizes=SIZES)
    for mode in ("eval", "train"):  # train: dropout draws from the same seed in both
        outs = []
        for module in (built, emitted):
            module.train(mode == "train")
            torch.manual_seed(1)
            with torch.no_grad():
                outs.append(module(*inputs))
        assert _same(*outs), (mode, text)


_SIZED_BLOCKS = """block Stage(x: [B, C, L], out, k, s, p) {
    h = x -> conv1d(out, kernel=k, stride=s, padding=k // 2) -> batchnorm() -> relu() -> dropout(p)
    skip = x -> conv1d(out, kernel=1, stride=s)
    return h + skip
}

block Tower(x: [B, D], hidden, n, p) {
    repeat n {
        x = x + (x -> layernorm() -> linear(hidden) -> gelu() -> dropout(p) -> linear(D))
        x = x -> linear(D) -> tanh()
    }
    return x
}
"""


@st.composite
def _sized_specs(draw) -> str:
    """Specs whose blocks are used at several sizes (the random specs above call each helper at one)."""
    stages = draw(st.lists(st.tuples(st.integers(1, 6), st.sampled_from([1, 3, 5]), st.integers(1, 2),
                                     st.sampled_from(["0.0", "0.1"])), min_size=1, max_size=4))
    towers = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3), st.sampled_from(["0.0", "0.1"]),
                                     st.integers(1, 5)), min_size=1, max_size=3))
    chain = " -> ".join(f"Stage({o}, {k}, {s}, {p})" for o, k, s, p in stages)
    towers_chain = " -> ".join(f"Tower({h}, {n}, {p}) -> linear({w})" for h, n, p, w in towers)
    return (f"{_SIZED_BLOCKS}\nblock Net(x: [B, 3, {draw(st.integers(1, 12))}]) {{\n"
            f"    h = x -> {chain} -> flatten()\n    v = h -> {towers_chain}\n    return v\n}}\n\n"
            "model M {\n    network net = Net()\n}\n")


@_fewer(4)  # two sources, two builds and three forward passes per example
@given(text=_sized_specs())
def test_one_class_per_block_is_one_class_per_size(text, tmp_path_factory):
    """A block used at several sizes shares one class: exactly the modules of one class per size,
    and every value its forward names has the checker's type in each use."""
    from agqc.backends.torch_source import render_source

    spec = _load(text, tmp_path_factory)
    source = spec.emit_python()
    assert [source.count(f"class {name}(") for name in ("Stage", "Tower", "TowerLayer")] == [1, 1, 1], source
    problems, seen, _ = _trace_forward(spec, spec.build().eval(), spec.example_inputs(sizes=SIZES))
    assert not problems and seen, "\n".join(problems[:10]) + "\n" + text
    built = []
    for merge in (True, False):
        module = _import_source(render_source(spec.program, merge=merge).text, tmp_path_factory.mktemp("merge"))
        torch.manual_seed(0)
        built.append(getattr(module, spec.name)().eval())
    assert list(built[0].state_dict()) == list(built[1].state_dict()), text
    assert all(torch.equal(a, b) for a, b in zip(built[0].state_dict().values(), built[1].state_dict().values()))
    inputs = spec.example_inputs(sizes=SIZES)
    outs = []
    for module in built:
        torch.manual_seed(1)
        with torch.no_grad():
            outs.append(module(*inputs))
    assert _same(*outs), text


@given(text=specs())
def test_two_loads_give_identical_outputs(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("twice") / "spec.agq"
    path.write_text(text)
    first, second = agqc.load(path), agqc.load(path)
    assert first.emit_python() == second.emit_python(), text
    assert first.to_dot() == second.to_dot(), text
    dumps = [json.dumps(s.summary().as_dict(), indent=2) for s in (first, second)]
    assert dumps[0] == dumps[1], text



def test_unused_block_repeating_a_block_checks(write_spec):
    # Found by these properties (fixed in 293723f): an unused block, checked with its sizes
    # symbolic, reported a false `misplaced` error for a repeat whose call could not be sized.
    spec = agqc.load(write_spec(
        "block Helper0(x: [B, D]) -> [B, D] {\n    return x + (x -> linear(D))\n}\n"
        "block Helper1(x: [B, D]) -> [B, D] {\n    v1 = x -> rmsnorm()\n"
        "    repeat 3 as loop1 {\n        v1 = Helper0(v1)\n    }\n    return v1\n}\n"
        "block Net(x: [B, 8]) -> [B, 8] {\n    return Helper0(x)\n}\n"
        "model M { network net = Net() }\n"))
    assert spec.networks == ["net"]
