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


class OutputError(FeintError):
    """An output path that cannot be written: not a folder, no permission, no space."""


class NonFiniteLogits(ModelError):
    """The model returned NaN or infinite logits; ``rows`` are the offending rows of the batch it was
    given (None when they are not known), so that a caller that split a batch can name its own rows."""

    def __init__(self, rows: list[int] | None, *, total: int, where: str = "") -> None:
        self.rows, self.total, self.where = rows, total, where
        super().__init__(self._message())

    def _message(self) -> str:
        if self.rows is None:
            which = "on some inputs"
        else:
            shown = ", ".join(map(str, self.rows[:10])) + (", ..." if len(self.rows) > 10 else "")
            which = f"for {len(self.rows)} of {self.total} inputs (rows {shown})"
        return (
            f"the model returned NaN or infinite logits {which}{self.where}; nothing is counted as a result. "
            "Check the model's weights and the input scaling, or leave those inputs out"
        )

    def remapped(self, index: list[int], *, total: int) -> NonFiniteLogits:
        """The same error for a larger batch of ``total`` rows, of which this batch's row i was row ``index[i]``."""
        rows = None if self.rows is None else [index[r] for r in self.rows]
        return NonFiniteLogits(rows, total=total, where=self.where)


class DistributedError(FeintError):
    """A run under torchrun whose ranks disagree (arguments, data, version, folders) or lost a rank."""


class RankLostError(DistributedError):
    """Another rank of a torchrun job died or stopped answering; the job stops everywhere."""
