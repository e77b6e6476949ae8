"""What every gradient attack shares: input checks, query and pass counting, eval mode, loss gradients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.attacks.result import AttackResult, finalize
from feint.errors import InputError, NonFiniteLogits
from feint.threat import ThreatModel
from feint.validation import call_model, check_images, check_labels, eval_mode, model_logits


def rows_per_input(model: nn.Module, x: Tensor) -> int:
    """Rows of the underlying model one input row of ``x`` costs: ``k`` for a wrapper that averages
    ``k`` random draws where a gradient is taken (:class:`feint.attacks.eot.ExpectationOverDraws`), else 1."""
    per = getattr(model, "rows_per_input", None)
    return int(per(x)) if callable(per) else 1


class CountBackward(torch.autograd.Function):
    """Identity on a model's output whose backward adds the rows it carries to ``counter.backward_rows``
    (any object with that attribute)."""

    @staticmethod
    def forward(ctx: Any, out: Tensor, counter: Any, rows: int) -> Tensor:
        ctx.counter, ctx.rows = counter, rows
        return out.view_as(out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        ctx.counter.backward_rows += ctx.rows
        return grad, None, None


class QueryCounter(nn.Module):
    """Wraps a model, counts every input row it evaluates and stops the attack at the first NaN or
    infinite logit: one :class:`~feint.errors.NonFiniteLogits` naming the attack's input rows, so that
    such an output is never counted as a result.

    It is the one place where passes are counted: ``queries`` are the attack's forward rows (one per
    input row per forward pass); ``forward_rows`` and ``backward_rows`` are the rows that went through
    the underlying model forward and backward, the input check and the outside check of the result
    included (:meth:`checked`), each random draw of an EOT wrapper counted (:func:`rows_per_input`).
    A backward row is counted by an autograd node on the output, so every backward pass through the
    model counts, whoever starts it.

    ``n`` is the attack's batch size; an attack that evaluates a subset of its rows says which with
    :meth:`on_rows`, so the error can name them (a batch of ``n`` rows is taken to be all of them, in order).
    """

    def __init__(self, model: nn.Module, *, n: int = 0) -> None:
        super().__init__()
        self.model = model
        self.queries = 0
        self.forward_rows = 0
        self.backward_rows = 0
        self.n = n
        self.rows: Tensor | None = None
        self.train(model.training)

    def checked(self, x: Tensor) -> None:
        """Count the forward rows of a pass on ``x`` the attack's frame ran on the model itself (the input
        and result checks)."""
        self.forward_rows += int(x.shape[0]) * rows_per_input(self.model, x)

    def stamp(self, result: AttackResult) -> AttackResult:
        """``result`` with the passes counted so far."""
        return replace(result, forward_rows=self.forward_rows, backward_rows=self.backward_rows)

    @contextmanager
    def on_rows(self, rows: Tensor | None) -> Iterator[QueryCounter]:
        """Within the block, the batches evaluated are the attack's rows ``rows`` (None: all of them)."""
        before, self.rows = self.rows, rows
        try:
            yield self
        finally:
            self.rows = before

    def forward(self, x: Tensor) -> Tensor:
        self.queries += int(x.shape[0])
        rows = int(x.shape[0]) * rows_per_input(self.model, x)
        self.forward_rows += rows
        out = call_model(self.model, x)
        if isinstance(out, Tensor) and not bool(torch.isfinite(out.detach()).all()):
            self._refuse(out.detach())
        if isinstance(out, Tensor) and out.requires_grad:
            out = CountBackward.apply(out, self, rows)
        return out

    def _refuse(self, out: Tensor) -> None:
        bad = (~torch.isfinite(out).flatten(1).all(1)).nonzero().flatten()
        if self.rows is not None and len(self.rows) == out.shape[0]:
            rows: list[int] | None = self.rows[bad].tolist()
        elif self.rows is None and out.shape[0] == self.n:
            rows = bad.tolist()
        else:
            rows = None
        raise NonFiniteLogits(rows, total=self.n, where=" at points the attack evaluated")


class Targets:
    """What an attack's loss or decision is computed against (for AttackRun and OracleRun)."""

    y: Tensor
    target: Tensor | None

    @property
    def labels(self) -> Tensor:
        """The labels the loss is computed against: targets for a targeted attack, else true labels."""
        return self.target if self.target is not None else self.y

    @property
    def targeted(self) -> bool:
        return self.target is not None


