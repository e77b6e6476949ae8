"""How each technique crafts adversarial examples as a source, with a method that fits it.

Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning", sec. 4:

- ``dnn`` and ``lr``: FGSM on the model's gradients (logistic regression through
  :func:`feint.attacks.linear.linear_module`, its exact torch equivalent);
- ``svm``: the step orthogonal to the class hyperplane (:func:`feint.attacks.linear.hyperplane_step`);
- ``dt``: the path attack (:func:`feint.attacks.tree_path.tree_path_attack`); an input it cannot
  move into another class's leaf within eps is left unchanged and counted (``over_budget``);
- ``knn`` and ``ens``: not differentiable, so FGSM on a differentiable substitute (a feint
  network) trained on the source's own labels of its training inputs, asked of the source
  through a label-only oracle whose counter gives the queries (``label_queries``).

Every method works under the same Linf budget eps; the sizes the methods actually use differ
(the path attack changes a few features, the hyperplane step has a smaller L2 than FGSM), so
the report gives each method's L0, L2 and Linf beside its success. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from feint.attacks.fgsm import fgsm
from feint.attacks.linear import hyperplane_step, linear_module
from feint.attacks.tree_path import tree_path_attack
from feint.capabilities.transfer.techniques import TechniqueSettings, one_blas_thread, technique_oracle
from feint.data.dataset import Dataset

METHODS = {
    "dnn": "FGSM on the network's gradients",
    "lr": "FGSM on the logistic regression's gradients",
    "svm": "step orthogonal to the class hyperplane",
    "dt": "decision-tree path attack (nearest leaf of another class)",
    "knn": "FGSM on a differentiable substitute trained on the kNN's labels",
    "ens": "FGSM on a differentiable substitute trained on the ensemble's labels",
}


@dataclass(frozen=True)
class Crafted:
    """The adversarial inputs of one source. ``over_budget``/``needed_max``: for the path attack,
    the inputs it left unchanged because no other class's leaf was within eps, and the largest
    Linf change such an input would need (None for the other methods). ``label_queries``: the
    labels a substitute cost, as the source's oracle counted them (None without a substitute)."""

    technique: str
    method: str
    x_adv: Tensor
    over_budget: int | None = None
    needed_max: float | None = None
    label_queries: int | None = None

    @classmethod
    def of(cls, technique: str, parts: dict[str, Tensor], *, label_queries: int | None = None) -> Crafted:
        """The :class:`Crafted` of a source's batches' fields concatenated (``x_adv``; the path
        attack's ``over`` and ``needed`` per row)."""
        if technique != "dt":
            return cls(technique, METHODS[technique], parts["x_adv"], label_queries=label_queries)
        over = parts["over"]
        needed_max = float(parts["needed"][over].max()) if bool(over.any()) else None
        return cls(technique, METHODS[technique], parts["x_adv"], int(over.sum()), needed_max)

    def note(self, eps: float, n: int) -> str | None:
        if not self.over_budget:
            return None
        return (
            f"{self.technique}: the path attack cannot meet the Linf budget eps = {eps:g} on {self.over_budget} of {n} "
            f"inputs (they need up to {self.needed_max:.3g} to reach a leaf of another class); it left them unchanged, "
            "so they count as failures"
        )


def substitute_for(labels: Tensor, data: Dataset, settings: TechniqueSettings) -> torch.nn.Module:
    """A feint network trained on ``data``'s inputs with ``labels``, a non-differentiable source's (N,)."""
    from feint.training import train

    labelled = Dataset(data.x, labels.to(data.x.device), data.info, data.split)
    seed, epochs = settings.seed, settings.substitute_epochs
    return train(
        settings.substitute_arch,
        labelled,
        epochs=epochs,
        seed=seed,
        device=data.x.device,
        progress=False,
        distributed=False,
    ).model


@dataclass(frozen=True)
class Source:
    """A technique ready to craft batch after batch (its substitute trained once): ``batch(x, y, eps)``
    gives ``x_adv`` and, per row, ``over`` (the path attack could not meet eps) and ``needed`` (the
    Linf change it would need; 0 for the other methods)."""

    technique: str
    method: str
    batch: Callable[[Tensor, Tensor, float], dict[str, Tensor]]
    label_queries: int | None = None

    def crafted(self, parts: dict[str, Tensor]) -> Crafted:
        """The :class:`Crafted` of the batches' fields concatenated."""
        return Crafted.of(self.technique, parts, label_queries=self.label_queries)


def _plain(x_adv: Tensor) -> dict[str, Tensor]:
    n = x_adv.shape[0]
    return {"x_adv": x_adv, "over": torch.zeros(n, dtype=torch.bool, device=x_adv.device), "needed": x_adv.new_zeros(n)}


def source(technique: str, model: Any, *, train_data: Dataset, settings: TechniqueSettings) -> Source:
    """``technique``'s crafting method against ``model`` (trained on ``train_data``)."""
    bounds = train_data.info.bounds
    method = METHODS[technique]
    if technique == "dnn":
        return Source(technique, method, lambda x, y, eps: _plain(fgsm(model, x, y, eps=eps, bounds=bounds).x_adv))
    if technique == "lr":
        module = linear_module(model, tuple(train_data.info.input_shape)).to(train_data.x.device)
        return Source(technique, method, lambda x, y, eps: _plain(fgsm(module, x, y, eps=eps, bounds=bounds).x_adv))
    if technique == "svm":
        return Source(technique, method, lambda x, y, eps: _plain(hyperplane_step(model, x, y, eps=eps, bounds=bounds)))
    if technique == "dt":

        def path(x: Tensor, y: Tensor, eps: float) -> dict[str, Tensor]:
            with one_blas_thread():
                result = tree_path_attack(model, x, y, eps=eps, bounds=bounds)
            return {"x_adv": result.x_adv, "over": ~result.within_budget, "needed": result.needed}

        return Source(technique, method, path)
    info = train_data.info
    oracle = technique_oracle(model, input_shape=info.input_shape, num_classes=info.num_classes, name=technique)
    return _substitute_source(technique, oracle.labels(train_data.x), train_data, settings, oracle.queries)


def ensemble_source(labels: Tensor, *, train_data: Dataset, settings: TechniqueSettings) -> Source:
    """The ensemble as a source, from its (N,) labels of ``train_data`` (its members' vote): FGSM on a
    substitute trained on them; one label query per training input, as its oracle would have counted."""
    return _substitute_source("ens", labels, train_data, settings, int(labels.numel()))


def _substitute_source(
    technique: str, labels: Tensor, train_data: Dataset, settings: TechniqueSettings, queries: int
) -> Source:
    substitute = substitute_for(labels, train_data, settings)
    bounds = train_data.info.bounds
    return Source(
        technique,
        METHODS[technique],
        lambda x, y, eps: _plain(fgsm(substitute, x, y, eps=eps, bounds=bounds).x_adv),
        label_queries=queries,
    )


def craft(
    technique: str,
    model: Any,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    train_data: Dataset,
    settings: TechniqueSettings,
) -> Crafted:
    """Adversarial versions of ``x`` made with ``technique``'s method against ``model`` (trained on ``train_data``)."""
    prepared = source(technique, model, train_data=train_data, settings=settings)
    return prepared.crafted(prepared.batch(x, y, eps))
