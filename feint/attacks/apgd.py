"""Auto-PGD: step-size free PGD with momentum, and its targeted-DLR variant.

Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
parameter-free attacks", ICML 2020. From a random point in the ball, with step ``eta = 2 eps``:

- ``z = P(x_k + eta * steepest(grad f(x_k)))`` (sign for Linf, ``g / ||g||_2`` for L2),
- ``x_{k+1} = P(x_k + a (z - x_k) + (1 - a)(x_k - x_{k-1}))``, momentum ``a = 0.75`` (1 at k = 0),
- at checkpoints ``w_j = ceil(p_j * steps)`` (``p_0 = 0, p_1 = 0.22,
  p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``) a sample halves its step and restarts from
  its best point when the loss rose in fewer than 75 % of the steps since the last checkpoint,
  or when its step was not halved there and its best loss has not improved since.

Losses: cross-entropy, or the Difference of Logits Ratio
``DLR = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`` (K >= 3), and for targets
``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`` (K >= 4), with ``pi`` the logits sorted down.
Each sample returns its first adversarial point found, else its highest-loss point.
Shapes: x (N, C, H, W), y and targets (N,), logits (N, K).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from feint.attacks.core import AttackRun, attack_run, margin_loss, objective, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult, is_success
from feint.attacks.steps import ActiveSet, BreakClock, over_attempts, value_and_grad
from feint.attacks.targets import rank_other_classes
from feint.errors import InputError
from feint.threat import ThreatModel, make_generator
from feint.validation import check_choice, check_positive_int

LOSSES = ("ce", "dlr")
MOMENTUM = 0.75
RHO = 0.75


def _need_classes(logits: Tensor, k: int, what: str) -> None:
    if logits.shape[1] < k:
        raise InputError(f"{what} needs at least {k} classes, the model has {logits.shape[1]}; use loss='ce'")


def dlr_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Difference of Logits Ratio (N,), to maximise; positive iff misclassified, invariant to logit scale and shift."""
    _need_classes(logits, 3, "the DLR loss")
    z = logits.sort(1, descending=True).values
    return margin_loss(logits, y) / (z[:, 0] - z[:, 2] + 1e-12)


def targeted_dlr_loss(logits: Tensor, y: Tensor, target: Tensor) -> Tensor:
    """Targeted DLR (N,), to maximise: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``."""
    _need_classes(logits, 4, "the targeted DLR loss")
    z = logits.sort(1, descending=True).values
    gap = logits.gather(1, target[:, None]) - logits.gather(1, y[:, None])
    return gap.squeeze(1) / (z[:, 0] - (z[:, 2] + z[:, 3]) / 2 + 1e-12)


def apgd_objective(logits: Tensor, y: Tensor, target: Tensor | None, loss: str) -> Tensor:
    """The per-sample value APGD maximises: CE / DLR, or their targeted forms when ``target`` is given."""
    if loss == "dlr":
        return dlr_loss(logits, y) if target is None else targeted_dlr_loss(logits, y, target)
    return objective(logits, y if target is None else target, targeted=target is not None)


