"""BPDA: Backward Pass Differentiable Approximation (Athalye, Carlini & Wagner 2018, "Obfuscated
Gradients Give a False Sense of Security", sec. 4.1).

A part of a model whose gradient is useless (input quantization, JPEG compression, thresholding,
a step outside torch) keeps its forward pass; its backward pass is replaced by that of a
differentiable approximation ``g`` with ``g(x) ~ f(x)``: the identity for a part that preserves
its input's shape (the straight-through estimator), or a function the user supplies. The model's
outputs are exactly the original's; only the gradient changes. Shapes: the part's input and
output tensors, any shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from feint.errors import InputError

Approximation = Callable[[Tensor], Tensor]


class _Bypass(torch.autograd.Function):
    """Forward: the part's own output; backward: the vector-Jacobian product of ``approx`` at the input
    (the identity when ``approx`` is None)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, out: Tensor, approx: Approximation | None) -> Tensor:
        ctx.save_for_backward(x)
        ctx.approx = approx
        return out.detach().clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None]:
        (x,) = ctx.saved_tensors
        if ctx.approx is None:
            return grad.reshape(x.shape), None, None
        with torch.enable_grad():
            inner = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(ctx.approx(inner), inner, grad, allow_unused=True)
        return (torch.zeros_like(x) if g is None else g), None, None


def _bypass_hook(name: str, approx: Approximation | None) -> Callable[..., Tensor | None]:
    def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> Tensor | None:
        x = args[0] if args else None
        if not isinstance(x, Tensor) or not isinstance(out, Tensor) or not x.requires_grad:
            return None
        if approx is None and out.shape != x.shape:
            raise InputError(
                f"BPDA cannot bypass submodule {name!r} with the identity: it maps shape {tuple(x.shape)} to "
                f"{tuple(out.shape)}; pass approximations={{{name!r}: fn}} with a differentiable fn of that shape"
            )
        return _Bypass.apply(x, out, approx)

    return hook


class BpdaModel(nn.Module):
    """``model`` with the submodules named in ``parts`` bypassed on the backward pass: ``parts[name]``
    is a differentiable approximation of that submodule (same input, same output shape), or None for
    the identity. Forward outputs are the model's own. The hooks live only for the duration of a call,
    so ``model`` itself is left as it was."""

    def __init__(self, model: nn.Module, parts: Mapping[str, Approximation | None]) -> None:
        super().__init__()
        self.model = model
        self.parts = dict(parts)
        modules = dict(model.named_modules())
        for name in self.parts:
            submodule(modules, name)
        self._modules_by_name = {name: modules[name] for name in self.parts}
        self.train(model.training)

    @contextmanager
    def _bypassed(self) -> Iterator[None]:
        handles = [
            m.register_forward_hook(_bypass_hook(name, self.parts[name])) for name, m in self._modules_by_name.items()
        ]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_grad_enabled():
            return self.model(x)
        with self._bypassed():
            out: Tensor = self.model(x)
        return out

    def rows_per_input(self, x: Tensor) -> int:
        from feint.attacks.core import rows_per_input

        return rows_per_input(self.model, x)


def submodule(modules: Mapping[str, nn.Module], name: str) -> nn.Module:
    """The submodule ``name`` of a model (``modules``: its ``named_modules()``), or one clear error."""
    if name == "" or name not in modules:
        names = [n for n in modules if n]
        shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
        raise InputError(
            f"the model has no submodule named {name!r} to approximate; its submodules are {shown or 'none'} "
            "(names as in model.named_modules())"
        )
    return modules[name]


def _inputs_and_outputs(model: nn.Module, names: list[str], x: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """The first (input, output) tensor pair each submodule in ``names`` saw in one pass of ``model`` on ``x``."""
    modules = dict(model.named_modules())
    seen: dict[str, tuple[Tensor, Tensor]] = {}

    def grab_for(name: str) -> Callable[..., None]:
        def grab(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            if args and isinstance(args[0], Tensor) and isinstance(out, Tensor):
                seen.setdefault(name, (args[0].detach(), out.detach()))

        return grab

    handles = [modules[name].register_forward_hook(grab_for(name)) for name in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def check_approximations(model: nn.Module, approximations: Mapping[str, Approximation], x: Tensor) -> None:
    """Every name is a submodule of ``model``, every approximation callable and shape-preserving
    with respect to its submodule's output on ``x`` (a few inputs): one clear error otherwise."""
    modules = dict(model.named_modules())
    for name, fn in approximations.items():
        submodule(modules, name)
        if not callable(fn):
            raise InputError(f"approximations[{name!r}] must be a function of a tensor, got {type(fn).__name__}")
    seen = _inputs_and_outputs(model, list(approximations), x)
    for name, fn in approximations.items():
        if name not in seen:
            raise InputError(
                f"submodule {name!r} did not run on a tensor in the model's forward pass; approximate a "
                "submodule that the model calls with one tensor"
            )
        inp, out = seen[name]
        with torch.no_grad():
            got = fn(inp)
        if not isinstance(got, Tensor) or got.shape != out.shape:
            shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            raise InputError(
                f"approximations[{name!r}] changes the shape: it returns {shape} where submodule {name!r} "
                f"returns {tuple(out.shape)}; an approximation must return what the submodule returns"
            )
