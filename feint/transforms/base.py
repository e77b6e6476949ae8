"""What every image transformation shares: parameter ranges, seeded sampling, bounds, composition.

A :class:`Transform` draws its parameters per image, uniformly from a range ``(low, high)`` (a
single number fixes it), from a ``torch.Generator``, so that the same seed gives the same output.
It works on images rescaled to [0, 1] and maps back to the caller's ``bounds``. Differentiable
transforms pass gradients to their input; the JPEG codec passes them straight through.
:class:`Compose` chains transforms (one generator for all, so a pipeline is seeded as a whole).

Shapes: x (N, C, H, W) float, in ``bounds``.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch
from torch import Tensor

from feint.errors import InputError
from feint.threat import make_generator
from feint.validation import Bounds

Range = tuple[float, float]


def as_range(
    value: float | Sequence[float], name: str, *, low: float = -math.inf, high: float = math.inf, strict: bool = False
) -> Range:
    """``value`` (a number or a ``(low, high)`` pair) as a checked range inside the domain [low, high]
    (``(low, high]`` when ``strict``)."""
    pair = (value, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    try:
        lo, hi = (float(v) for v in pair)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a number or a (low, high) pair of numbers, got {value!r}") from exc
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise InputError(f"{name} range ({lo:g}, {hi:g}) is empty; give (low, high) with low <= high")
    below = lo <= low if strict else lo < low
    if below or hi > high:
        opening = "(" if strict else "["
        raise InputError(f"{name} range ({lo:g}, {hi:g}) leaves the domain {opening}{low:g}, {high:g}]; keep it inside")
    return (lo, hi)


def span(value: Range | float) -> Range:
    """A range field as a ``(low, high)`` pair (fields are stored as pairs after their checks)."""
    return (float(value), float(value)) if isinstance(value, (int, float)) else value


def uniform(values: Range | float, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """(n,) values drawn uniformly from the range ``values`` (exactly ``low`` when it is one value)."""
    lo, hi = span(values)
    if lo == hi:
        return torch.full((n,), lo, device=device)
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)


def check_batch(x: Tensor, name: str = "x") -> None:
    """A float (N, C, H, W) tensor; values are not checked here (attack loops call transforms often)."""
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 4 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"{name} must be a non-empty float batch (N, C, H, W) for a transform, got {shape}")


class Transform(ABC):
    """A random image transformation with its parameter ranges; call it on a batch.

    Subclasses are frozen dataclasses naming their main range in ``param`` (what :meth:`at` fixes)
    and implement :meth:`forward` on images in [0, 1].
    """

    name: ClassVar[str] = "transform"
    param: ClassVar[str] = ""
    differentiable: ClassVar[bool] = True

    def __call__(
        self,
        x: Tensor,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        bounds: Bounds = (0.0, 1.0),
    ) -> Tensor:
        """Transform ``x`` (N, C, H, W) in ``bounds``; ``seed`` or ``generator`` make it repeatable."""
        check_batch(x)
        self.check_size(int(x.shape[-2]), int(x.shape[-1]))
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise InputError(f"bounds must be (low, high) with low < high, got {bounds}")
        gen = generator if generator is not None else make_generator(seed, x.device)
        unit = x if (lo, hi) == (0.0, 1.0) else (x - lo) / (hi - lo)
        out = self.forward(unit, gen)
        return out if (lo, hi) == (0.0, 1.0) else out * (hi - lo) + lo

    @abstractmethod
    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """The transformation of ``x`` (N, C, H, W) in [0, 1], parameters drawn from ``generator``."""

    def check_size(self, height: int, width: int) -> None:
        """Raise :class:`InputError` when images of this size are too small for the transform."""
        return None

    def at(self, value: float) -> Self:
        """The same transform with its main parameter fixed at ``value`` (for severity sweeps)."""
        if not self.param:
            raise InputError(f"{self.name} has no single parameter to fix")
        return dataclasses.replace(self, **{self.param: value})  # type: ignore[type-var]

    def describe(self) -> dict[str, Any]:
        """Name and parameter ranges, JSON-safe."""
        fields: dict[str, Any] = dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}


@dataclass(frozen=True)
class Compose(Transform):
    """Apply ``transforms`` in order with one generator (Kurakin et al. 2016's print-and-photo chain)."""

    transforms: tuple[Transform, ...]
    name: ClassVar[str] = "compose"

    def __post_init__(self) -> None:
        items = tuple(self.transforms)
        if not items or not all(isinstance(t, Transform) for t in items):
            raise InputError("Compose needs at least one transform, each a feint.transforms.Transform")
        object.__setattr__(self, "transforms", items)

    @property
    def differentiable(self) -> bool:  # type: ignore[override]
        return all(t.differentiable for t in self.transforms)

    def forward(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        for t in self.transforms:
            x = t.forward(x, generator)
        return x

    def check_size(self, height: int, width: int) -> None:
        for t in self.transforms:
            t.check_size(height, width)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "transforms": [t.describe() for t in self.transforms]}
