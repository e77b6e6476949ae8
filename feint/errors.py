"""Exceptions that name the problem and the fix.

Every error a user can cause derives from :class:`FeintError`; the CLI prints its message on one
line and exits with status 2.
"""

from __future__ import annotations


class FeintError(Exception):
    """A problem with what the user gave feint; the message says what is wrong and how to fix it."""


class InputError(FeintError, ValueError):
    """Bad tensors or parameters: NaN, wrong shape, out of bounds, labels out of range, eps < 0."""


class DataError(FeintError):
    """A dataset that cannot be found or read."""


class ModelError(FeintError):
    """A model that cannot be built, loaded, or that does not return logits."""


class DistributedError(FeintError):
    """A run under torchrun whose ranks disagree (arguments, data, version, folders) or lost a rank."""


class RankLostError(DistributedError):
    """Another rank of a torchrun job died or stopped answering; the job stops everywhere."""
