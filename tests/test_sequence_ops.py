"""Sequence ops compute what torch or the papers say: rnn/gru/lstm, positions, tokens, shaping.

Recurrent layers are compared with nn.RNN / nn.GRU / nn.LSTM holding the same
weights: every step's output and the last layer's final state, and the parameter
count agqc states without building anything.  The shaping ops are compared with
the torch calls (or index arithmetic) they stand for; rope and the position tables
with the papers' formulas, written out naively here.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import agqc

F_IN, HIDDEN = 5, 7  # small, so the file runs in seconds
ATOL = 1e-5
TORCH_CLASS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


def build(write_spec, text: str):
    spec = agqc.load(write_spec(text))
    torch.manual_seed(0)
    return spec, spec.build().eval()


# ---- recurrent layers --------------------------------------------------------------------
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("op", sorted(TORCH_CLASS))
def test_recurrent_equals_torch(write_spec, op, layers):
    spec, model = build(write_spec, f"""
block Reader(x: [B, T, {F_IN}]) -> ([B, T, {HIDDEN}], [B, {HIDDEN}]) {{
    seq, last = x -> {op}({HIDDEN}, layers={layers}) as rec
    return seq, last
}}
model M {{
    encoder net = Reader()
}}
""")
    ref = TORCH_CLASS[op](F_IN, HIDDEN, num_layers=layers, batch_first=True).eval()
    ours = list(model.parameters())
    theirs = list(ref.parameters())
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    # agqc counts parameters from the IR alone; it must agree with the torch module
    assert spec.summary().total_params == sum(p.numel() for p in theirs)
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            b.copy_(a)
        x = torch.randn(3, 6, F_IN, generator=torch.Generator().manual_seed(1))
        seq, last = model(x)
        want_seq, state = ref(x)
    h = state[0] if op == "lstm" else state  # an LSTM's state is (h, c)
    assert seq.shape == (3, 6, HIDDEN) and last.shape == (3, HIDDEN)
    torch.testing.assert_close(seq, want_seq, atol=1e-6, rtol=0)
    torch.testing.assert_close(last, h[-1], atol=1e-6, rtol=0)  # the last layer's h, not the first's
    if layers == 2:
        assert not torch.allclose(last, h[0], atol=1e-3)
    torch.testing.assert_close(last, seq[:, -1], atol=1e-6, rtol=0)  # one direction: the final step's output


def test_recurrent_parameter_count_formula(write_spec):
    """An LSTM has 4 gates, each with W_ih [h, in], W_hh [h, h] and two biases (PyTorch's layout)."""
    spec, _ = build(write_spec, """
block Reader(x: [B, T, 10]) -> [B, 20] {
    seq, last = x -> lstm(20, layers=3)
    return last
}
model M {
    encoder net = Reader()
}
""")
    first = 4 * (20 * 10 + 20 * 20 + 2 * 20)
    later = 4 * (20 * 20 + 20 * 20 + 2 * 20)
    assert spec.summary().total_params == first + 2 * later


# ---- positions ---------------------------------------------------------------------------
POSITIONS_SPEC = """
block Rotary(x: [B, H, T, d]) -> ([B, H, T, d], [B, H, T, d]) {
    return x -> rope(), x -> rope(base=500.0)
}

block Sinusoid(x: [B, T, D]) -> [B, T, D] {
    return x -> sinusoidal_positions()
}

block Learned(x: [B, T, D]) -> [B, T, D] {
    return x -> learned_positions(12) as wpe
}

model M {
    network rotary = Rotary()
    network sinusoid = Sinusoid()
    network learned = Learned(D=6)
}
"""


@pytest.fixture(scope="module")
def positions(tmp_path_factory):
    path = tmp_path_factory.mktemp("pos") / "pos.agq"
    path.write_text(POSITIONS_SPEC)
    spec = agqc.load(path)
    torch.manual_seed(0)
    return spec, spec.build().eval()


def rope_by_hand(x: torch.Tensor, base: float) -> torch.Tensor:
    """Su et al. 2021, rotate-half pairing: feature i and i + d/2 of position t turn by t * base^(-2i/d)."""
    out = torch.empty_like(x)
    d, T = x.size(-1), x.size(-2)
    for t in range(T):
        for i in range(d // 2):
            angle = t * base ** (-2 * i / d)
            a, b = x[..., t, i], x[..., t, i + d // 2]
            out[..., t, i] = a * math.cos(angle) - b * math.sin(angle)
            out[..., t, i + d // 2] = b * math.cos(angle) + a * math.sin(angle)
    return out


def test_rope_equals_rotary_formula(positions):
    _, model = positions
    x = torch.randn(2, 3, 7, 6, generator=torch.Generator().manual_seed(12))
    default, low_base = model.rotary(x)
    torch.testing.assert_close(default, rope_by_hand(x, 10000.0), atol=ATOL, rtol=0)
    torch.testing.assert_close(low_base, rope_by_hand(x, 500.0), atol=ATOL, rtol=0)
    # position 0 is not turned; rotations keep every vector's length
    torch.testing.assert_close(default[..., 0, :], x[..., 0, :])
    torch.testing.assert_close(default.norm(dim=-1), x.norm(dim=-1), atol=ATOL, rtol=0)


def test_rope_scores_depend_only_on_distance(positions):
    """The point of rotary embeddings: q_m . k_n depends on m - n when q and k are the same at every position."""
    _, model = positions
    gen = torch.Generator().manual_seed(13)
    q = torch.randn(1, 1, 1, 8, generator=gen).expand(1, 1, 6, 8)
    k = torch.randn(1, 1, 1, 8, generator=gen).expand(1, 1, 6, 8)
    scores = (model.rotary(q)[0] @ model.rotary(k)[0].transpose(-1, -2))[0, 0]
    for m in range(5):
        for n in range(5):
            torch.testing.assert_close(scores[m + 1, n + 1], scores[m, n], atol=ATOL, rtol=0)
    assert not torch.allclose(scores[0, 0], scores[0, 3], atol=1e-3)


def test_sinusoidal_positions_equal_vaswani(positions):
    """PE(t, 2i) = sin(t / 10000^(2i/D)), PE(t, 2i+1) = cos(t / 10000^(2i/D)) (Vaswani et al. 2017, 3.5)."""
    _, model = positions
    T, D_ = 9, 10
    table = torch.tensor([[math.sin(t / 10000 ** (j / D_)) if j % 2 == 0 else math.cos(t / 10000 ** ((j - 1) / D_))
                           for j in range(D_)] for t in range(T)])
    x = torch.randn(2, T, D_, generator=torch.Generator().manual_seed(14))
    torch.testing.assert_close(model.sinusoid(x), x + table, atol=ATOL, rtol=0)


def test_learned_positions_add_embedding_rows(positions):
    spec, model = positions
    x = torch.randn(2, 5, 6, generator=torch.Generator().manual_seed(15))
    table = model.learned.wpe.weight
    assert tuple(table.shape) == (12, 6)
    with torch.no_grad():
        torch.testing.assert_close(model.learned(x), x + table[:5], atol=0, rtol=0)
    assert spec.summary().total_params == 12 * 6  # rope and sinusoids learn nothing


# ---- slicing and shaping -----------------------------------------------------------------
SHAPING_SPEC = """
block Shapes(x: [B, T, 8], one: [B, 1, T, 4], ids: int[B, T]) ->
        ([B, T, 3], [B, T, 5], [B, 2, 8], [B, 4, 8], [B, 6, T, 4], [B, T, 11], int[B, T + 2]) {
    a, b = split(x, 3, 5)
    head, rest, tail = split(x, 2, 4, T - 6, dim=1)
    return a, b, head, rest, one -> expand(6), x -> pad(1, 2, value=-1.5), ids -> pad(after=2)
}

model M {
    network net = Shapes(T=9)
}
"""


def test_split_expand_pad_equal_torch(write_spec):
    _, model = build(write_spec, SHAPING_SPEC)
    gen = torch.Generator().manual_seed(2)
    x, one = torch.randn(2, 9, 8, generator=gen), torch.randn(2, 1, 9, 4, generator=gen)
    ids = torch.randint(1, 50, (2, 9), generator=gen)
    a, b, head, rest, expanded, padded, padded_ids = model(x, one, ids)
    want_a, want_b = torch.split(x, [3, 5], dim=-1)
    assert torch.equal(a, want_a) and torch.equal(b, want_b)
    assert torch.equal(head, x[:, :2]) and torch.equal(rest, x[:, 2:6])
    assert torch.equal(expanded, one.expand(2, 6, 9, 4))
    assert torch.equal(padded, F.pad(x, (1, 2), value=-1.5))
    assert torch.equal(padded[..., 0], torch.full((2, 9), -1.5)) and torch.equal(padded[..., 1:9], x)
    assert padded_ids.dtype == torch.long and torch.equal(padded_ids, F.pad(ids, (0, 2)))


def test_split_sizes_must_add_up(write_spec):
    path = write_spec("""
block Cut(x: [B, 8]) -> [B, 3] {
    a, b = split(x, 3, 4)
    return a
}
model M {
    network net = Cut()
}
""")
    with pytest.raises(agqc.AgqcError) as err:
        agqc.load(path)
    (d,) = err.value.diagnostics
    assert (d.code, d.span.line) == ("shape-mismatch", 3)
    assert "3 + 4 = 7 do not add up to 8" in d.message


def test_class_token_is_one_learned_vector(write_spec):
    """ViT: a learned [1, 1, D] token, the same for every example, put before the patch tokens."""
    spec, model = build(write_spec, """
block WithToken(x: [B, T, 6]) -> [B, T + 1, 6] {
    return concat(x -> class_token() as cls, x, dim=1)
}
model M {
    network net = WithToken(T=4)
}
""")
    x = torch.randn(3, 4, 6)
    out = model(x)
    token = model.net.cls
    assert tuple(token.shape) == (1, 1, 6) and spec.summary().total_params == 6
    assert torch.equal(out[:, 1:], x)
    assert torch.equal(out[:, :1], token.expand(3, 1, 6))
    out.sum().backward()  # one shared vector: its gradient gathers every example's
    torch.testing.assert_close(token.grad, torch.full((1, 1, 6), 3.0))


def test_patches_equal_strided_convolution(write_spec):
    spec, model = build(write_spec, """
block Embed(img: [B, 3, 8, 12]) -> [B, 6, 10] {
    return img -> patches(4, 10) as embed
}
model M {
    backbone net = Embed()
}
""")
    conv = model.net.embed
    weight, bias = conv.weight.detach(), conv.bias.detach()
    assert tuple(weight.shape) == (10, 3, 4, 4)
    assert spec.summary().total_params == 3 * 4 * 4 * 10 + 10
    img = torch.randn(2, 3, 8, 12, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model(img)
    want = F.conv2d(img, weight, bias, stride=4).flatten(2).transpose(1, 2)
    torch.testing.assert_close(out, want, atol=1e-6, rtol=0)
    # patch 4 (row 1, column 1 of a 2 x 3 grid) is pixels 4..7 x 4..7, flattened and mapped
    by_hand = weight.flatten(1) @ img[:, :, 4:8, 4:8].flatten(1).T + bias[:, None]
    torch.testing.assert_close(out[:, 4], by_hand.T, atol=1e-5, rtol=0)


def test_pad_on_a_symbolic_length(write_spec):
    """Padding a length only known at run time gives T+3, which compares equal to the declared `T + 3`."""
    spec, model = build(write_spec, """
block Pad(ids: int[B, T]) -> int[B, T + 3] {
    return ids -> pad(after=2) -> pad(1)
}
model M {
    network net = Pad()
}
""")
    ids = torch.randint(1, 9, (2, 5))
    assert torch.equal(model(ids), F.pad(ids, (1, 2)))

