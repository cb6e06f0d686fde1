"""Attention and positions: attention, split_heads, merge_heads, rope, position encodings.

Each ``declare`` is the whole story of one op.  ``attention`` is the one
primitive; multi-head attention, transformer blocks, GPT-2, Llama and MLA
are ``.agq`` blocks built from it (see ``agqc/stdlib``).  Layouts: merged
``[B, T, heads*d]`` (give ``heads=``) or split ``[B, H, T, d]``.
"""
from __future__ import annotations

from ..errorcodes import Code
from ..types import Dim, TensorType, dim_add, dim_mul, is_known
from .registry import Arg, OpCall, OpDef, ShapeError, declare, module_lowering
from .shapes import known, need_rank

_HEADS = dict(valid=lambda v: v is None or v >= 1, valid_text="at least 1")


def _per_head(t: TensorType, heads: int, what: str, index: int, arg: str) -> int:
    features = known(t.shape[-1], f"attention's {what} features", t, index)
    if features % heads:  # reported at the `heads=` (or `kv_heads=`) that does not fit
        raise ShapeError(f"attention: {what} features {features} do not split into {heads} heads",
                         expected=f"a multiple of {heads} features", found=str(t), input_index=index,
                         code=Code.BAD_HEADS, arg=arg)
    return features // heads


def _split_layout(c: OpCall):
    """(B, H, Hkv, T, S, d_qk, d_v) for [B, T, heads*d] inputs."""
    q, k, v = c.inputs[:3]
    heads = c.args["heads"]
    if heads is None:
        raise ShapeError("attention on [B, T, features] tensors needs `heads=`; on [B, H, T, d] it needs none",
                         code=Code.MISSING_ARG)
    kv_heads = c.args["kv_heads"] or heads
    for i, t in ((1, k), (2, v)):
        need_rank(t, (3,), "attention's key and value (like the query)", i)
    kv_arg = "heads" if c.args["kv_heads"] is None else "kv_heads"
    dq, dk, dv = (_per_head(q, heads, "query", 0, "heads"), _per_head(k, kv_heads, "key", 1, kv_arg),
                  _per_head(v, kv_heads, "value", 2, kv_arg))
    return q.shape[0], heads, kv_heads, q.shape[1], k.shape[1], (dq, dk), dv


def _heads_layout(c: OpCall):
    q, k, v = c.inputs[:3]
    for i, t in ((1, k), (2, v)):
        need_rank(t, (4,), "attention's key and value (like the query)", i)
    if c.args["heads"] not in (None, q.shape[1]):
        raise ShapeError(f"attention: heads={c.args['heads']} but the query already has {q.shape[1]} heads",
                         found=str(q), code=Code.BAD_HEADS, arg="heads")
    if c.args["kv_heads"] not in (None, k.shape[1]):
        raise ShapeError(f"attention: kv_heads={c.args['kv_heads']} but the key already has {k.shape[1]} heads",
                         found=str(k), input_index=1, code=Code.BAD_HEADS, arg="kv_heads")
    if k.shape[1] != v.shape[1]:
        raise ShapeError("attention: key and value need the same number of heads", expected=str(k), found=str(v),
                         input_index=2)
    return q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], (q.shape[3], k.shape[3]), v.shape[3]


def _attention_infer(c: OpCall):
    q, k, v = c.inputs[:3]
    need_rank(q, (3, 4), "attention's query", 0)
    B, H, Hkv, T, S, (dq, dk), dv = (_split_layout if q.rank == 3 else _heads_layout)(c)
    if dq != dk:
        raise ShapeError(f"attention: query and key dimensions disagree ({dq} vs {dk} per head)",
                         expected=f"keys with {dq} features per head", found=str(k), input_index=1)
    if is_known(H) and is_known(Hkv) and H % Hkv:
        raise ShapeError(f"attention: {H} query heads cannot share {Hkv} key/value heads",
                         expected=f"key/value heads dividing {H}", found=str(k), input_index=1, code=Code.BAD_HEADS,
                         arg="kv_heads")
    if (k.shape[0], k.shape[-2 if k.rank == 4 else 1]) != (v.shape[0], v.shape[-2 if v.rank == 4 else 1]) or \
            k.shape[0] != B:
        raise ShapeError("attention: query, key and value need one batch, and key and value one length",
                         expected=f"[{B}, {S}, ...]", found=str(v), input_index=2)
    _check_mask(c, B, S)
    _check_bias(c, B, H, T, S)
    return [TensorType((B, T, dim_mul(H, dv))) if q.rank == 3 else TensorType((B, H, T, dv))]


