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
