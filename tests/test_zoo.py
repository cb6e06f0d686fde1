"""The lecture's model zoo (specs/) and std.transformer, against published sizes and
hand-written references (tests/zoo_references.py).

Published facts used here (each cited where it is used):
- GPT-2 small has 124,439,808 parameters with the output layer tied to the token
  embedding: the size of OpenAI's released 124M checkpoint (Hugging Face `gpt2`).
- Llama 3 8B has 8,030,261,248 parameters: Meta-Llama-3-8B's checkpoint (Hugging Face
  model card / safetensors index; architecture in arXiv 2407.21783, Table 3).
- ParT has 2.14M parameters: Qu, Li & Qian 2022 (arXiv 2202.03772), the JetClass
  comparison table (ParT 2.14M; ParT without interactions 2.13M).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import agqc
import zoo_references as ref
from reference_models import copy_weights

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO = ["transformer_classifier", "rnn_sine", "lstm_sine", "model_compare", "cnn_tf_best", "gpt2", "llama3_8b",
       "mla", "particle_transformer"]
BUILT = [s for s in ZOO if s not in ("gpt2", "llama3_8b")]  # too big to build in a quick test


def load(stem: str):
    return agqc.load(SPECS / f"{stem}.agq")


def with_constants(stem: str, tmp_path: Path, **values) -> agqc.api.Spec:
    """The spec with some `const NAME = ...` lines given new values (a small model of the same design)."""
    text = (SPECS / f"{stem}.agq").read_text()
    for name, value in values.items():
        text, n = re.subn(rf"^const {name} = .*$", f"const {name} = {value}", text, flags=re.M)
        assert n == 1, f"{stem}.agq has no `const {name}`"
    path = tmp_path / f"{stem}.agq"
    path.write_text(text)
    return agqc.load(path)


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---- every spec ------------------------------------------------------------------------

@pytest.mark.parametrize("stem", ZOO)
def test_spec_checks(stem):
    spec = load(stem)
    assert spec.networks
    assert not spec.warnings, spec.render_warnings()  # `_, last = ... rnn(...)` drops an output silently


@pytest.mark.parametrize("stem", BUILT)
def test_spec_runs_forward(stem):
    spec = load(stem)
    torch.manual_seed(0)
    model = spec.build().eval()
    sizes = {"B": 3, "T": 6}
    for name in spec.networks:
        inputs = spec.example_inputs(network=name, sizes=sizes)
        with torch.no_grad():
            out = getattr(model, name)(*inputs)
        out = out if isinstance(out, tuple) else (out,)
        for y, t in zip(out, spec.output_types(name), strict=True):
            expected = [3 if d == "B" else 6 if d == "T" else d for d in t.shape]
            assert list(y.shape) == expected, f"{stem}.{name}"
            assert torch.isfinite(y).all(), f"{stem}.{name}"


# ---- published sizes -------------------------------------------------------------------

def test_gpt2_size():
    # OpenAI's GPT-2 small checkpoint: 124,439,808 parameters, lm_head tied to wte.
    spec = load("gpt2")
    assert spec.summary().total_params == 124_439_808
    # the module agrees (shapes only, on the meta device): no second 38.6M table for lm_head
    assert params(spec.build(device="meta")) == 124_439_808


def test_llama3_8b_size():
    # Meta-Llama-3-8B: 8,030,261,248 parameters (Hugging Face checkpoint; arXiv 2407.21783).
    spec = load("llama3_8b")
    assert spec.summary().total_params == 8_030_261_248
    module = spec.build(device="meta")  # shapes only, never 32 GB of weights
    assert params(module) == 8_030_261_248
    attn = module.lm.layers[0].self_attn
    assert attn.k_proj.weight.shape == (8 * 128, 4096)  # 8 KV heads of 4096 / 32
    assert module.lm.layers[0].mlp.gate_proj.weight.shape == (14336, 4096)
    assert module.lm.lm_head.weight is not module.lm.embed_tokens.weight  # untied


def test_llama3_8b_summary_is_fast_and_small():
    """`agqc summary` is static: well under 5 s and 1 GB for an 8B model (measured in a child)."""
    # VmHWM is this process's own peak; ru_maxrss would carry over the (large) pytest parent's
    # peak through fork and exec on Linux.
    child = ("import re, sys\n"
             "from agqc.cli import main\n"
             "rc = main(['summary', sys.argv[1]])\n"
             "status = open('/proc/self/status').read()\n"
             "print('peak_kb', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
             "sys.exit(rc)\n")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", child, str(SPECS / "llama3_8b.agq")], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    assert "8,030,261,248 parameters" in run.stdout
    peak_kb = int(re.search(r"peak_kb (\d+)", run.stderr).group(1))  # Linux: kilobytes
    assert seconds < 5, seconds
    assert peak_kb < 1024 * 1024, peak_kb


def test_particle_transformer_size():
    # Qu, Li & Qian 2022: ParT has 2.14M parameters (JetClass configuration).
    spec = load("particle_transformer")
    total = spec.summary().total_params
    assert round(total / 1e6, 2) == 2.14, total
    with torch.device("meta"):  # and exactly what the paper's structure written by hand has
        assert total == params(ref.ParT())


def test_mla_layer_size_matches_reference():
    spec = load("mla")
    layer = spec.summary().networks["layer"]
    with torch.device("meta"):  # DeepSeek-V2-Lite: hidden 2048, 16 heads, rank 512, 128 + 64, v 128
        expected = params(ref.MLA(2048, 16, 512, 128, 64, 128))
    assert layer == expected
    # MLA's point: per token it caches c_kv and the shared rope key, 512 + 64 numbers,
    # where full multi-head attention caches 2 * 16 * 128 keys and values
    assert spec.build(device="meta").layer.mla.kv_a_proj_with_mqa.out_features == 512 + 64


# ---- std.transformer against hand-written PyTorch --------------------------------------

def _same(compiled, reference, *inputs, atol=1e-5):
    compiled.eval(), reference.eval()
    copy_weights(compiled, reference)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), reference(*inputs), atol=atol, rtol=0)


def test_every_stdlib_block_builds_and_runs(write_spec):
    """Each block of std.transformer, chained at small sizes, compiles and gives finite numbers."""
    spec = agqc.load(write_spec(
        "import std.transformer\n"
        "block Net(x: [B, T, 32], u: [B, 4, T, T], mask: int[B, T], tok: int[B, S]) -> [B, 1, 32] {\n"
        "    a = x -> TransformerEncoderBlock(4, 64) -> PostNormEncoderBlock(4, 64) -> GPT2Block(4)\n"
        "        -> LlamaBlock(4, 2, 48) -> MLABlock(4, 16, 8, 4, 8, 48)\n"
        "    b = MultiHeadAttention(a, tok -> embedding(10, 16), 4)\n"
        "    c = b -> ParticleAttentionBlock(u, mask, 4, 64)\n"
        "    return ClassAttentionBlock(c -> class_token(), c, mask, 4, 64)\n}\n"
        "model M {\n    network net = Net()\n}\n"))
    torch.manual_seed(0)
    net = spec.build().net.eval()
    x, u, _, tok = spec.example_inputs(sizes={"B": 2, "T": 5, "S": 3})
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        y = net(x, u, mask, tok)
    assert y.shape == (2, 1, 32) and torch.isfinite(y).all()


def test_gpt2_block_matches_nanogpt_style_reference(write_spec):
    spec = agqc.load(write_spec("import std.transformer\n"
                                "block Net(x: [B, T, 64]) -> [B, T, 64] {\n"
                                "    return GPT2Block(x, 4)\n}\n"
                                "model M {\n    network net = Net()\n}\n"))
    torch.manual_seed(0)
    net = spec.build().net  # holds the block alone, so its weights line up with the reference's
    _same(net, ref.GPT2Block(64, 4), torch.randn(3, 7, 64))


def test_mla_matches_reference(write_spec):
    spec = agqc.load(write_spec("import std.transformer\n"
                                "block Net(x: [B, T, 48]) -> [B, T, 48] {\n"
                                "    return MLA(x, 4, 16, 8, 4, 6)\n}\n"
                                "model M {\n    network net = Net()\n}\n"))
    torch.manual_seed(0)
    net = spec.build().net
    _same(net, ref.MLA(48, 4, 16, 8, 4, 6), torch.randn(2, 9, 48))


def test_mla_lm_is_causal():
    """Changing a later token never changes an earlier position's logits."""
    spec = load("mla")
    torch.manual_seed(0)
    lm = spec.build().lm.eval()
    tokens = torch.randint(0, 1024, (2, 8))
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 1024
    with torch.no_grad():
        a, b = lm(tokens), lm(changed)
    assert a.shape == (2, 8, 1024)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


