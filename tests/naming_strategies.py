"""Names for the random specs of strategies.py that collide with what the generated Python uses.

The torch backend writes its own names next to the spec's: classes (`Net`, `Dense_2` for a
block's second variant, `NetLayer` for a repeat body), layers (`linear1`), the file's imports
and helpers (`torch`, `F`, `rotary`, `QuantLinear`), `self`, `super` and the builtins it calls,
sizes read into variables (`T`, `T_size`).  Two silent miscompilations came from such clashes
(tests/test_miscompilation.py), and six more once this file existed (test_miscompilation_names.py),
so the generator draws spec names from exactly these words, each only where the checker accepts
it: a Python keyword is a `reserved-name` error, and so is a member of nn.Module for an input or
a layer; an input may not take the name of a function forward calls (`rotary`) either.
"""
from __future__ import annotations

from hypothesis import strategies as st

# Local variables: the checker takes any identifier that is no keyword, size or parameter.
LOCALS = ["F", "torch", "nn", "math", "self", "super", "out", "rotary", "quantize_weight", "quantize_activation",
          "layer_weight", "sequence_and_last", "linear1", "linear", "relu", "size", "len", "range", "print", "type",
          "layers", "layer", "next", "forward", "float", "int", "object", "x_size", "T_size", "B_size", "z", "h",
          "deploy", "QuantLinear", "Module", "blocks", "device", "value", "net"]
# Block inputs: not a member of nn.Module (`self`, `type`), an import (`F`, `torch`) nor a function
# forward calls (`rotary`): those are `duplicate-name` errors.
INPUTS = ["super", "layer", "layer_", "range", "next", "math", "print", "len", "out", "size", "linear1", "layers",
          "z", "deploy", "quantize_weight", "x_size", "T_size", "value"]
# Helper blocks: classes the backend makes or defines, its imports and Python's own words; no op's
# name (a call would reach the op), never the model's `M`.  "{first}_2" is the first helper's second
# class when it is called at two configurations.
BLOCKS = ["Net_2", "{first}_2", "NetLayer", "NetLayer2", "OtherLayer", "HeadLayer", "Head_2", "F", "nn", "torch",
          "rotary", "QuantLinear", "Quantised", "Linear", "Module", "deploy", "self", "_", "super", "range", "layer",
          "quantize_weight", "layer_weight", "sequence_and_last", "math", "len", "width", "x", "Model", "forward",
          "__D", "__init__", "Block_"]
# A block's size names besides D, N1, S, T: read from an input at run time, a size becomes a variable
# of forward (`T = x.size(1)`), or a constructor argument of a class shared by several sizes.
SIZE_NAMES = ["F", "torch", "nn", "self", "layer", "rotary", "out", "len", "range", "super", "next", "x_size",
              "T_size", "size", "linear1", "math", "value"]
# Parameters besides width and p: constructor arguments of a class shared by several configurations
# (not `_`: a dropped result `v, _ = split(...)` rebinds it).
CONFIGS = ["__w", "self", "torch", "nn", "F", "super", "range", "layer", "rotary", "linear1", "out", "value",
           "size", "w_"]
# Networks besides net, other and hd: attributes of the model, prefixes of a side-by-side forward's
# parameters (`net_x`), callables in a flow.
NETWORKS = ["layer", "rotary", "out", "attention", "linear1", "blocks", "super", "range", "next", "net_x", "x_net",
            "Net", "h"]
# `as` names besides `linear_3`: the backend's own layer names and other words forward uses.
LAYERS = ["{op}1", "{op}2", "linear1", "linear2", "relu2", "conv2d1", "embedding1", "layer", "blocks", "out",
          "rotary", "attention", "super", "next", "h", "width", "T", "D", "B"]


def local_name(draw, avoid: set) -> str | None:
    """A variable name the generated code also uses, or None when each is taken here."""
    free = [n for n in LOCALS if n not in avoid]
    return draw(st.sampled_from(free)) if free else None


def input_name(draw, avoid: set, default: str) -> str:
    """A block input's name: mostly `default`, sometimes a word of the generated code."""
    free = [n for n in INPUTS if n not in avoid]
    return draw(st.sampled_from(free)) if free and draw(st.integers(0, 3)) == 0 else default


def helper_names(draw, count: int) -> list:
    """Helper block names: `Helper<i>`, or a name of the generated code (all distinct)."""
    names: list = []
    for i in range(count):
        name = f"Helper{i}"
        if draw(st.booleans()):
            pick = draw(st.sampled_from(BLOCKS)).format(first=names[0] if names else "Helper0")
            name = pick if pick not in names else name
        names.append(name)
    return names


def size_name(draw, default: str, taken: set) -> str:
    """A size's name in a block header: mostly `default`, sometimes a word of the generated code."""
    free = [n for n in SIZE_NAMES if n not in taken]
    return draw(st.sampled_from(free)) if free and draw(st.integers(0, 3)) == 0 else default


def config_name(draw, default: str, avoid: set) -> str:
    """A block parameter's name: mostly `default`, sometimes a word of the generated code; taken in `avoid`."""
    free = [n for n in CONFIGS if n not in avoid]
    name = draw(st.sampled_from(free)) if free and draw(st.integers(0, 3)) == 0 else default
    avoid.add(name)
    return name


