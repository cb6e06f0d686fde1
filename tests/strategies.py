"""Hypothesis strategies for random well-formed .agq specs (issue 6).

As NNSmith does, a spec is grown as a random DAG: at each step an op is drawn
among those whose shape rule the values in scope can meet, and its arguments
are chosen so that the rule holds (a kernel no larger than the padded input, a
reshape to a factorisation, heads that divide the width, split sizes that add
up, ...).  The generator tracks every value's shape itself, symbolic sizes
(B, T and sums like T+1) in agqc's canonical text, so it writes only programs
the checker must accept.

A spec has helper blocks (config parameters, symbolic sizes, calling each
other), one or two network blocks, `repeat` loops, skips, multi-output ops
with `_` for dropped results, precision annotations on blocks, statements,
layers, networks and the model, and sometimes a model flow.  Names are reused
(`x = x -> ...`, inputs too, a dead name given a new value) and often clash
with the generated Python's (naming_strategies.py); noise, reshapes and splits
write the block's size names (`normal(B, T + 1, D)`), which forward reads at
run time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

import naming_strategies as naming
from agqc.types import dim_add, dim_mul

ACTS = ["relu()", "tanh()", "sigmoid()", "silu()", "gelu()", 'gelu(approximate="tanh")', "leaky_relu(0.1)"]
LAYER_PRECISIONS = ["@int8", "@int4", "@fp8", "@fp8(e5m2)", "@binary(activations)", "@int8(activations)"]
MAX_SEQ = 32  # learned_positions' table; runtime sequences stay far shorter
SIZES = {"B": 2, "T": 3, "S": 4}  # runtime values of the symbolic sizes the generator writes


class Skip(Exception):
    """No value in scope fits the drawn op: draw another."""


@dataclass
class Val:
    shape: tuple  # int (known) or str (symbolic, canonical: "B", "T", "T+1")
    dtype: str = "float"


@dataclass
class Helper:
    name: str
    shape: tuple  # the shape it maps to itself (it is called with exactly this shape)
    has_width: str  # the name of its `width` parameter, or ""
    has_p: str


def known(*ds) -> bool:
    return all(isinstance(d, int) for d in ds)


def divisors(n: int) -> list:
    return [k for k in range(1, n + 1) if n % k == 0]


@dataclass
class Body(naming.Naming):
    """One block body being grown: the values in scope and the lines written so far."""
    draw: object
    aliases: dict  # dimension -> the text to write for it (the block's symbolic size names)
    helpers: list
    lazy_inputs: bool  # may the body add an input it needs (an attention mask)?
    keep_lead: bool = False  # a helper's values keep every dimension but the last
    names: dict = field(default_factory=dict)  # variable -> Val
    unused: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # (name, Val)
    counter: int = 0
    width_param: str = ""  # the names of the block's `width` and `p` parameters, if it has them
    p_param: str = ""
    avoid: set = field(default_factory=set)  # never a variable here: blocks, sizes, parameters, names handed out
    modules: set = field(default_factory=set)  # `as` names of layers and repeats: unique in a block
    outs: list = field(default_factory=list)  # the Vals the block returns

    def add_input(self, name: str, v: Val) -> None:
        self.inputs.append((name, v))
        self.names[name] = v
        self.unused.append(name)

    def use(self, *names: str) -> None:
        for n in names:
            if n in self.unused:
                self.unused.remove(n)

    def take(self, pred, symbolic: bool = False):
        """(name, Val) of a value in scope meeting pred, preferring unused ones (Skip if none), and
        with `symbolic` often one with a symbolic size after the batch (T, T+1), if there is one."""
        lead = self.inputs[0][1].shape[:-1] if self.keep_lead else None  # a helper's q, k, v are split into heads
        cands = [n for n, v in self.names.items() if pred(v) and lead in (None, v.shape[:-1])]
        sized = [n for n in cands if not known(*self.names[n].shape[1:])]
        if symbolic and sized and self.draw(st.booleans()):
            cands = sized
        if not cands:
            raise Skip
        fresh = [n for n in cands if n in self.unused]
        x = self.draw(st.sampled_from(fresh or cands))
        return x, self.names[x]

    def emit(self, targets: list, vals: list, expr: str) -> None:
        """Write `targets = expr` (a dropped output is `_`), sometimes with a statement precision."""
        prefix = self.draw(st.sampled_from(["@bf16 ", "@fp16 ", "@fp32 "])) if self.draw(st.integers(0, 9)) == 0 else ""
        self.lines.append(f"{prefix}{', '.join(targets)} = {expr}")
        for t, v in zip(targets, vals):
            if t != "_":
                self.names[t] = v
                self.unused.append(t)

    def step(self, x: str, shape: tuple, expr: str, reuse: bool = True) -> None:
        """`x` consumed by one statement giving one value: named anew or, sometimes, `h = h -> ...`
        (an input too) or a dead name reused (`v2 = v5 -> ...` once v2 has had its last use)."""
        self.use(x)
        target = self.fresh()
        roll = self.draw(st.integers(0, 5))
        dead = [n for n in self.names if n not in self.unused and n != x]
        if reuse and roll < 3:
            target = x
        elif reuse and roll == 3 and dead:
            target = self.draw(st.sampled_from(dead))
        self.emit([target], [Val(shape)], expr)

    def layer_suffix(self, op: str) -> str:
        """Sometimes a layer name (`as linear_3`, `as linear1`) and a quantised precision (`@int4`)."""
        out = f" as {self.module_name(op)}" if self.draw(st.integers(0, 5)) == 0 else ""
        return out + (" " + self.draw(st.sampled_from(LAYER_PRECISIONS)) if self.draw(st.integers(0, 5)) == 0 else "")


# ---- actions: each finds a value its op's shape rule accepts, or returns False ------------------
def _float(rank=None, last=False, all_known=False):
    def pred(v: Val) -> bool:
        return (v.dtype == "float" and len(v.shape) >= 2 and (rank is None or len(v.shape) == rank)
                and (not last or known(v.shape[-1])) and (not all_known or known(*v.shape[1:])))
    return pred


def _seq(v: Val) -> bool:
    return _float(3, last=True)(v)


def a_unary(b: Body) -> None:
    x, v = b.take(lambda v: v.dtype == "float")
    expr = b.draw(st.sampled_from(ACTS + [f"dropout({b.p_param})" if b.p_param else "dropout(0.1)", "softmax(dim=-1)"]))
    return b.step(x, v.shape, f"{x} -> {expr}")


def a_linear(b: Body) -> None:
    x, v = b.take(_float(last=True))
    out = b.draw(st.integers(1, 12))
    bias = ", bias=false" if b.draw(st.integers(0, 4)) == 0 else ""
    chain = f"{x} -> linear({b.arg(out)}{bias}){b.layer_suffix('linear')}"
    if b.width_param and b.draw(st.booleans()):  # an MLP through the block's `width`: any width fits
        chain = f"{x} -> linear({b.width_param}) -> relu() -> linear({b.arg(out)})"
    return b.step(x, v.shape[:-1] + (out,), chain)


def a_norm(b: Body) -> None:
    kind = b.draw(st.sampled_from(["layernorm()", "rmsnorm()", "batchnorm()", "layernorm(bias=false)"]))
    if kind == "batchnorm()":
        x, v = b.take(lambda v: _float()(v) and len(v.shape) <= 4 and known(v.shape[1]))
    else:
        x, v = b.take(_float(last=True))
    return b.step(x, v.shape, f"{x} -> {kind}")


def a_conv(b: Body) -> None:
    rank = b.draw(st.sampled_from([4, 3]))
    x, v = b.take(_float(rank, all_known=True))
    c, sizes, out = v.shape[1], v.shape[2:], b.draw(st.integers(1, 6))
    k = b.draw(st.integers(1, 3))
    pad, stride = b.draw(st.integers(0, k // 2)), b.draw(st.integers(1, 2))
    dil = b.draw(st.sampled_from([1, 1, 2])) if k > 1 else 1
    if dil * (k - 1) + 1 > min(sizes) + 2 * pad:  # the kernel must fit the padded input
        k, pad, dil = 1, 0, 1
    groups = b.draw(st.sampled_from([g for g in divisors(c) if out % g == 0]))
    extra = "".join(f", {name}={value}" for name, value, default in
                    (("stride", stride, 1), ("padding", pad, 0), ("dilation", dil, 1), ("groups", groups, 1))
                    if value != default)
    new = tuple((s + 2 * pad - dil * (k - 1) - 1) // stride + 1 for s in sizes)
    op = "conv1d" if rank == 3 else "conv2d"
    return b.step(x, (v.shape[0], out) + new, f"{x} -> {op}({b.arg(out)}, kernel={k}{extra}){b.layer_suffix(op)}")


def a_conv_transpose(b: Body) -> None:
    x, v = b.take(lambda v: _float(4, all_known=True)(v) and max(v.shape[2:]) <= 6)
    out, k, stride = b.draw(st.integers(1, 4)), b.draw(st.integers(1, 3)), b.draw(st.integers(1, 2))
    pad = b.draw(st.integers(0, (k - 1) // 2))
    new = tuple((s - 1) * stride - 2 * pad + k for s in v.shape[2:])
    return b.step(x, (v.shape[0], out) + new,
                  f"{x} -> conv_transpose2d({out}, kernel={k}, stride={stride}, padding={pad})")


def a_pool(b: Body) -> None:
    rank = b.draw(st.sampled_from([3, 4]))
    x, v = b.take(_float(rank, all_known=True))
    spatial, kind = rank - 2, b.draw(st.sampled_from(["max", "avg"]))
    if b.draw(st.booleans()):
        size = b.draw(st.integers(1, 3))
        return b.step(x, v.shape[:2] + (size,) * spatial, f"{x} -> adaptive_{kind}_pool{spatial}d({size})")
    k = b.draw(st.integers(1, min(3, *v.shape[2:])))
    pad, stride = b.draw(st.integers(0, k // 2)), b.draw(st.sampled_from([None, 1, 2]))
    new = tuple((d + 2 * pad - k) // (stride or k) + 1 for d in v.shape[2:])
    extra = (f", stride={stride}" if stride else "") + (f", padding={pad}" if pad else "")
    return b.step(x, v.shape[:2] + new, f"{x} -> {kind}_pool{spatial}d({k}{extra})")


def a_reshape(b: Body) -> None:
    """flatten(), or a regrouping; symbolic sizes (T, T+1) move to other places, written by name,
    so that forward reads them at run time: [B, T, 6] -> reshape(2, T, 3)."""
    x, v = b.take(_float(), symbolic=True)
    total, symbolic = 1, [d for d in v.shape[1:] if not isinstance(d, int)]
    for d in v.shape[1:]:
        total *= d if isinstance(d, int) else 1
    if len(v.shape) > 2 and b.draw(st.booleans()):
        return b.step(x, (v.shape[0], dim_mul(*v.shape[1:])), f"{x} -> flatten()")
    first = b.draw(st.sampled_from(divisors(total)))
    dims = [first, total // first]
    if not symbolic and b.draw(st.booleans()):  # with a symbolic size too, rank 5 (rmsnorm takes up to 4)
        second = b.draw(st.sampled_from(divisors(dims[1])))
        dims = [first, second, dims[1] // second]
    if symbolic:  # the symbolic sizes whole, anywhere among the known factors (one factor for two of them)
        dims = [d for d in dims if d != 1] if len(symbolic) == 1 else [total] if total > 1 else []
        for d in symbolic:
            dims.insert(b.draw(st.integers(0, len(dims))), d)
    return b.step(x, (v.shape[0], *dims), f"{x} -> reshape({', '.join(b.dim_text(d) for d in dims)})")


def a_embedding(b: Body) -> None:
    x, v = b.take(lambda v: v.dtype == "int")
    dim, num = b.draw(st.integers(1, 12)), b.draw(st.integers(2, 10))  # example ids are 0 and 1
    b.step(x, v.shape + (dim,), f"{x} -> embedding({num}, {b.arg(dim)}){b.layer_suffix('embedding')}", reuse=False)


def a_binary(b: Body) -> None:
    """A skip: `a + (a -> linear(D) -> act)`, or a + b / a * b on equal or broadcasting shapes."""
    x, v = b.take(_float())
    op = b.draw(st.sampled_from(["+", "*"]))
    others = [n for n, w in b.names.items() if n != x and w.dtype == "float" and len(w.shape) == len(v.shape)
              and all(p == q or p == 1 or q == 1 for p, q in zip(v.shape, w.shape))]
    if others and b.draw(st.booleans()):
        y = b.draw(st.sampled_from(others))
        b.use(y)
        return b.step(x, tuple(q if p == 1 else p for p, q in zip(v.shape, b.names[y].shape)), f"{x} {op} {y}")
    if not known(v.shape[-1]):
        return b.step(x, v.shape, f"{x} {op} ({x} -> tanh())")
    return b.step(x, v.shape, f"{x} {op} ({x} -> linear({b.arg(v.shape[-1])}) -> {b.draw(st.sampled_from(ACTS))})")


def a_concat(b: Body) -> None:
    x, v = b.take(_float())
    if known(v.shape[-1]) and b.draw(st.booleans()):  # with a branch of itself, along the features
        k = b.draw(st.integers(1, 6))
        return b.step(x, v.shape[:-1] + (v.shape[-1] + k,), f"concat({x}, {x} -> linear({k}) -> relu(), dim=-1)")
    pairs = [(n, a) for n, w in b.names.items() if w.dtype == "float" and len(w.shape) == len(v.shape)
             for a in range(1, len(v.shape)) if all(p == q for i, (p, q) in enumerate(zip(v.shape, w.shape)) if i != a)]
    y, axis = b.draw(st.sampled_from(pairs))  # (x, any axis) is always a pair
    b.use(y)
    shape = v.shape[:axis] + (dim_add(v.shape[axis], b.names[y].shape[axis]),) + v.shape[axis + 1:]
    dim = b.draw(st.sampled_from([axis, axis - len(v.shape)]))
    return b.step(x, shape, f"concat({x}, {y}, dim={dim})")


def a_split(b: Body) -> None:
    x, v = b.take(lambda v: _float(last=True)(v) and v.shape[-1] >= 2)
    first = b.draw(st.integers(1, v.shape[-1] - 1))
    rest = v.shape[-1] - first
    second = b.draw(st.integers(1, rest))
    sizes = [first, second] + ([rest - second] if rest > second else [])
    keep = b.draw(st.integers(0, len(sizes) - 1))  # at least one result is used
    targets = [b.fresh() if i == keep or b.draw(st.booleans()) else "_" for i in range(len(sizes))]
    b.use(x)
    dim = b.draw(st.sampled_from([-1, len(v.shape) - 1]))
    b.emit(targets, [Val(v.shape[:-1] + (s,)) for s in sizes], f"split({x}, {', '.join(map(str, sizes))}, dim={dim})")


def a_split_sizes(b: Body) -> None:
    """A T+1 or 2*T dimension split back into its parts, sizes written by name (`split(h, T, 1, dim=1)`)."""
    found = [(n, a) for n, v in b.names.items() if v.dtype == "float" for a in range(1, len(v.shape))
             if naming.size_parts(v.shape[a])]
    if not found:
        raise Skip
    x, axis = b.draw(st.sampled_from(found))
    v, parts = b.names[x], naming.size_parts(b.names[x].shape[axis])
    keep = b.draw(st.integers(0, len(parts) - 1))  # at least one result is used
    targets = [b.fresh() if i == keep or b.draw(st.booleans()) else "_" for i in range(len(parts))]
    b.use(x)
    dim = b.draw(st.sampled_from([axis, axis - len(v.shape)]))
    b.emit(targets, [Val(v.shape[:axis] + (p,) + v.shape[axis + 1:]) for p in parts],
           f"split({x}, {', '.join(b.dim_text(p) for p in parts)}, dim={dim})")


def a_noise(b: Body) -> None:
    """Noise of a value's sizes, written with the block's size names (`x + normal(B, T + 1, D)`), so
    forward reads them at run time: added (maybe broadcast over a size 1), or joined on."""
    x, v = b.take(_float(), symbolic=True)
    dims = list(v.shape)
    form = b.draw(st.sampled_from(["add", "add", "last", "first"] if not b.keep_lead else ["add", "last"]))
    if form == "add":
        if b.draw(st.booleans()):
            dims[b.draw(st.integers(0, len(dims) - 1))] = 1
        op, noise = b.draw(st.sampled_from(["+", "*"])), f"normal({', '.join(b.dim_text(d) for d in dims)})"
        return b.step(x, v.shape, f"{x} {op} {noise}" if b.draw(st.booleans()) else f"{noise} {op} {x}")
    axis, k = (-1 if form == "last" else 1), b.draw(st.integers(1, 3))
    texts = [b.dim_text(d) for d in dims]
    texts[axis] = b.arg(k)
    pair = [x, f"normal({', '.join(texts)})"]
    pair = pair if b.draw(st.booleans()) else pair[::-1]
    dims[axis] = dim_add(v.shape[axis], k)
    return b.step(x, tuple(dims), f"concat({', '.join(pair)}, dim={axis})")


def a_pad_expand(b: Body) -> None:
    ones = [(n, i) for n, v in b.names.items() if v.dtype == "float" for i in range(1, len(v.shape)) if v.shape[i] == 1]
    if ones and b.draw(st.booleans()):
        x, i = b.draw(st.sampled_from(ones))
        v, size = b.names[x], b.draw(st.integers(1, 4))
        return b.step(x, v.shape[:i] + (size,) + v.shape[i + 1:], f"{x} -> expand({size}, dim={i})")
    x, v = b.take(_float())
    before, after = b.draw(st.integers(0, 2)), b.draw(st.integers(0, 2))
    return b.step(x, v.shape[:-1] + (dim_add(v.shape[-1], before + after),),
                  f"{x} -> pad({before}, {after}, value=0.5)")


def a_recurrent(b: Body) -> None:
    x, v = b.take(_seq)
    kind = b.draw(st.sampled_from(["rnn", "gru", "lstm"]))
    hidden, layers = b.draw(st.integers(1, 8)), b.draw(st.integers(1, 2))
    keep = "seq" if b.keep_lead else b.draw(st.sampled_from(["both", "seq", "last"]))
    targets = [b.fresh() if keep in ("both", "seq") else "_", b.fresh() if keep in ("both", "last") else "_"]
    b.use(x)
    b.emit(targets, [Val(v.shape[:2] + (hidden,)), Val((v.shape[0], hidden))],
           f"{x} -> {kind}({hidden}{f', layers={layers}' if layers > 1 else ''})")


def a_attention(b: Body) -> None:
    """Self-attention, merged [B, T, H*d] or split [B, H, T, d] layout, maybe GQA, causal, masked."""
    x, v = b.take(lambda v: _seq(v) and v.shape[2] >= 2)
    D, T = v.shape[2], v.shape[1]
    heads = b.draw(st.sampled_from([h for h in divisors(D) if h <= 4]))
    kv = b.draw(st.sampled_from(divisors(heads)))
    d, q, k, val = D // heads, b.fresh("q"), b.fresh("k"), b.fresh("val")
    opts = ", causal=true" if b.draw(st.booleans()) else ""
    if b.lazy_inputs and (known(T) or T.isidentifier()) and b.draw(st.booleans()):  # int[B, T] padding mask
        # an input mask still under its name (`mask = mask -> embedding(...)` may have reused it)
        m = next((n for n, w in b.inputs if w.dtype == "int" and w.shape == (v.shape[0], T) and b.names[n] is w), None)
        if m is None:
            m = b.fresh_input("mask")
            b.add_input(m, Val((v.shape[0], T), "int"))
        b.use(m)
        opts += f", mask={m}"
    b.use(x)
    if b.draw(st.booleans()):  # merged layout
        b.emit([q], [Val(v.shape)], f"{x} -> linear({b.arg(D)})")
        for name in (k, val):
            b.emit([name], [Val(v.shape[:2] + (kv * d,))], f"{x} -> linear({kv * d})")
        opts += f", kv_heads={kv}" if kv != heads or b.draw(st.booleans()) else ""
        opts += ", dropout=0.1" if b.draw(st.integers(0, 3)) == 0 else ""
        b.use(q, k, val)
        b.emit([b.fresh("att")], [Val(v.shape)], f"attention({q}, {k}, {val}, heads={heads}{opts})")
        return
    rope = " -> rope()" if d % 2 == 0 and b.draw(st.booleans()) else ""
    b.emit([q], [Val((v.shape[0], heads, T, d))], f"{x} -> linear({b.arg(D)}) -> split_heads({heads}){rope}")
    b.emit([k], [Val((v.shape[0], kv, T, d))], f"{x} -> linear({kv * d}) -> split_heads({kv}){rope}")
    b.emit([val], [Val((v.shape[0], kv, T, d))], f"{x} -> linear({kv * d}) -> split_heads({kv})")
    b.use(q, k, val)
    b.emit([b.fresh("att")], [Val(v.shape)], f"attention({q}, {k}, {val}{opts}) -> merge_heads()")


def a_positions(b: Body) -> None:
    x, v = b.take(lambda v: _seq(v) and v.shape[2] % 2 == 0 and (not known(v.shape[1]) or v.shape[1] <= MAX_SEQ))
    kind = b.draw(st.sampled_from(["sinusoidal_positions()", f"learned_positions({MAX_SEQ})"]))
    return b.step(x, v.shape, f"{x} -> {kind}")


def a_class_token(b: Body) -> None:
    """A class token in front of (or behind) the sequence: T tokens become T+1."""
    x, v = b.take(_seq)
    c = b.fresh("cls")
    b.use(x)
    b.emit([c], [Val((v.shape[0], 1, v.shape[2]))], f"{x} -> class_token()")
    pair = [c, x] if b.draw(st.booleans()) else [x, c]
    b.use(c)
    b.emit([b.fresh()], [Val((v.shape[0], dim_add(v.shape[1], 1), v.shape[2]))], f"concat({', '.join(pair)}, dim=1)")


def a_patches(b: Body) -> None:
    x, v = b.take(_float(4, all_known=True))
    size = b.draw(st.sampled_from([s for s in divisors(v.shape[2]) if v.shape[3] % s == 0]))
    dim = b.draw(st.integers(1, 8))
    n = (v.shape[2] // size) * (v.shape[3] // size)
    b.step(x, (v.shape[0], n, dim), f"{x} -> patches({size}, {dim})")


def a_heads(b: Body) -> None:
    """A rank-4 value through merge_heads, or a sequence through split_heads."""
    if b.draw(st.booleans()):
        x, v = b.take(lambda v: _float(4)(v) and known(v.shape[1], v.shape[3]))
        return b.step(x, (v.shape[0], v.shape[2], v.shape[1] * v.shape[3]), f"{x} -> merge_heads()")
    x, v = b.take(_seq)
    h = b.draw(st.sampled_from(divisors(v.shape[2])))
    return b.step(x, (v.shape[0], h, v.shape[1], v.shape[2] // h), f"{x} -> split_heads({h})")


def _config_args(b: Body, h: Helper, width: bool = False) -> list:
    return ([f"{h.has_width}={b.draw(st.integers(1, 9))}"] if h.has_width and (width or b.draw(st.booleans())) else []
            ) + ([f"{h.has_p}=0.2"] if h.has_p and b.draw(st.integers(0, 3)) == 0 else [])


def a_call(b: Body) -> None:
    """Call a helper block on a value of its shape (a config override sometimes), or repeat it, or
    call it twice in a chain (at two configurations: two classes, `Helper0` and `Helper0_2`)."""
    options = [(h, n) for h in b.helpers for n, v in b.names.items() if v.dtype == "float" and v.shape == h.shape]
    if not options:
        raise Skip
    h, x = b.draw(st.sampled_from(options))
    cfg = "".join(f", {a}" for a in _config_args(b, h))
    form = b.draw(st.integers(0, 3))
    if form == 0:
        count = b.draw(st.integers(1, 3))
        b.lines.append(f"repeat {count} as {b.module_name('loop')} {{\n        {x} = {h.name}({x}{cfg})\n    }}")
        return b.use(x) or b.unused.append(x)
    if form == 1:
        first, second = ", ".join(_config_args(b, h)), ", ".join(_config_args(b, h, width=True))
        return b.step(x, h.shape, f"{x} -> {h.name}({first}) -> {h.name}({second})")
    return b.step(x, h.shape, f"{h.name}({x}{cfg})")


def a_repeat(b: Body) -> None:
    """`repeat N as name { ... }`: a residual body that keeps the carried shape; `inner` stays inside."""
    x, v = b.take(_float(last=True))
    norm, act = b.draw(st.sampled_from(["layernorm()", "rmsnorm()", "tanh()"])), b.draw(st.sampled_from(ACTS))
    b.lines.append(f"repeat {b.draw(st.integers(1, 3))} as {b.module_name('rep')} {{\n        inner = {x} -> {norm}\n"
                   f"        {x} = {x} + (inner -> linear({b.arg(v.shape[-1])}) -> {act})\n    }}")
    b.use(x)
    b.unused.append(x)  # the repeat's result is a new value


GENERAL = [a_unary, a_linear, a_norm, a_binary, a_concat, a_split, a_pad_expand, a_recurrent, a_attention,
           a_positions, a_class_token, a_call, a_repeat, a_conv, a_conv, a_conv_transpose, a_pool, a_reshape,
           a_embedding, a_patches, a_heads, a_noise, a_noise, a_split_sizes, a_split_sizes, a_call, a_call]
# Helpers keep every dimension but the last, so that they can map their input's shape to itself.
KEEPING = [a_unary, a_linear, a_norm, a_binary, a_split, a_recurrent, a_attention, a_call, a_noise]


# ---- blocks, networks and the model --------------------------------------------------------------
def _steps(b: Body, actions, count: int) -> None:
    for _ in range(count):
        for _try in range(6):
            try:
                b.draw(st.sampled_from(actions))(b)
                break
            except Skip:
                pass


def _block(b: Body, name: str, outs: list, cfg: list) -> str:
    """The block's text: precision decorator, header with input and output types, body."""
    decorator = b.draw(st.sampled_from(["@bf16\n", "@fp16\n"])) if b.draw(st.integers(0, 5)) == 0 else ""
    params = [f"{n}: {b.type_text(v)}" for n, v in b.inputs] + cfg
    types = [b.type_text(v) for v in outs]
    out = types[0] if len(types) == 1 else "(" + ", ".join(types) + ")"
    body = "".join(f"    {line}\n" for line in b.lines)
    return f"{decorator}block {name}({', '.join(params)}) -> {out} {{\n{body}}}\n"


