"""Which rank this process is, and the process group torchrun prepared for it.

torchrun (``torch.distributed.run``) starts one process per rank and tells each, in its
environment, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. feint
joins that group with gloo when the work runs on the CPU and NCCL when it runs on CUDA (each rank
on GPU ``LOCAL_RANK``). Alone (no torchrun, or one process) nothing is started: rank 0 of 1.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import ParamSpec, TypeVar

import torch
import torch.distributed as dist

from feint.errors import DistributedError

P = ParamSpec("P")
R = TypeVar("R")
TIMEOUT_ENV = "FEINT_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
_state = {"started_here": False, "alone": 0}


@dataclass(frozen=True)
class Launch:
    """This process's place in a torchrun job, read from the environment torchrun sets."""

    rank: int
    world_size: int
    local_rank: int

    @classmethod
    def from_env(cls) -> Launch | None:
        if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
            return None
        try:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local = int(os.environ.get("LOCAL_RANK", rank))
        except ValueError as exc:
            raise DistributedError(
                f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); start feint with torchrun"
            ) from exc
        return cls(rank, world, local)


def launched() -> bool:
    """Whether torchrun started this process as one of several ranks."""
    launch = Launch.from_env()
    return launch is not None and launch.world_size > 1


def active() -> bool:
    """Whether a process group of more than one rank is running in this process."""
    return _state["alone"] == 0 and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextlib.contextmanager
def alone(on: bool = True) -> Iterator[None]:
    """Inside (when ``on``), this rank works by itself though a process group runs: every helper
    acts as in a single process (rank 0 of 1). What rank 0 alone trains (blackbox's substitute) or
    what every rank computes for itself (the models of ``transfer --matrix``) runs this way."""
    if not on:
        yield
        return
    _state["alone"] += 1
    try:
        yield
    finally:
        _state["alone"] -= 1


def alone_unless_distributed(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn(..., distributed=False)`` runs :func:`alone` (the whole job in this process)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with alone(kwargs.get("distributed") is False):
            return fn(*args, **kwargs)

    return wrapper


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_root() -> bool:
    """Rank 0: the only rank that writes files and prints results."""
    return rank() == 0


def backend() -> str | None:
    return str(dist.get_backend()) if active() else None


def comm_device() -> torch.device:
    """Where tensors must be for the collectives: this rank's GPU under NCCL, else the CPU."""
    if backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise DistributedError(f"{TIMEOUT_ENV}={raw!r} must be a number of seconds") from exc
    return timedelta(seconds=seconds)


def device_for_rank(device: str | torch.device) -> torch.device:
    """``cuda`` without an index becomes this rank's GPU (``cuda:LOCAL_RANK``) under torchrun."""
    dev = torch.device(device)
    launch = Launch.from_env()
    if dev.type == "cuda" and dev.index is None and launch is not None and launch.world_size > 1:
        dev = torch.device("cuda", launch.local_rank)
    return dev


def start(device: str | torch.device = "cpu") -> torch.device:
    """Join torchrun's process group once (gloo on CPU, NCCL on CUDA); return this rank's device.

    A no-op without torchrun or with one process; a group the caller started is used as it is.
    """
    dev = device_for_rank(device)
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return dev
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    name = "nccl" if dev.type == "cuda" else "gloo"
    try:
        dist.init_process_group(name, timeout=_timeout())
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(
            f"could not join torchrun's process group with {name} ({str(exc).splitlines()[0]}); "
            f"check MASTER_ADDR/MASTER_PORT and that every rank (on every node) was started; {TIMEOUT_ENV}="
            f"{_timeout().total_seconds():g} seconds bounds the wait"
        ) from exc
    _state["started_here"] = True
    atexit.register(finish)
    return dev


def join(distributed: bool | None, device: str | torch.device) -> bool:
    """The Python API's rule: ``None`` distributes when torchrun started several ranks, ``True``
    requires it, ``False`` runs the whole job in this process. Returns whether the job is shared."""
    if distributed is False:
        return False
    if distributed and not launched() and not active():
        raise DistributedError(
            "distributed=True needs the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, "
            "MASTER_PORT) with more than one process; start the script with torchrun --nproc-per-node K"
        )
    start(device)
    return active()


def finish(*, settled: bool = False) -> None:
    """Leave the process group if feint started it (the CLI calls this; so does interpreter exit).

    ``settled``: this rank finished its work; under gloo it first waits (a minute at most) for the
    others to finish theirs, so that no rank tears down its connections under another. Garbage
    (a DistributedDataParallel wrapper, finished work) goes before the group does: one left for
    interpreter exit can abort the process.
    """
    if _state["started_here"] and dist.is_initialized():
        if settled and backend() == "gloo":
            with contextlib.suppress(RuntimeError):  # a rank that failed: leave anyway
                dist.monitored_barrier(timeout=timedelta(seconds=60), wait_all_ranks=True)
        gc.collect()
        dist.destroy_process_group()
        gc.collect()  # the group's own objects (gloo's threads) go now, not during interpreter shutdown
    _state["started_here"] = False
