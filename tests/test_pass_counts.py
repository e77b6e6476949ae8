"""Pass accounting: every attack's forward and backward rows equal an independent wrapper's count."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from feint.attacks.registry import run_attack


class RowCounter(nn.Module):
    """Counts rows through ``model``, outside feint: a forward pre-hook for forward rows, a full
    backward hook (on the module's output gradient) for backward rows."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.forward_rows = 0
        self.backward_rows = 0
        model.register_forward_pre_hook(self._forward)
        model.register_full_backward_hook(self._backward)

    def _forward(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self.forward_rows += int(args[0].shape[0])

    def _backward(self, module: nn.Module, grad_in: tuple[Tensor | None, ...], grad_out: tuple[Tensor, ...]) -> None:
        self.backward_rows += int(grad_out[0].shape[0])

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


ATTACKS = {
    "fgsm": {"eps": 0.1},
    "pgd": {"eps": 0.1, "steps": 5},
    "apgd-ce": {"eps": 0.1, "steps": 6},
    "apgd-t": {"eps": 0.1, "steps": 4, "n_target_classes": 2},
    "fmn": {"steps": 6},
    "cw": {"steps": 5},
    "deepfool": {"max_iter": 5},
    "square": {"eps": 0.1, "n_queries": 20},
    "eot_pgd": {"eps": 0.1, "steps": 3, "samples": 2},
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_pass_counts_equal_an_outside_wrapper(name: str, digits_test) -> None:  # type: ignore[no-untyped-def]
    x, y = digits_test.x[:12], digits_test.y[:12]
    counted = RowCounter(_net())
    result = run_attack(name, counted, x, y, **ATTACKS[name])
    forward, backward = result.passes
    assert forward == counted.forward_rows > 0
    assert backward == counted.backward_rows
    if name in ("square",):
        assert backward == 0
    else:
        assert backward > 0
