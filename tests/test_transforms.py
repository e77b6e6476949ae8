"""feint.transforms: shapes, bounds and seeds are kept; differentiable transforms pass gradients; bad ranges fail."""

from __future__ import annotations

import pytest
import torch

from feint.errors import InputError
from feint.transforms import (
    JPEG,
    Blur,
    Brightness,
    ColourShift,
    Compose,
    Contrast,
    Crop,
    Gamma,
    GaussianNoise,
    Perspective,
    Rotate,
    Scale,
    Translate,
    print_and_photo,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALL = [
    Perspective((0.0, 0.1)),
    Rotate((-15.0, 15.0)),
    Translate((-0.1, 0.1), (-0.1, 0.1)),
    Scale((0.8, 1.2)),
    Crop((0.7, 1.0)),
    Blur((0.2, 1.0)),
    GaussianNoise((0.01, 0.05)),
    Brightness((-0.2, 0.2)),
    Contrast((0.7, 1.3)),
    Gamma((0.7, 1.4)),
    ColourShift((-0.1, 0.1)),
    JPEG((20, 90)),
    print_and_photo(),
]
IDS = [t.name for t in ALL]


@pytest.fixture(scope="module")
def images():
    gen = torch.Generator().manual_seed(0)
    grey = torch.rand(6, 1, 16, 16, generator=gen)
    colour = torch.rand(6, 3, 16, 16, generator=gen)
    return grey, colour


@pytest.mark.parametrize("transform", ALL, ids=IDS)
def test_shape_bounds_and_seed_are_kept(transform, images):
    for x in images:
        out = transform(x, seed=3)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(out, transform(x, seed=3)), "the same seed must give the same output"
        assert not torch.equal(out, transform(x, seed=4)), "another seed must draw other parameters"
        assert (out - x).abs().max() > 0, "a transform with a non-trivial range must change the images"


@pytest.mark.parametrize("transform", ALL, ids=IDS)
def test_other_bounds_are_kept(transform, images):
    x = images[0] * 2 - 1  # in [-1, 1]
    out = transform(x, seed=0, bounds=(-1.0, 1.0))
    assert float(out.min()) >= -1.0 - 1e-6 and float(out.max()) <= 1.0 + 1e-6
    unit = transform((x + 1) / 2, seed=0)
    assert torch.allclose((out + 1) / 2, unit, atol=1e-5), "a transform must not depend on the bounds' units"


@pytest.mark.parametrize("transform", ALL, ids=IDS)
def test_gradients_flow_to_the_input(transform, images):
    x = images[1].clone().requires_grad_(True)
    weights = torch.rand_like(x)
    (transform(x, seed=1) * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_jpeg_codes_for_real_and_passes_gradients_straight_through(images):
    x = images[1].clone().requires_grad_(True)
    out = JPEG(10)(x)
    assert (out - x).abs().mean() > 0.01, "quality 10 must visibly change random noise"
    assert torch.allclose(out * 255, (out * 255).round(), atol=1e-3), "decoded pixels are 8-bit"
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x)), "the JPEG gradient is the identity (straight through)"
    assert not JPEG.differentiable and Rotate.differentiable and not print_and_photo().differentiable


def test_identity_settings_leave_images_unchanged(images):
    x = images[1]
    for t in (
        Rotate(0.0),
        Translate(0.0, 0.0),
        Scale(1.0),
        Blur(0.0),
        Brightness(0.0),
        Contrast(1.0),
        Crop(1.0, centred=True),
    ):
        assert torch.allclose(t(x), x, atol=1e-5), t.name


def test_a_fixed_value_is_applied_to_every_image(images):
    x = images[0]
    rotated = Rotate((-30.0, 30.0)).at(90.0)(x)
    assert torch.allclose(rotated, torch.rot90(x, -1, (2, 3)), atol=1e-5), "90 degrees clockwise"
    assert torch.allclose(Brightness((-1, 1)).at(0.25)(x), (x + 0.25).clamp(0, 1))


def test_compose_is_one_seeded_chain(images):
    x = images[1]
    chain = Compose((Rotate((-10, 10)), Blur((0.1, 0.8)), JPEG((40, 90))))
    assert torch.equal(chain(x, seed=7), chain(x, generator=torch.Generator().manual_seed(7)))
    described = chain.describe()
    assert [t["name"] for t in described["transforms"]] == ["rotate", "blur", "jpeg"]
    assert described["transforms"][1]["sigma"] == [0.1, 0.8]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Rotate((10.0, -10.0)), "is empty"),
        (lambda: JPEG((0, 90)), "JPEG quality range (0, 90) leaves the domain [1, 100]"),
        (lambda: JPEG(101), "leaves the domain [1, 100]"),
        (lambda: Blur((-0.5, 1.0)), "blur sigma range (-0.5, 1) leaves the domain"),
        (lambda: Scale(0.0), "leaves the domain (0, 10]"),
        (lambda: Gamma((0.0, 1.0)), "leaves the domain (0, 10]"),
        (lambda: GaussianNoise((0.0, float("nan"))), "is empty"),
        (lambda: Rotate("wide"), "a number or a (low, high) pair"),
        (lambda: Crop((0.0, 1.0)), "crop keep fraction range"),
        (lambda: Compose(()), "at least one transform"),
    ],
)
def test_bad_ranges_fail_with_one_clear_error(make, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        make()


def test_images_too_small_for_a_transform_fail_clearly():
    tiny = torch.rand(2, 1, 4, 4)
    with pytest.raises(InputError, match=r"images of 4x4 are too small for a blur with sigma up to 2"):
        Blur((0.0, 2.0))(tiny)
    with pytest.raises(InputError, match=r"too small to crop to 0.4 of a side"):
        Crop((0.4, 1.0))(tiny)
    with pytest.raises(InputError, match=r"too small for a blur"):
        print_and_photo(blur=(0.0, 2.0))(tiny)
    with pytest.raises(InputError, match=r"non-empty float batch"):
        Rotate(5.0)(torch.zeros(4, 4))
