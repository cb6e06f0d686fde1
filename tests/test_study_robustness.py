"""agqc.studies.robustness: each distortion does exactly what its strength says, and accuracy is counted right."""
from __future__ import annotations

import pytest
import torch

from agqc.studies import robustness as rb


def _dot(n: int = 6, size: int = 16) -> torch.Tensor:
    """n images, each with one bright pixel in the middle."""
    images = torch.zeros(n, 1, size, size)
    images[:, 0, size // 2, size // 2] = 1.0
    return images


@pytest.mark.parametrize("pixels", [1, 3])
def test_shift_moves_every_image_by_exactly_that_many_pixels(pixels):
    moved = rb.distort(_dot(32), "shift", pixels, seed=1)
    where = moved[:, 0].flatten(1).argmax(1)
    dy, dx = where // 16 - 8, where % 16 - 8
    assert torch.all(torch.maximum(dy.abs(), dx.abs()) == pixels)  # one of the 8 compass directions, k away
    assert len({(int(a), int(b)) for a, b in zip(dy, dx)}) > 1       # not always the same direction
    assert torch.equal(moved.sum((1, 2, 3)), torch.ones(32))


def test_rotate_by_ninety_degrees_is_a_quarter_turn_either_way():
    images = torch.rand(8, 1, 12, 12)
    turned = rb.distort(images, "rotate", 90, seed=0)
    quarter = [torch.rot90(images, k, dims=(2, 3)) for k in (1, -1)]
    for i in range(8):
        assert min(float((turned[i] - q[i]).abs().max()) for q in quarter) < 1e-4


def test_noise_has_the_standard_deviation_asked_for_and_stays_in_range():
    flat = torch.full((4, 1, 64, 64), 0.5)
    noisy = rb.distort(flat, "noise", 0.1, seed=0)
    assert abs(float((noisy - flat).std()) - 0.1) < 0.005
    assert float(rb.distort(flat, "noise", 2.0).min()) >= 0 and float(rb.distort(flat, "noise", 2.0).max()) <= 1


def test_invert_blends_towards_the_negative():
    images = torch.rand(3, 1, 5, 5)
    assert torch.allclose(rb.distort(images, "invert", 1.0), 1 - images)
    assert torch.allclose(rb.distort(images, "invert", 0.5), torch.full_like(images, 0.5))
    assert torch.equal(rb.distort(images, "invert", 0.0), images)


def test_the_same_seed_gives_the_same_images_and_strength_zero_the_clean_ones():
    images = torch.rand(10, 1, 9, 9)
    for name in rb.DISTORTIONS:
        assert torch.equal(rb.distort(images, name, rb.DISTORTIONS[name].strengths[2], 5),
                           rb.distort(images, name, rb.DISTORTIONS[name].strengths[2], 5))
        assert torch.allclose(rb.distort(images, name, 0, 5), images, atol=1e-6)


class _Threshold(torch.nn.Module):
    """Class 1 when the image's mean is above 0.5: inverting the image flips its answer."""

    def forward(self, x):
        bright = (x.mean((1, 2, 3)) > 0.5).float()
        return torch.stack([1 - bright, bright], 1)


def test_accuracy_and_curves_count_right_answers():
    images = torch.cat([torch.full((30, 1, 4, 4), 0.9), torch.full((10, 1, 4, 4), 0.1)])
    labels = torch.cat([torch.ones(30), torch.zeros(10)]).long()
    assert rb.accuracy(_Threshold(), images, labels, batch=7) == 1.0
    found = rb.curves({"t": _Threshold()}, images, labels, ("invert",), strengths={"invert": (0, 1.0)})
    assert found == {"invert": {"t": [(0.0, 1.0), (1.0, 0.0)]}}
    assert rb.plot_curves(found)[:4] == b"\x89PNG"
