"""Ops with weights or state: linear, convolutions, norms, embedding, dropout.

Each ``declare`` is the whole story of one op: arguments, shape rule,
parameter and MAC counts, torch lowering, drawing label.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import TensorType, dim_mul
from .registry import Arg, OpCall, OpDef, ShapeError, TensorRT, declare, module_lowering
from .shapes import conv_out, conv_transpose_out, known, need_rank, positive

_BIAS = Arg("bias", "bool", True)


def _positive(name: str, default=None) -> Arg:
    """An integer argument that must be at least 1 (checked while binding)."""
    from .registry import REQUIRED
    return Arg(name, "int", REQUIRED if default is None else default, valid=lambda v: v >= 1,
               valid_text="at least 1")


# ---- linear ----------------------------------------------------------------
def _linear_infer(c: OpCall):
    if c.x.rank < 1:
        raise ShapeError("linear expects at least one dimension", found=str(c.x))
    features = known(c.x.shape[-1], "linear's input features (last dimension)", c.x)
    positive(c.args["out"], "out")
    if c.args["tie"] is not None:
        _check_tie(c, features)
    return [TensorType(c.x.shape[:-1] + (c.args["out"],))]


def _check_tie(c: OpCall, features: int) -> None:
    """A linear layer that reuses an embedding's [num, dim] table as its [out, in] weight (GPT-2's lm_head)."""
    target, name = c.refs["tie"], c.args["tie"]
    if target["op"] != "embedding":
        raise ShapeError(f"linear can tie its weight to an embedding, but `{name}` is a {target['op']}",
                         code=Code.BAD_TIE, arg="tie")
    num, dim = target["args"]["num"], target["args"]["dim"]
    if (num, dim) != (c.args["out"], features):
        raise ShapeError(f"linear tied to `{name}` needs its table to be [out, in] = [{c.args['out']}, {features}]",
                         expected=f"embedding({c.args['out']}, {features})", found=f"embedding({num}, {dim})",
                         code=Code.BAD_TIE, arg="tie", input_index=None)
    if c.args["bias"]:
        raise ShapeError("a tied linear layer has only the shared weight: add `bias=false`", code=Code.BAD_TIE,
                         arg="tie")


@module_lowering
def _linear_lower(e):
    c = e.call
    if c.args["tie"] is not None:  # no module of its own: the embedding's weight, used transposed
        owner = (c.refs.get("tie") or {}).get("precision")  # a quantised table is used as the owner uses it
        weight = f"self.{c.args['tie']}"
        weight = f"layer_weight({weight})" if owner is not None and owner.quantized else f"{weight}.weight"
        return None, f"F.linear({e.inputs[0]}, {weight})"
    bias = "" if c.args["bias"] else ", bias=False"
    return (f"{e.module_class('Linear')}({c.x.shape[-1]}, {c.args['out']}{bias}{e.dtype_kw()}{e.quant_kw()})",
            f"{e.attr}({e.inputs[0]})")


def _linear_params(c: OpCall) -> int:
    if c.args["tie"] is not None:
        return 0  # counted once, at the embedding
    return c.x.shape[-1] * c.args["out"] + (c.args["out"] if c.args["bias"] else 0)


declare(OpDef(
    "linear", "fully connected layer y = x W^T + b over the last dimension (tie= shares an embedding's table)",
    1, (_positive("out"), _BIAS, Arg("tie", "node", None, keyword=True)), _linear_infer, params=_linear_params,
    macs=lambda c: dim_mul(*c.x.shape[:-1], c.x.shape[-1], c.args["out"]),
    lower=_linear_lower, module_if=lambda a: a.get("tie") is None,
    quantized_params=lambda c: 0 if c.args["tie"] is not None else c.x.shape[-1] * c.args["out"],
    channels=lambda c: c.args["out"],
    label=lambda c: f"linear {c.args['out']}" + (f" (tied to {c.args['tie']})" if c.args["tie"] else ""),
))


# ---- convolutions -----------------------------------------------------------
def _conv_args(transpose: bool = False):
    extra = (Arg("output_padding", "int", 0),) if transpose else (Arg("groups", "int", 1),)
    return (_positive("out"), _positive("kernel"), _positive("stride", 1),
            Arg("padding", "int", 0, valid=lambda v: v >= 0, valid_text="at least 0"),
            _positive("dilation", 1)) + extra + (_BIAS,)


def _conv_infer(spatial: int, name: str):
    def infer(c: OpCall):
        need_rank(c.x, (2 + spatial,), name)
        a = c.args
        channels = known(c.x.shape[1], f"{name}'s input channels", c.x)
        for key in ("out", "kernel", "stride", "dilation", "groups"):
            positive(a[key], key)
        if channels % a["groups"] or a["out"] % a["groups"]:
            raise ShapeError(f"{name}: channels {channels} and out {a['out']} must divide by groups {a['groups']}",
                             found=str(c.x), code=Code.BAD_VALUE)
        sizes = tuple(conv_out(known(d, f"{name}'s spatial size", c.x), a["kernel"], a["stride"],
                               a["padding"], a["dilation"], name, c.x) for d in c.x.shape[2:])
        return [TensorType((c.x.shape[0], a["out"]) + sizes)]
    return infer


def _conv_lower(cls: str, transpose: bool = False):
    @module_lowering
    def lower(e):
        a, c = e.call.args, e.call
        opts = [f"kernel_size={a['kernel']}"]
        opts += [f"{k}={a[k]}" for k in ("stride", "padding", "dilation") if a[k] != (1 if k != "padding" else 0)]
        if transpose and a["output_padding"]:
            opts.append(f"output_padding={a['output_padding']}")
        if not transpose and a["groups"] != 1:
            opts.append(f"groups={a['groups']}")
        if not a["bias"]:
            opts.append("bias=False")
        return (f"{e.module_class(cls)}({c.x.shape[1]}, {a['out']}, {', '.join(opts)}{e.dtype_kw()}{e.quant_kw()})",
                f"{e.attr}({e.inputs[0]})")
    return lower


def _conv_params(c: OpCall, spatial: int) -> int:
    a = c.args
    groups = a.get("groups", 1)
    return c.x.shape[1] // groups * a["out"] * a["kernel"] ** spatial + (a["out"] if a["bias"] else 0)


def _conv_label(c: OpCall, transpose: bool = False) -> str:
    """``3x3, 64``; a stride reads as what it does: ``/2`` shrinks, a transposed convolution's ``×2↑`` grows."""
    a = c.args
    stride = ("" if a["stride"] == 1 else f", \u00d7{a['stride']}\u2191" if transpose else f", /{a['stride']}")
    return f"{a['kernel']}x{a['kernel']}, {a['out']}" + stride


