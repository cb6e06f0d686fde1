"""What the marks in a drawing mean, checked on the DOT text and the scene: a dashed residual is a
value that bypasses a path and rejoins it, side inputs (labels, masks, biases, context) have their
own dotted style, labels say what happens (``×2↑``, ``8 heads`` vs ``×12``), legends list only what
is used, and a GAN's generator and discriminator are drawn side by side."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import agqc
from agqc.backends.drawing import DrawOptions, build_scene, have_dot, render_bytes, style
from conftest import ROOT

needs_dot = pytest.mark.skipif(not have_dot(), reason="Graphviz's dot is not installed: `make setup` installs it")

RESNET = """
block ResBlock(x: [B, C, H, W]) -> [B, C, H, W] {
    h = x + (x -> conv2d(C, kernel=3, padding=1) -> batchnorm() -> relu()
               -> conv2d(C, kernel=3, padding=1) -> batchnorm())
    return h -> relu()
}

block ResNet(x: [B, 1, 28, 28]) -> [B, 10] {
    h = x -> conv2d(16, kernel=3, padding=1) -> relu()
        -> ResBlock() -> ResBlock()
        -> flatten() -> linear(10)
    return h
}

model SmallResNet {
    classifier net = ResNet()
}
"""

DCGAN = """
block Generator(z: [B, 64]) -> [B, 1, 32, 32] {
    h = z -> linear(128 * 4 * 4) -> relu() -> reshape(128, 4, 4)
        -> conv_transpose2d(64, kernel=4, stride=2, padding=1) -> batchnorm() -> relu()
        -> conv_transpose2d(32, kernel=4, stride=2, padding=1) -> batchnorm() -> relu()
        -> conv_transpose2d(16, kernel=4, stride=2, padding=1) -> batchnorm() -> relu()
        -> conv2d(1, kernel=3, padding=1) -> tanh()
    return h
}

block Critic(image: [B, 1, 32, 32]) -> [B, 1] {
    return image -> conv2d(16, kernel=4, stride=2, padding=1) -> leaky_relu(0.2) -> flatten() -> linear(1)
}

