"""Per-input work of a whole command in fixed batches, shared among the ranks (see :func:`map_rows`).

The commands beside the audit (``physical``, ``blackbox``'s measurement, ``transfer --matrix``'s
crafting and labelling, ``detect eval``) cut their inputs into batches of ``batch_size`` rows and
give batch ``c`` the seed :func:`batch_seed` derives from its own: the batches and their seeds do
not depend on the number of ranks, so K ranks compute exactly what one process computes. With one
batch (``batch_size`` at least the number of inputs) the seed is the command's own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import torch
from torch import Tensor, nn

from feint.distributed.checks import check_enough_inputs, check_same_job, digest_json, digest_tensors
from feint.distributed.env import active
from feint.distributed.shard import ChunkResult, map_chunks

RowWork = Callable[[slice, int], ChunkResult]


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """``range(n)`` cut into batches of ``batch_size`` rows (the last may be shorter)."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def batch_seed(seed: int, batch: int) -> int:
    """Batch ``batch``'s seed: ``seed`` itself for the first batch, a distinct one for each other."""
    return seed if batch == 0 else (seed * 1_000_003 + batch * 7_919) % 2**31


def map_rows(
    n: int,
    batch_size: int,
    work: RowWork,
    *,
    device: torch.device,
    keep_on_root: Collection[str] = (),
    what: str = "exchanging results",
) -> dict[str, Tensor]:
    """``work(rows, c)`` for every batch ``c`` of ``range(n)`` (``rows`` its slice), each on rank
    ``c % K``; returns every field concatenated over the batches in row order, on every rank (the
    fields named in ``keep_on_root`` on rank 0 only). Alone, a plain loop over the batches."""
    rows = batch_slices(n, batch_size)
    parts: dict[str, list[Tensor]] = {}
    for _, result in map_chunks(
        len(rows), lambda c: work(rows[c], c), device=device, keep_on_root=keep_on_root, what=what
    ):
        for name, value in result.items():
            parts.setdefault(name, []).append(value)
    return {name: torch.cat(values) for name, values in parts.items()}


def check_job(
    settings: object, data: Sequence[Tensor], model: nn.Module | None = None, *, n_inputs: int, what: str
) -> None:
    """Under torchrun: every rank has the same feint version, ``settings``, ``data`` tensors and
    ``model`` weights, and there is at least one of the ``n_inputs`` inputs per rank; else one error
    on every rank. Alone: nothing."""
    if not active():
        return
    digests = {"settings": digest_json(settings), "data": digest_tensors(*data)}
    if model is not None:
        digests["weights"] = digest_tensors(*model.state_dict().values())
    check_same_job(digests)
    check_enough_inputs(n_inputs, what)
