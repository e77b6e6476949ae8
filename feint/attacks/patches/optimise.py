"""The training loop a sticker and a patch share: Adam on one pattern over batches of images and
random transformations (Expectation over Transformation, Athalye et al. 2018).

Each step draws ``batch_size`` training images, renders each ``samples`` times (``render`` puts
the pattern on them and transforms them, with fresh random draws) and takes one Adam step on the
mean objective (cross-entropy towards the target, or away from the true label up to a cap) plus ``penalty``
(printability, smoothness); the pattern is clipped to the bounds after every step. Shapes:
x (N, C, H, W), labels (N,).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from feint.attacks.core import objective
from feint.progress import bar
from feint.validation import Bounds

UNTARGETED_CAP = 5.0  # nats: the true class's probability below e^-5 (0.7%)
Render = Callable[[Tensor, Tensor, torch.Generator | None], Tensor]
Penalty = Callable[[Tensor], Tensor]


def train_pattern(
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    pattern: Tensor,
    render: Render,
    *,
    targeted: bool,
    steps: int,
    batch_size: int,
    samples: int,
    step_size: float,
    bounds: Bounds,
    generator: torch.Generator | None,
    penalty: Penalty | None = None,
    progress: bool = False,
    desc: str = "pattern",
) -> tuple[Tensor, list[float], int]:
    """The trained pattern, the batch success rate after each step and the rows sent through the model.

    ``labels`` are the targets of a targeted attack, else the true labels."""
    lo, hi = bounds
    weights = pattern.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([weights], lr=step_size * (hi - lo))
    history: list[float] = []
    rows = 0
    n = x.shape[0]
    with bar(progress, total=steps, desc=desc) as shown:
        for _ in range(steps):
            pick = torch.randint(n, (min(batch_size, n),), generator=generator, device=x.device)
            batch, wanted = x[pick].repeat(samples, 1, 1, 1), labels[pick].repeat(samples)
            with torch.enable_grad():
                logits = model(render(weights, batch, generator))
                # untargeted, the loss of the true class is capped: past it the input is fooled with a margin
                # and the penalties (printability, smoothness) decide
                loss = -objective(logits, wanted, targeted=targeted).clamp(max=UNTARGETED_CAP).mean()
                if penalty is not None:
                    loss = loss + penalty(weights)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
            optimiser.step()
            with torch.no_grad():
                weights.clamp_(lo, hi)
                hit = logits.argmax(1) == wanted if targeted else logits.argmax(1) != wanted
                history.append(float(hit.float().mean()))
            rows += 2 * batch.shape[0]
            shown.update(1)
    return weights.detach(), history, rows
