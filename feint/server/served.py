"""The model behind ``feint serve``: what it takes, what it answers, and answering it.

Any model :func:`feint.models.resolve` can load is served: a torch module (run on its device
without gradients), or an oracle (ONNX, scikit-learn, another endpoint). ``output`` is what the
endpoint reveals: ``logits`` (probabilities of a score oracle become log-probabilities),
``probabilities`` (softmax) or ``label`` (the top-1 class only, an API that reveals only the
decision). Startup runs one probe, bounded by ``probe_timeout`` seconds, so a broken model (or
one that never finishes, such as an ONNX graph with an endless Loop) fails before the port is
opened. A ``guard`` (:mod:`feint.server.guard`) puts a detector in front: :meth:`Served.respond`
gives its flags too. A model that fails on an input (NaN or infinite scores included) raises; the
batcher then answers each request alone, so only that input's request fails. A proxied model (a URL) that fails is an
:class:`UpstreamFailure`, answered 502 to every request that met it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError, ModelError
from feint.models.loading import LoadedModel
from feint.oracles.forward import ModuleForward, module_device
from feint.oracles.logits import oracle_logits
from feint.server.batching import SharedFailure
from feint.server.guard import FLAG_OUTPUT, Guard

SERVE_OUTPUTS = ("logits", "probabilities", "label")
Respond = tuple[np.ndarray, np.ndarray | None]
T = TypeVar("T")


class ProbeTimeout(ModelError):
    """The start-up probe did not finish in time; its thread is still running (Python cannot stop it)."""


class UpstreamFailure(SharedFailure):
    """The proxied model server failed (down, timing out, or answering an error)."""


def bounded(work: Callable[[], T], seconds: float, what: str) -> T:
    """``work()`` in a daemon thread, or :class:`ModelError` when it has not finished in ``seconds``
    (the thread is left to finish on its own: Python cannot stop it)."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)

    thread = threading.Thread(target=run, name="feint-serve-probe", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ProbeTimeout(
            f"{what} did not finish within {seconds:g} s (a model that never ends, e.g. an endless ONNX Loop?); "
            "fix the model or raise --probe-timeout"
        )
    if failed:
        raise failed[0]
    return done[0]


@dataclass
class Served:
    """A loaded model with its served input shape (C, H, W or F), class count and output kind."""

    loaded: LoadedModel
    name: str
    output: str
    input_shape: tuple[int, ...]
    bounds: tuple[float, float] = (0.0, 1.0)
    num_classes: int = 0
    guard: Guard | None = None
    probe_timeout: float = 60.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    forward: ModuleForward | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.loaded.module is not None:
            self.forward = ModuleForward(self.loaded.module)
        if self.output not in SERVE_OUTPUTS:
            raise InputError(f"--output must be one of {', '.join(SERVE_OUTPUTS)}, got {self.output!r}")
        if self.output != "label" and self.loaded.access == "labels":
            raise InputError(f"{self.loaded.spec} answers only labels; serve it with --output label")
        probe = torch.full((1, *self.input_shape), self.bounds[0])
        what = f"{self.loaded.spec}'s answer to one input at start-up"
        try:  # the detector too: a broken one fails before the port opens
            answer, _ = bounded(lambda: self.respond(probe), self.probe_timeout, what)
        except (RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0][:200]
            raise ModelError(
                f"{self.loaded.spec} fails on an input of shape {list(self.input_shape)} ({first}); "
                "pass --input-shape the model takes"
            ) from exc
        except UpstreamFailure as exc:
            raise ModelError(f"{self.loaded.spec} failed at start-up: {exc}") from exc
        if self.output != "label":
            self.num_classes = int(answer.shape[1])

    @property
    def output_name(self) -> str:
        return self.output

    @property
    def output_names(self) -> tuple[str, ...]:
        """Every output a request may ask for: the model's, and the detector's flags when guarded."""
        return (self.output, FLAG_OUTPUT) if self.guard is not None else (self.output,)

    @property
    def output_datatype(self) -> str:
        return "INT64" if self.output == "label" else "FP32"

    def _logits(self, x: Tensor) -> Tensor:
        oracle = self.loaded.oracle
        if x.dim() != 4:  # flat features (a scikit-learn model): one row of pixels per input
            x = x.reshape(x.shape[0], 1, 1, -1)
        if self.forward is not None:
            return self.forward(x.to(module_device(self.forward.model))).float().cpu()
        assert oracle is not None
        return oracle_logits(oracle, x).float().cpu()

    def answer(self, x: Tensor) -> np.ndarray:
        """(N, K) float32 scores or (N,) int64 labels for a checked batch (one model call at a time)."""
        with self.lock:
            if self.output == "label" and self.loaded.access == "labels":
                assert self.loaded.oracle is not None
                rows = x if x.dim() == 4 else x.reshape(x.shape[0], 1, 1, -1)
                return self.loaded.oracle.labels(rows).cpu().numpy().astype(np.int64)
            logits = self._logits(x)  # NaN or infinite scores raise (ModuleForward, ScoreOracle)
        if self.output == "label":
            return logits.argmax(1).numpy().astype(np.int64)
        if self.output == "probabilities":
            logits = logits.softmax(1)
        return logits.numpy().astype(np.float32)

    def respond(self, x: Tensor) -> Respond:
        """The model's answer for ``x`` and, when guarded, the detector's flags (N,) bool (else None)."""
        try:
            answer = self.answer(x)
        except Exception as exc:
            if self.loaded.source == "http":  # not one input's doing: every request that met it learns why
                raise UpstreamFailure(str(exc)) from exc
            raise
        if self.guard is None:
            return answer, None
        with self.lock:
            return answer, self.guard.flags(x)