for _spatial in (1, 2):
    declare(OpDef(
        f"conv{_spatial}d", f"{_spatial}-D convolution over [B, C, {'L' if _spatial == 1 else 'H, W'}]",
        1, _conv_args(), _conv_infer(_spatial, f"conv{_spatial}d"),
        params=lambda c, s=_spatial: _conv_params(c, s),
        quantized_params=lambda c, s=_spatial: _conv_params(c, s) - (c.args["out"] if c.args["bias"] else 0),
        channels=lambda c: c.args["out"],
        macs=lambda c, s=_spatial: dim_mul(c.out.shape[0], *c.out.shape[1:],
                                           c.x.shape[1] // c.args["groups"], c.args["kernel"] ** s),
        lower=_conv_lower(f"Conv{_spatial}d"), label=lambda c, s=_spatial: f"conv{s}d " + _conv_label(c),
    ))


def _conv_t_infer(c: OpCall):
    need_rank(c.x, (4,), "conv_transpose2d")
    a = c.args
    known(c.x.shape[1], "conv_transpose2d's input channels", c.x)
    for key in ("out", "kernel", "stride", "dilation"):
        positive(a[key], key)
    sizes = tuple(conv_transpose_out(known(d, "conv_transpose2d's spatial size", c.x), a["kernel"], a["stride"],
                                     a["padding"], a["output_padding"], a["dilation"]) for d in c.x.shape[2:])
    if min(sizes) < 1:
        raise ShapeError("conv_transpose2d: the output would be empty", found=str(c.x), code=Code.BAD_VALUE)
    return [TensorType((c.x.shape[0], a["out"]) + sizes)]


declare(OpDef(
    "conv_transpose2d", "transposed 2-D convolution (learned upsampling) over [B, C, H, W]",
    1, _conv_args(transpose=True), _conv_t_infer,
    params=lambda c: _conv_params(c, 2),
    quantized_params=lambda c: _conv_params(c, 2) - (c.args["out"] if c.args["bias"] else 0),
    channels=lambda c: c.args["out"],
    macs=lambda c: dim_mul(*c.x.shape, c.args["out"], c.args["kernel"] ** 2),
    lower=_conv_lower("ConvTranspose2d", transpose=True),
    label=lambda c: "conv_transpose2d " + _conv_label(c, transpose=True),
))


# ---- normalisation ------------------------------------------------------------
def _batchnorm_infer(c: OpCall):
    need_rank(c.x, (2, 3, 4), "batchnorm")
    known(c.x.shape[1], "batchnorm's channels (dimension 1)", c.x)
    return [c.x]


@module_lowering
def _batchnorm_lower(e):
    c = e.call
    kind = "BatchNorm2d" if c.x.rank == 4 else "BatchNorm1d"
    opts = "".join(f", {k}={c.args[k]}" for k, d in (("eps", 1e-5), ("momentum", 0.1)) if c.args[k] != d)
    return f"nn.{kind}({c.x.shape[1]}{opts}{e.dtype_kw()})", f"{e.attr}({e.inputs[0]})"


declare(OpDef(
    "batchnorm", "batch normalisation over dimension 1 (features or channels)",
    1, (Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1)), _batchnorm_infer,
    params=lambda c: 2 * c.x.shape[1], macs=lambda c: dim_mul(*c.x.shape, 2),
    lower=_batchnorm_lower, label=lambda c: "batchnorm", precision_sensitive=True,
))


