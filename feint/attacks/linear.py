"""Linear scikit-learn classifiers as attackable models, and the linear SVM's hyperplane step.

- :func:`linear_module`: a fitted linear classifier (``LogisticRegression``, ``LinearSVC``, any
  estimator with ``coef_`` and ``intercept_``) as the ``nn.Module`` computing the same decision
  values on NCHW inputs, so that every gradient attack applies to it exactly. Two-class models
  keep one hyperplane w; the module returns the logits ``(-w.x - b, w.x + b) / 2``.
- :func:`hyperplane_step`: Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine
  Learning", sec. 4 (SVM): push x orthogonally to the hyperplane of its class k, against its
  normal, ``x* = x - eps * w[k] / ||w[k]||``. Here the normal is scaled to Linf size ``eps``
  (``||w[k]||_inf``), so its budget matches the other methods' Linf eps; its L2 size is then at
  most FGSM's.

Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from feint.errors import InputError
from feint.validation import Bounds, check_images, check_labels


def _planes(estimator: object) -> tuple[np.ndarray, np.ndarray]:
    """(K, D) normals and (K,) offsets, one per class (two-class models: -w and w, halved)."""
    if not hasattr(estimator, "coef_") or not hasattr(estimator, "intercept_"):
        raise InputError(
            f"{type(estimator).__name__} is not a fitted linear classifier (no coef_ / intercept_); "
            "fit a LogisticRegression or LinearSVC first"
        )
    w = np.asarray(estimator.coef_, dtype=np.float64)  # type: ignore[attr-defined]
    b = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]
    if w.shape[0] == 1:
        return np.concatenate([-w, w]) / 2, np.concatenate([-b, b]) / 2
    return w, b


def linear_module(estimator: object, input_shape: tuple[int, ...]) -> nn.Module:
    """``nn.Sequential(Flatten, Linear)`` with the estimator's weights: logits equal to its decision values."""
    w, b = _planes(estimator)
    if w.shape[1] != int(np.prod(input_shape)):
        raise InputError(
            f"the estimator has {w.shape[1]} features but inputs of shape {input_shape} have {int(np.prod(input_shape))}"
        )
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
    return nn.Sequential(nn.Flatten(), layer).eval()


def hyperplane_step(estimator: object, x: Tensor, y: Tensor, *, eps: float, bounds: Bounds = (0.0, 1.0)) -> Tensor:
    """``clip(x - eps * w[y] / ||w[y]||_inf)``: away from the class-y hyperplane, Linf size ``eps``."""
    check_images(x, bounds=bounds)
    w, _ = _planes(estimator)
    check_labels(y, n=x.shape[0], num_classes=w.shape[0])
    normals = torch.from_numpy(w).to(x.device, x.dtype)[y]
    scale = normals.abs().amax(1, keepdim=True).clamp_min(1e-12)
    return (x - eps * (normals / scale).view_as(x)).clamp(*bounds)
