"""Target labels for targeted attacks; none of them ever equals the true label.

- :func:`random_targets`: uniform over the K - 1 wrong classes (seeded).
- :func:`least_likely_targets`: the model's least-likely class on the clean input (Kurakin,
  Goodfellow & Bengio 2016, "Adversarial examples in the physical world").
- :func:`next_class_targets`: ``(y + 1) mod K``, the deterministic choice of many papers.
- :func:`rank_other_classes`: the wrong classes ordered by logit (APGD-T's runner-up targets).

Shapes: y (N,) int64, x (N, C, H, W); every function returns (N,) int64 on the labels' device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from feint.attacks.result import predict_logits
from feint.errors import InputError
from feint.threat import make_generator
from feint.validation import check_images, check_labels


def _check_classes(y: Tensor, num_classes: int) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise InputError(f"num_classes must be an integer >= 2 to have a wrong class to target, got {num_classes!r}")
    if not isinstance(y, Tensor) or y.dim() != 1:
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise InputError(f"y must be a 1-D tensor of class indices, shape (N,), got {got}")
    check_labels(y, n=y.shape[0], num_classes=num_classes)


def random_targets(y: Tensor, num_classes: int, *, seed: int | None = None) -> Tensor:
    """A uniformly random wrong class per sample: ``(y + U{1..K-1}) mod K``."""
    _check_classes(y, num_classes)
    gen = make_generator(seed, y.device)
    shift = torch.randint(1, num_classes, y.shape, generator=gen, device=y.device)
    return (y + shift) % num_classes


def next_class_targets(y: Tensor, num_classes: int) -> Tensor:
    """``(y + 1) mod K``."""
    _check_classes(y, num_classes)
    return (y + 1) % num_classes


def rank_other_classes(logits: Tensor, y: Tensor) -> Tensor:
    """(N, K - 1): per row, the classes other than ``y`` from the highest logit to the lowest."""
    order = logits.argsort(1, descending=True)
    return order[order != y[:, None]].view(order.shape[0], -1)


def least_likely_targets(model: nn.Module, x: Tensor, *, y: Tensor | None = None) -> Tensor:
    """The class with the lowest clean logit; with ``y``, the lowest among the classes other than ``y``.

    Without ``y`` the least-likely class can equal the true label only for an input the model
    already misclassifies; pass ``y`` to rule that out.
    """
    check_images(x, bounds=(-math.inf, math.inf))
    logits = predict_logits(model, x)
    if y is None:
        return logits.argmin(1)
    check_labels(y, n=x.shape[0], num_classes=logits.shape[1])
    return rank_other_classes(logits, y)[:, -1]
