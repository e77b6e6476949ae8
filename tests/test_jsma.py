"""JSMA: reaches its targets by changing few features, never more than gamma of them, in bounds."""

from __future__ import annotations

import pytest
import torch
from helpers import Rescale
from hypothesis import given, settings
from hypothesis import strategies as st

from feint.attacks import get_attack
from feint.attacks.jsma import jsma
from feint.errors import InputError

FEATURES = 64  # digits are 1 x 8 x 8


def _changed(result) -> torch.Tensor:
    return ((result.x_adv - result.x).flatten(1).abs() > 0).sum(1)


@pytest.fixture(scope="module")
def targeted_run(lenet_digits, digits_test):
    x, y = digits_test.x[:48], digits_test.y[:48]
    return jsma(lenet_digits, x, y, gamma=0.3, targeted=True, target=(y + 1) % 10)


def test_targeted_jsma_reaches_most_targets(targeted_run, lenet_digits):
    result = targeted_run
    assert result.success_rate >= 0.7
    assert torch.equal(result.success, lenet_digits(result.x_adv).argmax(1) == result.target)


def test_changes_at_most_gamma_of_the_features(targeted_run):
    changed = _changed(targeted_run)
    assert int(changed.max()) <= int(0.3 * FEATURES)
    assert torch.equal(changed.to(targeted_run.distance.dtype), targeted_run.distance)
    assert targeted_run.threat.norm == "0"
    # a successful attack needs only a few pixels, far fewer than the budget allows
    assert float(changed[targeted_run.success].float().median()) <= 0.2 * FEATURES


def test_each_feature_moves_once_by_theta(lenet_digits, digits_test):
    """With theta = +1 every changed feature is saturated at the upper bound, and features only go up."""
    x, y = digits_test.x[:32], digits_test.y[:32]
    result = jsma(lenet_digits, x, y, gamma=0.3, targeted=True, target=(y + 2) % 10)
    delta = result.x_adv - result.x
    assert bool((delta >= 0).all())
    assert bool((result.x_adv[delta > 0] == 1.0).all())
    assert bool((_changed(result) % 2 == 0).all())  # pairs of features


def test_negative_theta_decreases_features(lenet_digits, digits_test):
    """theta = -1 switches pixels off (the paper's JSMA with decreasing features), still within the budget."""
    x, y = digits_test.x[:32], digits_test.y[:32]
    result = jsma(lenet_digits, x, y, theta=-1.0, gamma=0.3, seed=0)
    delta = result.x_adv - result.x
    assert bool((delta <= 0).all())
    assert bool((result.x_adv[delta < 0] == 0.0).all())
    assert result.success_rate >= 0.5
    assert int(_changed(result).max()) <= int(0.3 * FEATURES)


def test_untargeted_jsma_fools_with_a_seeded_random_direction(lenet_digits, digits_test):
    x, y = digits_test.x[:48], digits_test.y[:48]
    first = jsma(lenet_digits, x, y, gamma=0.3, seed=3)
    again = jsma(lenet_digits, x, y, gamma=0.3, seed=3)
    other = jsma(lenet_digits, x, y, gamma=0.3, seed=4)
    assert first.success_rate >= 0.7
    assert torch.equal(first.success, first.adv_pred != y)
    assert first.target is None
    assert torch.equal(first.x_adv, again.x_adv)
    assert not torch.equal(first.x_adv, other.x_adv)


def test_registered_as_an_l0_attack():
    spec = get_attack("jsma")
    assert spec.norms == ("0",) and spec.targeted and "seed" in spec.parameters()


@settings(max_examples=5, deadline=None)
@given(
    start=st.integers(0, 340),
    theta=st.sampled_from([1.0, 0.4, -1.0, -0.3]),
    gamma=st.floats(0.05, 0.5),
    bounds=st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]),
)
def test_results_stay_inside_the_bounds_and_the_budget(softmax_digits, digits_test, start, theta, gamma, bounds):
    lo, hi = bounds
    x, y = digits_test.x[start : start + 8], digits_test.y[start : start + 8]
    model = torch.nn.Sequential(Rescale(lo, hi), softmax_digits)
    result = jsma(
        model, lo + (hi - lo) * x, y, theta=theta, gamma=gamma, targeted=True, target=(y + 5) % 10, bounds=bounds
    )
    assert result.x_adv.min() >= lo and result.x_adv.max() <= hi
    assert int(_changed(result).max()) <= int(gamma * FEATURES)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.5}, "gamma"),
        ({"gamma": 0.01}, "raise gamma"),
        ({"theta": 0.0}, "theta"),
        ({"theta": 2.0}, "theta"),
        ({"targeted": True}, "target"),
    ],
)
def test_bad_parameters_are_refused(lenet_digits, digits_test, params, match):
    with pytest.raises(InputError, match=match):
        jsma(lenet_digits, digits_test.x[:4], digits_test.y[:4], **params)