def network_names(draw, avoid: set) -> list:
    """Names for the model's networks (main, second, head): mostly net, other and hd."""
    free, defaults = [n for n in NETWORKS if n not in avoid], ("net", "other", "hd")
    picks = [draw(st.sampled_from(free)) if free and draw(st.integers(0, 2)) == 0 else d for d in defaults]
    return [p if p not in picks[:i] else d for i, (p, d) in enumerate(zip(picks, defaults))]


def layer_name(draw, op: str, number: str, taken: set) -> str:
    """An `as` name for a layer: `linear_3` (always free) or a name the backend would pick itself."""
    if draw(st.booleans()):
        pick = draw(st.sampled_from(LAYERS)).format(op=op)
        if pick not in taken:
            return pick
    return f"{op}_{number}"


def avoid_names(blocks: set, aliases: dict) -> set:
    """What a block's variables must not be called: blocks, size names, parameters and constants."""
    return set(blocks) | set(aliases.values()) | {"B", "T", "S", "D", "HID", "width", "p", "inner", "M"}


def size_parts(d) -> list:
    """The sizes a symbolic dimension splits back into: T+1 -> [T, 1], 2*T -> [T, T]; [] if none."""
    if isinstance(d, int):
        return []
    terms = [int(t) if t.isdigit() else t for t in d.split("+")]
    if len(terms) > 1:
        return terms
    coef, _, name = d.partition("*")
    return [name] * int(coef) if coef.isdigit() and int(coef) <= 3 and name.isidentifier() else []


def head_shape(shape: tuple) -> tuple | None:
    """A head network's input shape: its sizes are its own, T+1 called S; None for another compound size.

    The tracer of test_compiler_properties gives a size that no input of a graph (a repeat body's)
    holds alone its value in SIZES: S=4 is T+1 at T=3, but 2*T would be 6.
    """
    if any(isinstance(d, str) and not d.isidentifier() and d != "T+1" for d in shape):
        return None
    return tuple("S" if d == "T+1" else d for d in shape)


class Naming:
    """The naming half of strategies.Body (which holds draw, names, inputs, aliases, avoid, modules, counter):
    variables, inputs, layers, and sizes as the block writes them."""

    def fresh(self, stem="v") -> str:
        """A new variable: `v3`, or sometimes a name the generated code uses too (`F`, `rotary`, `linear1`)."""
        self.counter += 1
        name = local_name(self.draw, self.avoid | set(self.names)) if self.draw(st.integers(0, 4)) == 0 else None
        self.avoid.add(name or f"{stem}{self.counter}")  # q, k and v are named before any is bound
        return name or f"{stem}{self.counter}"

    def fresh_input(self, stem: str) -> str:
        """A new input's name (an attention mask): `mask3`, or sometimes a word of the generated code."""
        self.counter += 1
        name = input_name(self.draw, self.avoid | set(self.names), f"{stem}{self.counter}")
        self.avoid.add(name)
        return name

    def module_name(self, op: str) -> str:
        """An `as` name: `linear_3`, or one the backend would give a layer itself (`linear1`, `relu2`)."""
        self.counter += 1
        name = layer_name(self.draw, op, str(self.counter), self.modules | {n for n, _ in self.inputs})
        self.modules.add(name)
        return name

    def arg(self, n: int) -> str:
        """An integer argument, sometimes written as arithmetic on a symbolic size (D * 2)."""
        for d, text in self.aliases.items():
            if isinstance(d, int) and d > 1 and text.isidentifier():
                forms = {d: text, 2 * d: f"{text} * 2", **({d // 2: f"{text} // 2"} if d % 2 == 0 else {})}
                if n in forms:
                    return forms[n]
        return str(n)

    def type_text(self, v) -> str:
        dims = ", ".join(self.aliases.get(d, str(d)) for d in v.shape)
        return ("int" if v.dtype == "int" else "") + f"[{dims}]"

    def dim_text(self, d) -> str:
        """A size as this block writes it: its name here (D, S), a number, or T+1 as `T + 1` (or `1 + T`)."""
        if d in self.aliases:
            return self.aliases[d]
        if isinstance(d, int):
            return str(d)
        terms = [" * ".join(t.split("*")) for t in d.split("+")]
        if self.draw(st.booleans()):
            terms.reverse()
        return " + ".join(terms)


def flow_text(draw, inputs: list, outs: int, results: int, nets: list, head_passed: list, blocks: set) -> str:
    """A model flow: the model's inputs (name, type text) into the network, its first output into the
    head; variables sometimes named like the generated code's (`torch = net(x)`)."""
    net, _, hd = nets
    avoid = avoid_names(blocks, {}) | set(nets) | {n for n, _ in inputs}
    names = []
    for stem, count in (("o", outs), ("r", results)):
        for i in range(count):
            name = local_name(draw, avoid) if draw(st.integers(0, 3)) == 0 else None
            names.append(name or f"{stem}{i}")
            avoid.add(names[-1])
    outs_, results_ = names[:outs], names[outs:]
    text = f"    head {hd} = Head({', '.join(head_passed)})\n" + "".join(f"    input {n}: {t}\n" for n, t in inputs)
    text += f"    {', '.join(outs_)} = {net}({', '.join(n for n, _ in inputs)})\n"
    return text + f"    {', '.join(results_)} = {hd}({outs_[0]})\n    return {', '.join(results_ + outs_[1:])}\n"