SMALL_PART = dict(PARTICLES=6, EMBED=16, EMBED_HIDDEN=24, PAIR_DIM=8, HEADS=2, PARTICLE_BLOCKS=2, CLASS_BLOCKS=1)


def _part_inputs(seed=0, particles=6):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(3, particles, dtype=torch.long)
    mask[0, 4:] = 0  # jets of 4, 6 and 5 real particles, padded to 6
    mask[2, 5:] = 0
    return torch.randn(3, particles, 17, generator=g), torch.randn(3, 4, particles, particles, generator=g), mask


def test_particle_transformer_small_matches_reference(tmp_path):
    spec = with_constants("particle_transformer", tmp_path, **SMALL_PART)
    torch.manual_seed(0)
    net = spec.build().net
    reference = ref.ParT(embed=(16, 24, 16), pair_dims=(8, 8, 8), n_heads=2, particle_blocks=2, class_blocks=1)
    particles, pairs, mask = _part_inputs()
    _same(net, reference, particles, pairs, mask)
    assert net(particles, pairs, mask).shape == (3, 10)


def test_particle_transformer_ignores_padding(tmp_path):
    """Padded particles, and pair features that involve them, do not change the prediction."""
    spec = with_constants("particle_transformer", tmp_path, **SMALL_PART)
    torch.manual_seed(0)
    net = spec.build().net.eval()
    particles, pairs, mask = _part_inputs()
    noisy_particles, noisy_pairs = particles.clone(), pairs.clone()
    pad = mask == 0  # [B, N]
    noisy_particles[pad] = 100.0
    noisy_pairs.masked_fill_((pad[:, None, :, None] | pad[:, None, None, :]), -50.0)
    with torch.no_grad():
        torch.testing.assert_close(net(particles, pairs, mask), net(noisy_particles, noisy_pairs, mask))


