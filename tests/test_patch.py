"""Stickers, patches and universal perturbations (feint.attacks.patches) on the digits LeNet: each
does its job on held-out inputs, stays inside its budget, and refuses bad input with one clear error."""

from __future__ import annotations

import json

import pytest
import torch

from feint.attacks.patches import (
    Placement,
    adversarial_patch,
    check_area,
    check_mask,
    default_palette,
    load_palette,
    make_mask,
    palette_distance,
    patch_side,
    sticker,
    universal_perturbation,
)
from feint.attacks.patches.evaluate import counted, random_like, rate, success_draws
from feint.attacks.patches.placement import paste
from feint.errors import InputError
from feint.transforms import Brightness, Compose, Rotate

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LIGHT = Compose((Rotate((-5.0, 5.0)), Brightness((-0.05, 0.05))))  # cheap EOT for the tests


def _held_out_rates(model, result, data, draws=4):
    ok = counted(model, data.x, data.y, result.target)
    mine = rate(success_draws(model, result, data.x, data.y, draws=draws), ok)
    random = rate(success_draws(model, random_like(result, seed=1), data.x, data.y, draws=draws), ok)
    return mine, random


def test_a_trained_patch_fools_held_out_inputs_far_more_than_a_random_patch(lenet_digits, digits_train, digits_test):
    train = digits_train.head(300)
    result = adversarial_patch(lenet_digits, train.x, train.y, area=0.15, steps=60, seed=0)
    assert result.pattern.shape == (1, 3, 3) and result.pattern.min() >= 0 and result.pattern.max() <= 1
    mine, random = _held_out_rates(lenet_digits, result, digits_test)
    assert mine > random + 0.1 and mine > 1.5 * random, (mine, random)


def test_a_sticker_stays_inside_its_mask(lenet_digits, digits_train, digits_test):
    for mask in (make_mask("square", 8, 8, 0.15, at=(0.2, 0.8)), make_mask("strips", 8, 8, 0.25)):
        result = sticker(lenet_digits, digits_train.x[:64], digits_train.y[:64], mask=mask, transform=LIGHT, steps=5)
        x = digits_test.x[:32]
        changed = (result.apply(x) - x).abs().amax(dim=(0, 1)) > 0
        assert not bool(changed[mask[0] == 0].any()), "the sticker changed a pixel outside its mask"
        assert bool(changed.any())
        assert bool((result.pattern[:, mask[0] == 0] == 0).all())


@pytest.mark.parametrize(("norm", "eps"), [("inf", 0.2), ("2", 1.2)])
def test_a_universal_perturbation_stays_in_its_norm_and_beats_noise_of_that_norm(
    lenet_digits, digits_train, digits_test, norm, eps
):
    train = digits_train.head(400)
    result = universal_perturbation(lenet_digits, train.x, train.y, eps=eps, norm=norm, passes=4, seed=0)
    size = result.pattern.abs().max() if norm == "inf" else result.pattern.norm()
    assert float(size) <= eps * (1 + 1e-5)
    noise = random_like(result, seed=3).pattern
    noise_size = noise.abs().max() if norm == "inf" else noise.norm()
    assert float(noise_size) == pytest.approx(eps, rel=1e-4)
    mine, random = _held_out_rates(lenet_digits, result, digits_test, draws=1)
    assert mine > random + 0.1, (mine, random)


def test_the_printability_term_brings_the_sticker_closer_to_the_palette(lenet_digits, digits_train):
    mask = make_mask("square", 8, 8, 0.25)
    palette = default_palette(1)
    common = {"mask": mask, "transform": LIGHT, "smoothness": 0.0, "steps": 40, "seed": 0}
    x, y = digits_train.x[:200], digits_train.y[:200]
    free = sticker(lenet_digits, x, y, printability=0.0, **common)
    printable = sticker(lenet_digits, x, y, printability=20.0, **common)
    far, near = palette_distance(free.pattern, palette, mask), palette_distance(printable.pattern, palette, mask)
    assert near < 0.8 * far, (near, far)


def test_a_patch_is_pasted_inside_the_image_at_the_area_asked():
    patch = torch.ones(1, 4, 4)

    x = torch.zeros(64, 1, 16, 16)
    out, cover = paste(x, patch, Placement(1.0, (-30.0, 30.0)), torch.Generator().manual_seed(0))
    # every draw keeps the whole patch: rotated and moved, none of it falls off the image
    assert float(cover.sum(dim=(1, 2, 3)).sub(16).abs().max()) < 1.0
    assert torch.equal(out, cover)  # a white patch on black images: exactly where its mask is


# Bad input: one clear error each.


@pytest.mark.parametrize("area", [0, 1, -0.1, 1.5, float("nan"), True])
def test_an_area_outside_zero_one_is_refused(area):
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        check_area(area)


def test_a_mask_of_the_wrong_size_or_all_zero_is_refused(lenet_digits, digits_train):
    with pytest.raises(InputError, match=r"the mask is 9x8 px but the images are 8x8"):
        check_mask(torch.ones(9, 8), 8, 8)
    with pytest.raises(InputError, match="all zero"):
        sticker(lenet_digits, digits_train.x[:4], digits_train.y[:4], mask=torch.zeros(8, 8), steps=1)


def test_a_palette_that_is_not_a_list_of_colours_is_refused(tmp_path):
    cases = {
        "dict.json": json.dumps({"red": [1, 0, 0]}),
        "words.json": json.dumps(["red", "green"]),
        "ragged.json": json.dumps([[0.1, 0.2, 0.3], [0.4]]),
        "text.csv": "red,green\n",
        "bad.json": "[[0.1, 0.2",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match="palette"):
            load_palette(tmp_path / name, 3)
    (tmp_path / "palette.pkl").write_bytes(b"\x80\x04K\x01.")  # a pickle is never read
    with pytest.raises(InputError, match=r"must be \.json or \.csv"):
        load_palette(tmp_path / "palette.pkl", 3)
    (tmp_path / "good.csv").write_text("255,0,0\n0,0,255\n")
    assert load_palette(tmp_path / "good.csv", 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    with pytest.raises(InputError, match="colours of 3 values but the images have 1 channels"):
        load_palette(tmp_path / "good.csv", 1)


def test_a_patch_larger_than_the_image_is_refused(lenet_digits, digits_test):
    result = adversarial_patch(lenet_digits, digits_test.x[:8], digits_test.y[:8], area=0.1, steps=1)
    big = type(result)(**{**result.__dict__, "pattern": torch.rand(1, 10, 10)})
    with pytest.raises(InputError, match=r"the patch \(10x10 px\) is larger than the images \(8x8 px\)"):
        big.apply(digits_test.x[:4])
    with pytest.raises(InputError, match="larger than the image"):
        patch_side(0.9, 4, 16)
