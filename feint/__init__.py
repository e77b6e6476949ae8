"""feint: craft, defend against, detect and measure adversarial examples."""

from __future__ import annotations

import os
from typing import Any

# OpenMP threads that spin while they wait make small-batch CPU work many times slower when another
# process shares the cores: one fast-AT step of a small CNN took 26 ms with sleeping waiters and
# 510-660 ms with spinning ones (2 threads, the other core busy); tests/test_training.py ran in 20 s
# instead of 148 s. Only effective when feint is imported before torch (always so for the command
# line and the tests); an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
    """Audit a model's robustness; see :func:`feint.capabilities.audit.run.audit`."""
    from feint.capabilities.audit.run import audit as _audit

    return _audit(*args, **kwargs)


def blackbox(*args: Any, **kwargs: Any) -> Any:
    """The substitute attack against a label-only oracle; see :func:`feint.capabilities.blackbox.run.blackbox`."""
    from feint.capabilities.blackbox.run import blackbox as _blackbox

    return _blackbox(*args, **kwargs)


def transfer(*args: Any, **kwargs: Any) -> Any:
    """Transfer between two models; see :func:`feint.capabilities.transfer.pair.transfer`."""
    from feint.capabilities.transfer.pair import transfer as _transfer

    return _transfer(*args, **kwargs)


def transfer_matrix(*args: Any, **kwargs: Any) -> Any:
    """The cross-technique matrix; see :func:`feint.capabilities.transfer.matrix.transfer_matrix`."""
    from feint.capabilities.transfer.matrix import transfer_matrix as _matrix

    return _matrix(*args, **kwargs)
