"""Expectation over Transformation: PGD on the expected loss over a distribution of transformations.

Athalye, Engstrom, Ilyas & Kwok 2018 ("Synthesizing Robust Adversarial Examples"): to make an
adversarial example survive transformations ``t ~ T`` (a print-and-photo chain, a change of view),
maximise ``E_{t ~ T} [J(t(x'), y)]`` inside the threat model, estimated each step with ``samples``
draws of ``t``. Every transform in :mod:`feint.transforms` is differentiable except JPEG, whose
gradient passes straight through (BPDA, Athalye, Carlini & Wagner 2018). Steps are PGD's
(Madry et al. 2018): ``x <- P(x + step_size * steepest(grad))`` from a random start in the ball.
The result is checked outside the attack on the untransformed input, like every attack; the
physical-world evaluation then measures how often it survives the transformations.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.core import attack_run, objective, resolve_target
from feint.attacks.registry import register_attack
from feint.attacks.result import AttackResult
from feint.threat import ThreatModel, make_generator
from feint.transforms import Transform, print_and_photo
from feint.validation import check_nonnegative, check_positive_int


def expected_gradient(
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    transform: Transform,
    *,
    samples: int,
    targeted: bool,
    bounds: tuple[float, float],
    generator: torch.Generator | None,
) -> Tensor:
    """Gradient w.r.t. ``x`` (N, C, H, W) of the objective averaged over ``samples`` transformations of ``x``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        batch = x.repeat(samples, 1, 1, 1)
        logits = model(transform(batch, generator=generator, bounds=bounds))
        value = objective(logits, labels.repeat(samples), targeted=targeted).sum() / samples
        (grad,) = torch.autograd.grad(value, x)
    return grad.detach()


@register_attack("eot_pgd", defaults={"eps": 0.1}, norms=("inf", "2"))
def eot_pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    transform: Transform | None = None,
    samples: int = 8,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "inf",
    random_start: bool = True,
    targeted: bool = False,
    target: Tensor | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
) -> AttackResult:
    """EOT-PGD (Athalye et al. 2018): PGD on the loss averaged over ``samples`` draws of ``transform``
    per step (default: the print-and-photo pipeline); step_size defaults to 2.5 * eps / steps.

    Each step costs ``samples`` forward and backward passes per input; there is no early stop,
    since an input that fools the model untransformed may not yet survive the transformations.
    """
    threat = ThreatModel(norm, eps, bounds)
    check_positive_int(steps, "steps")
    check_positive_int(samples, "samples")
    if step_size is not None:
        check_nonnegative(step_size, "step_size")
    target = resolve_target(y, target, targeted)
    chain = transform if transform is not None else print_and_photo()
    chain.check_size(int(x.shape[-2]), int(x.shape[-1]))
    with attack_run(model, x, y, threat, target=target) as run:
        gen = make_generator(seed, run.x.device)
        budget = run.budget
        size = run.step(2.5 * budget.eps / steps if step_size is None else step_size)
        ball = budget.ball(run.x)
        x_adv = budget.random_start(run.x, generator=gen) if random_start else run.x
        for _ in range(steps):
            grad = expected_gradient(
                run.model,
                x_adv,
                run.labels,
                chain,
                samples=samples,
                targeted=run.targeted,
                bounds=threat.bounds,
                generator=gen,
            )
            x_adv = budget.project_ball(x_adv + size * budget.steepest(grad), ball)
        return run.finish(x_adv)


class ExpectationOverDraws(nn.Module):
    """A randomized ``model`` seen through the average of ``draws`` random draws: EOT for a model with
    test-time randomness (Athalye, Carlini & Wagner 2018, "Obfuscated Gradients Give a False Sense of
    Security", sec. 4.2; Athalye et al. 2018).

    Every forward pass runs ``draws`` draws of the model on ``x`` in one batch and returns their mean
    logits, so that every gradient attack descends the expected logits, and an attack's own success
    test and outside check ask whether the expected logits are fooled (not one lucky draw: an input
    counted as broken then leaves the later attacks' pool). The audit then evaluates the final
    points over seeded single-draw redraws (:mod:`feint.capabilities.audit.randomness`).
    :func:`feint.attacks.core.rows_per_input` counts each draw as a row. Shapes: x (N, C, H, W).
    """

    def __init__(self, model: nn.Module, draws: int) -> None:
        super().__init__()
        check_positive_int(draws, "eot_samples (the EOT draws per gradient)")
        self.model = model
        self.draws = int(draws)
        self.train(model.training)

    def rows_per_input(self, x: Tensor) -> int:
        return self.draws

    def forward(self, x: Tensor) -> Tensor:
        if self.draws == 1:
            return self.model(x)
        out: Tensor = self.model(x.repeat(self.draws, *([1] * (x.dim() - 1))))
        return out.view(self.draws, x.shape[0], *out.shape[1:]).mean(0)
