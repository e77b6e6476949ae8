"""Minimum-norm attacks: C&W L2, DeepFool (L2, Linf) and FMN (L2, Linf).

They fool the undefended models, need less than FGSM, match the exact minimum on linear models,
report honest distances, are deterministic, stay in bounds and refuse bad parameters.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from helpers import Rescale
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from feint.attacks import get_attack, sweep
from feint.attacks.cw import cw
from feint.attacks.deepfool import deepfool
from feint.attacks.fgsm import fgsm
from feint.attacks.fmn import fmn
from feint.errors import InputError

N = 48
FAST_CW = {"steps": 80, "binary_steps": 4, "lr": 0.1, "initial_const": 1.0}

ATTACKS = {
    "cw": (functools.partial(cw, **FAST_CW), "2"),
    "deepfool-2": (functools.partial(deepfool, norm="2"), "2"),
    "deepfool-inf": (functools.partial(deepfool, norm="inf"), "inf"),
    "fmn-2": (functools.partial(fmn, norm="2", steps=40), "2"),
    "fmn-inf": (functools.partial(fmn, norm="inf", steps=40), "inf"),
}
# few iterations: enough for the properties that do not depend on how good the result is
CHEAP = {
    "cw": functools.partial(cw, steps=10, binary_steps=2),
    "deepfool-2": functools.partial(deepfool, norm="2", max_iter=10),
    "deepfool-inf": functools.partial(deepfool, norm="inf", max_iter=10),
    "fmn-2": functools.partial(fmn, norm="2", steps=10),
    "fmn-inf": functools.partial(fmn, norm="inf", steps=10),
}


def _batch(data, n: int = N, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return data.x[start : start + n], data.y[start : start + n]


@pytest.fixture(scope="module")
def runs(lenet_digits, digits_test):
    """Each attack once on the same LeNet batch, shared by the tests that only read results."""
    x, y = _batch(digits_test)
    return {name: attack(lenet_digits, x, y) for name, (attack, _) in ATTACKS.items()}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_fools_lenet_and_reports_honestly(runs, lenet_digits, name):
    result = runs[name]
    norm = ATTACKS[name][1]
    assert result.success_rate >= 0.9
    assert result.threat.norm == norm and math.isinf(result.threat.eps)
    pred = lenet_digits(result.x_adv).argmax(1)
    assert torch.equal(result.success, pred != result.y)
    size = (result.x_adv - result.x).flatten(1)
    size = size.norm(dim=1) if norm == "2" else size.abs().amax(1)
    assert torch.allclose(result.distance, size, atol=1e-6)
    failed = ~result.success
    assert torch.equal(result.x_adv[failed], result.x[failed])
    assert result.queries > N


@pytest.mark.parametrize("name", list(ATTACKS))
def test_smaller_perturbations_than_fgsm(runs, lenet_digits, digits_test, name):
    """FGSM at the smallest eps of a grid where it fools half the batch needs more than the minimum-norm attack."""
    x, y = _batch(digits_test)
    norm = ATTACKS[name][1]
    grid = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] if norm == "2" else [0.05, 0.1, 0.15, 0.2, 0.3]
    fast = next(r for r in (fgsm(lenet_digits, x, y, eps=e, norm=norm) for e in grid) if r.success_rate >= 0.5)
    both = fast.success & runs[name].success
    assert both.sum() >= N // 3
    assert runs[name].distance[both].median() < fast.distance[both].median()
    assert runs[name].distance[both].mean() < fast.distance[both].mean()


def test_targeted_cw_reaches_the_targets(lenet_digits, digits_test):
    x, y = _batch(digits_test, 32)
    target = (y + 3) % 10
    result = cw(lenet_digits, x, y, targeted=True, target=target, **FAST_CW)
    assert torch.equal(result.success, result.adv_pred == target)
    assert result.success_rate >= 0.8


def test_targeted_fmn_reaches_the_targets(lenet_digits, digits_test):
    x, y = _batch(digits_test, 32)
    target = (y + 3) % 10
    result = fmn(lenet_digits, x, y, norm="2", steps=40, targeted=True, target=target)
    assert torch.equal(result.success, result.adv_pred == target)
    assert result.success_rate >= 0.8


def test_cw_confidence_buys_a_margin(softmax_digits, digits_test):
    x, y = _batch(digits_test, 32)
    plain = cw(softmax_digits, x, y, **FAST_CW)
    sure = cw(softmax_digits, x, y, confidence=3.0, **FAST_CW)
    ok = plain.success & sure.success
    assert ok.sum() >= 16
    logits = sure.adv_logits[ok]
    true = logits.gather(1, y[ok, None]).squeeze(1)
    assert bool((logits.amax(1) - true > 3.0 - 1e-3).all())
    assert sure.distance[ok].mean() > plain.distance[ok].mean()


# --- exact minimum on a linear classifier, where the nearest boundary has a closed form ---


def _linear_problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 5))
    with torch.no_grad():
        model[1].weight.mul_(4)
    x = torch.rand(24, 1, 4, 4) * 0.5 + 0.25  # far enough from the bounds that the box never binds
    return model, x, model(x).argmax(1).detach()


def _nearest_boundary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, norm: str) -> torch.Tensor:
    """min_k (z_y - z_k) / ||w_k - w_y||_q, q the dual norm: the exact minimal perturbation of a linear model."""
    weight = model[1].weight.detach()
    z = model(x).detach()
    gap = z.gather(1, y[:, None]) - z
    diff = (weight[None] - weight[y][:, None]).norm(p=1 if norm == "inf" else 2, dim=2)
    dist = gap / diff
    dist[torch.arange(len(y)), y] = math.inf
    return dist.amin(1)


@pytest.mark.parametrize(
    ("attack", "norm"),
    [
        (functools.partial(cw, steps=100, binary_steps=9, lr=0.01), "2"),
        (functools.partial(deepfool, norm="2", overshoot=0.0), "2"),
        (functools.partial(deepfool, norm="inf", overshoot=0.0), "inf"),
        (functools.partial(fmn, norm="2", steps=50), "2"),
        (functools.partial(fmn, norm="inf", steps=50), "inf"),
    ],
)
def test_linear_model_minimum_is_found_and_never_beaten(attack, norm):
    model, x, y = _linear_problem()
    optimum = _nearest_boundary(model, x, y, norm)
    result = attack(model, x, y)
    assert bool(result.success.all())
    ratio = result.distance / optimum
    assert bool((ratio >= 1 - 1e-3).all())  # nothing beats the exact minimum: distances are honest
    assert float(ratio.median()) <= 1.02
    assert float(ratio.max()) <= 1.25


# --- bookkeeping ---


@pytest.mark.parametrize("name", ["cw", "deepfool-2", "fmn-inf"])
def test_already_adversarial_inputs_cost_nothing(runs, lenet_digits, name):
    previous = runs[name]
    again = CHEAP[name](lenet_digits, previous.x_adv, previous.y)
    assert bool(again.success[previous.success].all())
    assert bool((again.distance[previous.success] == 0).all())


@pytest.mark.parametrize(
    "attack",
    [
        functools.partial(cw, steps=2, binary_steps=1, initial_const=1e-6),
        functools.partial(deepfool, max_iter=1, overshoot=0.0),
        functools.partial(fmn, steps=1),
    ],
)
def test_unfooled_samples_come_back_unchanged(lenet_digits, digits_test, attack):
    """Starved of iterations, the attacks fail on many samples; those return x itself at distance 0."""
    x, y = _batch(digits_test, 32)
    result = attack(lenet_digits, x, y)
    failed = ~result.success
    assert failed.sum() >= 4
    assert torch.equal(result.x_adv[failed], x[failed])
    assert bool((result.distance[failed] == 0).all())


def test_sweep_answers_every_eps_from_one_run(lenet_digits, digits_test):
    x, y = _batch(digits_test, 32)
    assert get_attack("fmn").minimum_norm and get_attack("cw").minimum_norm and get_attack("deepfool").minimum_norm
    swept = sweep("deepfool", lenet_digits, x, y, eps=[0.0, 0.4, 0.8, 1.6])
    clean = float((lenet_digits(x).argmax(1) == y).float().mean())
    assert swept.accuracy[0] == pytest.approx(clean)
    assert all(a >= b for a, b in zip(swept.accuracy, swept.accuracy[1:], strict=False))
    assert swept.accuracy[-1] < clean - 0.5


@pytest.mark.parametrize("name", list(ATTACKS))
def test_deterministic(lenet_digits, digits_test, name):
    x, y = _batch(digits_test, 16, start=100)
    attack = CHEAP[name]
    assert torch.equal(attack(lenet_digits, x, y).x_adv, attack(lenet_digits, x, y).x_adv)


@settings(max_examples=6, deadline=None)
@given(
    name=st.sampled_from(list(ATTACKS)),
    start=st.integers(0, 340),
    bounds=st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]),
)
def test_results_stay_inside_the_bounds(lenet_digits, digits_test, name, start, bounds):
    lo, hi = bounds
    x, y = _batch(digits_test, 8, start=start)
    model = nn.Sequential(Rescale(lo, hi), lenet_digits)
    attack = CHEAP[name]
    result = attack(model, lo + (hi - lo) * x, y, bounds=bounds)
    assert result.x_adv.min() >= lo and result.x_adv.max() <= hi


@pytest.mark.parametrize(
    ("attack", "params", "match"),
    [
        (cw, {"steps": 0}, "steps"),
        (cw, {"binary_steps": 0}, "binary_steps"),
        (cw, {"confidence": -1.0}, "kappa"),
        (cw, {"lr": 0.0}, "lr"),
        (cw, {"initial_const": -1.0}, "initial_const"),
        (deepfool, {"norm": "1"}, "norm"),
        (deepfool, {"norm": "l7"}, "norm"),
        (deepfool, {"max_iter": 0}, "max_iter"),
        (deepfool, {"candidates": 1}, "candidates"),
        (deepfool, {"overshoot": -0.1}, "overshoot"),
        (deepfool, {"targeted": True, "target": torch.zeros(4, dtype=torch.long)}, "untargeted"),
        (fmn, {"steps": 0}, "steps"),
        (fmn, {"norm": "0"}, "norm"),
        (fmn, {"gamma_init": 1.5}, "gamma_init"),
        (fmn, {"alpha_init": -1.0}, "alpha_init"),
        (fmn, {"targeted": True}, "target"),
    ],
)
def test_bad_parameters_are_refused(lenet_digits, digits_test, attack, params, match):
    x, y = _batch(digits_test, 4)
    with pytest.raises(InputError, match=match):
        attack(lenet_digits, x, y, **params)


@pytest.mark.parametrize("targeted", [False, True])
def test_margin_objective_points_the_same_way_as_cross_entropy(targeted):
    """Raising the label's logit must move both objectives the same way (down untargeted, up targeted)."""
    from feint.attacks.core import objective

    torch.manual_seed(0)
    logits = torch.randn(16, 10)
    labels = torch.randint(0, 10, (16,))
    raised = logits.scatter_add(1, labels[:, None], torch.full((16, 1), 0.5))
    for loss in ("ce", "margin"):
        change = objective(raised, labels, targeted=targeted, loss=loss) - objective(
            logits, labels, targeted=targeted, loss=loss
        )
        assert bool((change > 0).all()) if targeted else bool((change < 0).all())