# ---- the lecture's workshops -----------------------------------------------------------

@pytest.mark.parametrize("stem", ["rnn_sine", "lstm_sine"])
def test_sine_predictors_learn(stem):
    """A few Adam steps on next-value prediction of a sinusoid lower the loss a lot."""
    torch.manual_seed(0)
    net = load(stem).build().net
    start = torch.rand(32, 1) * 2 * torch.pi
    wave = torch.sin(start + 0.3 * torch.arange(11))  # 32 windows of 10 samples, and the sample after each
    window, target = wave[:, :10, None], wave[:, 10:]
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(net(window), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::10]


def test_model_compare_three_classifiers():
    spec = load("model_compare")
    assert spec.networks == ["dnn", "cnn", "tf"]
    model = spec.build().eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        outs = model(x)
        for name, y in zip(spec.networks, outs, strict=True):
            assert y.shape == (4, 10)
            torch.testing.assert_close(getattr(model, name)(x), y)


def test_cnn_tf_best_shares_the_encoder():
    spec = load("cnn_tf_best")
    torch.manual_seed(0)
    model = spec.build().eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        image, logits = model(x)
        assert image.shape == x.shape and logits.shape == (2, 10)
        torch.testing.assert_close(logits, model.head(model.enc(x)))
    # fine-tuning the classifier reaches the encoder's weights (one encoder, not a copy)
    model.train()
    model(x)[1].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.enc.parameters())
    assert spec.summary().total_params == params(model)
