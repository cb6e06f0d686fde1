"""Helper functions that generated PyTorch source defines once at the top.

Takes nothing; gives ``HELPERS``: name -> Python source text.  An op lists
the helpers its lowering calls (``OpDef.helpers``); the torch source backend
writes each one used, so the generated file stays standalone and readable.
Each helper is plain PyTorch, tested through the ops that use it.
"""
from __future__ import annotations

HELPERS: dict[str, str] = {}

HELPERS["attention"] = '''
def attention(q, k, v, heads=None, kv_heads=None, causal=False, mask=None, bias=None, dropout=0.0):
    """softmax(q k^T / sqrt(head_dim) + bias) v per head, by F.scaled_dot_product_attention.

    q: [B, T, heads * head_dim] and k, v: [B, S, kv_heads * head_dim] are split into heads
    here and merged again on the way out; q: [B, heads, T, head_dim] and k, v: [B, kv_heads,
    S, head_dim] are used as they are.  mask: [B, S], nonzero where a key is real rather
    than padding.  bias: added to the scores, [B, heads, T, S].  Fewer key/value heads than
    query heads is grouped-query attention.
    """
    merged = q.dim() == 3
    if merged:
        B, T, S = q.size(0), q.size(1), k.size(1)
        kv_heads = kv_heads or heads
        head_dim = q.size(-1) // heads
        q = q.view(B, T, heads, head_dim).transpose(1, 2)     # [B, heads, T, head_dim]
        k = k.view(B, S, kv_heads, head_dim).transpose(1, 2)  # [B, kv_heads, S, head_dim]
        v = v.view(B, S, kv_heads, -1).transpose(1, 2)        # [B, kv_heads, S, v_head_dim]
    scores_mask = bias
    if mask is not None:
        keep = mask.bool()[:, None, None, :]  # [B, 1, 1, S]
        scores_mask = keep if scores_mask is None else scores_mask.masked_fill(~keep, float("-inf"))
    if causal and scores_mask is not None:  # SDPA takes is_causal or a mask, not both
        T, S = q.size(-2), k.size(-2)  # query i sees keys 0..i, as SDPA's is_causal does
        future = torch.ones(T, S, dtype=torch.bool, device=q.device).triu(1)
        scores_mask = (scores_mask & ~future if scores_mask.dtype == torch.bool
                       else scores_mask.masked_fill(future, float("-inf")))
        causal = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=scores_mask, dropout_p=dropout, is_causal=causal,
                                         enable_gqa=q.size(1) != k.size(1))  # [B, heads, T, v_head_dim]
    if not merged:
        return out
    return out.transpose(1, 2).reshape(B, T, -1)  # [B, T, heads * v_head_dim]
'''

HELPERS["rotary"] = '''
def rotary(x, base=10000.0):
    """Rotary position embedding (Su et al. 2021) of [B, H, T, d]: the pair (i, i + d/2)
    of position t turns by the angle t / base^(2i/d)."""
    d, T = x.size(-1), x.size(-2)
    inverse = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angle = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inverse  # [T, d/2]
    cos, sin = angle.cos().repeat(1, 2).to(x.dtype), angle.sin().repeat(1, 2).to(x.dtype)
    first, second = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat((-second, first), dim=-1) * sin
'''

HELPERS["sinusoidal_positions"] = '''
def sinusoidal_positions(x):
    """x + the fixed sine/cosine position table of Vaswani et al. 2017, for x: [B, T, D]."""
    T, D = x.size(1), x.size(2)
    position = torch.arange(T, device=x.device, dtype=torch.float32)[:, None]
    frequency = 10000.0 ** (-torch.arange(0, D, 2, device=x.device, dtype=torch.float32) / D)
    table = torch.zeros(T, D, device=x.device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return x + table.to(x.dtype)
'''

HELPERS["sequence_and_last"] = '''
def sequence_and_last(result):
    """nn.RNN, nn.GRU and nn.LSTM give (outputs, state); the spec wants the outputs and
    the last layer's final hidden state."""
    outputs, state = result
    hidden = state[0] if isinstance(state, tuple) else state  # an LSTM's state is (h, c)
    return outputs, hidden[-1]
'''
