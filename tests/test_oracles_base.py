"""Oracles: counted queries, exact budgets, no gradients, one model at three access levels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from feint.errors import InputError, ModelError
from feint.oracles import (
    LabelOracle,
    LabelsOf,
    ModuleScoreOracle,
    QueryBudgetExhausted,
    ScoreOracle,
    as_oracle,
)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 5))


def _x(n: int = 7) -> torch.Tensor:
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(1))


def test_three_access_levels_agree_and_count_rows() -> None:
    model, x = _model(), _x()
    scores = as_oracle(model, access="scores", input_shape=(1, 4, 4))
    labels = as_oracle(model, access="labels")
    assert isinstance(scores, ScoreOracle) and isinstance(labels, LabelOracle)
    assert not isinstance(labels, ScoreOracle) and not isinstance(scores, nn.Module)
    s = scores.scores(x)
    assert torch.allclose(s, model(x).detach()) and not s.requires_grad
    assert torch.equal(labels.labels(x), model(x).argmax(1))
    assert scores.queries == 7 and labels.queries == 7 and scores.num_classes == 5


def test_probabilities_output_is_softmax() -> None:
    model, x = _model(), _x()
    oracle = as_oracle(model, output="probabilities")
    assert torch.allclose(oracle.scores(x).sum(1), torch.ones(7))  # type: ignore[attr-defined]


def test_budget_is_exact_and_refused_before_sending() -> None:
    oracle = ModuleScoreOracle(_model(), max_queries=10)
    oracle.scores(_x(6))
    with pytest.raises(QueryBudgetExhausted, match="budget of 10"):
        oracle.scores(_x(5))
    assert oracle.queries == 6 and oracle.remaining == 4
    oracle.scores(_x(4))
    assert oracle.queries == 10 and not oracle.can_afford(1)


def test_batches_split_forward_passes_but_count_rows() -> None:
    calls: list[int] = []
    model = _model()
    model.register_forward_pre_hook(lambda _, args: calls.append(args[0].shape[0]))
    oracle = ModuleScoreOracle(model, batch_size=3)
    oracle.scores(_x(7))
    assert calls == [3, 3, 1] and oracle.queries == 7


def test_labels_of_hides_scores_and_counts_on_both() -> None:
    inner = ModuleScoreOracle(_model())
    outer = as_oracle(inner, access="labels")
    assert isinstance(outer, LabelsOf) and not hasattr(outer, "scores")
    outer.labels(_x(4))
    assert outer.queries == 4 and inner.queries == 4


def test_bad_inputs_get_one_clear_error() -> None:
    with pytest.raises(InputError, match="max_queries must be at least 1"):
        ModuleScoreOracle(_model(), max_queries=0)
    oracle = ModuleScoreOracle(_model(), input_shape=(1, 4, 4))
    with pytest.raises(InputError, match="takes inputs of shape"):
        oracle.scores(torch.rand(2, 1, 5, 5))
    with pytest.raises(InputError, match="NaN"):
        oracle.scores(torch.full((2, 1, 4, 4), float("nan")))
    assert oracle.queries == 0  # refused inputs cost nothing
    with pytest.raises(InputError, match="answers only labels"):
        as_oracle(as_oracle(_model(), access="labels"), access="scores")


def test_non_finite_answers_name_the_rows() -> None:
    class NanOnRow2(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = x.flatten(1)[:, :3] * 1.0
            out[2] = float("nan")
            return out

    with pytest.raises(ModelError, match="NaN"):
        ModuleScoreOracle(NanOnRow2()).scores(_x(4))
