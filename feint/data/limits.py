"""Size limits checked from a file's headers before anything is allocated.

A small file must not make feint allocate gigabytes: a zip member or an IDX/``.npy`` header that
declares more data than the file holds, or more than :func:`max_bytes`, is refused with a
:class:`DataError`, as is a label that implies an absurd number of classes.
"""

from __future__ import annotations

import os

from feint.errors import DataError

ENV_VAR = "FEINT_MAX_DATA_BYTES"
DEFAULT_MAX_BYTES = 2 * 2**30
MAX_CLASSES = 100_000


def max_bytes() -> int:
    """The largest decoded dataset feint reads: 2 GiB, or ``$FEINT_MAX_DATA_BYTES``."""
    value = os.environ.get(ENV_VAR, "")
    try:
        return int(value) if value else DEFAULT_MAX_BYTES
    except ValueError:
        raise DataError(f"${ENV_VAR}={value!r} is not a number of bytes; set it to e.g. 8000000000") from None


def check_declared_size(nbytes: int, *, where: str) -> None:
    """Refuse data that would decode to more than :func:`max_bytes`."""
    limit = max_bytes()
    if nbytes > limit:
        raise DataError(
            f"{where} declares {_gib(nbytes)} of data, more than feint reads ({_gib(limit)}); "
            f"use a smaller file, or raise the limit with {ENV_VAR}=<bytes> if the machine has the memory"
        )


def check_class_count(max_label: int, *, where: str) -> None:
    """Labels are class indices 0..K-1; a label of 10**9 is not a class index."""
    if max_label >= MAX_CLASSES:
        raise DataError(
            f"{where} has label {max_label}, which would mean {max_label + 1:,} classes (feint allows "
            f"{MAX_CLASSES:,}); labels must be class indices 0..K-1: renumber them"
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**27 else f"{n:,} bytes"
