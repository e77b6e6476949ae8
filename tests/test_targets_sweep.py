"""Target labels never equal the true label; eps sweeps are monotone and answer minimum-norm
attacks from one run."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from feint.attacks import (
    ATTACKS,
    fgsm,
    least_likely_targets,
    next_class_targets,
    pgd,
    random_targets,
    register_attack,
    sweep,
)
from feint.attacks.core import ascent_gradient, attack_run
from feint.errors import InputError
from feint.threat import ThreatModel


@pytest.fixture(scope="module")
def batch(digits_test) -> tuple[Tensor, Tensor]:
    return digits_test.x[:128], digits_test.y[:128]


@settings(max_examples=40, deadline=None)
@given(
    num_classes=st.integers(2, 12),
    labels=st.lists(st.integers(0, 1000), min_size=1, max_size=40),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_and_next_class_targets_are_never_the_true_label(num_classes, labels, seed):
    y = torch.tensor(labels) % num_classes
    for targets in (random_targets(y, num_classes, seed=seed), next_class_targets(y, num_classes)):
        assert targets.shape == y.shape and targets.dtype == torch.long
        assert bool((targets != y).all())
        assert bool(((targets >= 0) & (targets < num_classes)).all())
    assert torch.equal(random_targets(y, num_classes, seed=seed), random_targets(y, num_classes, seed=seed))
    assert torch.equal(next_class_targets(y, num_classes), (y + 1) % num_classes)


def test_random_targets_cover_every_wrong_class():
    y = torch.zeros(2000, dtype=torch.long)
    counts = torch.bincount(random_targets(y, 5, seed=0), minlength=5)
    assert counts[0] == 0
    assert bool((counts[1:] > 400).all())


def test_least_likely_targets_are_the_lowest_logit_other_than_y(lenet_digits, batch):
    x = batch[0]
    logits = lenet_digits(x).detach()
    assert torch.equal(least_likely_targets(lenet_digits, x), logits.argmin(1))
    y_lowest = logits.argmin(1)  # pretend the true label is the least likely: the target must move on
    targets = least_likely_targets(lenet_digits, x, y=y_lowest)
    assert bool((targets != y_lowest).all())
    assert torch.equal(targets, logits.sort(1).indices[:, 1])


@pytest.mark.parametrize(
    "call",
    [
        lambda y: random_targets(y, 1, seed=0),
        lambda y: next_class_targets(y, 3),
        lambda y: next_class_targets(y[None], 10),
        lambda y: random_targets(y.float(), 10),
    ],
)
def test_bad_target_requests_raise_input_error(batch, call):
    with pytest.raises(InputError):
        call(batch[1][:16])


def test_pgd_sweep_is_monotone_in_eps(lenet_digits, batch):
    x, y = batch
    budgets = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
    result = sweep("pgd", lenet_digits, x, y, eps=budgets, steps=10, seed=0)
    rates = result.success_rate
    assert result.eps == tuple(budgets) and result.success.shape == (len(budgets), x.shape[0])
    assert all(a <= b for a, b in itertools.pairwise(rates))
    assert all(a >= b for a, b in itertools.pairwise(result.accuracy))
    assert rates[-1] > 0.9
    clean_correct = lenet_digits(x).argmax(1) == y
    assert torch.equal(result.success[0], ~clean_correct)
    assert result.accuracy[0] == pytest.approx(float(clean_correct.float().mean()))
    assert [r.threat.eps for r in result.results] == budgets
    assert result.queries == [r.queries for r in result.results]


def test_sweep_takes_a_function_or_a_name(softmax_digits, batch):
    x, y = batch[0][:64], batch[1][:64]
    by_name = sweep("pgd", softmax_digits, x, y, eps=[0.05, 0.1], steps=5, seed=2)
    by_fn = sweep(pgd, softmax_digits, x, y, eps=[0.05, 0.1], steps=5, seed=2)
    assert torch.equal(by_name.success, by_fn.success)
    direct = pgd(softmax_digits, x, y, eps=0.1, steps=5, seed=2)
    assert torch.equal(by_fn.results[1].x_adv, direct.x_adv)


GRID = tuple(i / 50 for i in range(26))


def fgsm_line_search(
    model: nn.Module, x: Tensor, y: Tensor, *, grid: tuple[float, ...] = GRID, bounds: tuple[float, float] = (0.0, 1.0)
):
    """A tiny minimum-norm attack: the smallest step along the FGSM direction (on a grid) that fools."""
    fgsm_line_search.calls += 1  # type: ignore[attr-defined]
    threat = ThreatModel("inf", math.inf, bounds)
    with attack_run(model, x, y, threat) as run:
        grad, _ = ascent_gradient(run.model, run.x, run.y, targeted=False)
        best = run.x.clone()
        for step in reversed(grid):
            candidate = threat.clip(run.x + step * grad.sign())
            fooled = run.model(candidate).argmax(1) != y
            best[fooled] = candidate[fooled]
        return run.finish(best)


@pytest.fixture
def line_search():
    fgsm_line_search.calls = 0  # type: ignore[attr-defined]
    register_attack("test-fgsm-line-search", minimum_norm=True)(fgsm_line_search)
    yield fgsm_line_search
    ATTACKS.pop("test-fgsm-line-search")


def test_minimum_norm_attacks_run_once_and_answer_every_eps(lenet_digits, batch, line_search):
    x, y = batch
    budgets = [0.0, 0.1, 0.2, 0.3]
    result = sweep("test-fgsm-line-search", lenet_digits, x, y, eps=budgets)
    assert line_search.calls == 1
    once = line_search(lenet_digits, x, y)
    for i, eps in enumerate(budgets):
        expected = once.success & (once.distance <= eps + 1e-6)
        assert torch.equal(result.success[i], expected)
        assert torch.equal(result.results[i].success, expected)
        assert float(result.results[i].distance.max()) <= eps + 1e-6
        assert result.results[i].threat.eps == eps
        assert torch.equal(result.results[i].adv_pred != y, expected | (lenet_digits(x).argmax(1) != y))
        # a sample FGSM fools at this budget lies on the searched line, so the search found it too
        assert bool((fgsm(lenet_digits, x, y, eps=eps).success <= result.success[i]).all())
    assert bool((result.success[:-1] <= result.success[1:]).all())
    assert result.success_rate[-1] > result.success_rate[1]


@pytest.mark.parametrize(
    ("attack", "eps"),
    [("pgd", []), ("pgd", [0.1, -0.1]), ("pgd", 0.1), ("no-such-attack", [0.1]), (42, [0.1])],
)
def test_bad_sweeps_raise_input_error(softmax_digits, batch, attack, eps):
    with pytest.raises(InputError):
        sweep(attack, softmax_digits, batch[0][:8], batch[1][:8], eps=eps, steps=2)
