"""Calls and names in the wrong place, the instantiation trail, and the hints around calls (issue 12).

The broken specs in tests/broken/ pin where each of these diagnostics is; the
tests here pin what they say (messages and notes), that every command stops
with exit status 1 on them (never 0 then a crash, never 2), and how a
diagnostic inside a block carries the calls that led there.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import agqc
from agqc import AgqcError
from agqc.cli import main
from agqc.frontend import check

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "broken"
STDLIB = ROOT / "agqc" / "stdlib"

NEW = ["block_in_flow", "block_positional_sizes", "config_values", "flow_layers", "input_twice", "kernel_size",
       "linear_image", "misplaced_names", "network_call_args", "network_in_block", "network_not_called", "stdlib_heads"]


def diagnostics(path: Path) -> list:
    with pytest.raises(AgqcError) as err:
        check(path)
    return err.value.diagnostics


def at(path: Path, line: int) -> list:
    return [d for d in diagnostics(path) if d.span.line == line and Path(d.span.file) == path]


CGAN_BLOCK_IN_FLOW = (ROOT / "specs" / "cgan.agq").read_text().replace(
    "fake = normal(B, LATENT) -> G(y)", "fake = normal(B, LATENT) -> Generator(y)")


# ---- 1. a block where a network belongs, and the rest of its class ---------------------
def test_block_called_in_a_flow_is_a_located_error_in_every_command(write_spec, tmp_path, capsys):
    assert "Generator(y)" in CGAN_BLOCK_IN_FLOW
    path = write_spec(CGAN_BLOCK_IN_FLOW)
    line = next(i for i, text in enumerate(CGAN_BLOCK_IN_FLOW.splitlines(), 1) if "-> Generator(y)" in text)
    for argv in (["check", path], ["summary", path], ["build", path, "-o", tmp_path / "out"],
                 ["draw", path, "-o", tmp_path / "x.svg"], ["emit", path]):
        assert main([str(a) for a in argv]) == 1, argv
        err = capsys.readouterr().err
        assert f"spec.agq:{line}:33: error[misplaced]: `Generator` is a block; a model's flow calls its networks" \
            in err, err
        assert "note: did you mean the network `G`?" in err
        assert "internal error" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.svg").exists()
    with pytest.raises(AgqcError):
        agqc.load(path)  # the Python API refuses it too, instead of building a module that fails in forward


@pytest.mark.parametrize("name", NEW)
def test_new_broken_specs_stop_every_command_with_exit_1(name, tmp_path, capsys):
    path = BROKEN / f"{name}.agq"
    for argv in (["build", path, "-o", tmp_path / "out"], ["draw", path, "-o", tmp_path / "x.svg"]):
        assert main([str(a) for a in argv]) == 1, argv
        err = capsys.readouterr().err
        assert "internal error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("name, line, message, note", [
    ("block_in_flow.agq", 23, "`Generator` is a block; a model's flow calls its networks",
     "did you mean the network `G`?"),
    ("block_in_flow.agq", 24, "`Extra` is a block; a model's flow calls its networks",
     "declare a network made from it in the model, `network extra = Extra()`, and call that"),
    ("network_in_block.agq", 13, "`enc` is a network of model `M`; a block cannot call it",
     "networks are called in the model's flow; inside a block, call its block, `Encoder(...)`"),
    ("network_in_block.agq", 14, "`enc` is a network of model `M`; a block cannot use it", "`Encoder(...)`"),
    ("network_in_block.agq", 15, "networks are declared inside a `model`", "call the block itself"),
    ("misplaced_names.agq", 10, "`real` is an input of model `GAN`; a block cannot read it",
     "a block sees only its parameters: add `real: [...]` to `Disc`'s signature"),
    ("misplaced_names.agq", 11, "`Gen` is a block, not a value", "call it: `x -> Gen(...)`"),
    ("misplaced_names.agq", 21, "`generator` is a network role, not an op", "did you mean the network `G`?"),
    ("misplaced_names.agq", 22, "`discriminator` is a network role, not a value", "did you mean the network `D`?"),
    ("misplaced_names.agq", 23, "`Gen` is a block, not a value", "did you mean the network `G`?"),
    ("misplaced_names.agq", 24, "`real` is a tensor, not an op or block", "pass it to one: `real -> relu()`"),
    ("network_call_args.agq", 17, "network `P` is called before its declaration at line 21",
     "declare a model's networks before the flow that uses them"),
    ("network_call_args.agq", 18, "`G` takes 1 tensor input, found 2", "network `G` (block `Gen`) takes z: [B, 16]"),
    ("network_call_args.agq", 19, "network `G` takes tensors, found the number 128",
     "networks are configured where they are declared (line 14)"),
    ("network_call_args.agq", 20, "`Pair` is a block; a model's flow calls its networks",
     "did you mean the network `P`?"),
    ("input_twice.agq", 13, "`x` is already defined", "first defined at"),
    ("input_twice.agq", 14, "`net` is already defined", "`net` is the network declared at"),
    ("input_twice.agq", 15, "`WIDTH` is already defined", "`WIDTH` is the constant defined at"),
    ("flow_layers.agq", 12, "`linear` has weights; a model's flow calls networks and ops without weights",
     "put the layer in a block"),
    ("flow_layers.agq", 13, "`repeat` stacks layers inside a block", "move the repeat into the network's block"),
    ("config_values.agq", 13, "Dense: a configuration value is a number, a string or a flag; found a tensor [B, 64]",
     "a block's tensors are its typed inputs"),
    ("config_values.agq", 24, "Head: a configuration value is a number, a string or a flag; found a tensor",
     "a network's tensors are given where the flow calls it"),
    ("config_values.agq", 25, "found network `net`", "a network is called in the model's flow; it is not an argument"),
    ("config_values.agq", 26, "a network is made from a block; `net` is not a block",
     "`net` is a network: call it twice in the flow to share its weights, or declare `classifier copy = Net()`"),
])
def test_what_a_misplaced_name_or_call_says(name, line, message, note):
    found = at(BROKEN / name, line)
    assert len(found) == 1, found
    (d,) = found
    assert message in d.message, d.message
    assert any(note in n for n in d.notes), d.notes


def test_a_model_input_read_in_a_block_is_not_also_unused():
    assert {d.code for d in diagnostics(BROKEN / "misplaced_names.agq")} == {"unknown-name", "unknown-op"}


def test_a_flow_may_still_use_ops_without_weights(write_spec):
    spec = agqc.load(write_spec("""
