"""Small models and data for corpus rows: digits batches, linear models, models with NaN logits or gradients."""

from __future__ import annotations

import torch
from torch import nn

from feint.data import load


def digits_batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    data = load("digits", "test")
    return data.x[:n].clone(), data.y[:n].clone()


def linear(classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, classes))


def blind() -> nn.Module:
    """A linear model that ignores the top row of pixels (as models do with the digits' blank border):
    its gradient there is exactly 0, and 0 * inf is NaN."""
    model = linear()
    with torch.no_grad():
        model[1].weight[:, :8] = 0
    return model


class OwnNet(nn.Module):
    """A module of your own: no registered architecture."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class NaNAt(nn.Module):
    """A model whose logits are NaN on given rows of a full batch of 12 (the probe looks at 2), or
    (``off_grid``) on every input that is not a clean digit (pixels k/16): at perturbed points only."""

    def __init__(self, rows: tuple[int, ...] = (), off_grid: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        self.rows, self.off_grid = rows, off_grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        bad = torch.zeros(x.shape[0], dtype=torch.bool)
        if self.off_grid:
            bad = ((x * 16) - (x * 16).round()).abs().flatten(1).amax(1) > 1e-3
        elif x.shape[0] == 12:
            bad[list(self.rows)] = True
        return torch.where(bad[:, None], torch.nan, out)


class SqrtNet(nn.Module):
    """Finite logits, but an infinite gradient where a pixel is 0 (sqrt)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1).sqrt())
