"""A transfer attack through a surrogate: white-box on a copy, checked through the query-only model.

Papernot, McDaniel, Goodfellow, Jha, Celik & Swami 2017 ("Practical Black-Box Attacks against
Machine Learning") show that adversarial examples crafted white-box on a substitute trained on a
model's own answers transfer to that model. Here the substitute (``surrogate``: any torch module
with the target's classes, e.g. one fitted by :func:`feint.capabilities.audit.surrogate.fit_surrogate`, or a
user's own) is attacked with APGD (Croce & Hein 2020) at the full budget (no early stopping: a point
that barely fools the copy sits on *its* boundary, not the target's), first with the cross-entropy
loss, then with the DLR loss on the inputs the first candidates left correct. Every candidate is
sent to the oracle, and only the oracle's answer counts: ``queries`` is one per input per candidate
sent, plus the outside check. ``surrogate`` defaults to ``model`` when that is a torch module (its own
perfect copy). Linf or L2. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.attacks.oracle_run import oracle_run
from feint.attacks.registry import register_attack, run_attack
from feint.attacks.result import AttackResult
from feint.errors import InputError
from feint.oracles import Oracle, QueryBudgetExhausted, ScoreOracle
from feint.oracles.logits import oracle_logits
from feint.threat import ThreatModel
from feint.validation import check_positive_int

LOSSES = ("ce", "dlr")


@register_attack("surrogate", defaults={"eps": 0.1}, norms=("inf", "2"), targeted=False, access="labels")
def surrogate_transfer(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    surrogate: nn.Module | None = None,
    norm: str = "inf",
    steps: int = 50,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = 0,
) -> AttackResult:
    """Transfer from a surrogate (Papernot et al. 2017): APGD-CE then APGD-DLR on the copy, each checked by the oracle."""
    if surrogate is None and isinstance(model, nn.Module):
        surrogate = model  # a torch module is its own perfect copy
    if not isinstance(surrogate, nn.Module):
        raise InputError(
            "the surrogate attack on a query-only model needs surrogate=<a torch module with the target's classes>, "
            "e.g. one trained on the target's answers (feint.capabilities.audit.surrogate.fit_surrogate)"
        )
    check_positive_int(steps, "steps")
    threat = ThreatModel(norm, eps, bounds)
    access = "scores" if isinstance(model, (ScoreOracle, nn.Module)) else "labels"
    with oracle_run(model, x, y, threat, access=access) as run:
        best = run.x.clone()
        if threat.eps == 0:
            return run.finish(best)
        fooled = torch.zeros(run.x.shape[0], dtype=torch.bool, device=run.x.device)
        with eval_mode(surrogate):
            for loss in LOSSES if run.num_classes >= 3 else LOSSES[:1]:  # DLR needs 3 classes
                todo = (~fooled).nonzero().squeeze(1)
                todo = todo[: int(min(todo.numel(), run.oracle.remaining))]
                if todo.numel() == 0:
                    break
                crafted = run_attack(
                    "apgd",
                    surrogate,
                    run.x[todo],
                    run.y[todo],
                    eps=threat.eps,
                    norm=threat.norm,
                    steps=steps,
                    loss=loss,
                    bounds=threat.bounds,
                    seed=seed,
                    early_stop=False,
                ).x_adv
                try:
                    pred = oracle_logits(run.oracle, crafted, num_classes=run.num_classes).argmax(1)
                except QueryBudgetExhausted:
                    break
                hit = pred != run.y[todo]
                # The CE point is kept where nothing fooled the model: the best guess there.
                keep = torch.ones_like(hit) if loss == LOSSES[0] else hit
                best[todo[keep]] = crafted[keep]
                fooled[todo[hit]] = True
        return run.finish(best)