block Enc(x: [B, 8]) -> ([B, 4], [B, 4]) {
    return x -> linear(4), x -> linear(4)
}
block Dec(z: [B, 4]) -> [B, 8] {
    return z -> linear(8)
}
model VAE {
    encoder enc = Enc()
    decoder dec = Dec()
    input x: [B, 8]
    mu, logvar = enc(x)
    z = (reparameterise(mu, logvar) -> relu()) + normal(B, 4)
    return dec(z -> dropout(0.1))
}
"""))
    assert [str(t) for t in spec.output_types()] == ["[B, 8]"]


# ---- 2. the instantiation trail -----------------------------------------------------------
BAD_HEADS = """import std.transformer

block Net(x: [B, T, 100]) -> [B, T, 100] {
    h = x -> layernorm()
    h = TransformerEncoderBlock(h, 12, 400)
    return h
}

model M {
    encoder enc = Net()
}
"""


def test_a_library_mistake_from_the_users_argument_is_reported_at_it_with_the_trail(write_spec):
    path = write_spec(BAD_HEADS, name="bert.agq")
    (d,) = diagnostics(path)
    assert d.code == "bad-heads"
    assert (Path(d.span.file), d.span.line, d.span.col) == (path, 5, 36)  # the `12`
    library = str(STDLIB / "transformer.agq")
    trail = [n for n in d.notes if n.startswith("in ")]
    # innermost first, the user's own calls last (as clang lists template instantiations)
    assert trail == [f"in MultiHeadAttention, called at {library}:42:14",
                     f"in TransformerEncoderBlock, called at {path}:5:9",
                     f"in Net, as network `enc` declared at {path}:10:19"], d.notes
    used = [n for n in d.notes if n.startswith("the value given here is used at ")]
    assert used == [f"the value given here is used at {library}:30:28, in MultiHeadAttention"], d.notes
    assert "found [B, T, 100] (from transformer.agq:27)" in d.notes  # not "line 27" of bert.agq


def test_the_cli_shows_the_trail_under_the_users_line(write_spec, capsys):
    path = write_spec(BAD_HEADS, name="bert.agq")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("bert.agq:5:36: error[bad-heads]: attention: query features 100 do not split into 12 heads")
    assert err[1] == "    5 |     h = TransformerEncoderBlock(h, 12, 400)"
    assert err[2] == "      |                                    ^^"
    assert err[-2].endswith("note: in Net, as network `enc` declared at " + str(path) + ":10:19")


def test_a_library_mistake_not_made_of_an_argument_stays_in_the_library_with_the_trail(write_spec):
    path = write_spec("""import std.transformer

block Net(x: [B, T, 96]) -> [B, T, 96] {
    return x -> LlamaBlock(8, 3, 256)
}

model M {
    network net = Net()
}
""")
    found = diagnostics(path)
    assert found, found
    for d in found:
        if Path(d.span.file) != path:
            assert Path(d.span.file).parent == STDLIB
        assert d.notes[-2:] == (f"in LlamaBlock, called at {path}:4:17",
                                f"in Net, as network `net` declared at {path}:8:19"), d.notes


def test_one_bad_argument_used_in_several_library_places_is_reported_once(write_spec):
    path = write_spec("""import std.transformer

block Net(x: [B, T, 32]) -> [B, T, 32] {
    return x -> TransformerEncoderBlock(4, 64, p=2.0)
}

model M {
    encoder enc = Net()
}
""")
    (d,) = diagnostics(path)  # MultiHeadAttention's attention and three dropouts read `p`
    assert (d.code, Path(d.span.file), d.span.line, d.span.col) == ("bad-value", path, 4, 48)


def test_a_mistake_in_a_block_reached_by_several_calls_is_reported_once(write_spec):
    path = write_spec("""
