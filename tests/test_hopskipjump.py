"""HopSkipJump on a LabelOracle, and one model at three access levels: PGD <= Square <= HopSkipJump."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from feint.attacks import hopskipjump, pgd, square
from feint.errors import InputError
from feint.oracles import ModuleLabelOracle, as_oracle

EPS = 0.15


@pytest.fixture(scope="module")
def batch(lenet_digits: nn.Module, digits_test) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = digits_test.x[:60], digits_test.y[:60]
    with torch.no_grad():
        ok = lenet_digits(x).argmax(1) == y
    return x[ok][:32], y[ok][:32]


def test_white_box_beats_scores_beats_labels_at_one_eps(lenet_digits, batch) -> None:
    """Robust accuracy at one Linf eps: PGD (gradients) <= Square (scores) <= HopSkipJump (labels).

    Tolerance: 2 of the 32 inputs. Each attack is a randomised search; an input near its decision
    boundary can fall to the weaker one by luck (the gaps measured here are 8 and 11 inputs),
    and the ordering is a claim about attack strength, not about every single input.
    """
    x, y = batch
    n, slack = x.shape[0], 2 / x.shape[0]
    white = pgd(lenet_digits, x, y, eps=EPS, steps=20, seed=0)
    scores = as_oracle(lenet_digits, access="scores")
    labels = as_oracle(lenet_digits, access="labels")
    by_scores = square(scores, x, y, eps=EPS, n_queries=300, seed=0)
    by_labels = hopskipjump(labels, x, y, eps=EPS, norm="inf", max_queries=200, seed=0)
    assert white.accuracy <= by_scores.accuracy + slack <= by_labels.accuracy + 2 * slack
    assert by_scores.access == "scores" and by_labels.access == "labels"
    assert by_scores.queries == scores.queries <= 300 * n  # exact: every row, the final check included
    assert by_labels.queries == labels.queries <= 200 * n
    assert torch.isnan(by_labels.adv_confidence).all()  # label-only: confidence never revealed
    assert torch.equal(by_labels.adv_pred, lenet_digits(by_labels.x_adv).argmax(1))


class Counting(nn.Module):
    """Records every batch the model is asked about."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.rows = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.model(x)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_minimum_norm_runs_are_batched_and_within_budget(lenet_digits, batch, norm) -> None:
    x, y = batch[0][:12], batch[1][:12]
    counted = Counting(lenet_digits)
    oracle = ModuleLabelOracle(counted)
    calls = []
    inner = oracle._labels
    oracle._labels = lambda part: calls.append(part.shape[0]) or inner(part)  # type: ignore[method-assign]
    result = hopskipjump(oracle, x, y, norm=norm, max_queries=200, seed=1)
    assert bool(result.success.all())
    assert result.queries == oracle.queries == counted.rows <= 200 * x.shape[0]
    assert max(calls) > x.shape[0]  # one request carries the probes of many inputs
    again = hopskipjump(ModuleLabelOracle(lenet_digits), x, y, norm=norm, max_queries=200, seed=1)
    assert torch.equal(again.x_adv, result.x_adv)  # seeded
    more = hopskipjump(ModuleLabelOracle(lenet_digits), x, y, norm=norm, max_queries=800, seed=1)
    assert more.distance.median() < result.distance.median()


def test_targeted_with_starts_and_an_oracle_budget(lenet_digits, batch, digits_test) -> None:
    x, y = batch[0][:10], batch[1][:10]
    target = (y + 1) % 10
    starts = torch.stack([digits_test.x[(digits_test.y == t).nonzero()[0, 0]] for t in target])
    res = hopskipjump(lenet_digits, x, y, targeted=True, target=target, starts=starts, max_queries=300)
    assert res.success.float().mean() >= 0.9
    assert torch.equal(lenet_digits(res.x_adv).argmax(1)[res.success], target[res.success])
    oracle = ModuleLabelOracle(lenet_digits, max_queries=333)
    capped = hopskipjump(oracle, x, y, max_queries=1000)
    assert capped.queries == oracle.queries <= 333  # the oracle's budget is never exceeded
    assert bool(capped.success.any())  # and what was found before it ran out is kept


def test_bad_settings_get_one_clear_error(lenet_digits, batch) -> None:
    x, y = batch
    with pytest.raises(InputError, match="max_queries must be at least 2"):
        hopskipjump(lenet_digits, x, y, max_queries=1)
    with pytest.raises(InputError, match="'2' and 'inf'"):
        hopskipjump(lenet_digits, x, y, norm="1")
    with pytest.raises(InputError, match="one start per input"):
        hopskipjump(lenet_digits, x, y, starts=x[:2])
    with pytest.raises(InputError, match="max_queries must be at least 1"):
        ModuleLabelOracle(lenet_digits, max_queries=0)
