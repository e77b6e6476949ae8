"""A fitted scikit-learn classifier behind an oracle.

The estimator's richest answer decides the access: ``predict_proba`` gives a
:class:`~feint.oracles.ScoreOracle` of probabilities, else ``decision_function`` one of scores
(treated as logits; a binary model's single margin ``d`` becomes ``[0, d]``), else ``predict``
gives a :class:`~feint.oracles.LabelOracle`. Inputs (N, C, H, W) are flattened to the
estimator's ``n_features_in_`` features; class indices follow ``estimator.classes_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError, ModelError
from feint.oracles.base import LabelOracle, Oracle, ScoreOracle
from feint.validation import Bounds


def _check_fitted(estimator: Any) -> int:
    classes = getattr(estimator, "classes_", None)
    if classes is None or not hasattr(estimator, "predict"):
        raise ModelError(
            f"{type(estimator).__name__} is not a fitted scikit-learn classifier (no classes_ or predict); "
            "fit it before attacking it"
        )
    return len(classes)


def _features(estimator: Any, x: Tensor) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1).detach().cpu().double().numpy()
    want = getattr(estimator, "n_features_in_", flat.shape[1])
    if flat.shape[1] != want:
        raise InputError(
            f"{type(estimator).__name__} takes {want} features but the inputs have {flat.shape[1]} "
            f"({'x'.join(map(str, x.shape[1:]))}); pass data of the shape the model was fitted on"
        )
    return flat


class SklearnScoreOracle(ScoreOracle):
    """Scores of a fitted estimator through ``method`` (``predict_proba`` or ``decision_function``)."""

    def __init__(self, estimator: Any, *, method: str = "predict_proba", **kwargs: Any) -> None:
        num_classes = _check_fitted(estimator)
        if method not in ("predict_proba", "decision_function") or not hasattr(estimator, method):
            raise ModelError(
                f"{type(estimator).__name__} has no {method}; use sklearn_oracle() to pick its best answer"
            )
        output = "probabilities" if method == "predict_proba" else "logits"
        kwargs.setdefault("name", type(estimator).__name__)
        super().__init__(output=output, num_classes=num_classes, **kwargs)
        self.estimator, self.method = estimator, method

    def _scores(self, x: Tensor) -> Tensor:
        out = np.asarray(getattr(self.estimator, self.method)(_features(self.estimator, x)), dtype=np.float64)
        if out.ndim == 1:  # a binary decision_function: the margin of class 1
            out = np.stack([np.zeros_like(out), out], axis=1)
        return torch.from_numpy(out).float()


class SklearnLabelOracle(LabelOracle):
    """Only the predicted class of a fitted estimator, as an index into ``classes_``."""

    def __init__(self, estimator: Any, **kwargs: Any) -> None:
        num_classes = _check_fitted(estimator)
        kwargs.setdefault("name", type(estimator).__name__)
        super().__init__(num_classes=num_classes, **kwargs)
        self.estimator = estimator

    def _labels(self, x: Tensor) -> Tensor:
        pred = self.estimator.predict(_features(self.estimator, x))
        return torch.from_numpy(np.searchsorted(self.estimator.classes_, pred).astype(np.int64))


def sklearn_oracle(
    estimator: Any,
    *,
    access: str | None = None,
    bounds: Bounds = (0.0, 1.0),
    max_queries: int | None = None,
    name: str | None = None,
) -> Oracle:
    """The richest oracle ``estimator`` allows, or ``access`` ``"scores"``/``"labels"`` if given."""
    _check_fitted(estimator)
    common: dict[str, Any] = {"bounds": bounds, "max_queries": max_queries, "name": name or type(estimator).__name__}
    method = next((m for m in ("predict_proba", "decision_function") if hasattr(estimator, m)), None)
    if access == "labels" or (access is None and method is None):
        return SklearnLabelOracle(estimator, **common)
    if method is None:
        raise InputError(f"{type(estimator).__name__} answers only labels; a score-based attack cannot use it")
    return SklearnScoreOracle(estimator, method=method, **common)
