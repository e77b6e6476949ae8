"""Query-only access to classifiers: counted, budgeted, without gradients.

- :class:`ScoreOracle` answers class scores (logits or probabilities), :class:`LabelOracle` only
  the top-1 label; both count every input row and refuse to exceed ``max_queries``
  (:class:`QueryBudgetExhausted`).
- :func:`as_oracle` degrades a torch module to score-only or label-only access;
  :class:`LabelsOf` hides a score oracle's scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from feint.errors import InputError
from feint.oracles.base import OUTPUTS, LabelOracle, LabelsOf, Oracle, QueryBudgetExhausted, ScoreOracle
from feint.oracles.module import ModuleLabelOracle, ModuleScoreOracle, check_input_shape
from feint.validation import Bounds

ACCESS = ("scores", "labels")

__all__ = [
    "ACCESS",
    "OUTPUTS",
    "LabelOracle",
    "LabelsOf",
    "ModuleLabelOracle",
    "ModuleScoreOracle",
    "Oracle",
    "QueryBudgetExhausted",
    "ScoreOracle",
    "as_oracle",
]


def as_oracle(
    model: nn.Module | Oracle,
    *,
    access: str = "scores",
    output: str = "logits",
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    bounds: Bounds = (0.0, 1.0),
    max_queries: int | None = None,
    name: str | None = None,
) -> Oracle:
    """``model`` at ``access`` ``"scores"`` or ``"labels"``; an oracle is returned as it is
    (a score oracle asked for labels is wrapped in :class:`LabelsOf`). A module given an
    ``input_shape`` is run once on it here, so a shape it cannot take is refused at once."""
    if access not in ACCESS:
        raise InputError(f"access must be one of {', '.join(ACCESS)}, got {access!r}")
    if isinstance(model, Oracle):
        if access == "labels" and isinstance(model, ScoreOracle):
            return LabelsOf(model, max_queries=max_queries)
        if access == "scores" and not isinstance(model, ScoreOracle):
            raise InputError(f"{model.name} answers only labels; a score-based attack cannot use it")
        return model
    if not isinstance(model, nn.Module):
        raise InputError(f"expected a torch.nn.Module or an oracle, got {type(model).__name__}")
    if input_shape is not None:
        check_input_shape(model, input_shape, bounds)
    common = {
        "input_shape": input_shape,
        "num_classes": num_classes,
        "bounds": bounds,
        "max_queries": max_queries,
        "name": name,
    }
    if access == "labels":
        return ModuleLabelOracle(model, **common)  # type: ignore[arg-type]
    return ModuleScoreOracle(model, output=output, **common)  # type: ignore[arg-type]
