"""One training epoch: the batches in a seeded order, each through the recipe's per-batch hook.

The loss of a batch is ``recipe.batch_loss(model, x, y, step)`` (cross-entropy without a recipe)
and the learning rate ``lr * recipe.lr_factor(step)``; everything random in a batch is fixed by
its :class:`~feint.defenses.base.Step` seed, so a resumed run replays the same batches.

Under torchrun ``model`` is the :func:`feint.distributed.for_training` wrapper (DDP averages the
gradients in ``backward``), each rank draws its share of the epoch from
:func:`feint.distributed.epoch_order`, rank r's batch seeds are shifted by ``RANK_SEED * r`` (rank
0 draws what one process draws) and the epoch's loss is summed over the ranks.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint import distributed as fd
from feint.defenses.base import Recipe, Step
from feint.errors import InputError
from feint.progress import bar
from feint.training.shared import RANK_SEED


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
    """Train ``model`` for one epoch over ``(x, y)`` (this rank's share under torchrun); returns
    the mean batch loss over every rank's inputs."""
    shift = RANK_SEED * fd.rank()
    torch.manual_seed(epoch_seed(seed, epoch) + shift)
    order = fd.epoch_order(x.shape[0], seed=epoch_seed(seed, 0), epoch=epoch).to(x.device)
    batches = -(-order.shape[0] // batch_size)
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    shown = bar(progress, iterable=range(batches), desc=f"epoch {epoch + 1}/{epochs}")
    for b in shown:
        idx = order[b * batch_size : (b + 1) * batch_size]
        step = Step(epoch, b, batches, epochs, epoch_seed(seed, epoch) * 100_003 + b + shift)
        if recipe is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr * recipe.lr_factor(step)
        optimizer.zero_grad(set_to_none=True)
        with fd.group_work(f"training (epoch {epoch + 1}, batch {b + 1})"):
            loss = batch_loss(recipe, model, x[idx], y[idx], step)
            if not bool(torch.isfinite(loss)):
                raise InputError(
                    f"training diverged in epoch {epoch + 1} (the loss is {float(loss.detach())}); lower the "
                    f"learning rate (now {lr}); the last finished epoch's checkpoint is kept"
                )
            loss.backward()
        optimizer.step()
        total += loss.detach().double() * len(idx)
        if b % 10 == 0 and not shown.disable:  # reading the loss waits for the device: only for a bar
            shown.set_postfix(loss=f"{float(total) / (b * batch_size + len(idx)):.3f}")
    seen = torch.tensor(float(order.shape[0]), dtype=torch.float64, device=x.device)
    sums = fd.all_reduce_sum(torch.stack([total, seen]), "summing the loss")
    return float(sums[0]) / float(sums[1])