@dataclass
class AttackRun(Targets):
    """State of one attack call: the counted model, the checked inputs and the threat model.

    ``threat`` is the caller's threat model, which the result is checked against; ``budget`` is the
    same feasible set with eps capped at the box's diameter (``ThreatModel.fitted``): an eps of
    ``inf`` or ``1e6`` allows no more than that, and step schedules derived from it stay finite.
    """

    model: QueryCounter
    original: nn.Module
    x: Tensor
    y: Tensor
    threat: ThreatModel
    target: Tensor | None
    budget: ThreatModel

    def step(self, size: float) -> float:
        """A step size capped at the box's diameter: a longer step reaches no further point of the box."""
        return min(float(size), self.budget.diameter(self.x[0].numel()))

    def finish(self, x_adv: Tensor) -> AttackResult:
        return self.model.stamp(self.check(x_adv, self.model.queries))

    def check(self, x_adv: Tensor, queries: int) -> AttackResult:
        """The outside check of ``x_adv`` (:func:`~feint.attacks.result.finalize`), its rows counted."""
        result = finalize(self.original, self.x, self.y, x_adv, self.threat, target=self.target, queries=queries)
        self.model.checked(self.x)
        return result


@contextmanager
def attack_run(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    threat: ThreatModel,
    *,
    target: Tensor | None = None,
) -> Iterator[AttackRun]:
    """Check the inputs, count queries and hold the model in eval mode for the attack's duration.

    Inputs the check lets through within its tolerance outside the bounds are clipped onto them
    first, so that the result lies in the bounds and in the eps-ball around ``run.x`` exactly.
    """
    check_images(x, bounds=threat.bounds)
    check_labels(y, n=x.shape[0])
    with eval_mode(model):
        probe = model_logits(model, x, rows=2)
        num_classes = probe.shape[1]
        check_labels(y, n=x.shape[0], num_classes=num_classes)
        if target is not None:
            check_labels(target, n=x.shape[0], num_classes=num_classes, name="target")
        inside = threat.clip(x.detach())
        budget = threat.fitted(inside[0].numel())
        counter = QueryCounter(model, n=x.shape[0])
        counter.checked(x[:2])
        yield AttackRun(counter, model, inside, y, threat, target, budget)


def resolve_target(y: Tensor, target: Tensor | None, targeted: bool) -> Tensor | None:
    """A targeted attack needs target labels; an untargeted one must not get them."""
    if targeted and target is None:
        raise InputError(
            "targeted=True needs target labels: pass target=... (see feint.attacks.targets for random, "
            "least-likely and next-class targets)"
        )
    if not targeted and target is not None:
        raise InputError("target labels were given but targeted=False; pass targeted=True to use them")
    return target


def margin_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample max_{j != y} z_j - z_y (positive once misclassified)."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, labels[:, None], -torch.inf)
    return other.amax(1) - true


def objective(logits: Tensor, labels: Tensor, *, targeted: bool, loss: str = "ce") -> Tensor:
    """Per-sample objective to *maximise*: the loss w.r.t. the true label, or minus it w.r.t. the target."""
    if loss == "ce":
        value = F.cross_entropy(logits, labels, reduction="none")
    elif loss == "margin":
        value = margin_loss(logits, labels)
    else:
        raise InputError(f"unknown loss {loss!r}; use 'ce' or 'margin'")
    return -value if targeted else value


def ascent_gradient(
    model: nn.Module, x: Tensor, labels: Tensor, *, targeted: bool, loss: str = "ce"
) -> tuple[Tensor, Tensor]:
    """Gradient of the objective (summed over the batch) w.r.t. ``x``, and the logits at ``x``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        value = objective(logits, labels, targeted=targeted, loss=loss).sum()
        (grad,) = torch.autograd.grad(value, x)
    return grad.detach(), logits.detach()


def keep_smaller(best: Tensor, best_size: Tensor, candidate: Tensor, size: Tensor, ok: Tensor) -> tuple[Tensor, Tensor]:
    """Minimum-norm bookkeeping: per sample, take ``candidate`` where ``ok`` and ``size < best_size``."""
    better = ok & (size < best_size)
    mask = better.view(-1, *([1] * (best.dim() - 1)))
    return torch.where(mask, candidate, best), torch.where(better, size, best_size)


def finish_minimum_norm(run: AttackRun, x_adv: Tensor) -> AttackResult:
    """Finish a minimum-norm attack: a sample the checked result does not count as fooled gets ``x`` back.

    Its distance is then 0 and ``success`` is whether the clean input was already misclassified, so
    ``success & (distance <= eps)`` answers every budget (what ``feint.attacks.sweep`` relies on).
    """
    result = run.finish(x_adv)
    if bool(result.success.all()):
        return result
    keep = result.success.view(-1, *([1] * (x_adv.dim() - 1)))
    return run.finish(torch.where(keep, result.x_adv, run.x))
