"""Robustness metrics as pure functions over tensors, used by the audit and by ``feint attack``.

- Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015:
  the error rate on adversarial inputs and the mean softmax confidence of the misclassified ones.
- Billovits, Eric & Agarwala, "Hitting Depth: Investigating Robustness to Adversarial Examples in
  Deep Convolutional Neural Networks" (Stanford CS231n report, 2016): the outcome categories
  benign, re-focused, conatural and true adversarial, made operational in
  :func:`outcome_categories`.

Shapes: logits (N, K), labels and predictions (N,), inputs (N, C, H, W). Perturbation sizes are
per-sample norms of ``x_adv - x`` flattened: L0 (features changed by more than 1e-6), L2, Linf.
Everything stays on the tensors' device; only the final Python numbers leave it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from feint.errors import InputError
from feint.threat import flat_norm
from feint.validation import check_labels, check_positive_int

L0_TOLERANCE = 1e-6
OUTCOMES = ("benign", "refocused", "conatural", "true_adversarial")


def _check_logits(logits: Tensor, n: int, name: str) -> None:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != n:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise InputError(f"{name} has shape {shape}; expected logits of shape ({n}, classes), one row per label")


def confusion_matrix(pred: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """(K, K) int64 counts; entry [i, j] counts inputs of true class i predicted as class j."""
    check_positive_int(num_classes, "num_classes")
    check_labels(y, n=int(y.shape[0]) if isinstance(y, Tensor) else 0, num_classes=num_classes)
    check_labels(pred, n=int(y.shape[0]), num_classes=num_classes, name="pred")
    flat = y.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def goodfellow_row(adv_logits: Tensor, y: Tensor) -> tuple[float, float]:
    """Goodfellow et al. (2015)'s two figures: error rate on the adversarial inputs and the mean
    softmax confidence of the misclassified ones (0.0 when none is misclassified)."""
    n = int(y.shape[0]) if isinstance(y, Tensor) else 0
    _check_logits(adv_logits, n, "adv_logits")
    check_labels(y, n=n, num_classes=adv_logits.shape[1])
    probs = adv_logits.detach().float().softmax(1)
    conf, pred = probs.max(1)
    wrong = pred != y
    error_rate = float(wrong.float().mean())
    confidence = float(conf[wrong].mean()) if bool(wrong.any()) else 0.0
    return error_rate, confidence


def per_class_accuracy(correct: Tensor, y: Tensor, num_classes: int) -> list[float]:
    """Fraction of ``correct`` (N,) bool per true class; ``nan`` for a class absent from ``y``.

    The ``nan`` is deliberate (an absent class has no accuracy, not 0); :func:`json_safe` writes
    it as ``null`` and the report shows it as a dash.
    """
    check_positive_int(num_classes, "num_classes")
    if not isinstance(correct, Tensor) or correct.dim() != 1:
        raise InputError("correct must be a 1-D tensor of booleans, one per label (e.g. pred == y)")
    check_labels(y, n=int(correct.shape[0]), num_classes=num_classes)
    totals = torch.bincount(y.long(), minlength=num_classes).double()
    hits = torch.bincount(y.long(), weights=correct.double(), minlength=num_classes)
    acc = (hits / totals.clamp(min=1)).tolist()
    return [a if t > 0 else math.nan for a, t in zip(acc, totals.tolist(), strict=True)]


def _summary(values: Tensor) -> dict[str, float | None]:
    if values.numel() == 0:
        return {"median": None, "mean": None}
    v = values.double()
    return {"median": float(v.quantile(0.5)), "mean": float(v.mean())}


def perturbation_sizes(x: Tensor, x_adv: Tensor) -> Tensor:
    """(N, 3) float64 per-sample L0, L2 and Linf size of ``x_adv - x`` (L0: features changed by more
    than :data:`L0_TOLERANCE`)."""
    if x.shape != x_adv.shape or x.dim() < 2:
        raise InputError(f"x {tuple(x.shape)} and x_adv {tuple(x_adv.shape)} must have the same (N, ...) shape")
    delta = (x_adv - x).detach().flatten(1)
    sizes = ((delta.abs() > L0_TOLERANCE).sum(1), flat_norm(delta, "2"), flat_norm(delta, "inf"))
    return torch.stack([s.double() for s in sizes], dim=1)


def size_summary(sizes: Tensor) -> dict[str, dict[str, float | None]]:
    """Median and mean of each column of :func:`perturbation_sizes`' (M, 3) output."""
    return {name: _summary(sizes[:, j]) for j, name in enumerate(("l0", "l2", "linf"))}