def checkpoints(steps: int) -> list[int]:
    """The iterations ``w_j`` (0 < w_j < steps) where step sizes are reconsidered."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * steps) for q in p[1:]} & set(range(1, steps)))


def _view(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def _reconsider(s: dict[str, Tensor], length: int) -> None:
    """A checkpoint: halve the step (and go back to the best point) where progress stalled."""
    stalled = s["rises"] < RHO * length
    no_gain = ~s["reduced"] & (s["f_max"] <= s["f_max_ckpt"])
    reduce = stalled | no_gain
    back = _view(reduce, s["x"])
    s["eta"] = torch.where(reduce, s["eta"] / 2, s["eta"])
    s["x"] = torch.where(back, s["x_max"], s["x"])
    s["x_prev"] = torch.where(back, s["x_max"], s["x_prev"])
    s["grad"] = torch.where(back, s["grad_max"], s["grad"])
    s["f_prev"] = torch.where(reduce, s["f_max"], s["f_prev"])
    s["reduced"] = reduce


def _apgd_run(
    run: AttackRun,
    start: Tensor,
    *,
    steps: int,
    loss: str,
    target: Tensor | None,
    verdict_target: bool,
    early_stop: bool,
    rows: Tensor | None,
    clock: BreakClock,
) -> Tensor:
    """One APGD run from ``start``; ``verdict_target``: success means reaching ``target`` (else
    misclassification); ``clock`` notes when each row was first found adversarial."""
    threat, n = run.budget, start.shape[0]
    low = torch.full((n,), -torch.inf, device=start.device, dtype=start.dtype)
    state = {
        **threat.ball(run.x),
        "y": run.y,
        "eta": torch.full_like(low, 2 * threat.eps),
        "x_prev": start,
        "x_max": start,
    }
    state |= {"grad_max": torch.zeros_like(start), "f_max": low, "f_prev": low, "f_max_ckpt": low}
    state |= {"rises": torch.zeros_like(low), "reduced": torch.zeros_like(low, dtype=torch.bool)}
    state |= {"found": torch.zeros_like(low, dtype=torch.bool), "x_found": start}
    if target is not None:
        state["target"] = target
    active = ActiveSet(start, state, rows)
    marks, last = set(checkpoints(steps)), 0
    for k in range(steps):
        s = active.state
        t = s.get("target")
        fn = functools.partial(apgd_objective, y=s["y"], target=t, loss=loss)
        with run.model.on_rows(active.rows):
            s["f"], s["grad"], logits = value_and_grad(run.model, s["x"], fn)
        hit = is_success(logits, s["y"], t if verdict_target else None)
        clock.mark(active.rows, hit, k)
        if early_stop:
            if not active.drop(hit):
                break
            s = active.state
        else:
            s["x_found"] = torch.where(_view(hit & ~s["found"], s["x"]), s["x"], s["x_found"])
            s["found"] = s["found"] | hit
        better = _view(s["f"] > s["f_max"], s["x"])
        s["x_max"] = torch.where(better, s["x"], s["x_max"])
        s["grad_max"] = torch.where(better, s["grad"], s["grad_max"])
        s["f_max"] = torch.maximum(s["f"], s["f_max"])
        s["rises"] = s["rises"] + (s["f"] > s["f_prev"]).to(s["rises"].dtype)
        s["f_prev"] = s["f"]
        if k in marks:
            _reconsider(s, k - last)
        if k == 0 or k in marks:
            s["rises"], s["f_max_ckpt"], last = torch.zeros_like(s["rises"]), s["f_max"], k
        if k < steps - 1:
            x, a = s["x"], 1.0 if k == 0 else MOMENTUM
            z = threat.project_ball(x + _view(s["eta"], x) * threat.steepest(s["grad"]), s)
            s["x_prev"], s["x"] = x, threat.project_ball(x + a * (z - x) + (1 - a) * (x - s["x_prev"]), s)
    s = active.state
    return active.finish(torch.where(_view(s["found"], s["x"]), s["x_found"], s["x_max"]))


def _check(steps: int, restarts: int) -> None:
    check_positive_int(steps, "steps")
    check_positive_int(restarts, "restarts")


@register_attack("apgd", defaults={"eps": 0.1}, norms=("inf", "2"))
@register_attack("apgd-ce", defaults={"eps": 0.1, "loss": "ce"}, norms=("inf", "2"))
def apgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 100,
    loss: str = "ce",
    norm: str = "inf",
    restarts: int = 1,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """APGD (Croce & Hein 2020), Linf or L2, loss "ce" or "dlr" (targeted DLR when targeted), random restarts."""
    threat = ThreatModel(norm, eps, bounds)
    _check(steps, restarts)
    check_choice(loss, LOSSES, "loss")
    target = resolve_target(y, target, targeted)
    with attack_run(model, x, y, threat, target=target) as run:
        gen = make_generator(seed, run.x.device)
        clock = BreakClock(run.x.shape[0], steps * restarts, run.x.device)

        def attempt(i: int, rows: Tensor | None) -> Tensor:
            start = run.budget.random_start(run.x, generator=gen)
            clock.spent = i * steps
            return _apgd_run(
                run,
                start,
                steps=steps,
                loss=loss,
                target=run.target,
                verdict_target=True,
                early_stop=early_stop,
                rows=rows,
                clock=clock,
            )

        return clock.stamp(over_attempts(run, attempt, count=restarts, early_stop=early_stop))


@register_attack("apgd-t", defaults={"eps": 0.1}, norms=("inf", "2"), targeted=False)
def apgd_t(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 100,
    n_target_classes: int = 9,
    first_target: int = 1,
    norm: str = "inf",
    restarts: int = 1,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    early_stop: bool = True,
) -> AttackResult:
    """APGD-T (Croce & Hein 2020): untargeted, by targeted-DLR APGD towards each runner-up class in turn.

    This is an *untargeted* attack (success = misclassified, ``result.target`` is None) whose
    internals run targeted DLR, as AutoAttack does: the targets are the runner-up classes of rank
    ``first_target`` (1: the highest clean logit among the classes other than ``y``) onwards,
    ``n_target_classes`` of them (clamped to the K - 1 there are); one counted forward pass ranks
    them. With ``early_stop`` each later target only attacks the samples still robust.
    ``targeted``/``target`` must stay unset.
    """
    if targeted or target is not None:
        raise InputError("apgd-t is untargeted (it picks its own target classes); leave targeted/target unset")
    threat = ThreatModel(norm, eps, bounds)
    _check(steps, restarts)
    check_positive_int(n_target_classes, "n_target_classes")
    check_positive_int(first_target, "first_target")
    with attack_run(model, x, y, threat) as run:
        with torch.no_grad():
            clean = run.model(run.x)
        if clean.shape[1] < 4:
            raise InputError(
                f"apgd-t needs at least 4 classes (its targeted DLR loss), the model has {clean.shape[1]}; "
                "use apgd-ce (or apgd with loss='dlr' from 3 classes)"
            )
        ranked = rank_other_classes(clean, run.y)
        if first_target > ranked.shape[1]:
            raise InputError(f"first_target={first_target}, but the model has only {ranked.shape[1]} other classes")
        count = min(n_target_classes, ranked.shape[1] - first_target + 1) * restarts
        gen = make_generator(seed, run.x.device)
        clock = BreakClock(run.x.shape[0], steps * count, run.x.device)

        def attempt(i: int, rows: Tensor | None) -> Tensor:
            start = run.budget.random_start(run.x, generator=gen)
            goal = ranked[:, first_target - 1 + i // restarts]
            clock.spent = i * steps
            return _apgd_run(
                run,
                start,
                steps=steps,
                loss="dlr",
                target=goal,
                verdict_target=False,
                early_stop=early_stop,
                rows=rows,
                clock=clock,
            )

        return clock.stamp(over_attempts(run, attempt, count=count, early_stop=early_stop))