def _layernorm_infer(c: OpCall):
    if c.x.rank < 1:
        raise ShapeError("layernorm expects at least one dimension", found=str(c.x))
    known(c.x.shape[-1], "layernorm's normalised size (last dimension)", c.x)
    return [c.x]


@module_lowering
def _layernorm_lower(e):
    c = e.call
    eps = f", eps={c.args['eps']}" if c.args["eps"] != 1e-5 else ""
    bias = "" if c.args["bias"] else ", bias=False"
    return f"nn.LayerNorm({c.x.shape[-1]}{eps}{bias}{e.dtype_kw()})", f"{e.attr}({e.inputs[0]})"


declare(OpDef(
    "layernorm", "layer normalisation over the last dimension",
    1, (Arg("eps", "float", 1e-5), _BIAS), _layernorm_infer,
    params=lambda c: c.x.shape[-1] * (2 if c.args["bias"] else 1), macs=lambda c: dim_mul(*c.x.shape, 2),
    lower=_layernorm_lower, label=lambda c: "layernorm", precision_sensitive=True,
))


def _rmsnorm_infer(c: OpCall):
    need_rank(c.x, (2, 3, 4), "rmsnorm")
    known(c.x.shape[-1], "rmsnorm's normalised size (last dimension)", c.x)
    return [c.x]


@module_lowering
def _rmsnorm_lower(e):
    return (f"nn.RMSNorm({e.call.x.shape[-1]}, eps={e.call.args['eps']}{e.dtype_kw()})",
            f"{e.attr}({e.inputs[0]})")


declare(OpDef(
    "rmsnorm", "root-mean-square normalisation over the last dimension, with a learned scale (Llama)",
    1, (Arg("eps", "float", 1e-6),), _rmsnorm_infer, params=lambda c: c.x.shape[-1],
    macs=lambda c: dim_mul(*c.x.shape, 2), lower=_rmsnorm_lower, label=lambda c: "rmsnorm",
    precision_sensitive=True,
))


# ---- embedding and dropout ------------------------------------------------------
def _embedding_infer(c: OpCall):
    positive(c.args["num"], "num")
    positive(c.args["dim"], "dim")
    return [TensorType(c.x.shape + (c.args["dim"],))]


@module_lowering
def _embedding_lower(e):
    a = e.call.args
    return (f"{e.module_class('Embedding')}({a['num']}, {a['dim']}{e.dtype_kw()}{e.quant_kw()})",
            f"{e.attr}({e.inputs[0]})")


declare(OpDef(
    "embedding", "lookup table: integer ids -> learned vectors",
    1, (_positive("num"), _positive("dim")), _embedding_infer,
    params=lambda c: c.args["num"] * c.args["dim"], macs=lambda c: 0,
    quantized_params=lambda c: c.args["num"] * c.args["dim"], lower=_embedding_lower,
    channels=lambda c: c.args["num"],  # one scale per table row
    label=lambda c: f"embedding {c.args['num']}x{c.args['dim']}",
    input_dtype="int",
))


def _dropout_infer(c: OpCall):
    return [c.x]


@module_lowering
def _dropout_lower(e):
    return f"nn.Dropout({e.call.args['p']})", f"{e.attr}({e.inputs[0]})"


declare(OpDef(
    "dropout", "randomly zeroes elements while training",
    1, (Arg("p", "float", 0.5, valid=lambda p: 0 <= p < 1, valid_text="a probability in [0, 1)"),),
    _dropout_infer, params=lambda c: 0, macs=lambda c: 0,
    lower=_dropout_lower, label=lambda c: f"dropout {c.args['p']}", random=True,
    tensorrt=TensorRT.IDENTITY,
))
