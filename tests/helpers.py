"""Small model wrappers shared by several test files."""

from __future__ import annotations

from torch import Tensor, nn


class Rescale(nn.Module):
    """Maps inputs in [lo, hi] back to the [0, 1] a model was trained on (normalisation inside the model)."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.lo) / (self.hi - self.lo)


class ScaledLogits(nn.Module):
    """The same classifier with logits x factor: a saturated softmax, zero CE gradients in float32."""

    def __init__(self, model: nn.Module, factor: float) -> None:
        super().__init__()
        self.model, self.factor = model, factor

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x) * self.factor
