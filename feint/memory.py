"""Giving freed heap memory back to the system between batches (glibc).

glibc's malloc serves blocks of up to 32 MB from its heap once blocks that size have been freed (its
mmap threshold rises to them), and returns heap pages to the system only from the top. An audit
allocates and frees hundreds of MB of activations per batch, in sizes that change from step to
step (early stopping shrinks the batch), so without help a growing share of its heap stays
resident though free: on Fashion-MNIST, peak RSS rose from 754 MB at 1,000 inputs to 1,242 MB at
10,000 (``benchmarks/audit_memory.py``). ``malloc_trim(0)`` after each batch hands every free page
back, at the cost of a walk over the heap; fixing a low mmap threshold instead cost 70% more CPU
time (every large tensor mmapped and zeroed anew). Elsewhere (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any


@functools.cache
def _trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Return the free pages of the process heap to the system (glibc ``malloc_trim``); no-op elsewhere."""
    trim = _trim()
    if trim is not None:
        trim(0)


MEMORY_ENV_VAR = "FEINT_MAX_MEMORY_BYTES"


def memory_limit() -> int:
    """The most one tensor or one batch of work may take: this machine's physical memory, or
    ``$FEINT_MAX_MEMORY_BYTES`` (e.g. to leave room for other programs)."""
    from feint.errors import InputError

    value = os.environ.get(MEMORY_ENV_VAR, "")
    if value:
        try:
            return int(value)
        except ValueError:
            raise InputError(
                f"${MEMORY_ENV_VAR}={value!r} is not a number of bytes; set it to e.g. 8000000000"
            ) from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): assume a modest machine
        return 16 * 2**30


def size_text(n_bytes: float) -> str:
    """``3.2e15`` -> ``"2.91e+03 TiB"``: bytes as a person reads them (B, KiB ... TiB)."""
    if n_bytes < 1024:
        return f"{n_bytes:,.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n_bytes /= 1024
        if n_bytes < 1024:
            return f"{n_bytes:.3g} {unit}"
    n_bytes /= 1024
    return f"{n_bytes:.3g} TiB"


def check_allocation(elements: float, *, what: str, fix: str, bytes_per_element: int = 4) -> None:
    """Refuse work before it starts when ``elements`` values of ``bytes_per_element`` bytes (one
    tensor or one batch that an option sizes) would not fit in :func:`memory_limit`.

    ``what`` names the allocation and the option that sizes it ("the population of 10^12 images of
    1x8x8 (--population)"), ``fix`` how to make it smaller. Raises one :class:`InputError` with the
    estimate and the limit."""
    from feint.errors import InputError

    needed, limit = float(elements) * bytes_per_element, memory_limit()
    if needed > limit:
        raise InputError(
            f"{what} would need about {size_text(needed)} of memory, more than the {size_text(limit)} "
            f"this machine has (${MEMORY_ENV_VAR}); {fix}"
        )
