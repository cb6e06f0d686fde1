"""Stateless ops: activations, pooling, reshaping, joins, arithmetic, noise.

Each lowers to one expression in ``forward``; none owns an nn.Module.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import Dim, TensorType, dim_add, dim_mul, format_dims
from .registry import Arg, Draw, OpCall, OpDef, ShapeError, Sym, declare
from .shapes import broadcast, conv_out, known, need_rank, positive


def _same(c: OpCall):
    return [c.x]


def _elementwise(name: str, summary: str, expr: str, args=(), sensitive=False, label=None):
    declare(OpDef(
        name, summary, 1, args, _same, params=lambda c: 0, macs=lambda c: 0,
        lower=lambda e: (None, expr.format(x=e.inputs[0], **e.call.args)),
        label=label or (lambda c: name), precision_sensitive=sensitive,
    ))


_elementwise("relu", "max(x, 0)", "F.relu({x})")
declare(OpDef(
    "gelu", "Gaussian error linear unit (approximate=\"tanh\": GPT-2's version)", 1,
    (Arg("approximate", "str", "none", choices=("none", "tanh")),), _same, params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"F.gelu({e.inputs[0]}" + (", approximate='tanh')" if e.call.args["approximate"] == "tanh"
                                                    else ")")),
    label=lambda c: "gelu" + (" (tanh)" if c.args["approximate"] == "tanh" else ""),
))
_elementwise("silu", "x * sigmoid(x) (swish)", "F.silu({x})")
_elementwise("tanh", "hyperbolic tangent", "torch.tanh({x})")
_elementwise("sigmoid", "logistic function", "torch.sigmoid({x})")
_elementwise("leaky_relu", "max(x, slope * x)", "F.leaky_relu({x}, {slope})",
             args=(Arg("slope", "float", 0.01),), label=lambda c: f"leaky_relu {c.args['slope']}")


def _softmax_infer(c: OpCall):
    dim = c.args["dim"]
    if not -c.x.rank <= dim < c.x.rank:
        raise ShapeError(f"softmax dim {dim} is out of range for rank {c.x.rank}", found=str(c.x),
                         code=Code.BAD_VALUE)
    return [c.x]


declare(OpDef(
    "softmax", "normalised exponential along one dimension", 1, (Arg("dim", "int", -1),), _softmax_infer,
    params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"F.softmax({e.inputs[0]}, dim={e.call.args['dim']})"),
    label=lambda c: "softmax", precision_sensitive=True,
))


# ---- pooling -----------------------------------------------------------------
def _pool(kind: str, spatial: int):
    name = f"{kind}_pool{spatial}d"

    def infer(c: OpCall):
        need_rank(c.x, (2 + spatial,), name)
        a = c.args
        stride = a["stride"] if a["stride"] is not None else a["kernel"]
        positive(a["kernel"], "kernel")
        positive(stride, "stride")
        if a["padding"] * 2 > a["kernel"]:
            raise ShapeError(f"{name}: padding {a['padding']} is more than half the kernel {a['kernel']}",
                             code=Code.BAD_VALUE)
        sizes = tuple(conv_out(known(d, f"{name}'s spatial size", c.x), a["kernel"], stride, a["padding"], 1,
                               name, c.x) for d in c.x.shape[2:])
        return [TensorType(c.x.shape[:2] + sizes)]

    def lower(e):
        a = e.call.args
        extra = (f", stride={a['stride']}" if a["stride"] is not None else "") + (
            f", padding={a['padding']}" if a["padding"] else "")
        return None, f"F.{name}({e.inputs[0]}, {a['kernel']}{extra})"

    declare(OpDef(
        name, f"{kind} pooling over a {spatial}-D window", 1,
        (Arg("kernel", "int"), Arg("stride", "int?", None), Arg("padding", "int", 0)), infer,
        params=lambda c: 0, macs=lambda c: 0, lower=lower,
        label=lambda c: f"{name} {c.args['kernel']}",
    ))


def _adaptive(kind: str, spatial: int):
    name = f"adaptive_{kind}_pool{spatial}d"

    def infer(c: OpCall):
        need_rank(c.x, (2 + spatial,), name)
        positive(c.args["size"], "size")
        return [TensorType(c.x.shape[:2] + (c.args["size"],) * spatial)]

    declare(OpDef(
        name, f"{kind} pooling to a fixed {spatial}-D output size", 1, (Arg("size", "int"),), infer,
        params=lambda c: 0, macs=lambda c: 0,
        lower=lambda e: (None, f"F.{name}({e.inputs[0]}, {e.call.args['size']})"),
        label=lambda c: f"{name} {c.args['size']}",
    ))


for _kind in ("max", "avg"):
    for _s in (1, 2):
        _pool(_kind, _s)
        _adaptive(_kind, _s)


# ---- reshaping -----------------------------------------------------------------
def _flatten_infer(c: OpCall):
    if c.x.rank < 2:
        raise ShapeError("flatten keeps dimension 0 and needs at least one more", found=str(c.x))
    return [TensorType((c.x.shape[0], dim_mul(*c.x.shape[1:])))]


declare(OpDef(
    "flatten", "[B, d1, d2, ...] -> [B, d1*d2*...]", 1, (), _flatten_infer,
    params=lambda c: 0, macs=lambda c: 0, lower=lambda e: (None, f"{e.inputs[0]}.flatten(1)"),
    label=lambda c: "flatten",
))


def _dims_value(values) -> tuple[Dim, ...]:
    return tuple(v.name if isinstance(v, Sym) else v for v in values)


def _reshape_infer(c: OpCall):
    dims = _dims_value(c.args["dims"])
    if not dims:
        raise ShapeError("reshape needs the new sizes after dimension 0, e.g. reshape(128, 7, 7)",
                         code=Code.MISSING_ARG)
    for d in dims:
        if isinstance(d, int):
            positive(d, "a reshape size")
    have, want = dim_mul(*c.x.shape[1:]), dim_mul(*dims)
    if have != want:
        raise ShapeError(f"reshape cannot turn {format_dims(c.x.shape[1:])} ({have} elements per item) "
                         f"into {format_dims(dims)} ({want})",
                         expected=f"{want} elements after dimension 0", found=str(c.x))
    return [TensorType((c.x.shape[0],) + dims)]


declare(OpDef(
    "reshape", "[B, ...] -> [B, *dims]: keeps dimension 0, regroups the rest", 1,
    (Arg("dims", "dim", variadic=True),), _reshape_infer, params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"{e.inputs[0]}.reshape({e.inputs[0]}.size(0), "
                           + ", ".join(e.dim(d) for d in _dims_value(e.call.args["dims"])) + ")"),
    label=lambda c: "reshape " + format_dims(_dims_value(c.args["dims"])),
))


# ---- joins and arithmetic ---------------------------------------------------------
def _concat_infer(c: OpCall):
    first, dim = c.inputs[0], c.args["dim"]
    if not -first.rank <= dim < first.rank:
        raise ShapeError(f"concat dim {dim} is out of range for rank {first.rank}", found=str(first),
                         code=Code.BAD_VALUE)
    axis = dim % first.rank
    for i, t in enumerate(c.inputs[1:], start=1):
        if t.rank != first.rank:
            raise ShapeError(f"concat: every input needs the same rank; input 1 has rank {first.rank}, "
                             f"input {i + 1} rank {t.rank}", expected=str(first), found=str(t), input_index=i)
        others = [d for k, d in enumerate(t.shape) if k != axis]
        if t.rank != first.rank or others != [d for k, d in enumerate(first.shape) if k != axis]:
            raise ShapeError(f"concat along dim {dim}: all other dimensions must agree",
                             expected=str(first), found=str(t), input_index=i)
    return [TensorType(first.shape[:axis] + (_sum(c.inputs, axis),) + first.shape[axis + 1:])]


def _sum(inputs: list[TensorType], axis: int) -> Dim:
    return dim_add(*(t.shape[axis] for t in inputs))


declare(OpDef(
    "concat", "join tensors along one dimension", -1, (Arg("dim", "int", -1),), _concat_infer,
    params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"torch.cat([{', '.join(e.inputs)}], dim={e.call.args['dim']})"),
    label=lambda c: "concat", draw=Draw.MERGE,
))


def _binary(name: str, symbol: str, summary: str, glyph: str = ""):
    declare(OpDef(
        name, summary, 2, (), lambda c: [TensorType(broadcast(c.inputs[0], c.inputs[1], name))],
        params=lambda c: 0, macs=lambda c: 0,
        lower=lambda e: (None, f"{e.inputs[0]} {symbol} {e.inputs[1]}"), label=lambda c: glyph or symbol,
        draw=Draw.MERGE,
    ))


_binary("add", "+", "element-wise sum (residual and skip connections)")
_binary("mul", "*", "element-wise product (gating, conditioning)", glyph="\u00d7")


def _scale_label(c: OpCall) -> str:
    factor, offset = c.args["factor"], c.args["offset"]
    sign = "+" if offset >= 0 else "\u2212"
    parts = ([f"\u00d7 {factor:g}"] if factor != 1 else []) + ([f"{sign} {abs(offset):g}"] if offset != 0 else [])
    return " ".join(parts) or "\u00d7 1"


def _scale_expr(x: str, factor: float, offset: float) -> str:
    """``x * 0.02 - 2.0`` as written, without the parts that do nothing."""
    expr = x if factor == 1 else f"{x} * {float(factor)!r}"
    if offset:
        expr = f"{expr} {'+' if offset > 0 else '-'} {abs(float(offset))!r}"
    return f"({expr})" if expr != x else x


# `x * 0.5`, `x - 1`, `2 * x + 1`: a tensor and a number meet in one of these (agqc/calls.py's tensor_binop).
declare(OpDef(
    "scale", "x * factor + offset, by constants (nothing learned): what `x * 0.5 - 1` means", 1,
    (Arg("factor", "float", 1.0), Arg("offset", "float", 0.0)), _same, params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, _scale_expr(e.inputs[0], e.call.args["factor"], e.call.args["offset"])),
    label=_scale_label,
))


# ---- sampling -------------------------------------------------------------------
def _normal_infer(c: OpCall):
    dims = _dims_value(c.args["dims"])
    if not dims:
        raise ShapeError("normal needs the sizes of the noise, e.g. normal(B, 100)", code=Code.MISSING_ARG)
    for d in dims:
        if isinstance(d, int):
            positive(d, "a noise size")
    return [TensorType(dims)]


def _normal_lower(e):
    sizes = ", ".join(e.dim(d) for d in _dims_value(e.call.args["dims"]))
    return None, f"torch.randn({sizes}, device={e.device}{e.dtype_kw()})"


declare(OpDef(
    "normal", "standard normal noise of the given shape (a GAN's latent input)", 0,
    (Arg("dims", "dim", variadic=True),), _normal_infer, params=lambda c: 0, macs=lambda c: 0,
    lower=_normal_lower, label=lambda c: "noise ~ N(0, 1)", random=True, draw=Draw.NOISE, aten=("aten.randn.default",),
))


def _reparam_infer(c: OpCall):
    mu, logvar = c.inputs
    if mu.shape != logvar.shape:
        raise ShapeError("reparameterise needs mu and logvar of the same shape",
                         expected=str(mu), found=str(logvar), input_index=1)
    return [mu]


declare(OpDef(
    "reparameterise", "z = mu + exp(logvar / 2) * eps, eps ~ N(0, 1) (Kingma & Welling 2013)", 2, (),
    _reparam_infer, params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"{e.inputs[0]} + torch.exp(0.5 * {e.inputs[1]}) * torch.randn_like({e.inputs[0]})"),
    label=lambda c: "sample \u03bc + \u03c3\u00b7\u03b5\n\u03b5 ~ N(0, 1)", random=True, draw=Draw.SAMPLE,
    aten=("aten.randn_like.default",),
))
