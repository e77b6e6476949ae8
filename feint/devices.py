"""Where a capability's work runs: ``device=None`` keeps everything where it is."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor, nn

T = TypeVar("T")


def place(device: str | torch.device | None, item: T) -> T:
    """``item`` on ``device``: a tensor is copied there, a torch module moved there (in place); anything
    else (an oracle answers on its own device) and everything when ``device`` is None, as it is."""
    if device is None:
        return item
    if isinstance(item, (Tensor, nn.Module)):
        return item.to(torch.device(device))  # type: ignore[return-value]
    return item