def _config(b: Body) -> list:
    cfg = []
    if b.draw(st.booleans()):
        b.width_param = naming.config_name(b.draw, "width", b.avoid)
        cfg.append(f"{b.width_param} = {b.draw(st.sampled_from(['HID', '3', 'HID // 2']))}")
    if b.draw(st.booleans()):
        b.p_param = naming.config_name(b.draw, "p", b.avoid)
        cfg.append(f"{b.p_param} = 0.1")
    return cfg


def helper_block(draw, name: str, shape: tuple, helpers: list, blocks: set) -> tuple:
    """A block mapping `shape` to itself: steps that keep the leading dimensions, then every
    loose value projected back to the input's width and summed (a residual)."""
    aliases: dict = {}
    for i, d in enumerate(shape[1:], start=1):
        default = (d if d.isidentifier() else "S") if isinstance(d, str) else "D" if i == len(shape) - 1 else f"N{i}"
        if isinstance(d, str) or (d not in aliases and draw(st.booleans())):
            aliases[d] = naming.size_name(draw, default, set(aliases.values()) | blocks)
    b = Body(draw, aliases, list(helpers), lazy_inputs=False, keep_lead=True, avoid=naming.avoid_names(blocks, aliases))
    cfg = _config(b)
    x = naming.input_name(draw, b.avoid, "x")
    b.add_input(x, Val(shape))
    _steps(b, KEEPING, draw(st.integers(1, 4)))
    terms = [n if b.names[n].shape == shape else f"({n} -> linear({b.arg(shape[-1])}))" for n in b.unused]
    if x not in terms and b.names[x].shape == shape and draw(st.booleans()):  # x may hold a new value by now
        terms.insert(0, x)
    b.lines.append("return " + " + ".join(terms))
    return _block(b, name, [Val(shape)], cfg), Helper(name, shape, b.width_param, b.p_param)


