"""A `module:factory` model for the streaming tests: a linear classifier of 8x8 digits built from the
class means (no training), so that it gets most digits right and the attacks have work to do."""

from __future__ import annotations

import torch
from torch import nn

from feint.data import load


def linear() -> nn.Module:
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    d = load("digits", "train")
    with torch.no_grad():
        w = torch.stack([d.x[d.y == k].mean(0).flatten() for k in range(10)])
        net[1].weight.copy_(8 * (w - w.mean(0)))
        net[1].bias.zero_()
    return net
