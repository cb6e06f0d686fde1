"""Sequence and token ops: rnn, lstm, gru, class_token, patches, split, expand, pad.

Each ``declare`` is the whole story of one op.  Recurrent layers read
``[B, T, features]`` (batch first) and give two tensors: every step's
output ``[B, T, hidden]`` and the last layer's final state ``[B, hidden]``.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import Dim, TensorType, dim_add, dim_mul, is_known
from .registry import Arg, OpCall, OpDef, ShapeError, Sym, TensorRT, declare, module_lowering
from .shapes import known, need_rank

_AT_LEAST_1 = dict(valid=lambda v: v >= 1, valid_text="at least 1")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


# ---- recurrent layers ----------------------------------------------------------------
def _recurrent_infer(name: str):
    def infer(c: OpCall):
        if c.x.rank != 3:
            what = "an image" if c.x.rank == 4 else f"a rank-{c.x.rank} tensor"
            hint = ""
            if c.x.rank == 4 and c.x.shape[1] == 1 and all(map(is_known, c.x.shape[2:])):  # one channel: rows
                hint = f" (an image's rows as steps: `reshape({c.x.shape[2]}, {c.x.shape[3]})` first)"
            raise ShapeError(f"{name} reads sequences [batch, steps, features], found {what}",
                             expected="[B, T, F]" + hint, found=str(c.x), code=Code.SHAPE_MISMATCH)
        known(c.x.shape[-1], f"{name}'s input features", c.x)
        B, T = c.x.shape[:2]
        return [TensorType((B, T, c.args["hidden"])), TensorType((B, c.args["hidden"]))]
    return infer


def _recurrent_params(name: str):
    def params(c: OpCall) -> int:
        gates, hidden, features = GATES[name], c.args["hidden"], c.x.shape[-1]
        first = gates * (hidden * features + hidden * hidden + 2 * hidden)  # two bias vectors, as in PyTorch
        return first + (c.args["layers"] - 1) * gates * (2 * hidden * hidden + 2 * hidden)
    return params


def _recurrent_macs(name: str):
    def macs(c: OpCall) -> Dim:
        gates, hidden, features = GATES[name], c.args["hidden"], c.x.shape[-1]
        per_step = gates * hidden * (features + hidden) + (c.args["layers"] - 1) * gates * 2 * hidden * hidden
        return dim_mul(*c.x.shape[:2], per_step)
    return macs


def _recurrent_lower(cls: str):
    @module_lowering
    def lower(e):
        a = e.call.args
        layers = f", num_layers={a['layers']}" if a["layers"] != 1 else ""
        return (f"nn.{cls}({e.call.x.shape[-1]}, {a['hidden']}{layers}, batch_first=True{e.dtype_kw()})",
                f"sequence_and_last({e.attr}({e.inputs[0]}))")
    return lower


for _name, _cls, _what in (("rnn", "RNN", "Elman recurrent layer (tanh)"), ("gru", "GRU", "gated recurrent unit"),
                           ("lstm", "LSTM", "long short-term memory")):
    declare(OpDef(
        _name, f"{_what} over [B, T, F]: gives every step's output [B, T, hidden] and the final state [B, hidden]",
        1, (Arg("hidden", "int", **_AT_LEAST_1), Arg("layers", "int", 1, **_AT_LEAST_1)),
        _recurrent_infer(_name), params=_recurrent_params(_name), macs=_recurrent_macs(_name),
        lower=_recurrent_lower(_cls), label=lambda c, n=_name: f"{n} {c.args['hidden']}"
        + (f" \u00d7{c.args['layers']} layers" if c.args["layers"] > 1 else ""),
        helpers=("sequence_and_last",), tensorrt=TensorRT.RECURRENT,
        aten=(f"aten.{'rnn_tanh' if _name == 'rnn' else _name}.input",),
    ))


# ---- tokens --------------------------------------------------------------------------
def _class_token_infer(c: OpCall):
    need_rank(c.x, (3,), "class_token")
    known(c.x.shape[-1], "class_token's features", c.x)
    return [TensorType((c.x.shape[0], 1, c.x.shape[-1]))]


@module_lowering
def _class_token_lower(e):
    x = e.inputs[0]
    return (f"nn.Parameter(0.02 * torch.randn(1, 1, {e.call.x.shape[-1]}{e.dtype_kw()}))",
            f"{e.attr}.expand({x}.size(0), -1, -1)")


declare(OpDef(
    "class_token", "a learned token [B, 1, D] for tokens [B, T, D] (ViT's and ParticleTransformer's class token)",
    1, (), _class_token_infer, params=lambda c: c.x.shape[-1], macs=lambda c: 0, lower=_class_token_lower,
    label=lambda c: "class token",
))


def _patches_infer(c: OpCall):
    need_rank(c.x, (4,), "patches")
    size = c.args["size"]
    for d in c.x.shape[2:]:
        side = known(d, "patches' image side", c.x)
        if side % size:
            raise ShapeError(f"patches: an image side of {side} does not split into patches of {size}",
                             expected=f"sides that are multiples of {size}", found=str(c.x), code=Code.BAD_VALUE,
                             arg="size")
    count = (c.x.shape[2] // size) * (c.x.shape[3] // size)
    return [TensorType((c.x.shape[0], count, c.args["dim"]))]


@module_lowering
def _patches_lower(e):
    a = e.call.args
    return (f"{e.module_class('Conv2d')}({e.call.x.shape[1]}, {a['dim']}, kernel_size={a['size']}, "
            f"stride={a['size']}{e.dtype_kw()}{e.quant_kw()})",
            f"{e.attr}({e.inputs[0]}).flatten(2).transpose(1, 2)")


declare(OpDef(
    "patches", "patch embedding: [B, C, H, W] -> [B, (H/size)*(W/size), dim], one linear map per size x size patch",
    1, (Arg("size", "int", **_AT_LEAST_1), Arg("dim", "int", **_AT_LEAST_1)), _patches_infer,
    params=lambda c: c.x.shape[1] * c.args["size"] ** 2 * c.args["dim"] + c.args["dim"],
    quantized_params=lambda c: c.x.shape[1] * c.args["size"] ** 2 * c.args["dim"], channels=lambda c: c.args["dim"],
    macs=lambda c: dim_mul(c.x.shape[0], c.out.shape[1], c.x.shape[1] * c.args["size"] ** 2 * c.args["dim"]),
    lower=_patches_lower, label=lambda c: f"patches {c.args['size']}x{c.args['size']} \u2192 {c.args['dim']}",
))


# ---- slicing and shaping -------------------------------------------------------------
def _axis(c: OpCall, name: str) -> int:
    dim = c.args["dim"]
    if not -c.x.rank <= dim < c.x.rank:
        raise ShapeError(f"{name} dim {dim} is out of range for rank {c.x.rank}", found=str(c.x), code=Code.BAD_VALUE,
                         arg="dim")
    return dim % c.x.rank


def _split_sizes(c: OpCall) -> tuple[Dim, ...]:
    return tuple(s.name if isinstance(s, Sym) else s for s in c.args["sizes"])


def _split_infer(c: OpCall):
    axis, sizes = _axis(c, "split"), _split_sizes(c)
    if len(sizes) < 2 or any(isinstance(s, int) and s < 1 for s in sizes):
        raise ShapeError("split needs two or more positive sizes, e.g. split(x, 128, 64)", code=Code.BAD_VALUE)
    total, have = dim_add(*sizes), c.x.shape[axis]
    if total != have:  # symbolic sizes too: split(x, 1, T - 1) along T
        hint = "" if is_known(have) else f" (a symbolic size splits into pieces like {sizes[0]}, {have} - {sizes[0]})"
        raise ShapeError(f"split: sizes {' + '.join(map(str, sizes))} = {total} do not add up to "
                         f"{have}, the size of dimension {c.args['dim']}{hint}",
                         expected=f"{total} along dim {c.args['dim']}", found=str(c.x))
    return [TensorType(c.x.shape[:axis] + (s,) + c.x.shape[axis + 1:], c.x.dtype) for s in sizes]


def _split_lower(e):
    sizes = ", ".join(e.dim(s) for s in _split_sizes(e.call))
    return None, f"torch.split({e.inputs[0]}, [{sizes}], dim={e.call.args['dim']})"


declare(OpDef(
    "split", "cut a tensor into consecutive pieces of the given sizes along one dimension (several outputs)", 1,
    (Arg("sizes", "dim", variadic=True), Arg("dim", "int", -1, keyword=True)), _split_infer, params=lambda c: 0,
    macs=lambda c: 0, input_dtype="any", lower=_split_lower,
    label=lambda c: "split " + " | ".join(map(str, _split_sizes(c))),
))


def _expand_infer(c: OpCall):
    axis = _axis(c, "expand")
    if c.x.shape[axis] != 1:
        raise ShapeError(f"expand repeats a dimension of size 1, but dimension {c.args['dim']} is "
                         f"{c.x.shape[axis]}", found=str(c.x), code=Code.BAD_VALUE)
    return [TensorType(c.x.shape[:axis] + (c.args["size"],) + c.x.shape[axis + 1:], c.x.dtype)]


def _expand_lower(e):
    axis = e.call.args["dim"] % e.call.x.rank
    sizes = ["-1"] * e.call.x.rank
    sizes[axis] = str(e.call.args["size"])
    return None, f"{e.inputs[0]}.expand({', '.join(sizes)})"


declare(OpDef(
    "expand", "repeat a size-1 dimension `size` times without copying (one key shared by every head)", 1,
    (Arg("size", "int", **_AT_LEAST_1), Arg("dim", "int", 1)), _expand_infer, params=lambda c: 0,
    macs=lambda c: 0, input_dtype="any", lower=_expand_lower, label=lambda c: f"expand \u00d7{c.args['size']}",
))


def _pad_infer(c: OpCall):
    last = c.x.shape[-1]
    grow = c.args["before"] + c.args["after"]
    size = dim_add(last, grow)
    return [TensorType(c.x.shape[:-1] + (size,), c.x.dtype)]


declare(OpDef(
    "pad", "pad the last dimension with `before` and `after` constant entries", 1,
    (Arg("before", "int", 0, valid=lambda v: v >= 0, valid_text="at least 0"),
     Arg("after", "int", 0, valid=lambda v: v >= 0, valid_text="at least 0"), Arg("value", "float", 0.0)),
    _pad_infer, params=lambda c: 0, macs=lambda c: 0, input_dtype="any",
    lower=lambda e: (None, f"F.pad({e.inputs[0]}, ({e.call.args['before']}, {e.call.args['after']}), "
                           f"value={e.call.args['value']})"),
    label=lambda c: f"pad {c.args['before']}, {c.args['after']}",
))
