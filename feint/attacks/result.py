"""The one place where an attack's output is checked.

Whatever an attack returns is projected onto its threat model, re-run through the model, and
only then recorded as a success or not (Foolbox 3's rule: never trust an attack's own claim).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from feint.errors import ModelError
from feint.threat import ThreatModel, flat_norm
from feint.validation import call_model, check_finite_logits

if TYPE_CHECKING:
    from feint.oracles.base import Oracle


@dataclass(frozen=True)
class AttackResult:
    """Outcome of one attack on a batch.

    Attributes:
        x: the clean inputs (N, C, H, W).
        x_adv: adversarial inputs, projected onto ``threat`` (N, C, H, W).
        y: true labels (N,).
        target: target labels for a targeted attack, else None.
        success: (N,) bool; untargeted: prediction != y, targeted: prediction == target.
        adv_logits: the model's logits on ``x_adv`` (N, K), re-computed outside the attack.
        distance: (N,) size of ``x_adv - x`` in the threat model's norm.
        queries: model evaluations the attack spent (one per input row per forward pass); through an
            oracle, every row sent, the final check included.
        threat: the threat model the result was checked against.
        access: what the attack could see: "white-box", "scores" or "labels". A label-only result's
            ``adv_logits`` are the log of a one-hot answer (0 at the label, -inf elsewhere): predictions
            are exact, confidences were never revealed (``adv_confidence`` is NaN).
        found_at: (N,) for attacks that keep track (APGD, APGD-T): the fraction of the attack's
            iteration budget (all restarts and target classes together) spent when each input was
            first found adversarial, in (0, 1]; inf where it was not. None for the others.
        forward_rows: rows that went through the model forward (a row = one input through the model
            once), the attack's input check and outside check included; None where it equals ``queries``
            (an attack through an oracle: every row it sent).
        backward_rows: rows that went through the model backward (0 for an attack through an oracle).
    """

    x: Tensor
    x_adv: Tensor
    y: Tensor
    target: Tensor | None
    success: Tensor
    adv_logits: Tensor
    distance: Tensor
    queries: int
    threat: ThreatModel
    access: str = "white-box"
    found_at: Tensor | None = None
    forward_rows: int | None = None
    backward_rows: int = 0

    @property
    def passes(self) -> tuple[int, int]:
        """(forward rows, backward rows) the attack spent."""
        return (self.queries if self.forward_rows is None else self.forward_rows), self.backward_rows

    @property
    def adv_pred(self) -> Tensor:
        return self.adv_logits.argmax(1)

    @property
    def adv_confidence(self) -> Tensor:
        """Softmax probability of the predicted class on the adversarial input (NaN for label-only access)."""
        if self.access == "labels":
            return torch.full_like(self.distance, torch.nan, dtype=torch.float32)
        return self.adv_logits.softmax(1).amax(1)

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean())

    @property
    def accuracy(self) -> float:
        """Accuracy on the adversarial inputs (robust accuracy for an untargeted attack)."""
        return float((self.adv_pred == self.y).float().mean())

    def distances(self, norm: str) -> Tensor:
        """(N,) size of the perturbation in another norm: ``"0"``, ``"1"``, ``"2"`` or ``"inf"``."""
        return flat_norm(self.x_adv - self.x, norm)


def predict_logits(model: nn.Module | Oracle, x: Tensor, *, batch_size: int = 512) -> Tensor:
    """Logits of ``model`` on ``x`` in evaluation mode, without gradients, in batches; through an
    oracle, its answers as logits (:func:`feint.oracles.logits.oracle_logits`, counted).

    NaN or infinite logits raise one :class:`~feint.errors.NonFiniteLogits` naming the rows of ``x``.
    """
    from feint.oracles.base import Oracle as _Oracle

    if isinstance(model, _Oracle):
        from feint.oracles.logits import oracle_logits

        return oracle_logits(model, x)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = torch.cat([call_model(model, x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    finally:
        model.train(was_training)
    return check_finite_logits(logits)


def is_success(logits: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
    pred = logits.argmax(1)
    return pred == target if target is not None else pred != y


def finalize(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    x_adv: Tensor,
    threat: ThreatModel,
    *,
    target: Tensor | None = None,
    queries: int = 0,
) -> AttackResult:
    """Project ``x_adv`` onto ``threat`` (exactly: :meth:`~feint.threat.ThreatModel.contain`), re-run ``model``
    and record the verdict. A non-finite point or logit raises one error naming the rows; it is never a result."""
    x_adv = x_adv.detach()
    finite = torch.isfinite(x_adv).flatten(1).all(1)
    if not bool(finite.all()):
        raise ModelError(
            f"the attack reached NaN or infinite inputs for rows {(~finite).nonzero().flatten().tolist()[:10]}: "
            "the model's gradients there are not finite; check the model (e.g. sqrt or log of 0 in forward)"
        )
    x_adv = threat.contain(x_adv, x)
    logits = predict_logits(model, x_adv)
    return AttackResult(
        x=x,
        x_adv=x_adv,
        y=y,
        target=target,
        success=is_success(logits, y, target),
        adv_logits=logits,
        distance=threat.distance(x_adv, x),
        queries=int(queries),
        threat=threat,
    )


def best_of(a: AttackResult, b: AttackResult) -> AttackResult:
    """Per sample, keep ``b`` where it succeeds and ``a`` does not, or both succeed with a smaller distance."""
    take_b = (b.success & ~a.success) | (b.success & a.success & (b.distance < a.distance))
    mask = take_b.view(-1, *([1] * (a.x_adv.dim() - 1)))
    return AttackResult(
        x=a.x,
        x_adv=torch.where(mask, b.x_adv, a.x_adv),
        y=a.y,
        target=a.target,
        success=a.success | b.success,
        adv_logits=torch.where(take_b[:, None], b.adv_logits, a.adv_logits),
        distance=torch.where(take_b, b.distance, a.distance),
        queries=a.queries + b.queries,
        threat=a.threat,
        access=a.access if a.access == b.access else "white-box",
        forward_rows=a.passes[0] + b.passes[0],
        backward_rows=a.backward_rows + b.backward_rows,
    )


def light(result: AttackResult) -> AttackResult:
    """``result`` without its inputs and points (``x`` and ``x_adv`` empty): the per-row figures only,
    so that a stream's results can be kept for every batch while memory stays flat."""
    return replace(result, x=result.x[:0], x_adv=result.x_adv[:0])


def joined(results: list[AttackResult]) -> AttackResult:
    """The results of one attack on consecutive batches as one (rows in order; queries and passes summed)."""
    first = results[0]
    if len(results) == 1:
        return first

    def cat(name: str) -> Tensor:
        return torch.cat([getattr(r, name) for r in results])

    return replace(
        first,
        x=cat("x"),
        x_adv=cat("x_adv"),
        y=cat("y"),
        target=cat("target") if first.target is not None else None,
        success=cat("success"),
        adv_logits=cat("adv_logits"),
        distance=cat("distance"),
        queries=sum(r.queries for r in results),
        found_at=cat("found_at") if all(r.found_at is not None for r in results) else None,
        forward_rows=sum(r.passes[0] for r in results),
        backward_rows=sum(r.backward_rows for r in results),
    )
