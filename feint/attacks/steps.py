"""The iteration machinery shared by the iterative gradient attacks.

- :class:`ActiveSet`: per-sample early stopping. Rows already adversarial leave the active set,
  keep their current point and stop costing forward/backward passes.
- :func:`iterate`: the projected steepest-ascent loop of BIM (Kurakin et al. 2016), iterative
  FGSM, PGD (Madry et al. 2018) and, with ``decay``, MI-FGSM (Dong et al. 2018): ``x <- P(x +
  step_size * steepest(g))`` where ``g`` is the gradient or its L1-normalised momentum.
- :func:`over_attempts`: restarts (and other repeated attempts), each on the rows no earlier
  attempt has broken, the per-sample best kept with :func:`~feint.attacks.result.best_of`.

Shapes: x (N, C, H, W), labels (N,), per-row state (N, ...). Every point the loop evaluates lies
in the threat model's ball and bounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor, nn

from feint.attacks.core import AttackRun, ascent_gradient
from feint.attacks.result import AttackResult, best_of, is_success
from feint.threat import flat_norm


class ActiveSet:
    """The rows of a batch still under attack.

    ``state`` holds per-row tensors of the active rows only; ``state["x"]`` is the current point.
    ``rows`` indexes the active rows in the full batch (None: all rows, in order, so that a run
    without early stopping never indexes or synchronises).
    """

    def __init__(self, start: Tensor, state: dict[str, Tensor], rows: Tensor | None = None) -> None:
        self.out = start.detach().clone()
        self.rows = rows
        full = {"x": start.detach(), **state}
        self.state = full if rows is None else {k: v[rows] for k, v in full.items()}

    def drop(self, done: Tensor) -> bool:
        """Retire the rows ``done`` (N_active,) with their current point; False once none is left."""
        if not bool(done.any()):
            return True
        rows = self.rows if self.rows is not None else torch.arange(done.shape[0], device=done.device)
        self.out[rows[done]] = self.state["x"][done]
        keep = ~done
        self.rows = rows[keep]
        self.state = {k: v[keep] for k, v in self.state.items()}
        return self.rows.numel() > 0

    def finish(self, points: Tensor | None = None) -> Tensor:
        """The full batch: retired rows' points and ``points`` (default: the current ones) for the rest."""
        points = self.state["x"] if points is None else points
        if self.rows is None:
            return points
        self.out[self.rows] = points
        return self.out


class BreakClock:
    """When each row of a batch was first found adversarial, as the fraction of the attack's whole
    iteration budget (``total`` steps over all its attempts) spent by then; inf where never.

    An attack that is still breaking inputs late in its budget has not converged (Croce & Hein
    2020 show robust accuracy still falling with more iterations and restarts on some models): the
    audit's convergence gauge (:mod:`feint.capabilities.audit.escalate`) reads it from ``found_at``.
    """

    def __init__(self, n: int, total: int, device: torch.device) -> None:
        self.at = torch.full((n,), torch.inf, device=device)
        self.total = total
        self.spent = 0

    def mark(self, rows: Tensor | None, hit: Tensor, step: int) -> None:
        """Rows ``hit`` (of the active ``rows``, None: all) became adversarial at ``step`` of the current attempt."""
        if not bool(hit.any()):
            return
        idx = hit.nonzero().squeeze(1) if rows is None else rows[hit]
        self.at[idx] = self.at[idx].clamp(max=(self.spent + step + 1) / self.total)

    def stamp(self, result: AttackResult) -> AttackResult:
        """``result`` with ``found_at``: this clock's times where the checked result succeeds."""
        return dataclasses.replace(result, found_at=torch.where(result.success, self.at, torch.inf))


def _view(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def iterate(
    run: AttackRun,
    start: Tensor,
    *,
    steps: int,
    step_size: float,
    early_stop: bool,
    decay: float | None = None,
    rows: Tensor | None = None,
) -> Tensor:
    """Projected steepest-ascent steps from ``start`` (N, C, H, W); returns the final points (N, C, H, W).

    Targeted runs descend the target's loss. With ``decay`` the direction is the momentum
    ``m <- decay * m + g / ||g||_1`` (MI-FGSM). ``rows`` restricts the attack to some rows (the
    others keep ``start``). With ``early_stop`` a row leaves once its current point is adversarial.
    """
    threat, step_size = run.budget, run.step(step_size)
    state = {**threat.ball(run.x), "y": run.y}
    if run.target is not None:
        state["target"] = run.target
    if decay is not None:
        state["momentum"] = torch.zeros_like(start)
    active = ActiveSet(start, state, rows)
    for _ in range(steps):
        s = active.state
        target = s.get("target")
        with run.model.on_rows(active.rows):
            grad, logits = ascent_gradient(
                run.model, s["x"], s["y"] if target is None else target, targeted=target is not None
            )
        if early_stop:
            s["grad"] = grad
            if not active.drop(is_success(logits, s["y"], target)):
                break
            s = active.state
            grad = s.pop("grad")
        if decay is not None:
            l1 = flat_norm(grad, "1") + 1e-12
            grad = s["momentum"] = decay * s["momentum"] + grad / _view(l1, grad)
        s["x"] = threat.project_ball(torch.add(s["x"], threat.steepest(grad), alpha=step_size), s)
    return active.finish()


def value_and_grad(model: nn.Module, x: Tensor, fn: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample objective ``fn(logits)`` (N,), its gradient w.r.t. ``x`` and the logits, all detached."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        value = fn(logits)
        (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad.detach(), logits.detach()


def over_attempts(
    run: AttackRun,
    attempt: Callable[[int, Tensor | None], Tensor],
    *,
    count: int,
    early_stop: bool,
) -> AttackResult:
    """Run ``attempt(i, rows)`` for i < count and keep each sample's best result.

    With ``early_stop`` every attempt after the first only attacks the rows (``rows``, indices)
    that no earlier attempt broke. Each attempt's output is checked by ``finalize``; the queries of
    the combined result are all the queries of the run.
    """
    best: AttackResult | None = None
    counted = 0
    for i in range(count):
        rows = None
        if best is not None and early_stop:
            rows = (~best.success).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
        x_adv = attempt(i, rows)
        queries = run.model.queries - counted
        counted = run.model.queries
        result = run.check(x_adv, queries)
        best = result if best is None else best_of(best, result)
    assert best is not None
    return run.model.stamp(best)
