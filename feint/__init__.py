"""feint: craft, defend against, detect and measure adversarial examples."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def train(*args: Any, **kwargs: Any) -> Any:
    """Train a model; see :func:`feint.training.train`."""
    from feint.training import train as _train

    return _train(*args, **kwargs)


def load(*args: Any, **kwargs: Any) -> Any:
    """Load a dataset; see :func:`feint.data.load`."""
    from feint.data import load as _load

    return _load(*args, **kwargs)


def audit(*args: Any, **kwargs: Any) -> Any:
    """Audit a model's robustness; see :func:`feint.evaluate.audit.audit`."""
    from feint.evaluate.audit import audit as _audit

    return _audit(*args, **kwargs)