def perturbation_stats(x: Tensor, x_adv: Tensor, mask: Tensor) -> dict[str, dict[str, float | None]]:
    """Median and mean L0, L2 and Linf size of ``x_adv - x`` over the samples where ``mask`` is True.

    The median of an even count is the mean of the two middle values. With an empty mask every
    value is None. L0 counts features changed by more than :data:`L0_TOLERANCE`.
    """
    sizes = perturbation_sizes(x, x_adv)
    if mask.shape != (x.shape[0],) or mask.dtype != torch.bool:
        raise InputError(f"mask must be a ({x.shape[0]},) bool tensor, got {tuple(mask.shape)} {mask.dtype}")
    return size_summary(sizes[mask])


def outcome_categories(
    clean_logits: Tensor, adv_logits: Tensor, y: Tensor, confusion: Tensor, *, top_confused: int = 2
) -> Tensor:
    """(N,) int64 index into :data:`OUTCOMES` per sample, -1 where the prediction did not change.

    Only samples whose adversarial prediction differs from the clean one are categorised (a change
    of correctness implies a change of prediction). The first matching rule wins:

    0. benign: the clean input was misclassified and the adversarial one is classified correctly;
    1. refocused: the new top-1 class is the clean input's runner-up (second highest clean logit)
       and the true class is still in the adversarial top 2;
    2. conatural: the new class is among the true class's ``top_confused`` most confused classes,
       i.e. the largest positive off-diagonal entries of row y of the clean ``confusion`` matrix
       (ties broken by the lower class index);
    3. true_adversarial: every other changed sample.

    With two classes every non-benign change is refocused: the runner-up is the only other class.
    """
    n = int(y.shape[0]) if isinstance(y, Tensor) else 0
    _check_logits(clean_logits, n, "clean_logits")
    _check_logits(adv_logits, n, "adv_logits")
    k = clean_logits.shape[1]
    check_labels(y, n=n, num_classes=k)
    check_positive_int(top_confused, "top_confused")
    if adv_logits.shape[1] != k or tuple(confusion.shape) != (k, k):
        raise InputError(f"adv_logits and confusion must cover the same {k} classes as clean_logits")
    clean_top2 = clean_logits.topk(2, dim=1).indices
    adv_top2 = adv_logits.topk(2, dim=1).indices
    clean_pred, adv_pred = clean_top2[:, 0], adv_top2[:, 0]
    off_diag = confusion.to(clean_logits.device).double().clone()
    off_diag.fill_diagonal_(-1.0)
    order = torch.sort(-off_diag, dim=1, stable=True).indices[:, : min(top_confused, k - 1)]
    confused = torch.zeros(k, k, dtype=torch.bool, device=clean_logits.device)
    confused.scatter_(1, order, True)
    confused &= off_diag > 0
    benign = (clean_pred != y) & (adv_pred == y)
    refocused = (adv_pred == clean_top2[:, 1]) & (adv_top2 == y[:, None]).any(1)
    conatural = confused[y, adv_pred]
    codes = torch.full_like(y, 3, dtype=torch.long)
    codes = torch.where(conatural, torch.full_like(codes, 2), codes)
    codes = torch.where(refocused, torch.full_like(codes, 1), codes)
    codes = torch.where(benign, torch.full_like(codes, 0), codes)
    return torch.where(adv_pred != clean_pred, codes, torch.full_like(codes, -1))


def outcome_counts(
    clean_logits: Tensor, adv_logits: Tensor, y: Tensor, confusion: Tensor, *, top_confused: int = 2
) -> dict[str, int]:
    """Counts of each category of :func:`outcome_categories` (see there for the rules)."""
    codes = outcome_categories(clean_logits, adv_logits, y, confusion, top_confused=top_confused)
    counts = torch.bincount(codes[codes >= 0], minlength=len(OUTCOMES)).tolist()
    return dict(zip(OUTCOMES, (int(c) for c in counts), strict=True))