def start_inputs(draw, blocks: set) -> list:
    """A network's inputs: a feature vector, a sequence, token ids or an image (and maybe labels)."""
    # Hypothesis favours the first entries: the richer families come first and twice.
    family = draw(st.sampled_from(["seq", "img2d", "tokens", "img1d", "feat", "seq", "img2d"]))
    T = "T" if draw(st.integers(0, 3)) else draw(st.integers(2, 5))
    shape = {"feat": lambda: ("B", draw(st.integers(2, 12))),
             "seq": lambda: ("B", T, draw(st.sampled_from([2, 4, 6, 8, 12]))),
             "tokens": lambda: ("B", T),
             "img1d": lambda: ("B", draw(st.integers(1, 3)), draw(st.integers(3, 10))),
             "img2d": lambda: ("B", draw(st.integers(1, 3)), draw(st.integers(3, 8)), draw(st.integers(3, 8))),
             }[family]()
    main = naming.input_name(draw, naming.avoid_names(blocks, {}), "ids" if family == "tokens" else "x")
    inputs = [(main, Val(shape, "int" if family == "tokens" else "float"))]
    label = naming.input_name(draw, naming.avoid_names(blocks, {}) | {main}, "label")
    return inputs + ([(label, Val(("B",), "int"))] if draw(st.integers(0, 3)) == 0 else [])


