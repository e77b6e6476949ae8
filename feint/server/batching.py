"""Dynamic batching: requests that wait while the model is busy are answered by one model call.

Triton's dynamic batcher does the same for the same reason: with many concurrent clients each
sending a few rows, one call on their rows together costs about as much as one on a single
request. Nothing waits on purpose: a batch is whatever queued while the previous call ran, up
to ``max_rows`` rows; the model runs in a worker thread so the event loop keeps accepting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import numpy as np
import torch
from torch import Tensor

Result = tuple[np.ndarray | None, ...]
Answer = Callable[[Tensor], Result]
Item = tuple[np.ndarray, "asyncio.Future[Result]"]


class SharedFailure(Exception):
    """A model call failed for a reason no one input caused (the upstream server is down)."""


class Batcher:
    """Runs ``answer`` on the rows of the requests queued together, at most ``max_rows`` at once;
    ``answer`` returns a tuple of per-row arrays (or None), each request gets its rows of each."""

    def __init__(self, answer: Answer, *, max_rows: int) -> None:
        self.answer, self.max_rows = answer, max_rows
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.calls = 0

    async def submit(self, x: np.ndarray) -> Result:
        """The model's answer for the rows ``x`` (N, ...)."""
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._work())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self.queue.put((x, future))
        return await future

    async def _work(self) -> None:
        carry: Item | None = None
        while True:
            batch = [carry or await self.queue.get()]
            carry, rows = None, len(batch[0][0])
            while not self.queue.empty():
                item = self.queue.get_nowait()
                if rows + len(item[0]) > self.max_rows:
                    carry = item
                    break
                batch.append(item)
                rows += len(item[0])
            try:
                out = await self._call(np.concatenate([b[0] for b in batch]))
            except Exception as exc:
                if len(batch) == 1 or isinstance(exc, SharedFailure):
                    for _, future in batch:
                        _settle(future, exc)
                    continue
                for part, future in batch:  # whose input was it? each request alone
                    try:
                        _settle(future, await self._call(part))
                    except Exception as alone:
                        _settle(future, alone)
                continue
            start = 0
            for part, future in batch:
                end = start + len(part)
                _settle(future, tuple(None if a is None else a[start:end] for a in out))
                start = end

    async def _call(self, x: np.ndarray) -> Result:
        out = await anyio.to_thread.run_sync(self.answer, torch.from_numpy(x))
        self.calls += 1
        return out


def _settle(future: asyncio.Future[Result], outcome: Result | BaseException) -> None:
    """Answer a request that is still waiting (a client that left has a cancelled future)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