def _check_mask(c: OpCall, B, S) -> None:
    mask = c.tensor("mask")
    if mask is not None and mask.dtype != "int":  # a float mask (0 / -inf) would be read the other way round
        raise ShapeError("attention: the key-padding mask holds integers, nonzero for a real key and 0 for padding",
                         expected=f"int[{B}, {S}]", found=str(mask), input_index=c.args["mask"], arg="mask",
                         code=Code.DTYPE_MISMATCH)
    if mask is not None and mask.shape != (B, S):
        raise ShapeError("attention: the key-padding mask must be [batch, keys]", expected=f"int[{B}, {S}]",
                         found=str(mask), input_index=c.args["mask"], arg="mask")


def _check_bias(c: OpCall, B, H, T, S) -> None:
    bias = c.tensor("bias")
    if bias is None:
        return
    if bias.dtype != "float" or bias.rank != 4 or bias.shape[0] not in (B, 1) or bias.shape[1:] != (H, T, S):
        raise ShapeError("attention: the bias is added to the scores, one [queries, keys] map per head",
                         expected=f"[{B}, {H}, {T}, {S}]", found=str(bias), input_index=c.args["bias"], arg="bias")


def _attention_macs(c: OpCall) -> Dim:
    q, k, v = c.inputs[:3]
    scores = dim_mul(*q.shape[:-1], k.shape[-2 if k.rank == 4 else 1], q.shape[-1])
    mix = dim_mul(*c.out.shape[:-1], k.shape[-2 if k.rank == 4 else 1], c.out.shape[-1])
    return dim_add(scores, mix)  # both grow with queries x keys: T*T for self-attention


def _attention_lower(e):
    a = e.call.args
    opts = []
    if e.call.x.rank == 3:
        opts.append(f"heads={a['heads']}")
        if a["kv_heads"] not in (None, a["heads"]):
            opts.append(f"kv_heads={a['kv_heads']}")
    if a["causal"]:
        opts.append("causal=True")
    opts += [f"{name}={e.inputs[a[name]]}" for name in ("mask", "bias") if a[name] is not None]
    if a["dropout"]:
        opts.append(f"dropout={a['dropout']} if self.training else 0.0")
    return None, f"attention({', '.join(e.inputs[:3] + opts)})"


def _attention_label(c: OpCall) -> str:
    heads = c.args["heads"] or c.x.shape[1]
    extras = [w for w, on in (("causal", c.args["causal"]), ("masked", c.args["mask"] is not None),
                              ("+bias", c.args["bias"] is not None)) if on]
    # `8 heads`, never `×8`: in a drawing `×N` means N copies of a block
    return f"attention, {heads} head{'s' if heads != 1 else ''}" + (f" ({', '.join(extras)})" if extras else "")


declare(OpDef(
    "attention", "scaled dot-product attention softmax(q k^T / sqrt(d) + bias) v, per head", 3,
    (Arg("heads", "int?", None, **_HEADS), Arg("kv_heads", "int?", None, **_HEADS), Arg("causal", "bool", False),
     Arg("dropout", "float", 0.0, valid=lambda v: 0 <= v < 1, valid_text="in [0, 1)")),
    _attention_infer, params=lambda c: 0, macs=_attention_macs, lower=_attention_lower, label=_attention_label,
    tensor_args=("mask", "bias"), helpers=("attention",),
))


