"""feint: craft, defend against, detect and measure adversarial examples.

The public functions are the library's own, with their real signatures and docstrings
(``help(feint.audit)``); each is imported on first use, so ``import feint`` stays light (no torch)::

    import feint

    train, test = feint.load("digits", "train"), feint.load("digits", "test")
    model = feint.train("convnet", train, test, epochs=2, progress=False).model
    result = feint.attack("pgd", model, test.x[:100], test.y[:100], eps=0.1)
    print(f"PGD fooled the model on {result.success.float().mean():.0%} of 100 inputs")

The capabilities (``audit``, ``blackbox``, ``transfer``, ``transfer_matrix``, ``physical``,
``natural``, ``fool``, ``detect``, ``certify``, ``patch``) each return a :class:`feint.report.Report`;
``smooth`` makes a model's smoothed classifier (randomized smoothing), which ``certify`` certifies.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from feint.version import __version__

# OpenMP threads that spin while they wait make small-batch CPU work many times slower when another
# process shares the cores: one fast-AT step of a small CNN took 26 ms with sleeping waiters and
# 510-660 ms with spinning ones (2 threads, the other core busy); tests/test_training.py ran in 20 s
# instead of 148 s. Only effective when feint is imported before torch (always so for the command
# line and the tests); an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from feint.attacks.registry import attack
    from feint.capabilities.audit.run import audit
    from feint.capabilities.blackbox.run import blackbox
    from feint.capabilities.certify.run import certify
    from feint.capabilities.detect.run import detect
    from feint.capabilities.fooling.run import fool
    from feint.capabilities.patch.run import patch
    from feint.capabilities.physical.natural import natural
    from feint.capabilities.physical.run import physical
    from feint.capabilities.transfer.matrix import transfer_matrix
    from feint.capabilities.transfer.pair import transfer
    from feint.data import load
    from feint.defenses.smoothing import smooth
    from feint.server.start import serve
    from feint.training import train

# public name -> the module that defines it (the function there has the same name)
_HOMES = {
    "audit": "feint.capabilities.audit.run",
    "blackbox": "feint.capabilities.blackbox.run",
    "transfer": "feint.capabilities.transfer.pair",
    "transfer_matrix": "feint.capabilities.transfer.matrix",
    "physical": "feint.capabilities.physical.run",
    "natural": "feint.capabilities.physical.natural",
    "fool": "feint.capabilities.fooling.run",
    "detect": "feint.capabilities.detect.run",
    "patch": "feint.capabilities.patch.run",
    "certify": "feint.capabilities.certify.run",
    "smooth": "feint.defenses.smoothing",
    "train": "feint.training",
    "load": "feint.data",
    "attack": "feint.attacks.registry",
    "serve": "feint.server.start",
}

__all__ = [
    "__version__",
    "attack",
    "audit",
    "blackbox",
    "certify",
    "detect",
    "fool",
    "load",
    "natural",
    "patch",
    "physical",
    "serve",
    "smooth",
    "train",
    "transfer",
    "transfer_matrix",
]


def __getattr__(name: str) -> Any:
    """Import a public function on first use (PEP 562) and keep it as an attribute of the package."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'feint' has no attribute {name!r}")
    function = getattr(importlib.import_module(home), name)
    globals()[name] = function
    return function


def __dir__() -> list[str]:
    """The public names (what ``dir(feint)`` and tab completion offer)."""
    return sorted(__all__)
