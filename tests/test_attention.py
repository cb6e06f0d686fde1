"""attention and split_heads/merge_heads compute what they claim.

Multi-head attention written in .agq is checked against torch.nn.MultiheadAttention
with the same weights; the rest against the naive softmax of scaled scores written out
here, never against agqc's own helpers. (Positions: tests/test_sequence_ops.py.)
"""
from __future__ import annotations

import math

import pytest
import torch

import agqc

D, H = 8, 2  # model width and heads: small, so the whole file runs in seconds
ATOL = 1e-5


def build(write_spec, text: str):
    spec = agqc.load(write_spec(text))
    torch.manual_seed(0)
    return spec, spec.build().eval()


def heads(x: torch.Tensor, n: int) -> torch.Tensor:
    """[B, T, n*d] -> [B, n, T, d], written out with view/permute (not agqc's split_heads)."""
    B, T, F_ = x.shape
    return x.view(B, T, n, F_ // n).permute(0, 2, 1, 3)


def naive_attention(q, k, v, bias=None, keep=None, causal=False):
    """softmax(q k^T / sqrt(d) + bias) v on [B, H, T, d], one score at a time in spirit."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
    if bias is not None:
        scores = scores + bias
    if keep is not None:  # [B, S], nonzero = a real key
        scores = scores.masked_fill(keep[:, None, None, :] == 0, float("-inf"))
    if causal:
        T, S = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(T, S, dtype=torch.bool).triu(1), float("-inf"))
    out = scores.softmax(-1) @ v
    return out.permute(0, 2, 1, 3).flatten(2)  # back to [B, T, H*d]


# ---- multi-head attention against torch.nn.MultiheadAttention ------------------------
MHA_SPEC = f"""
const D = {D}
const H = {H}

block SelfAttn(x: [B, T, D]) -> [B, T, D] {{
    return attention(x -> linear(D) as q, x -> linear(D) as k, x -> linear(D) as v, heads=H) -> linear(D) as out
}}

block CrossAttn(x: [B, T, D], mem: [B, S, D]) -> [B, T, D] {{
    return attention(x -> linear(D) as q, mem -> linear(D) as k, mem -> linear(D) as v, heads=H)
        -> linear(D) as out
}}

block PaddedAttn(x: [B, T, D], mem: [B, S, D], keep: int[B, S]) -> [B, T, D] {{
    return attention(x -> linear(D) as q, mem -> linear(D) as k, mem -> linear(D) as v, heads=H, mask=keep)
        -> linear(D) as out
}}

block CausalAttn(x: [B, T, D], mem: [B, S, D]) -> [B, T, D] {{
    return attention(x -> linear(D) as q, mem -> linear(D) as k, mem -> linear(D) as v, heads=H, causal=true)
        -> linear(D) as out
}}

block CausalPaddedAttn(x: [B, T, D], mem: [B, S, D], keep: int[B, S]) -> [B, T, D] {{
    return attention(x -> linear(D) as q, mem -> linear(D) as k, mem -> linear(D) as v, heads=H, causal=true,
                     mask=keep) -> linear(D) as out
}}

model M {{
    network self_attn = SelfAttn()
    network cross = CrossAttn()
    network padded = PaddedAttn()
    network causal = CausalAttn()
    network causal_padded = CausalPaddedAttn()
}}
"""


@pytest.fixture(scope="module")
def mha(tmp_path_factory):
    path = tmp_path_factory.mktemp("mha") / "mha.agq"
    path.write_text(MHA_SPEC)
    spec = agqc.load(path)
    torch.manual_seed(0)
    return spec, spec.build().eval()


def torch_mha(net) -> torch.nn.MultiheadAttention:
    """nn.MultiheadAttention holding the compiled network's q, k, v and out weights."""
    ref = torch.nn.MultiheadAttention(D, H, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([net.q.weight, net.k.weight, net.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([net.q.bias, net.k.bias, net.v.bias]))
        ref.out_proj.weight.copy_(net.out.weight)
        ref.out_proj.bias.copy_(net.out.bias)
    return ref


def padding(B: int, S: int, gen) -> torch.Tensor:
    """An int [B, S] mask (1 = real key) with a different number of real keys per row, at least one."""
    lengths = torch.randint(1, S + 1, (B,), generator=gen)
    lengths[0] = S - 2  # at least one row is really padded
    return (torch.arange(S)[None, :] < lengths[:, None]).long()


def test_mha_parameter_count_equals_torch(mha):
    spec, model = mha
    per_net = sum(p.numel() for p in torch_mha(model.cross).parameters())
    assert spec.summary().total_params == 5 * per_net


def test_self_attention_equals_torch(mha):
    _, model = mha
    x = torch.randn(3, 5, D, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, _ = torch_mha(model.self_attn)(x, x, x, need_weights=False)
        torch.testing.assert_close(model.self_attn(x), want, atol=ATOL, rtol=0)


def test_cross_attention_equals_torch(mha):
    _, model = mha
    gen = torch.Generator().manual_seed(2)
    x, mem = torch.randn(3, 4, D, generator=gen), torch.randn(3, 7, D, generator=gen)
    with torch.no_grad():
        want, _ = torch_mha(model.cross)(x, mem, mem, need_weights=False)
        torch.testing.assert_close(model.cross(x, mem), want, atol=ATOL, rtol=0)


def test_key_padding_mask_equals_torch(mha):
    _, model = mha
    gen = torch.Generator().manual_seed(3)
    x, mem = torch.randn(4, 4, D, generator=gen), torch.randn(4, 6, D, generator=gen)
    keep = padding(4, 6, gen)
    with torch.no_grad():
        # torch's key_padding_mask is True where a key is ignored: the opposite of agqc's
        want, _ = torch_mha(model.padded)(x, mem, mem, key_padding_mask=keep == 0, need_weights=False)
        got = model.padded(x, mem, keep)
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
        # and the mask matters: padded keys changed, output unchanged; all keys kept, output differs
        noisy = mem.masked_fill((keep == 0)[..., None], 100.0)
        torch.testing.assert_close(model.padded(x, noisy, keep), got, atol=ATOL, rtol=0)
        assert not torch.allclose(model.padded(x, mem, torch.ones_like(keep)), got, atol=1e-3)


@pytest.mark.parametrize("T, S", [(5, 5), (4, 6)], ids=["square", "cross"])
def test_causal_equals_torch(mha, T, S):
    """causal=true: query i sees keys 0..i, torch's attn_mask = ones(T, S).triu(1) (True = blocked)."""
    _, model = mha
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, T, D, generator=gen)
    mem = x if T == S else torch.randn(2, S, D, generator=gen)
    blocked = torch.ones(T, S, dtype=torch.bool).triu(1)
    with torch.no_grad():
        want, _ = torch_mha(model.causal)(x, mem, mem, attn_mask=blocked, need_weights=False)
        torch.testing.assert_close(model.causal(x, mem), want, atol=ATOL, rtol=0)
        if T == S:
            want2, _ = torch_mha(model.causal)(x, x, x, attn_mask=blocked, is_causal=True, need_weights=False)
            torch.testing.assert_close(model.causal(x, x), want2, atol=ATOL, rtol=0)


@pytest.mark.parametrize("T, S", [(5, 5), (4, 6)], ids=["square", "cross"])
def test_causal_with_padding_equals_torch(mha, T, S):
    """Causal and key padding together take another path in the helper: same answer as torch."""
    _, model = mha
    gen = torch.Generator().manual_seed(5)
    x, mem = torch.randn(3, T, D, generator=gen), torch.randn(3, S, D, generator=gen)
    keep = padding(3, S, gen)
    keep[:, 0] = 1  # every query keeps at least key 0, so no row is all -inf
    blocked = torch.ones(T, S, dtype=torch.bool).triu(1)
    with torch.no_grad():
        want, _ = torch_mha(model.causal_padded)(x, mem, mem, attn_mask=blocked, key_padding_mask=keep == 0,
                                                 need_weights=False)
        torch.testing.assert_close(model.causal_padded(x, mem, keep), want, atol=ATOL, rtol=0)
        # with nothing padded, it is the plain causal attention (same alignment with or without a mask)
        model.causal.load_state_dict(model.causal_padded.state_dict())
        torch.testing.assert_close(model.causal_padded(x, mem, torch.ones_like(keep)), model.causal(x, mem),
                                   atol=ATOL, rtol=0)


# ---- causal masking, end to end ---------------------------------------------------------
TINY_GPT = """
block Layer(x: [B, T, D]) -> [B, T, D] {
    a = x -> layernorm()
    x = x + (attention(a -> linear(D), a -> linear(D), a -> linear(D), heads=2, causal=true) -> linear(D))
    return x + (x -> layernorm() -> linear(2 * D) -> gelu(approximate="tanh") -> linear(D))
}

block Tiny(tokens: int[B, T]) -> [B, T, 11] {
    x = tokens -> embedding(11, 8) as wte -> learned_positions(16)
    repeat 2 as layers {
        x = Layer(x)
    }
    return x -> layernorm() -> linear(11, bias=false, tie="wte")
}

model M {
    generator lm = Tiny()
}
"""


def test_causal_future_tokens_do_not_reach_the_past(write_spec):
    """Through two causal layers: changing tokens from position 4 on leaves logits 0..3 as they were."""
    _, model = build(write_spec, TINY_GPT)
    gen = torch.Generator().manual_seed(6)
    tokens = torch.randint(0, 11, (2, 9), generator=gen)
    changed = tokens.clone()
    changed[:, 4:] = (tokens[:, 4:] + 1 + torch.randint(0, 9, (2, 5), generator=gen)) % 11  # every one differs
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(after[:, :4], before[:, :4], atol=1e-6, rtol=0)
    for t in range(4, 9):  # each later position sees a changed token, so its logits move
        assert (after[:, t] - before[:, t]).abs().max() > 1e-4, f"position {t} ignored its own changed token"


# ---- bias, grouped-query attention, split layout, against the naive formula --------------
NAIVE_SPEC = """
block Biased(q: [B, T, 8], k: [B, S, 8], v: [B, S, 8], bias: [B, 2, T, S]) -> [B, T, 8] {
    return attention(q, k, v, heads=2, bias=bias)
}

block BiasedPadded(q: [B, T, 8], k: [B, S, 8], v: [B, S, 8], bias: [1, 2, T, S], keep: int[B, S]) -> [B, T, 8] {
    return attention(q, k, v, heads=2, bias=bias, mask=keep)
}

block Grouped(q: [B, T, 8], k: [B, S, 4], v: [B, S, 4]) -> ([B, T, 8], [B, 4, T, 2]) {
    merged = attention(q, k, v, heads=4, kv_heads=2)
    split = attention(q -> split_heads(4), k -> split_heads(2), v -> split_heads(2))
    return merged, split
}

block Layouts(q: [B, T, 8], k: [B, S, 8], v: [B, S, 8], keep: int[B, S]) -> ([B, T, 8], [B, T, 8]) {
    merged = attention(q, k, v, heads=2, causal=true, mask=keep)
    split = attention(q -> split_heads(2), k -> split_heads(2), v -> split_heads(2), causal=true, mask=keep)
    return merged, split -> merge_heads()
}

model M {
    network biased = Biased()
    network biased_padded = BiasedPadded()
    network grouped = Grouped()
    network layouts = Layouts()
}
"""


@pytest.fixture(scope="module")
def naive(tmp_path_factory):
    path = tmp_path_factory.mktemp("naive") / "naive.agq"
    path.write_text(NAIVE_SPEC)
    return agqc.load(path).build().eval()


def qkv(B, T, S, kv_features=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, 8, generator=gen), torch.randn(B, S, kv_features, generator=gen),
            torch.randn(B, S, kv_features, generator=gen))


def test_bias_equals_naive(naive):
    q, k, v = qkv(3, 4, 6, seed=7)
    bias = torch.randn(3, 2, 4, 6, generator=torch.Generator().manual_seed(8))
    want = naive_attention(heads(q, 2), heads(k, 2), heads(v, 2), bias=bias)
    with torch.no_grad():
        torch.testing.assert_close(naive.biased(q, k, v, bias), want, atol=ATOL, rtol=0)
        # the bias matters: without it (zeros) the answer is another
        assert not torch.allclose(naive.biased(q, k, v, torch.zeros_like(bias)), want, atol=1e-3)


def test_bias_and_padding_equal_naive(naive):
    """A bias shared by the batch ([1, H, T, S]) and a per-row padding mask, together."""
    gen = torch.Generator().manual_seed(9)
    q, k, v = qkv(3, 4, 6, seed=9)
    bias = torch.randn(1, 2, 4, 6, generator=gen)
    keep = padding(3, 6, gen)
    want = naive_attention(heads(q, 2), heads(k, 2), heads(v, 2), bias=bias, keep=keep)
    with torch.no_grad():
        torch.testing.assert_close(naive.biased_padded(q, k, v, bias, keep), want, atol=ATOL, rtol=0)


def test_grouped_query_attention_equals_repeated_heads(naive):
    """4 query heads share 2 key/value heads: heads 0, 1 read kv head 0; heads 2, 3 read kv head 1."""
    q, k, v = qkv(2, 5, 3, kv_features=4, seed=10)
    kh, vh = heads(k, 2).repeat_interleave(2, dim=1), heads(v, 2).repeat_interleave(2, dim=1)
    want = naive_attention(heads(q, 4), kh, vh)
    with torch.no_grad():
        merged, split = naive.grouped(q, k, v)
    torch.testing.assert_close(merged, want, atol=ATOL, rtol=0)
    torch.testing.assert_close(split, heads(want, 4), atol=ATOL, rtol=0)


def test_split_layout_equals_merged(naive):
    gen = torch.Generator().manual_seed(11)
    q, k, v = qkv(3, 5, 5, seed=11)
    keep = padding(3, 5, gen)
    keep[:, 0] = 1
    want = naive_attention(heads(q, 2), heads(k, 2), heads(v, 2), keep=keep, causal=True)
    with torch.no_grad():
        merged, split = naive.layouts(q, k, v, keep)
    torch.testing.assert_close(merged, want, atol=ATOL, rtol=0)
    torch.testing.assert_close(split, merged, atol=ATOL, rtol=0)


def test_split_and_merge_heads_are_the_reshapes(write_spec):
    _, model = build(write_spec, """
block Heads(x: [B, T, 12]) -> ([B, 3, T, 4], [B, T, 12]) {
    s = x -> split_heads(3)
    return s, s -> merge_heads()
}
model M {
    network net = Heads()
}
""")
    x = torch.randn(2, 5, 12)
    split, merged = model(x)
    assert torch.equal(split, heads(x, 3))
    assert torch.equal(split[1, 2, 4], x[1, 4, 8:12])  # head 2 of token 4 is features 8..11
    assert torch.equal(merged, x)


def test_shared_key_by_expand_equals_one_kv_head(write_spec):
    """Multi-query attention two ways: one key/value head expanded to every head, or kv_heads=1."""
    _, model = build(write_spec, """
block MQA(q: [B, T, 8], k: [B, S, 2], v: [B, S, 2]) -> ([B, T, 8], [B, T, 8]) {
    grouped = attention(q, k, v, heads=4, kv_heads=1)
    shared = attention(q -> split_heads(4), k -> split_heads(1) -> expand(4), v -> split_heads(1) -> expand(4))
    return grouped, shared -> merge_heads()
}
model M {
    network net = MQA()
}
""")
    q, k, v = qkv(2, 3, 5, kv_features=2, seed=16)
    want = naive_attention(heads(q, 4), heads(k, 1).expand(2, 4, 5, 2), heads(v, 1).expand(2, 4, 5, 2))
    grouped, shared = model(q, k, v)
    torch.testing.assert_close(grouped, want, atol=ATOL, rtol=0)
    torch.testing.assert_close(shared, want, atol=ATOL, rtol=0)


def test_attention_dropout_only_while_training(write_spec):
    _, model = build(write_spec, """
block Drop(q: [B, T, 8]) -> ([B, T, 8], [B, T, 8]) {
    return attention(q, q, q, heads=2, dropout=0.5), attention(q, q, q, heads=2)
}
model M {
    network net = Drop()
}
""")
    q = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(17))
    dropped, plain = model(q)  # built in eval mode: no dropout
    torch.testing.assert_close(dropped, plain, atol=ATOL, rtol=0)
    model.train()
    torch.manual_seed(1)
    first, plain = model(q)
    second, _ = model(q)
    assert not torch.allclose(first, plain, atol=1e-3) and not torch.allclose(first, second, atol=1e-3)

