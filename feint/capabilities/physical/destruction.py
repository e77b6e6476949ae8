"""The destruction rate of Kurakin, Goodfellow & Bengio 2016 ("Adversarial Examples in the Physical World").

Among the inputs the model classifies correctly whose adversarial version it misclassifies, the
fraction whose *transformed* adversarial version it classifies correctly again (their eq. 1):

    d = sum_k C(X_k, y_k) (1 - C(X_adv_k, y_k)) C(T(X_adv_k), y_k) / sum_k C(X_k, y_k) (1 - C(X_adv_k, y_k))

where ``C(X, y)`` is 1 when ``y`` is in the model's top-k on ``X`` (top-1 or top-5). With several
draws of a random ``T`` every (input, draw) pair counts once. Shapes: logits (N, K), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from feint.errors import InputError


def correct_top(logits: Tensor, y: Tensor, k: int = 1) -> Tensor:
    """(N,) bool: ``y`` is among the ``k`` largest logits (``C(X, y)`` above)."""
    if k < 1 or k > logits.shape[-1]:
        raise InputError(f"top-k needs 1 <= k <= the number of classes ({logits.shape[-1]}), got {k}")
    return (logits.topk(k, dim=-1).indices == y.unsqueeze(-1)).any(-1)


@dataclass(frozen=True)
class Destruction:
    """``destroyed`` of ``adversarial`` counted pairs; ``rate`` is None when nothing was adversarial."""

    destroyed: int
    adversarial: int

    @property
    def rate(self) -> float | None:
        return self.destroyed / self.adversarial if self.adversarial else None


def destruction(clean_correct: Tensor, adv_correct: Tensor, transformed_correct: Tensor) -> Destruction:
    """Kurakin et al.'s destruction counts from (N,) ``clean_correct``, (N,) ``adv_correct`` and
    (N,) or (D, N) ``transformed_correct`` (D draws of the transformation)."""
    if clean_correct.shape != adv_correct.shape or transformed_correct.shape[-1:] != clean_correct.shape:
        raise InputError("clean, adversarial and transformed verdicts must cover the same inputs")
    counted = clean_correct & ~adv_correct
    draws = transformed_correct.reshape(-1, clean_correct.shape[0])
    return Destruction(
        destroyed=int((draws & counted).sum()),
        adversarial=int(counted.sum()) * int(draws.shape[0]),
    )


def destruction_rate(
    clean_logits: Tensor, adv_logits: Tensor, transformed_logits: Tensor, y: Tensor, *, k: int = 1
) -> float | None:
    """Kurakin et al.'s destruction rate (top-``k``) from logits; ``transformed_logits`` (N, K) or
    (D, N, K) for D draws of the transformation; None when no input was adversarial."""
    return destruction(
        correct_top(clean_logits, y, k), correct_top(adv_logits, y, k), correct_top(transformed_logits, y, k)
    ).rate


def topk_levels(num_classes: int) -> tuple[int, ...]:
    """Top-1, and top-5 when there are at least ten classes (with fewer, top-5 says little)."""
    return (1, 5) if num_classes >= 10 else (1,)