def network_block(draw, name: str, inputs: list, helpers: list, blocks: set, lazy: bool = True) -> tuple:
    """A network block: (text, its Body, the config its declaration passes)."""
    aliases, passed, taken = {}, [], blocks | {n for n, _ in inputs}
    main = inputs[0][1]
    if main.dtype == "float" and known(main.shape[-1]) and draw(st.integers(0, 3)) == 0:
        aliases[main.shape[-1]] = naming.size_name(draw, "D", taken)  # Net(D=8)
        passed.append(f"{aliases[main.shape[-1]]}={main.shape[-1]}")
    b = Body(draw, aliases, helpers, lazy_inputs=lazy, avoid=naming.avoid_names(taken, aliases))
    cfg = _config(b)
    if b.width_param and draw(st.booleans()):
        passed.append(f"{b.width_param}={draw(st.integers(1, 6))}")
    for n, v in inputs:
        b.add_input(n, v)
    _steps(b, GENERAL, draw(st.integers(2, 7)))
    for n in [n for n in b.unused if b.names[n].dtype == "int"]:  # every input is used
        b.step(n, b.names[n].shape + (4,), f"{n} -> embedding(3, 4)", reuse=False)
    b.lines.append("return " + ", ".join(b.unused))
    b.outs = [b.names[n] for n in b.unused]
    return _block(b, name, b.outs, cfg), b, passed


