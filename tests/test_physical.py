"""Physical world (Kurakin et al. 2016): destruction rates, EOT (Athalye et al. 2018), natural variation."""

from __future__ import annotations

import pytest
import torch

from feint.capabilities.physical.destruction import correct_top, destruction, destruction_rate, topk_levels
from feint.capabilities.physical.measure import PIPELINE, PhysicalSettings, physical_world, rate_of
from feint.errors import InputError
from feint.measure.natural import FAMILIES, SpatialGrid, natural_variation
from feint.transforms import Compose, Rotate, print_and_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _logits(predictions: list[int], classes: int = 10) -> torch.Tensor:
    """Logits whose top-1 is the given class and whose ranking is otherwise by class index."""
    out = -torch.arange(classes, dtype=torch.float32).repeat(len(predictions), 1)
    out[torch.arange(len(predictions)), torch.tensor(predictions)] = 100.0
    return out


def test_destruction_rate_equals_a_hand_computed_value():
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    clean = _logits([0, 1, 2, 3, 4, 9])  # input 5 is misclassified: it never counts
    adv = _logits([7, 7, 7, 3, 7, 7])  # input 3 resists the attack: it never counts
    # draw 1: inputs 0 and 2 are classified correctly again; draw 2: inputs 1 and 4
    transformed = torch.stack([_logits([0, 8, 2, 3, 8, 5]), _logits([8, 1, 8, 8, 4, 5])])
    # counted: inputs 0, 1, 2, 4 (clean right, adversarial wrong), 2 draws each = 8 pairs; destroyed: 4
    assert destruction_rate(clean, adv, transformed, y) == pytest.approx(4 / 8)
    assert destruction_rate(clean, adv, transformed[0], y) == pytest.approx(2 / 4)
    counts = destruction(correct_top(clean, y), correct_top(adv, y), correct_top(transformed, y))
    assert (counts.destroyed, counts.adversarial) == (4, 8)
    # top-5: below the top-1 the ranking is 0, 1, 2, 3, ..., so only input 4 (y = 4) is adversarial at top-5,
    # and input 5's clean top-5 ({9, 0, 1, 2, 3}) misses its label; input 4 is restored in draw 2 only
    assert correct_top(adv, y, 5).tolist() == [True, True, True, True, False, False]
    assert destruction_rate(clean, adv, transformed, y, k=5) == pytest.approx(1 / 2)
    assert destruction_rate(clean, clean, transformed, y) is None, "nothing adversarial: no rate"
    assert topk_levels(10) == (1, 5) and topk_levels(4) == (1,)


@pytest.fixture(scope="module")
def digits_subset(digits_test):
    return digits_test.x[:120], digits_test.y[:120]


@pytest.fixture(scope="module")
def physical(lenet_digits, digits_subset):
    x, y = digits_subset
    settings = PhysicalSettings(
        attacks=("fgsm", "bim", "ll_class"), eps=(0.15,), draws=2, eot=True, eot_samples=4, eot_steps=10
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches (see the one_torch_thread fixture)
    try:
        return physical_world(lenet_digits, x, y, settings=settings)
    finally:
        torch.set_num_threads(before)


def test_physical_world_measures_every_attack_transformation_and_top_k(physical):
    transforms = [t.name for t in print_and_photo().transforms] + [PIPELINE]
    attacks = ("fgsm", "bim", "ll_class", "pgd", "eot_pgd")
    assert {(r["attack"], r["transform"], r["k"]) for r in physical.destruction} == {
        (a, t, k) for a in attacks for t in transforms for k in (1, 5)
    }
    assert [u["transform"] for u in physical.clean["under"]] == transforms
    whole = next(u for u in physical.clean["under"] if u["transform"] == PIPELINE)
    assert whole["top1"] > 0.85, "the simulated photo must leave clean digits mostly recognisable"
    for row in physical.destruction:
        assert row["rate"] is None or 0.0 <= row["rate"] <= 1.0
        assert row["adversarial"] % 2 == 0, "every counted input meets both draws"
    assert set(physical.adversarial) == {f"{a}@0.15" for a in attacks}


def test_eot_examples_survive_the_pipeline_more_often_than_pgd(physical):
    eot = rate_of(physical.destruction, "eot_pgd", 0.15)
    plain = rate_of(physical.destruction, "pgd", 0.15)
    assert eot is not None and plain is not None
    assert eot < plain, (eot, plain)


def test_physical_settings_refuse_bad_values():
    with pytest.raises(InputError, match="unknown attack 'nope'"):
        PhysicalSettings(attacks=("nope",))
    with pytest.raises(InputError, match="every eps must be above 0"):
        PhysicalSettings(eps=(0.0, 0.1))
    with pytest.raises(InputError, match="draws must be an integer >= 1"):
        PhysicalSettings(draws=0)


def test_natural_rotation_by_zero_equals_clean_accuracy(lenet_digits, digits_subset):
    x, y = digits_subset
    result = natural_variation(
        lenet_digits, x, y, grid=SpatialGrid(rotations=(-10.0, 0.0, 10.0), translations=(-0.1, 0.0, 0.1))
    )
    clean = float((lenet_digits(x).argmax(1) == y).float().mean())
    assert result["clean_accuracy"] == pytest.approx(clean)
    curves = {f["name"].split(" ")[0]: dict(zip(f["values"], f["accuracy"], strict=True)) for f in result["families"]}
    assert [f[0].split(" ")[0] for f in FAMILIES] == list(curves)
    assert curves["rotation"][0.0] == pytest.approx(clean)
    assert curves["translation"][0.0] == pytest.approx(clean)
    assert curves["scaling"][1.0] == pytest.approx(clean)
    assert curves["blur"][0.0] == pytest.approx(clean)
    assert curves["rotation"][30.0] < clean and curves["blur"][2.0] < clean and curves["JPEG"][1.0] <= clean
    grid = result["grid"]
    assert grid["worst_case_accuracy"] <= grid["mean_accuracy"] <= clean
    assert grid["accuracy_no_vertical_shift"][1][1] == pytest.approx(clean), "no rotation, no shift"


def test_eot_takes_any_transformation(lenet_digits, digits_subset):
    from feint.attacks import eot_pgd

    x, y = digits_subset
    result = eot_pgd(
        lenet_digits, x[:20], y[:20], eps=0.2, transform=Compose((Rotate((-20, 20)),)), samples=2, steps=5, seed=0
    )
    assert result.distance.max() <= 0.2 + 1e-6
    assert result.queries >= 5 * 2 * 20
