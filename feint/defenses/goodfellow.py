"""Goodfellow et al.'s adversarial training objective.

Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples", sec. 6:
``J~(x, y) = alpha * J(x, y) + (1 - alpha) * J(x + eps * sign(grad_x J(x, y)), y)`` with
alpha = 0.5 in the paper. The adversarial term may come from another registered attack
(``attack="pgd"``, options in ``attack_params``); alpha = 0 then trains on adversarial inputs only.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.attacks.registry import check_param, get_attack
from feint.defenses.base import AdversarialRecipe, Step, register_recipe
from feint.defenses.perturb import fgsm_points
from feint.errors import InputError
from feint.validation import check_fraction

# Attack options the training run sets itself: given by the user they would be silently ignored.
_SET_BY_TRAINING = {
    "eps": "the attack's eps is --adv-eps (the recipe's eps)",
    "seed": "each batch's attack seed comes from the training --seed",
    "bounds": "the attack works in the bounds of the training data",
    "targeted": "adversarial training attacks the true labels (untargeted)",
    "target": "adversarial training attacks the true labels (untargeted)",
}


@register_recipe("goodfellow")
@dataclass(frozen=True, kw_only=True)
class Goodfellow(AdversarialRecipe):
    """``alpha * CE(x) + (1 - alpha) * CE(x_adv)``, x_adv by FGSM (or ``attack``) at ``eps``."""

    alpha: float = 0.5
    attack: str = "fgsm"
    attack_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fraction(self.alpha, "alpha (the weight of the clean loss)")
        spec = get_attack(self.attack)
        if spec.minimum_norm:
            raise InputError(f"attack {self.attack!r} is minimum-norm (no eps); choose one with a radius, e.g. fgsm")
        if not isinstance(self.attack_params, dict):
            raise InputError(f"attack_params must be a dict of attack options, got {self.attack_params!r}")
        accepted = spec.parameters()
        annotations = inspect.signature(spec.fn).parameters
        for key, value in self.attack_params.items():
            if key in _SET_BY_TRAINING:
                raise InputError(f"--adv-param {key}=... would be ignored: {_SET_BY_TRAINING[key]}")
            if key not in accepted:
                options = ", ".join(sorted(set(accepted) - set(_SET_BY_TRAINING)))
                raise InputError(f"attack {self.attack!r} has no option {key!r}; its options are {options}")
            check_param(key, value, annotations[key].annotation)

    def _points(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        if self.attack == "fgsm" and not self.attack_params:
            return fgsm_points(model, x, y, self.threat)
        spec = get_attack(self.attack)
        accepted = spec.parameters()
        params: dict[str, Any] = {**spec.defaults, **self.attack_params, "eps": self.eps, "bounds": self.bounds}
        if "seed" in accepted:
            params["seed"] = step.seed
        if "early_stop" in accepted:
            params.setdefault("early_stop", False)  # the attack's full strength on every input
        return spec.fn(model, x, y, **{k: v for k, v in params.items() if k in accepted}).x_adv.detach()

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        x_adv = self._points(model, x, y, step)
        clean = F.cross_entropy(model(x), y) if self.alpha > 0 else torch.zeros((), device=x.device)
        return self.alpha * clean + (1 - self.alpha) * F.cross_entropy(model(x_adv), y)
