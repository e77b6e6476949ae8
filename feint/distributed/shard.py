"""Sharding per-input work by rank: chunk ``c`` runs on rank ``c % K``, results come back in chunk order.

Chunks, not rows, are the unit: a chunk is the batch one process would have attacked with its own
seed, so a K-rank run computes exactly the batches a single process computes, with the same seeds,
and the gathered per-sample results are identical (a batch of other inputs would draw other random
starts). Work that does not depend on how rows are batched can use :func:`shard` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

import torch
from torch import Tensor

from feint.distributed.comm import all_gather_json, gather_rows_each
from feint.distributed.env import active, rank, world_size

ChunkResult = dict[str, Tensor]


def owner(chunk: int) -> int:
    """The rank that runs chunk ``chunk``."""
    return chunk % world_size()


def my_chunks(n_chunks: int) -> range:
    """The chunks this rank runs: ``rank, rank + K, rank + 2K, ...``."""
    return range(rank(), n_chunks, world_size())


def shard(n: int) -> slice:
    """This rank's contiguous share of ``range(n)`` (sizes differ by at most one)."""
    w, r = world_size(), rank()
    return slice(r * n // w, (r + 1) * n // w)


def _meta(result: ChunkResult | None) -> dict[str, list[object]] | None:
    if result is None:
        return None
    return {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in result.items()}


def _exchange(
    result: ChunkResult | None, keep_on_root: Collection[str], what: str, device: torch.device
) -> list[ChunkResult | None]:
    """Each rank's result of this round (None where a rank had no chunk), fields in ``keep_on_root``
    only on rank 0."""
    metas = all_gather_json(_meta(result), what)
    template = next(m for m in metas if m is not None)
    out: list[ChunkResult | None] = [None if m is None else {} for m in metas]
    for name, (shape, dtype) in sorted(template.items()):
        mine = result[name] if result is not None else torch.empty((0, *shape[1:]), dtype=getattr(torch, dtype))
        parts = gather_rows_each(mine.to(device), f"{what} ({name})", to_root=name in keep_on_root)
        for r, part in enumerate(parts):
            slot = out[r]
            if slot is not None:
                slot[name] = part
    return out


def map_chunks(
    n_chunks: int,
    work: Callable[[int], ChunkResult],
    *,
    device: torch.device,
    keep_on_root: Collection[str] = (),
    root_only: bool = False,
    what: str = "exchanging results",
) -> Iterator[tuple[int, ChunkResult]]:
    """``(c, work(c))`` for every chunk, in chunk order, on every rank.

    Under torchrun each rank runs its own chunks (``root_only``: rank 0 runs them all, e.g. work
    that reads rank 0's files) and the results of each round of K chunks are gathered, so memory
    holds one round. ``work`` returns tensors whose first dimension is per row; the fields named in
    ``keep_on_root`` (bulky ones only rank 0 writes) reach rank 0 only. Alone, this is a plain loop.
    """
    if not active():
        for c in range(n_chunks):
            yield c, work(c)
        return
    per_round = 1 if root_only else world_size()
    for first in range(0, n_chunks, per_round):
        mine = first + (0 if root_only else rank())
        runs = mine < n_chunks and (rank() == 0 or not root_only)
        results = _exchange(work(mine) if runs else None, keep_on_root, what, device)
        for r, result in enumerate(results):
            if result is not None:
                yield first + (0 if root_only else r), result
