"""A decorator registry of named architecture factories (timm's idea).

The registry imports none of its members: importing any module of ``feint.models`` first runs the
package's ``__init__``, which imports :mod:`feint.models.architectures` (the built-in factories).

Each factory takes ``input_shape`` (C, H, W) and ``num_classes`` plus its own keyword options, and
returns an ``nn.Module`` that maps inputs in pixel space to logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from feint.errors import ModelError

Factory = Callable[..., nn.Module]
ARCHITECTURES: dict[str, Factory] = {}


def register_model(name: str) -> Callable[[Factory], Factory]:
    def deco(fn: Factory) -> Factory:
        ARCHITECTURES[name] = fn
        return fn

    return deco


def create_model(arch: str, *, input_shape: tuple[int, int, int], num_classes: int, **kwargs: Any) -> nn.Module:
    """Build architecture ``arch`` for inputs of ``input_shape`` and ``num_classes`` classes."""
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}; available: {', '.join(sorted(ARCHITECTURES))}")
    try:
        return ARCHITECTURES[arch](input_shape=tuple(input_shape), num_classes=int(num_classes), **kwargs)
    except TypeError as exc:
        raise ModelError(f"bad options for architecture {arch!r}: {exc}") from exc
    except (RuntimeError, ValueError) as exc:  # e.g. inputs too small for its convolutions and pooling
        first = (str(exc).splitlines() or [""])[0]
        raise ModelError(
            f"architecture {arch!r} cannot take inputs of shape {tuple(input_shape)} ({first}); "
            "use larger images or an architecture without pooling (softmax, mlp)"
        ) from exc
