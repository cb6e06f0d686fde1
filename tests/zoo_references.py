"""Hand-written PyTorch references for the transformer zoo (tests/test_zoo.py).

Written from the papers' equations, independently of the code agqc generates:
attention is an explicit softmax(q k^T / sqrt(d) + bias) v with masks built
here, not F.scaled_dot_product_attention.  Modules are registered in the
order the specs declare their layers, so that reference_models.copy_weights
can move a compiled module's weights in by position.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def scores_softmax(q, k, v, causal=False, bias=None, keep=None):
    """softmax(q k^T / sqrt(d) [+ bias], future and padded keys at -inf) v for [B, H, T, d]."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if bias is not None:
        scores = scores + bias
    if causal:
        T, S = scores.shape[-2:]
        future = torch.ones(T, S, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    if keep is not None:  # keep: [B, S], nonzero for real keys
        scores = scores.masked_fill(keep[:, None, None, :] == 0, float("-inf"))
    return scores.softmax(-1) @ v


def heads(x, h):
    """[B, T, h*d] -> [B, h, T, d]."""
    B, T, _ = x.shape
    return x.view(B, T, h, -1).transpose(1, 2)


def merge(x):
    """[B, h, T, d] -> [B, T, h*d]."""
    B, h, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d)


def rotate(x, base=10000.0):
    """Rotary positions (Su et al. 2021, arXiv 2104.09864) on [B, H, T, d]: features i and
    i + d/2 form a pair that turns by t * base^(-2i/d) at position t.  (Su et al. pair
    neighbours (2i, 2i+1); the two layouts differ by a fixed permutation of the features, which
    trained weights absorb; this is the layout of GPT-NeoX and Hugging Face's Llama.)"""
    d, T = x.size(-1), x.size(-2)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    a, b = x[..., : d // 2], x[..., d // 2:]
    return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g (Zhang & Sennrich 2019, arXiv 1910.07467)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# ---------------------------------------------------------------------------
# GPT-2 block, nanoGPT-style (Radford et al. 2019)
# ---------------------------------------------------------------------------

class GPT2Attention(nn.Module):
    def __init__(self, dim, n_heads):
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.n_heads = n_heads

    def forward(self, x):
        q, k, v = self.c_attn(x).split(x.size(-1), dim=-1)
        y = scores_softmax(heads(q, self.n_heads), heads(k, self.n_heads), heads(v, self.n_heads), causal=True)
        return self.c_proj(merge(y))


class GPT2MLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.c_proj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class GPT2Block(nn.Module):
    def __init__(self, dim, n_heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = GPT2Attention(dim, n_heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = GPT2MLP(dim)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


# ---------------------------------------------------------------------------
# DeepSeek-V2 multi-head latent attention (arXiv 2405.04434, section 2.1,
# without query compression as in DeepSeek-V2-Lite)
# ---------------------------------------------------------------------------

class MLA(nn.Module):
    def __init__(self, dim, n_heads, kv_rank, nope, rope, v_dim, eps=1e-6):
        super().__init__()
        self.n_heads, self.kv_rank, self.nope, self.rope, self.v_dim = n_heads, kv_rank, nope, rope, v_dim
        # W^Q and W^QR: per head, a position-free query and a rotary query
        self.q_proj = nn.Linear(dim, n_heads * (nope + rope), bias=False)
        # W^DKV (down to the cached latent c^KV) and W^KR (the one rotary key all heads share)
        self.kv_a_proj_with_mqa = nn.Linear(dim, kv_rank + rope, bias=False)
        self.kv_a_layernorm = RMSNorm(kv_rank, eps)
        # W^UK and W^UV: per head keys and values decompressed from c^KV
        self.kv_b_proj = nn.Linear(kv_rank, n_heads * (nope + v_dim), bias=False)
        self.o_proj = nn.Linear(n_heads * v_dim, dim, bias=False)

    def forward(self, x):
        H = self.n_heads
        q_nope, q_rope = heads(self.q_proj(x), H).split([self.nope, self.rope], dim=-1)
        c_kv, k_rope = self.kv_a_proj_with_mqa(x).split([self.kv_rank, self.rope], dim=-1)
        k_nope, v = heads(self.kv_b_proj(self.kv_a_layernorm(c_kv)), H).split([self.nope, self.v_dim], dim=-1)
        k_rope = rotate(k_rope[:, None])  # [B, 1, T, rope]: one key, broadcast to every head
        q = torch.cat((q_nope, rotate(q_rope)), dim=-1)
        k = torch.cat((k_nope, k_rope.expand(-1, H, -1, -1)), dim=-1)
        return self.o_proj(merge(scores_softmax(q, k, v, causal=True)))


# ---------------------------------------------------------------------------
# Particle Transformer (Qu, Li & Qian 2022, arXiv 2202.03772, section 4)
# ---------------------------------------------------------------------------

class Attention(nn.Module):
    """Multi-head attention of queries x over keys/values ctx, with an optional score bias."""

    def __init__(self, dim, n_heads):
        super().__init__()
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.n_heads = n_heads

    def forward(self, x, ctx, keep, bias=None):
        H = self.n_heads
        y = scores_softmax(heads(self.q(x), H), heads(self.k(ctx), H), heads(self.v(ctx), H), bias=bias, keep=keep)
        return self.out(merge(y))


class NormFormerMLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.pre_fc_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.post_fc_norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.post_fc_norm(F.gelu(self.fc1(self.pre_fc_norm(x)))))


class ParticleBlock(nn.Module):
    """Fig. 3(b), or with `cls` given Fig. 3(c): the class token queries LN([cls, particles])."""

    def __init__(self, dim, n_heads, hidden):
        super().__init__()
        self.pre_attn_norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, n_heads)
        self.post_attn_norm = nn.LayerNorm(dim)
        self.mlp = NormFormerMLP(dim, hidden)

    def forward(self, x, keep, u=None, cls=None):
        if cls is None:
            h = self.pre_attn_norm(x)
            x = x + self.post_attn_norm(self.attn(h, h, keep, bias=u))
        else:
            z = self.pre_attn_norm(torch.cat((cls, x), dim=1))
            keep = torch.cat((torch.ones_like(keep[:, :1]), keep), dim=1)
            x = cls + self.post_attn_norm(self.attn(cls, z, keep))
        return x + self.mlp(x)


class ParT(nn.Module):
    def __init__(self, features=17, pair_features=4, embed=(128, 512, 128), pair_dims=(64, 64, 64),
                 n_heads=8, particle_blocks=8, class_blocks=2, classes=10):
        super().__init__()
        dim = embed[-1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))  # a parameter of this module: first in state_dict
        layers, width = [], features
        for w in embed:  # the paper's (128, 512, 128) MLP: LN, linear, GELU per layer
            layers += [nn.LayerNorm(width), nn.Linear(width, w), nn.GELU()]
            width = w
        self.embed = nn.Sequential(*layers)
        layers, width = [nn.BatchNorm2d(pair_features)], pair_features
        for w in pair_dims:  # 1x1 convolutions: the same MLP on every pair (i, j)
            layers += [nn.Conv2d(width, w, 1), nn.BatchNorm2d(w), nn.GELU()]
            width = w
        self.pair_embed = nn.Sequential(*layers, nn.Conv2d(width, n_heads, 1))
        self.blocks = nn.ModuleList(ParticleBlock(dim, n_heads, 4 * dim) for _ in range(particle_blocks))
        self.cls_blocks = nn.ModuleList(ParticleBlock(dim, n_heads, 4 * dim) for _ in range(class_blocks))
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, particles, pairs, mask):
        x, u = self.embed(particles), self.pair_embed(pairs)
        for block in self.blocks:
            x = block(x, mask, u=u)
        cls = self.cls_token.expand(x.size(0), -1, -1)
        for block in self.cls_blocks:
            cls = block(x, mask, cls=cls)
        return self.fc(self.norm(cls).flatten(1))