block Dense(x: [B, F], out) -> [B, out] {
    return x -> linear(out) -> relu(1)
}

block Net(x: [B, 8]) -> [B, 4] {
    h = x -> Dense(16)
    g = x -> Dense(32)
    return (h -> Dense(4)) + (g -> Dense(4))
}

model M {
    network net = Net()
    network other = Net()
}
""")
    (d,) = diagnostics(path)
    assert (d.code, d.span.line) == ("too-many-args", 3)
    assert [n for n in d.notes if n.startswith("in ")] == [f"in Dense, called at {path}:7:14",
                                                          f"in Net, as network `net` declared at {path}:13:19"]


def test_warnings_inside_blocks_carry_the_trail_too(write_spec):
    spec = agqc.load(write_spec("""
block Inner(x: [B, 8]) -> [B, 8] {
    unused = x -> relu()
    return x -> linear(8)
}
block Net(x: [B, 8]) -> [B, 8] {
    return x -> Inner()
}
model M { network net = Net() }
"""))
    (w,) = spec.warnings
    assert w.code == "unused-value"
    assert [n for n in w.notes if n.startswith("in ")][0].startswith("in Inner, called at ")


def test_unused_blocks_are_checked_without_a_trail(write_spec):
    path = write_spec("""
block Spare(x: [B, 8]) -> [B, 8] {
    return x -> relu(1)
}
block Net(x: [B, 8]) -> [B, 8] {
    return x
}
model M { network net = Net() }
""")
    (d,) = diagnostics(path)
    assert d.code == "too-many-args" and not any(n.startswith("in ") for n in d.notes), d.notes


# ---- 3. a near miss of a required keyword --------------------------------------------------
def test_a_near_miss_of_a_missing_required_argument_is_one_diagnostic():
    (d,) = at(BROKEN / "kernel_size.agq", 7)
    assert (d.code, d.message) == ("unknown-arg", "conv2d: no argument named `kernel_size`")
    assert d.notes[0] == "did you mean `kernel`? (it is required, and not given)"


# ---- 4. positional arguments: configuration only, never sizes ---------------------------------
def test_extra_positional_arguments_say_what_the_block_takes_and_which_were_extra():
    (d,) = at(BROKEN / "block_positional_sizes.agq", 17)
    assert d.message == ("Mlp: too many arguments: takes at most 1 (hidden) besides its input tensors, got 2; "
                         "`96` is extra")
    assert any("takes 1 argument (hidden); its sizes B, F come from its inputs, or by name only (`B=...`)" in n
               for n in d.notes), d.notes
    (g,) = at(BROKEN / "block_positional_sizes.agq", 8)
    assert "got 3; `1024` is extra" in g.message and "(heads, eps)" in g.message


def test_sizes_are_still_given_by_name(write_spec):
    spec = agqc.load(write_spec("""
block Mix(x: [B, F], width) -> [B, width] {
    return x -> linear(F) -> linear(width)
}
block Net(x: [B, 8]) -> [B, 6] {
    return x -> Mix(6, F=8)
}
model M {
    network net = Net()
    network mix = Mix(5, F=3)
}
"""))
    assert [str(t) for t in spec.output_types()] == ["[B, 6]", "[B, 5]"]


# ---- 5. linear on an image --------------------------------------------------------------------
def test_a_linear_on_an_image_gets_the_flatten_hint():
    for line in (7, 15):
        (d,) = at(BROKEN / "linear_image.agq", line)
        assert any(n.startswith("linear acts on the last dimension") and "flatten() first" in n
                   for n in d.notes), d.notes


def test_no_flatten_hint_without_a_linear(write_spec):
    path = write_spec("""
block Net(x: [B, 1, 28, 28]) -> [B, 10] {
    return x -> conv2d(10, kernel=3)
}
model M { network net = Net() }
""")
    (d,) = diagnostics(path)
    assert d.code == "return-type" and not any("linear acts" in n for n in d.notes), d.notes


# ---- 6. standard-library hyper-parameters -------------------------------------------------------
def test_std_blocks_take_the_layernorm_eps(write_spec):
    text = """import std.transformer
import std.layers

block Net(x: [B, T, 32]) -> [B, T, 32] {
    h = TransformerEncoderBlock(x, 4, 64{eps}) -> PostNormEncoderBlock(4, 64{eps})
    h = h -> GPT2Block(4{eps}) -> ResidualMLP(64{eps}) -> NormFormerMLP(64{eps})
    return h
}
model M { network net = Net() }
"""
    default = agqc.load(write_spec(text.replace("{eps}", ""), name="a.agq")).emit_python()
    vit = agqc.load(write_spec(text.replace("{eps}", ", eps=1e-6"), name="b.agq")).emit_python()
    assert "eps=" not in default
    assert default.count("nn.LayerNorm(") == 9  # two per transformer block, one in ResidualMLP
    assert vit.count("nn.LayerNorm(") == vit.count(", eps=1e-06)") == 9

