"""Small model wrappers and an ONNX export shared by several test files."""

from __future__ import annotations

import os
from typing import Any

import torch
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


def export_onnx(model: nn.Module, path: str | os.PathLike[str], *, dynamic: bool = True) -> None:
    """``model`` (digits-sized inputs) as an ONNX file with input "x" and output "logits"."""
    axes = {"x": {0: "n"}, "logits": {0: "n"}} if dynamic else None
    torch.onnx.export(
        model, torch.rand(2, 1, 8, 8), str(path), input_names=["x"], output_names=["logits"],
        dynamic_axes=axes, dynamo=False,
    )  # fmt: skip


class PairLayer(nn.Module):
    """A layer whose output is a tuple, not a tensor: no dropout can be inserted after it."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x


class PairNet(nn.Module):
    """An 8x8 classifier with a :class:`PairLayer` named ``pair`` between ``flat`` and ``head``."""

    def __init__(self) -> None:
        super().__init__()
        self.flat, self.pair, self.head = nn.Flatten(), PairLayer(), nn.Linear(64, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pair(self.flat(x))[0])


class TrapNet(nn.Module):
    """A fixed linear digits classifier (1x8x8 -> 10 logits) with two traps for inputs that are valid
    requests: all pixels 1.0 gives NaN logits for that row; all pixels 0.5 makes the forward pass raise."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.linear.weight.copy_(torch.randn(10, 64, generator=g))
            self.linear.bias.copy_(torch.randn(10, generator=g))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        if bool((flat == 0.5).all(1).any()):
            raise RuntimeError("trap: an input of all 0.5")
        nan = torch.where(flat.amin(1) >= 1.0, torch.nan, 0.0)
        return self.linear(flat) + nan[:, None]


def trapnet() -> nn.Module:
    """``feint serve --model helpers:trapnet`` (run in ``tests/``)."""
    return TrapNet()


def passes_across_ranks(report: dict[str, Any]) -> dict[str, Any]:
    """A report whose ``passes`` keep only what the ranks split between them: the attacks' rows.

    Under torchrun every rank also runs the clean pass and the audit's probes on all inputs, so the
    total (summed over the ranks: the work done) is larger than one process's; the attacks' rows are equal.
    """
    passes = report.get("passes")
    if not passes:
        return report
    kept = {k: v for k, v in passes.items() if k not in ("other", "total", "per_input")}
    return {**report, "passes": kept}