@st.composite
def specs(draw) -> str:
    """A whole well-formed spec: a constant, helpers, one or two networks, maybe a flow."""
    parts = [f"const HID = {draw(st.integers(2, 4))} * 2\n"]
    names = naming.helper_names(draw, draw(st.integers(0, 2)))
    blocks = set(names) | {"Net", "Head", "Other"}
    inputs, helpers = start_inputs(draw, blocks), []
    main = inputs[0][1]
    if main.dtype == "float" and known(main.shape[-1]):
        for name in names:
            text, helper = helper_block(draw, name, main.shape, helpers, blocks)
            parts.append(text)
            helpers.append(helper)
    text, net, passed = network_block(draw, "Net", inputs, helpers, blocks)
    parts.append(text)
    model = ("@fp16\n" if draw(st.integers(0, 9)) == 0 else "") + "model M {\n"
    role = draw(st.sampled_from(["network", "encoder", "classifier", "backbone"]))
    nets = naming.network_names(draw, blocks | {n for n, _ in net.inputs})
    precision = draw(st.sampled_from(["", "", "", " @bf16", " @fp32"]))
    model += f"    {role} {nets[0]} = Net({', '.join(passed)}){precision}\n"
    mode = draw(st.sampled_from(["one", "one", "flow", "side", "twice"]))
    head_in = naming.head_shape(net.outs[0].shape)
    if mode == "flow" and head_in:  # a head network reads the first output
        head_in = [("h", Val(head_in))]
        text, head, head_passed = network_block(draw, "Head", head_in, [], blocks, lazy=False)
        parts.append(text)
        types = Body(draw, {}, [], False)  # the model knows no size names but B and T
        model += naming.flow_text(draw, [(n, types.type_text(v)) for n, v in net.inputs], len(net.outs),
                                  len(head.outs), nets, head_passed, blocks)
    elif mode == "side":  # two networks side by side, no flow
        text, _, other_passed = network_block(draw, "Other", start_inputs(draw, blocks), [], blocks)
        parts.append(text)
        model += f"    network {nets[1]} = Other({', '.join(other_passed)})\n"
    elif mode == "twice":  # Net again, at another width when it has one: classes Net and Net_2
        other = [a for a in passed if not a.startswith(f"{net.width_param}=")]
        other += [f"{net.width_param}={draw(st.integers(1, 6))}"] if net.width_param else []
        model += f"    network {nets[1]} = Net({', '.join(other)})\n"
    return "\n".join(parts + [model + "}\n"])
