"""One training epoch: the batches in a seeded order, each through the recipe's per-batch hook.

The loss of a batch is ``recipe.batch_loss(model, x, y, step)`` (cross-entropy without a recipe)
and the learning rate ``lr * recipe.lr_factor(step)``; everything random in a batch is fixed by
its :class:`~feint.defenses.base.Step` seed, so a resumed run replays the same batches.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import Recipe, Step
from feint.errors import InputError
from feint.progress import bar


def batch_loss(recipe: Recipe | None, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
    """The loss to minimise on one batch: the recipe's, else the cross-entropy."""
    if recipe is None:
        return F.cross_entropy(model(x), y)
    return recipe.batch_loss(model, x, y, step)


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1000 + epoch


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    recipe: Recipe | None,
    x: Tensor,
    y: Tensor,
    *,
    epoch: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
) -> float:
    """Train ``model`` for one epoch over ``(x, y)``; returns the mean batch loss."""
    torch.manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(epoch_seed(seed, epoch)))
    batches = -(-x.shape[0] // batch_size)
    model.train()
    total, seen = 0.0, 0
    shown = bar(progress, iterable=range(batches), desc=f"epoch {epoch + 1}/{epochs}")
    for b in shown:
        idx = order[b * batch_size : (b + 1) * batch_size].to(x.device)
        step = Step(epoch, b, batches, epochs, epoch_seed(seed, epoch) * 100_003 + b)
        if recipe is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr * recipe.lr_factor(step)
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(recipe, model, x[idx], y[idx], step)
        if not bool(torch.isfinite(loss)):
            raise InputError(
                f"training diverged in epoch {epoch + 1} (the loss is {float(loss.detach())}); lower the learning rate "
                f"(now {lr}); the last finished epoch's checkpoint is kept"
            )
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        if b % 10 == 0:
            shown.set_postfix(loss=f"{total / seen:.3f}")
    return total / seen
