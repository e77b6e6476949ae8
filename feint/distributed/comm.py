"""Collectives over JSON and tensors of uneven length, with one clear error when a rank is lost.

Nothing is pickled: JSON travels as bytes in a uint8 tensor. Tensors whose first dimension differs
between ranks are padded to the longest, exchanged, and cut back. Every call must be made by every
rank in the same order (that is how torch.distributed collectives work).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from feint.distributed.env import active, comm_device, rank, world_size
from feint.errors import RankLostError

LOST_RANK_HINT = "a rank that dies stops the whole job; its log says why"


# What the messages of torch.distributed's failures name (gloo's transport, NCCL, the process
# group's watchdog and timeouts), unlike an error of the model's own.
_GROUP_FAILURE = re.compile(r"gloo|nccl|ProcessGroup|c10d|DistNetworkError|Connection (?:closed|reset)", re.I)


def lost_ranks(what: str, exc: BaseException) -> RankLostError:
    """The one error a rank raises when its group failed during ``what``."""
    cause = _first_sentence(str(exc)) or type(exc).__name__
    return RankLostError(f"rank {rank()} lost the other ranks while {what} ({cause[:200]}); {LOST_RANK_HINT}")


@contextmanager
def collective(what: str) -> Iterator[None]:
    """Turn a failed collective (a rank died, the network dropped, the timeout passed) into one clear error."""
    try:
        yield
    except (RuntimeError, dist.DistError) as exc:
        raise lost_ranks(what, exc) from exc


@contextmanager
def group_work(what: str) -> Iterator[None]:
    """Work with collectives inside it that feint does not call itself (DistributedDataParallel
    averaging gradients in ``backward``): a failure of the group becomes one clear error; any
    other error (the model's own) passes unchanged."""
    try:
        yield
    except (RuntimeError, dist.DistError) as exc:
        if not active() or not (isinstance(exc, dist.DistError) or _GROUP_FAILURE.search(str(exc))):
            raise
        raise lost_ranks(what, exc) from exc


def _first_sentence(text: str) -> str:
    """``[.../pair.cc:553] Connection closed by peer [127.0.0.1]:39142. This is ...`` -> its first sentence."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"^\[[^\]]*\]\s*", "", line)
    return line.split(". ")[0][:200]


def _to_comm(t: Tensor) -> Tensor:
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.to(comm_device()).contiguous()


def _from_comm(t: Tensor, like: Tensor) -> Tensor:
    return t.to(device=like.device, dtype=like.dtype)


def all_gather_json(obj: Any, what: str) -> list[Any]:
    """Every rank's ``obj`` (JSON-serialisable), in rank order, on every rank."""
    if not active():
        return [json.loads(json.dumps(obj))]
    data = torch.tensor(list(json.dumps(obj, sort_keys=True).encode()), dtype=torch.uint8)
    parts = gather_rows_each(data, what)
    return [json.loads(bytes(p.cpu().tolist()).decode()) for p in parts]


def broadcast_json(obj: Any, what: str) -> Any:
    """Rank 0's ``obj`` on every rank (the others pass anything, e.g. None)."""
    return all_gather_json(obj if rank() == 0 else None, what)[0]


def gather_rows_each(t: Tensor, what: str, *, to_root: bool = False) -> list[Tensor]:
    """Each rank's ``t`` (its first dimension may differ between ranks; the rest must match).

    ``to_root``: only rank 0 receives (the others get an empty list).
    """
    if not active():
        return [t]
    w = world_size()
    with collective(what):
        lengths = torch.zeros(w, dtype=torch.int64, device=comm_device())
        lengths[rank()] = t.shape[0]
        dist.all_reduce(lengths)
        longest = int(lengths.max())
        padded = torch.zeros((longest, *t.shape[1:]), dtype=_to_comm(t[:0]).dtype, device=comm_device())
        padded[: t.shape[0]] = _to_comm(t)
        if to_root:
            bucket = [torch.empty_like(padded) for _ in range(w)] if rank() == 0 else None
            dist.gather(padded, bucket, dst=0)
            if bucket is None:
                return []
        else:
            bucket = [torch.empty_like(padded) for _ in range(w)]
            dist.all_gather(bucket, padded)
    return [_from_comm(b[: int(n)], t) for b, n in zip(bucket, lengths.tolist(), strict=True)]


def gather_rows(t: Tensor, what: str, *, to_root: bool = False) -> Tensor | None:
    """Every rank's rows of ``t`` concatenated in rank order (None off rank 0 with ``to_root``)."""
    parts = gather_rows_each(t, what, to_root=to_root)
    return torch.cat(parts) if parts else None


def all_reduce_sum(t: Tensor, what: str) -> Tensor:
    """The element-wise sum of ``t`` over the ranks, on every rank."""
    if not active():
        return t
    buf = _to_comm(t).clone()
    with collective(what):
        dist.all_reduce(buf)
    return _from_comm(buf, t)


def broadcast_tensors(tensors: dict[str, Tensor] | None, what: str, *, device: torch.device) -> dict[str, Tensor]:
    """Rank 0's named tensors on every rank, placed on ``device`` (the others pass None)."""
    if not active():
        return dict(tensors or {})
    meta = broadcast_json(
        {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in (tensors or {}).items()}, what
    )
    out: dict[str, Tensor] = {}
    for name, (shape, dtype) in meta.items():
        like = torch.empty(0, dtype=getattr(torch, dtype), device=device)
        buf = _to_comm(tensors[name]) if rank() == 0 and tensors else _to_comm(like).new_empty(shape)
        with collective(what):
            dist.broadcast(buf, src=0)
        out[name] = _from_comm(buf, like)
    return out


def barrier(what: str) -> None:
    if active():
        with collective(what):
            dist.barrier()