# ---- heads ---------------------------------------------------------------------------
def _split_heads_infer(c: OpCall):
    need_rank(c.x, (3,), "split_heads")
    heads = c.args["heads"]
    features = known(c.x.shape[-1], "split_heads' features", c.x)
    if features % heads:
        raise ShapeError(f"split_heads: {features} features do not split into {heads} heads",
                         expected=f"a multiple of {heads} features", found=str(c.x), code=Code.BAD_HEADS, arg="heads")
    return [TensorType((c.x.shape[0], heads, c.x.shape[1], features // heads))]


declare(OpDef(
    "split_heads", "[B, T, heads*d] -> [B, heads, T, d]", 1, (Arg("heads", "int", valid=lambda v: v >= 1,
                                                                   valid_text="at least 1"),),
    _split_heads_infer, params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"{e.inputs[0]}.unflatten(-1, ({e.call.args['heads']}, -1)).transpose(1, 2)"),
    label=lambda c: f"split into {c.args['heads']} heads",
))


def _merge_heads_infer(c: OpCall):
    need_rank(c.x, (4,), "merge_heads")
    B, H, T, d = c.x.shape
    return [TensorType((B, T, dim_mul(H, d)))]


declare(OpDef(
    "merge_heads", "[B, heads, T, d] -> [B, T, heads*d]", 1, (), _merge_heads_infer, params=lambda c: 0,
    macs=lambda c: 0, lower=lambda e: (None, f"{e.inputs[0]}.transpose(1, 2).flatten(2)"),
    label=lambda c: "merge heads",
))


# ---- positions -----------------------------------------------------------------------
def _even_last(name: str, rank: int, pattern: str):
    def infer(c: OpCall):
        need_rank(c.x, (rank,), name)
        d = c.x.shape[-1]
        if is_known(d) and d % 2:
            raise ShapeError(f"{name} pairs up features, so it needs an even number of them, found {d}",
                             expected=pattern, found=str(c.x), code=Code.BAD_VALUE)
        return [c.x]
    return infer


declare(OpDef(
    "rope", "rotary position embedding (Su et al. 2021) of queries or keys split into heads, [B, H, T, d]", 1,
    (Arg("base", "float", 10000.0),), _even_last("rope", 4, "[B, H, T, d] with d even"),
    params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"rotary({e.inputs[0]}" + (f", base={e.call.args['base']})"
                                                    if e.call.args["base"] != 10000.0 else ")")),
    label=lambda c: "rotary positions", helpers=("rotary",),
))

declare(OpDef(
    "sinusoidal_positions", "x + the fixed sine/cosine position table (Vaswani et al. 2017), [B, T, D]", 1, (),
    _even_last("sinusoidal_positions", 3, "[B, T, D] with D even"), params=lambda c: 0, macs=lambda c: 0,
    lower=lambda e: (None, f"sinusoidal_positions({e.inputs[0]})"),
    label=lambda c: "+ sinusoidal positions", helpers=("sinusoidal_positions",),
))


def _learned_infer(c: OpCall):
    need_rank(c.x, (3,), "learned_positions")
    known(c.x.shape[-1], "learned_positions' features", c.x)
    T, most = c.x.shape[1], c.args["max_len"]
    if is_known(T) and T > most:
        raise ShapeError(f"learned_positions has {most} positions but the sequence is {T} long", found=str(c.x),
                         code=Code.BAD_VALUE, arg="max_len")
    return [c.x]


@module_lowering
def _learned_lower(e):
    x = e.inputs[0]
    return (f"nn.Embedding({e.call.args['max_len']}, {e.call.x.shape[-1]}{e.dtype_kw()})",
            f"{x} + {e.attr}(torch.arange({x}.size(1), device={x}.device))")


declare(OpDef(
    "learned_positions", "x + a learned vector per position (GPT-2's wpe), [B, T, D]", 1,
    (Arg("max_len", "int", valid=lambda v: v >= 1, valid_text="at least 1"),), _learned_infer,
    params=lambda c: c.args["max_len"] * c.x.shape[-1], macs=lambda c: 0, lower=_learned_lower,
    label=lambda c: f"+ learned positions {c.args['max_len']}",
))
