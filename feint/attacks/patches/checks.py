"""The checks every pattern attack makes before it trains: the images, labels, model and counts."""

from __future__ import annotations

from torch import Tensor, nn

from feint.errors import InputError
from feint.validation import Bounds, check_images, check_labels, check_positive_int, model_logits


def check_fit_data(
    model: nn.Module, x: Tensor, y: Tensor, *, bounds: Bounds, steps: int, batch_size: int, samples: int = 1
) -> int:
    """Images in ``bounds``, labels that fit the model's classes, positive counts; returns the class count."""
    check_images(x, bounds=bounds)
    num_classes = int(model_logits(model, x[:1]).shape[1])
    check_labels(y, n=x.shape[0], num_classes=num_classes)
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(samples, "samples")
    return num_classes


def target_labels(y: Tensor, target: int | None, num_classes: int | None = None) -> Tensor:
    """The labels the objective uses: ``target`` for every image when targeted, else the true labels."""
    if target is None:
        return y
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise InputError(f"target must be a class index >= 0, got {target!r}")
    if num_classes is not None and target >= num_classes:
        raise InputError(
            f"target class {target} does not exist: the model has {num_classes} classes (0-{num_classes - 1})"
        )
    return y.new_full(y.shape, target)
