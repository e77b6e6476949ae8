"""Where does the gradient die? Locating the non-differentiable parts of a model.

Athalye, Carlini & Wagner 2018 ("Obfuscated Gradients Give a False Sense of Security") name
*shattered* gradients: a non-differentiable step (quantization, JPEG, thresholding) whose
gradient is zero, undefined or not finite. To attack through it (BPDA, :mod:`feint.attacks.bpda`)
one must know which part it is. Forward hooks on every submodule record its input and output and,
on the backward pass of the margin ``max_{j != y} z_j - z_y`` (which a saturated softmax cannot
hide, unlike the cross-entropy), the gradient arriving at its output and leaving at its input. A
part is *responsible* where, for most inputs whose input gradient is dead, the gradient at its
output is alive (non-zero and finite) and at its input dead (zero, not finite, or absent: the
part's output left autograd, e.g. a numpy or PIL step); of nested responsible parts the innermost
is kept. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.core import margin_loss
from feint.validation import eval_mode


@dataclass(frozen=True)
class GradientTrace:
    """What one backward pass showed: ``dead`` rows (zero, None or non-finite input gradient) out of
    ``n``, whether the output is connected to the input in autograd at all (``connected``), whether
    some gradient was not finite, and the responsible submodules with why (``"zero"``,
    ``"not finite"`` or ``"leaves autograd"``)."""

    n: int
    dead: int
    connected: bool
    non_finite: bool
    parts: dict[str, str] = field(default_factory=dict)
    keeps_shape: dict[str, bool] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        return self.dead > 0


def _keep(store: dict[str, Tensor], name: str, grad: Tensor | None) -> None:
    if grad is not None:
        store[name] = grad.detach()


def _row_state(grad: Tensor | None, n: int) -> Tensor:
    """(n,) per row: 0 alive, 1 zero or absent, 2 not finite."""
    if grad is None or grad.dim() == 0 or grad.shape[0] != n:
        return torch.ones(n, dtype=torch.long)
    flat = grad.detach().reshape(n, -1)
    state = (flat.abs().amax(1) == 0).long()
    return torch.where(torch.isfinite(flat).all(1), state, torch.full_like(state, 2)).cpu()


def trace_gradient(
    model: nn.Module, x: Tensor, y: Tensor, *, named: nn.Module | None = None, min_share: float = 0.5
) -> GradientTrace:
    """Run ``model`` forward and the margin backward on ``(x, y)`` and locate the parts where the
    gradient dies (see the module docstring), by their names in ``named`` (default: ``model``; a
    wrapper of it is run as it is, its parts named as in the model it wraps). A part must kill the
    gradient on at least ``min_share`` of the dead rows to be named."""
    n = int(x.shape[0])
    modules = {name: m for name, m in (named or model).named_modules() if name}
    keeps_shape: dict[str, bool] = {}
    arriving: dict[str, Tensor] = {}
    leaving: dict[str, Tensor] = {}
    left: set[str] = set()
    used: set[str] = set()

    def hook_for(name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            inp = args[0] if args else None
            if not isinstance(inp, Tensor) or not isinstance(out, Tensor) or inp.shape[:1] != (n,):
                return
            if not inp.requires_grad or name in used:
                return
            used.add(name)
            keeps_shape[name] = out.shape == inp.shape
            if out.grad_fn is None:
                left.add(name)
                return
            inp.register_hook(lambda g: _keep(leaving, name, g))
            out.register_hook(lambda g: _keep(arriving, name, g))

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in modules.items()]
    try:
        with eval_mode(model), torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            logits = model(xg)
            connected = logits.grad_fn is not None
            grad = None
            if connected:
                (grad,) = torch.autograd.grad(margin_loss(logits, y).sum(), xg, allow_unused=True)
            connected = connected and grad is not None
    finally:
        for h in handles:
            h.remove()
    state = _row_state(grad, n)
    dead = state > 0
    parts: dict[str, str] = {}
    if bool(dead.any()):
        need = max(1, int(min_share * int(dead.sum())))
        for name in used:
            if name in left:
                parts[name] = "leaves autograd"
                continue
            if name not in arriving:
                continue
            out_alive = _row_state(arriving[name], n) == 0
            inp_state = _row_state(leaving.get(name), n)
            kills = out_alive & (inp_state > 0) & dead
            if int(kills.sum()) >= need:
                parts[name] = "not finite" if bool((inp_state[kills] == 2).any()) else "zero"
        parts = {p: why for p, why in parts.items() if not any(q.startswith(p + ".") for q in parts)}
    return GradientTrace(n, int(dead.sum()), connected, bool((state == 2).any()), parts, keeps_shape)
