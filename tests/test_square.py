"""The Square attack fools a trained CNN with scores only, inside the ball, reproducibly."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from feint.attacks.registry import get_attack, run_attack
from feint.attacks.square import p_schedule, square
from feint.data import Dataset
from feint.errors import InputError


class NoBackward(torch.autograd.Function):
    """Identity forward whose backward raises: any gradient use makes the attack fail."""

    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:
        raise RuntimeError("the Square attack must not use gradients")


class GradientFree(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(NoBackward.apply(x))


@pytest.fixture(scope="module")
def batch(digits_test: Dataset, lenet_digits: nn.Module) -> tuple[Tensor, Tensor]:
    x, y = digits_test.x[:96], digits_test.y[:96]
    keep = lenet_digits(x).argmax(1) == y
    return x[keep], y[keep]


def test_square_fools_lenet_inside_linf_ball_without_gradients(lenet_digits: nn.Module, batch) -> None:
    x, y = batch
    res = square(GradientFree(lenet_digits), x, y, eps=0.2, n_queries=300, seed=1)
    assert res.success_rate > 0.8
    assert float((res.x_adv - x).abs().max()) <= 0.2 + 1e-6
    assert float(res.x_adv.min()) >= 0.0 and float(res.x_adv.max()) <= 1.0
    # Early stopping: far fewer queries than n_queries for every sample.
    assert res.queries < 300 * x.shape[0] * 0.5


def test_square_l2_fools_and_respects_the_ball(lenet_digits: nn.Module, batch) -> None:
    x, y = batch
    res = run_attack("square", lenet_digits, x, y, eps=1.5, norm="2", n_queries=300)
    assert res.success_rate > 0.8
    assert float(res.distance.max()) <= 1.5 + 1e-4


def test_square_is_seeded_and_better_with_more_queries(lenet_digits: nn.Module, batch) -> None:
    x, y = batch
    a = square(lenet_digits, x, y, eps=0.1, n_queries=50, seed=3)
    b = square(lenet_digits, x, y, eps=0.1, n_queries=50, seed=3)
    assert torch.equal(a.x_adv, b.x_adv)
    more = square(lenet_digits, x, y, eps=0.1, n_queries=250, seed=3)
    assert more.success_rate >= a.success_rate
    assert more.success_rate > 0.0


def test_square_targeted_reaches_the_target(lenet_digits: nn.Module, batch) -> None:
    x, y = batch
    target = (y + 1) % 10
    res = square(lenet_digits, x, y, eps=0.3, n_queries=300, targeted=True, target=target)
    assert float((res.adv_pred == target).float().mean()) > 0.5
    assert bool((res.success == (res.adv_pred == target)).all())


def test_square_rejects_bad_settings(lenet_digits: nn.Module, batch) -> None:
    x, y = batch
    with pytest.raises(InputError, match="n_queries"):
        square(lenet_digits, x, y, eps=0.1, n_queries=0)
    unbounded, whole_box = (square(lenet_digits, x[:8], y[:8], eps=e, n_queries=20) for e in (float("inf"), 1.0))
    assert torch.equal(unbounded.x_adv, whole_box.x_adv)  # an eps past the bounds' range is that range
    with pytest.raises(InputError, match="'inf' and '2'"):
        square(lenet_digits, x, y, eps=1.0, norm="1")
    assert "2" in get_attack("square").norms


@settings(max_examples=20, deadline=None)
@given(p=st.floats(0.01, 1.0), it=st.integers(0, 999))
def test_p_schedule_only_shrinks(p: float, it: int) -> None:
    assert p_schedule(p, it + 1, 1000) <= p_schedule(p, it, 1000) <= p
    assert p_schedule(p, it, 1000) >= p / 2**9


class MeanScore(nn.Module):
    """Two classes; class 0's lead over class 1 is ``lead - mean(x)``: the search makes progress on it by
    raising pixels, and no point of a small ball can cross it where ``lead`` is large."""

    def __init__(self, lead: float) -> None:
        super().__init__()
        self.lead = lead

    def forward(self, x: Tensor) -> Tensor:
        gap = self.lead - x.flatten(1).mean(1)
        return torch.stack([gap, torch.zeros_like(gap)], 1)


def test_square_stops_stalled_searches_and_keeps_gaining_ones() -> None:
    """With a stall factor an input whose margin cannot fall stops at the first checkpoint (a twentieth of
    the budget), while one whose margin keeps falling is searched until it breaks."""
    x, y = torch.full((6, 1, 8, 8), 0.5), torch.zeros(6, dtype=torch.long)
    stuck = MeanScore(lead=50.0)  # the margin falls by at most eps = 0.1 of 49.5: never to 0.8 of it
    full = square(stuck, x, y, eps=0.1, n_queries=200, p_init=0.8)
    stopped = square(stuck, x, y, eps=0.1, n_queries=200, p_init=0.8, stall_factor=0.8)
    assert full.queries == 6 * 200 and not full.success.any()
    assert stopped.queries == 6 * (1 + 10 + 1) and not stopped.success.any()  # init, 10 steps, final check
    gaining = MeanScore(lead=0.57)  # broken once the mean pixel rises from 0.5 past 0.57 (the ball allows 0.6)
    res = square(gaining, x, y, eps=0.1, n_queries=200, p_init=0.8, stall_factor=0.8)
    assert bool(res.success.all()) and float((res.x_adv - x).abs().max()) <= 0.1 + 1e-6


def test_stall_rule_checkpoints_and_bad_factor() -> None:
    from feint.attacks.stall import StallRule

    rule = StallRule(5000, 0.8)
    due = {steps: rule.required(steps) for steps in range(5000) if rule.required(steps) is not None}
    assert due == pytest.approx({250: 0.8, 500: 0.64, 1000: 0.512, 2000: 0.8**4, 4000: 0.8**5})
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(InputError, match="stall_factor"):
            square(MeanScore(1.0), torch.zeros(1, 1, 4, 4), torch.zeros(1, dtype=torch.long), eps=0.1, stall_factor=bad)
