"""Default epsilon grids per dataset and norm, in the units of the inputs.

The Linf grids follow the radii the literature reports for each dataset (MNIST up to 0.3 as in
Madry et al. 2018, Fashion-MNIST up to 0.2, CIFAR-10 up to 16/255 as in Croce & Hein 2020,
"Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
attacks"); L2 grids likewise. Unknown data gets a grid relative to the width of the bounds.
"""

from __future__ import annotations

import math

from feint.threat import parse_norm

_LINF: dict[str, tuple[float, ...]] = {
    "digits": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
    "mnist": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
    "fashion-mnist": (0.0, 0.025, 0.05, 0.1, 0.15, 0.2),
    "cifar10": tuple(k / 255 for k in (0, 1, 2, 4, 8, 12, 16)),
}
_L2: dict[str, tuple[float, ...]] = {
    "digits": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
    "mnist": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0),
    "fashion-mnist": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    "cifar10": (0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
}
_RELATIVE_LINF = (0.0, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16)


def _key(name: str | None) -> str:
    key = (name or "").lower().replace("_", "-")
    return {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}.get(key, key)


def default_eps(
    name: str | None, norm: str = "inf", *, bounds: tuple[float, float] = (0.0, 1.0), dim: int | None = None
) -> tuple[float, ...]:
    """The eps grid for dataset ``name`` (None or unknown: relative to the bounds).

    For unknown data the Linf grid is a fraction of ``hi - lo``; the L2 grid scales that by
    ``sqrt(dim)`` (the L2 size of a Linf step over ``dim`` features) times 0.1, when ``dim`` is known.
    """
    norm = parse_norm(norm)
    key = _key(name)
    table = _LINF if norm == "inf" else _L2
    if key in table:
        return table[key]
    width = bounds[1] - bounds[0]
    scale = width if norm == "inf" else width * 0.1 * math.sqrt(dim or 100)
    return tuple(round(f * scale, 6) for f in _RELATIVE_LINF)
