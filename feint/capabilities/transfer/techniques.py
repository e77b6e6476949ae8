"""The machine-learning techniques of the cross-technique transferability study, trained on one dataset.

Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: from Phenomena to
Black-Box Attacks using Adversarial Samples", sec. 4: a deep neural network (``dnn``, a feint
architecture), logistic regression (``lr``), a linear support vector machine (``svm``), a decision
tree (``dt``), k nearest neighbours (``knn``) and an ensemble of these five (``ens``, a hard
majority vote). The non-neural ones and the vote are scikit-learn estimators fitted on flattened
inputs; the ensemble votes with the already fitted members (``FrozenEstimator``), so nothing is
trained twice. Every technique is reached as a label-only oracle when it is a target.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import Tensor, nn

from feint.data.dataset import Dataset
from feint.errors import InputError
from feint.models.registry import ARCHITECTURES
from feint.oracles import Oracle, as_oracle
from feint.oracles.sklearn import SklearnLabelOracle
from feint.validation import check_positive_int

TECHNIQUES = ("dnn", "lr", "svm", "dt", "knn", "ens")
MEMBERS = ("dnn", "lr", "svm", "dt", "knn")
DESCRIPTIONS = {
    "dnn": "deep neural network (feint {arch})",
    "lr": "logistic regression (scikit-learn LogisticRegression)",
    "svm": "linear support vector machine (scikit-learn LinearSVC, one-vs-rest)",
    "dt": "decision tree (scikit-learn DecisionTreeClassifier)",
    "knn": "k nearest neighbours (scikit-learn KNeighborsClassifier, k = {k})",
    "ens": "hard majority vote of dnn, lr, svm, dt and knn (scikit-learn VotingClassifier)",
}


@dataclass(frozen=True)
class TechniqueSettings:
    """The DNN's architecture and training, the differentiable substitute's (for kNN and the
    ensemble), k for kNN and the seed."""

    dnn_arch: str = "lenet"
    dnn_epochs: int = 12
    dnn_lr: float = 3e-3
    substitute_arch: str = "mlp"
    substitute_epochs: int = 30
    neighbors: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for arch in (self.dnn_arch, self.substitute_arch):
            if arch not in ARCHITECTURES:
                raise InputError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        for name in ("dnn_epochs", "substitute_epochs", "neighbors"):
            check_positive_int(getattr(self, name), name)

    def describe(self, technique: str) -> str:
        return DESCRIPTIONS[technique].format(arch=self.dnn_arch, k=self.neighbors)


def parse_techniques(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"dnn,lr,svm"`` -> ``["dnn", "lr", "svm"]``; an unknown or repeated name is an error."""
    items = [n.strip().lower() for n in names.split(",")] if isinstance(names, str) else [str(n) for n in names]
    items = [n for n in items if n]
    unknown = [n for n in items if n not in TECHNIQUES]
    if unknown:
        raise InputError(f"unknown technique {unknown[0]!r}; choose from {', '.join(TECHNIQUES)}")
    if not items or len(set(items)) != len(items):
        raise InputError(f"give each technique once, e.g. --techniques {','.join(TECHNIQUES)}; got {names!r}")
    return items


def flat(x: Tensor) -> np.ndarray:
    """(N, C, H, W) -> (N, C*H*W) float32 NumPy, what the scikit-learn models see."""
    return x.detach().flatten(1).cpu().numpy().astype(np.float32)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """A fitted torch classifier on flattened inputs, as a scikit-learn member of a vote (frozen:
    ``fit`` keeps the model feint trained)."""

    def __init__(self, model: nn.Module | None = None, input_shape: tuple[int, ...] = (), classes: Any = None) -> None:
        self.model, self.input_shape, self.classes = model, input_shape, classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def __sklearn_is_fitted__(self) -> bool:
        return self.model is not None

    def fit(self, x: np.ndarray, y: np.ndarray) -> TorchClassifier:
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        from feint.attacks.result import predict_logits

        assert self.model is not None
        device = next(self.model.parameters()).device
        inputs = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device).view(-1, *self.input_shape)
        return predict_logits(self.model, inputs).argmax(1).cpu().numpy()


def one_blas_thread() -> Any:
    """BLAS on one thread: these fits are small, and OpenBLAS threads that spin while other work
    holds the cores made a 0.2 s logistic regression take 20 s on a shared machine."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _fit_one(name: str, data: Dataset, members: dict[str, Any], settings: TechniqueSettings) -> Any:
    from sklearn.exceptions import ConvergenceWarning

    x, y = flat(data.x), data.y.numpy()
    if name == "dnn":
        from feint.training import train

        epochs, lr, seed = settings.dnn_epochs, settings.dnn_lr, settings.seed
        return train(
            settings.dnn_arch,
            data,
            epochs=epochs,
            lr=lr,
            seed=seed,
            device=data.x.device,
            progress=False,
            distributed=False,
        ).model
    if name == "ens":
        from sklearn.ensemble import VotingClassifier
        from sklearn.frozen import FrozenEstimator

        classes = np.arange(data.info.num_classes)
        voters = [
            (
                m,
                FrozenEstimator(
                    TorchClassifier(members[m], data.info.input_shape, classes) if m == "dnn" else members[m]
                ),
            )
            for m in MEMBERS
        ]
        return VotingClassifier(voters, voting="hard").fit(x, y)
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    estimator = {
        "lr": lambda: LogisticRegression(max_iter=500),
        "svm": lambda: LinearSVC(C=0.1, max_iter=2000, random_state=settings.seed),
        "dt": lambda: DecisionTreeClassifier(random_state=settings.seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=settings.neighbors),
    }[name]()
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a capped solver is still a usable model
        return estimator.fit(x, y)


def fit_techniques(names: list[str], data: Dataset, *, settings: TechniqueSettings) -> dict[str, Any]:
    """Fit every technique in ``names`` on ``data`` (the ensemble's members too, when it is asked for)."""
    needed = [m for m in MEMBERS if m in names or "ens" in names] + (["ens"] if "ens" in names else [])
    models: dict[str, Any] = {}
    for name in needed:
        models[name] = _fit_one(name, data, models, settings)
    return {n: models[n] for n in names}


class _OneThreadLabels(SklearnLabelOracle):
    """A fitted estimator's labels (:class:`feint.oracles.sklearn.SklearnLabelOracle`), predicted with BLAS on one thread."""

    def _labels(self, x: Tensor) -> Tensor:
        with one_blas_thread():
            return super()._labels(x)


def technique_oracle(model: Any, *, input_shape: tuple[int, ...], num_classes: int, name: str) -> Oracle:
    """A technique as a target: label-only, whatever it is."""
    if isinstance(model, nn.Module):
        return as_oracle(model, access="labels", input_shape=input_shape, num_classes=num_classes, name=name)
    oracle = _OneThreadLabels(model, input_shape=input_shape, name=name)
    if oracle.num_classes != num_classes:
        raise InputError(f"{name} was fitted on {oracle.num_classes} classes, the data has {num_classes}")
    return oracle