model DCGAN {
    generator G = Generator()
    discriminator D = Discriminator()

    input real: [B, 1, 32, 32]
    fake = normal(B, 64) -> G()
    return D(fake), D(real)
}
""".replace("Discriminator()", "Critic()")


def edge_lines(dot: str, src: str, dst: str) -> list[str]:
    return [line for line in dot.splitlines() if line.strip().startswith(f'"{src}" -> "{dst}"')]


def test_the_cgan_label_is_a_side_input_not_a_residual():
    spec = agqc.load(ROOT / "specs/cgan.agq")
    scene = build_scene(spec.program, DrawOptions())
    into = {e.dst: e.kind for e in scene.edges if e.src == "in/y"}
    assert into == {"G/embedding": "side", "D/embedding": "side"}
    assert not [e for e in scene.edges if e.kind == "skip"]
    dot = spec.to_dot()
    (line,) = edge_lines(dot, "in/y", "D/embedding")
    assert 'style="dotted"' in line and style.SIDE_COLOUR in line and "dashed" not in line
    assert "side input" in dot and "skip / residual" not in dot


def test_masks_biases_context_and_class_tokens_are_side_inputs():
    scene = build_scene(agqc.load(ROOT / "specs/particle_transformer.agq").program, DrawOptions(depth=2))
    kind = {(e.src, e.dst): e.kind for e in scene.edges}
    for i in range(8):  # the mask and the pair bias reach every block's attention
        assert kind["in/net/mask", f"net/blocks.{i}/attn"] == "side"
        assert kind["net/pair_embed/conv2d4", f"net/blocks.{i}/attn"] == "side"
    assert kind["net/blocks.7/add2", "net/cls_blocks.0/concat"] == "side"  # the particles, fanned out as context
    assert kind["net/blocks.7/add2", "net/cls_blocks.1/concat"] == "side"
    assert kind["net/cls_token", "net/cls_blocks.0/attn"] == "side"  # the class token as the query
    skips = [e for e in scene.edges if e.kind == "skip"]
    assert skips and all(e.dst.rsplit("/", 1)[1].startswith("add") for e in skips)  # x + f(x), nothing else
    assert ("net/cls_token", "net/cls_blocks.0/add1") in {(e.src, e.dst) for e in skips}
    collapsed = build_scene(agqc.load(ROOT / "specs/particle_transformer.agq").program, DrawOptions(depth=1))
    assert not [e for e in collapsed.edges if e.kind == "skip"]
    assert {e.kind for e in collapsed.edges if e.src == "in/net/mask"} == {"side"}


def test_a_resnet_residual_is_dashed_and_its_collapsed_block_says_so(write_spec):
    spec = agqc.load(write_spec(RESNET))
    open_dot = spec.to_dot(depth=2)
    (line,) = edge_lines(open_dot, "net/relu", "net/res_block1/add")
    assert 'style="dashed"' in line and style.SKIP_COLOUR in line
    assert "skip / residual" in open_dot
    shut = build_scene(spec.program, DrawOptions(depth=1))
    blocks = [i for i in shut.items() if i.kind == "block"]
    assert [b.title for b in blocks] == ["ResBlock", "ResBlock"] and all(b.residual for b in blocks)
    shut_dot = spec.to_dot(depth=1)
    node = next(line for line in shut_dot.splitlines() if line.strip().startswith('"net/res_block1" ['))
    assert style.RESIDUAL_MARK in node
    assert "block with a residual inside" in shut_dot
    plain = agqc.load(ROOT / "specs/cnn_classifier.agq").to_dot(depth=1)  # no residual, no mark
    assert style.RESIDUAL_MARK not in plain and "residual" not in plain


def test_collapsed_transformer_blocks_carry_the_residual_mark():
    scene = build_scene(agqc.load(ROOT / "specs/gpt2.agq").program, DrawOptions())
    (repeat,) = [i for i in scene.items() if i.kind == "repeat"]
    assert repeat.title == "GPT2Block \u00d712" and repeat.residual


def test_labels_say_what_happens():
    cgan = agqc.load(ROOT / "specs/cgan.agq").to_dot()
    assert "conv_transpose2d 4x4, 64, \u00d72\u2191" in cgan and ", /2" not in cgan
    assert "upsampling" in cgan and "stride N" not in cgan  # legend entry for the mark used, not the other
    block = agqc.load(ROOT / "specs/gpt2.agq").to_dot(block="GPT2Block")
    assert "attention, 12 heads" in block and "attention \u00d7" not in block
    whole = agqc.load(ROOT / "specs/gpt2.agq").to_dot()
    assert "GPT2Block \u00d712" in whole and "N copies of a block" in whole


def test_one_precision_draws_no_precision_legend():
    for name in ("cgan", "vae", "gpt2", "particle_transformer", "cnn_classifier"):
        dot = agqc.load(ROOT / "specs" / f"{name}.agq").to_dot()
        assert "<b>precision</b>" not in dot and "fp32: 32-bit float" not in dot, name
    vae = agqc.load(ROOT / "specs/vae.agq").to_dot()
    assert "legend" not in vae  # nothing to explain: no legend at all
    mixed = agqc.load(ROOT / "specs/dnn_classifier.agq").to_dot()
    assert "<b>precision</b>" in mixed and "bf16: 16-bit brain float" in mixed


def test_gan_networks_are_side_by_side_in_the_dot():
    for path in (ROOT / "specs/cgan.agq", ROOT / "specs/gan.agq"):
        dot = agqc.load(path).to_dot()
        assert re.search(r'\{ rank=same; "title:G" -> "title:D"', dot), path
        (line,) = [ln for ln in dot.splitlines() if re.match(r'\s*"G/\w+" -> "D/', ln)]
        assert 'constraint="false"' in line  # G's output crosses over; it does not stack D below G
    single = agqc.load(ROOT / "specs/vae.agq").to_dot()
    assert "rank=same; \"title:" not in single


def _cluster_boxes(svg: bytes) -> dict[str, tuple[float, float, float, float]]:
    ns = {"s": "http://www.w3.org/2000/svg"}
    boxes = {}
    for g in ET.fromstring(svg).iterfind(".//s:g[@class='cluster']", ns):
        title = g.find("s:title", ns).text
        points = [tuple(map(float, p.split(","))) for p in g.find("s:path", ns).get("d").replace("M", " ")
                  .replace("C", " ").replace("Z", " ").split()]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        boxes[title.removeprefix("cluster_")] = (min(xs), max(xs), min(ys), max(ys))
    return boxes


@needs_dot
@pytest.mark.parametrize("which", ["cgan", "dcgan"])
def test_gan_networks_render_side_by_side(which, write_spec):
    path = ROOT / "specs/cgan.agq" if which == "cgan" else write_spec(DCGAN)
    boxes = _cluster_boxes(render_bytes(agqc.load(path).to_dot(), "svg"))
    g, d = boxes["G"], boxes["D"]
    assert g[1] < d[0], (g, d)  # G's x range ends before D's begins: G left of D
    assert max(g[2], d[2]) < min(g[3], d[3])  # and their y ranges overlap: next to each other, not stacked


@needs_dot
def test_the_label_embedding_sits_beside_its_concat_and_edges_miss_titles():
    """D's label embedding shares a rank with the flatten it is joined to (it used to float ~1,000 px up),
    and a cluster's title is a node that arrows go around."""
    spec = agqc.load(ROOT / "specs/cgan.agq")
    dot = spec.to_dot()
    assert '{ rank=same; "D/embedding"; "D/flatten"; }' in dot
    plain = render_bytes(dot, "plain").decode()
    y = {f[1].strip('"'): float(f[3]) for f in (line.split() for line in plain.splitlines()) if f[0] == "node"}
    assert y["D/embedding"] == y["D/flatten"]
    assert y["title:D"] > y["D/embedding"] and y["title:G"] == y["title:D"]  # plain's y grows upwards


def test_a_projection_shortcut_block_carries_the_residual_mark():
    scene = build_scene(agqc.load(ROOT / "specs/resnet.agq").program, DrawOptions(depth=1))
    blocks = {i.title: i.residual for i in scene.items() if i.kind == "block"}
    assert blocks == {"BasicBlock": True, "DownBlock": True}  # `shortcut(x) + f(x)` adds two paths out of x
