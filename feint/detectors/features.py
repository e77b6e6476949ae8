"""Hidden features and Monte-Carlo dropout for any ``nn.Module``, through forward hooks on named layers.

The features of an input are the output of one named layer (``model.named_modules()`` names,
flattened per input), captured with a forward hook, so any ``nn.Module`` works without changes.
Without a name, the last hidden layer is found by running the model once and taking the layer
called just before its last ``nn.Linear`` (Feinman et al. 2017 use the last hidden layer).

MC dropout (Gal & Ghahramani 2016) keeps dropout active at prediction time: either the model's own
dropout layers (only they are switched to training mode; batch norm stays frozen) or, for a model
without dropout, dropout applied by a forward hook to the output of a named layer.
Shapes: x (N, C, H, W); features (N, D).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.errors import InputError, ModelError

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def named_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; a clear error listing the names when there is none."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        names = [n for n in modules if n]
        listed = ", ".join(map(repr, names[:40])) + (" ..." if len(names) > 40 else "")
        raise InputError(f"the model has no layer named {name!r}; its layers are: {listed or 'none (no submodules)'}")
    return modules[name]


def _check_hookable(model: nn.Module) -> None:
    if isinstance(model, torch.jit.ScriptModule):
        raise ModelError(
            "a TorchScript model cannot take forward hooks, which read its features and insert dropout; "
            "pass the eager nn.Module"
        )


def call_order(model: nn.Module, x: Tensor) -> list[str]:
    """Names of the leaf modules in the order one forward pass on ``x[:1]`` calls them."""
    _check_hookable(model)
    order: list[str] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, _o, n=n: order.append(n))
        for n, m in model.named_modules()
        if n and not list(m.children())
    ]
    try:
        with torch.no_grad(), eval_mode(model):
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return order


def before_linear(model: nn.Module, x: Tensor, which: int = -1) -> str | None:
    """The layer called just before the model's ``which``-th ``nn.Linear`` (-1: the last), if any."""
    modules = dict(model.named_modules())
    order = call_order(model, x)
    linear = [i for i, n in enumerate(order) if isinstance(modules[n], nn.Linear)]
    if len(linear) < abs(which) or linear[which] == 0:
        return None
    return order[linear[which] - 1]


def last_hidden_layer(model: nn.Module, x: Tensor) -> str:
    """The layer called just before the model's last ``nn.Linear``: its last hidden layer."""
    layer = before_linear(model, x)
    if layer is None:
        raise InputError("cannot find the last hidden layer (no nn.Linear after another layer); name it with layer=...")
    return layer


@contextmanager
def captured(model: nn.Module, layer: str) -> Iterator[list[Tensor]]:
    """While open, each forward pass appends the flattened output of ``layer`` to the yielded list."""
    _check_hookable(model)
    outputs: list[Tensor] = []

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        if not isinstance(out, Tensor) or not out.is_floating_point():
            raise ModelError(f"layer {layer!r} returns {type(out).__name__}, not a float tensor; name another layer")
        outputs.append(out.flatten(1))

    handle = named_layer(model, layer).register_forward_hook(hook)
    try:
        yield outputs
    finally:
        handle.remove()


def hidden_features(model: nn.Module, layer: str, x: Tensor, *, batch_size: int = 512) -> Tensor:
    """(N, D) output of ``layer`` on ``x``, in eval mode, without gradients."""
    parts = []
    with torch.no_grad(), eval_mode(model), captured(model, layer) as outputs:
        for i in range(0, x.shape[0], batch_size):
            model(x[i : i + batch_size])
            parts.append(outputs.pop())
    return torch.cat(parts)


@dataclass(frozen=True)
class DropoutPlan:
    """Where MC dropout comes from: the model's own layers, or ``p`` inserted after layer ``at``."""

    own: tuple[str, ...]
    at: str | None
    p: float

    def describe(self) -> str:
        if self.own:
            return f"the model's own dropout ({', '.join(map(repr, self.own))})"
        return f"dropout p={self.p:g} inserted after layer {self.at!r} (the model has no dropout)"


def plan_dropout(model: nn.Module, x: Tensor, *, dropout: str, p: float, feature_layer: str) -> DropoutPlan:
    """Resolve ``dropout``: ``"auto"``, ``"model"`` or a layer name to insert dropout after.

    ``"auto"`` uses the model's own dropout; a model without any gets dropout inserted before its
    last two dense layers (after the layer called just before the second-to-last ``nn.Linear``), so
    the sampled predictions vary through a hidden layer, or after the feature layer when the model
    has a single ``nn.Linear``.
    """
    own = tuple(n for n, m in model.named_modules() if isinstance(m, DROPOUT_TYPES))
    if dropout == "model" and not own:
        raise ModelError(
            "the model has no dropout layer for MC dropout; pass dropout='auto' or a layer name to insert dropout there"
        )
    if dropout in ("auto", "model") and own:
        return DropoutPlan(own, None, p)
    if not 0 < p < 1:
        raise InputError(f"dropout_p must lie in (0, 1), got {p!r}")
    at = dropout if dropout != "auto" else (before_linear(model, x, -2) or feature_layer)
    with captured(model, at) as outs, torch.no_grad(), eval_mode(model):
        model(x[:1])
    if not outs:
        raise ModelError(f"layer {at!r} is never called in a forward pass, so no dropout can be inserted there")
    return DropoutPlan((), at, p)


@contextmanager
def mc_dropout(model: nn.Module, plan: DropoutPlan) -> Iterator[None]:
    """Model in eval mode except dropout, which stays active (the model's own, or inserted)."""
    with eval_mode(model):
        modules = dict(model.named_modules())
        if plan.own:
            for name in plan.own:
                modules[name].train(True)
            try:
                yield
            finally:
                for name in plan.own:
                    modules[name].train(False)
            return
        assert plan.at is not None
        handle = named_layer(model, plan.at).register_forward_hook(
            lambda _m, _i, out: F.dropout(out, plan.p, training=True)
        )
        try:
            yield
        finally:
            handle.remove()
