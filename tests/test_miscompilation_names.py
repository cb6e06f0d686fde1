"""Names the generated Python also uses: specs that once built into broken modules with exit 0.

Found by the property tests once tests/naming_strategies.py drew spec names from the generated
code's own words.  Each spec here checks; the built module must then run and do what the checker
said (the summary's parameter count, outputs of the declared shapes), and the emitted source
must say the same.
"""
from __future__ import annotations

import pytest
import torch

import agqc
from agqc.types import dim_eval

SIZES = {"B": 2, "T": 3, "rotary": 5}

CASES = {
    # A block named `self`: its class was `self`, and `self.self1 = self(width=3)` in Net's
    # __init__ called the module being built.
    "block_named_self": """
block self(x: [B, 4], width = 3) -> [B, 4] {
    return x + (x -> linear(width) -> linear(4))
}

block Net(x: [B, 4]) -> [B, 4] {
    return x -> self() -> self(width=5)
}

model M { network net = Net() }
""",
    # A block named `_` in a repeat: `nn.ModuleList(_() for _ in range(2))` called the loop's int.
    "block_named_underscore": """
block _(x: [B, 4]) -> [B, 4] {
    return x + (x -> linear(4))
}

block Net(x: [B, 4]) -> [B, 4] {
    repeat 2 as blocks {
        x = _(x)
    }
    return x
}

model M { network net = Net() }
""",
    # A block named `__D`: inside class Net, `__D()` is mangled to `_Net__D()` (a NameError).
    "block_name_mangled": """
block __D(x: [B, 4]) -> [B, 4] {
    return x + (x -> linear(4))
}

block Net(x: [B, 4]) -> [B, 4] {
    h = __D(x)
    repeat 2 as blocks {
        h = __D(h)
    }
    return h
}

model M { network net = Net() }
""",
    # Blocks named with leading underscores: Net's layer for `_Dense` was `self.__dense`, which Python
    # mangles to `_Net__dense` (state_dict keys no longer the spec's), and `_Modules` replaced
    # nn.Module's own `_modules` table.
    "call_of_a_block_with_a_leading_underscore": """
block _Dense(x: [B, 4]) -> [B, 4] {
    return x + (x -> linear(4))
}

block _Modules(x: [B, 4]) -> [B, 4] {
    return x -> linear(4) -> relu()
}

block __2(x: [B, 4]) -> [B, 4] {
    return x -> linear(4)
}

block Net(x: [B, 4]) -> [B, 4] {
    return x -> _Dense() -> _Modules() -> __2()
}

model M { network net = Net() }
""",
    # A parameter `__w` of a block used at two configurations: the shared class's `__init__(self, __w)`
    # is mangled to `_X__w`, so `X(__w=5)` was a TypeError.
    "parameter_with_two_leading_underscores": """
block X(x: [B, 4], __w = 3) -> [B, 4] {
    return x + (x -> linear(__w) -> linear(4)) + (normal(B, __w, 4) -> flatten() -> linear(4))
}

block Net(x: [B, 4]) -> [B, 4] {
    return x -> X() -> X(__w=5)
}

model M { network net = Net() }
""",
    # A size T read after its input `T_size` was reassigned, in a block with a layer named `T`: the
    # size's variable, `T_size = T_size.size(1)`, replaced the input before its first use.
    "size_variable_named_like_an_input": """
block Net(T_size: [B, T, 4]) -> [B, T, 4] {
    h = T_size -> linear(4)
    T_size = T_size -> linear(4)
    repeat 2 as T {
        T_size = T_size + (T_size -> linear(4))
    }
    return T_size + h + normal(B, T, 4)
}

model M { network net = Net() }
""",
    # An input named `layer`: `for layer in self.blocks:` rebound it before its last use.
    "input_named_like_the_loop_variable": """
block Net(layer: [B, 4], layer_: [B, 4]) -> [B, 4] {
    h = layer + layer_
    repeat 2 as blocks {
        h = h + (h -> linear(4) -> relu())
    }
    return h + layer + layer_
}

model M { network net = Net() }
""",
    # A size named `rotary`, read after its input was reassigned: `rotary = x.size(1)` hid the
    # rotary() helper that rope() calls.
    "size_named_like_a_helper": """
block Net(x: [B, rotary, 8]) -> [B, rotary, 8] {
    x = x -> adaptive_avg_pool1d(1)
    q = normal(B, 2, rotary, 4) -> rope()
    return (q -> merge_heads()) + x
}

model M { network net = Net() }
""",
    # A variable named `torch` read by a repeat: the repeat's class took it as its forward's
    # parameter (`def forward(self, torch)`), and the checker refused it as a reserved name.
    "variable_named_torch_in_a_repeat": """
block Net(x: [B, T, 4]) -> [B, T, 4] {
    torch = x -> linear(4)
    rotary = x -> linear(8) -> split_heads(2)
    repeat 2 as blocks {
        torch = torch + (torch -> layernorm() -> linear(4))
        rotary = rotary -> rope()
    }
    return torch + (rotary -> merge_heads() -> linear(4))
}

model M { network net = Net() }
""",
}


def _outputs(module, spec):
    torch.manual_seed(0)
    with torch.no_grad():
        out = module.eval()(*spec.example_inputs(sizes=SIZES))
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", sorted(CASES))
def test_module_does_what_the_checker_says(name, write_spec, tmp_path):
    spec = agqc.load(write_spec(CASES[name], f"{name}.agq"))
    module = spec.build()
    assert sum(p.numel() for p in module.parameters()) == spec.summary().total_params
    layers = {n.module for g in spec.program.graphs.values() for n in g.nodes() if n.module}
    assert {key.split(".")[1] for key in module.state_dict() if key.count(".") > 1} <= layers
    outs = _outputs(module, spec)
    declared = spec.output_types()
    assert [tuple(o.shape) for o in outs] == [tuple(dim_eval(d, SIZES) for d in t.shape) for t in declared]
    namespace: dict = {}
    exec(compile(spec.emit_python(), str(tmp_path / "emitted.py"), "exec"), namespace)
    emitted = namespace[spec.name]()
    emitted.load_state_dict(module.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(_outputs(emitted, spec), outs))


@pytest.mark.parametrize("name", ["attention", "rotary", "sinusoidal_positions", "sequence_and_last"])
def test_an_input_named_like_a_function_forward_calls_is_refused(name, write_spec):
    # forward's parameters are the spec's input names: one named `rotary` would hide rotary().
    text = f"block Net({name}: [B, T, 8]) -> [B, T, 8] {{\n    return {name} -> linear(8)\n}}\n" \
           "model M { network net = Net() }\n"
    with pytest.raises(agqc.AgqcError, match=f"`{name}` is a function the generated forward calls"):
        agqc.load(write_spec(text))
