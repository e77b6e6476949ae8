"""The model behind ``feint serve``: what it takes, what it answers, and answering it.

Any model :func:`feint.models.resolve` can load is served: a torch module (run on its device
without gradients), or an oracle (ONNX, scikit-learn, another endpoint). ``output`` is what the
endpoint reveals: ``logits`` (probabilities of a score oracle become log-probabilities),
``probabilities`` (softmax) or ``label`` (the top-1 class only, an API that reveals only the
decision). Startup runs one probe so a broken model fails before the port is opened. A ``guard``
(:mod:`feint.serve.guard`) puts a detector in front: :meth:`Served.respond` gives its flags too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError, ModelError
from feint.models.loading import LoadedModel
from feint.oracles.forward import ModuleForward, module_device
from feint.oracles.logits import oracle_logits
from feint.serve.guard import FLAG_OUTPUT, Guard

SERVE_OUTPUTS = ("logits", "probabilities", "label")


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
        try:
            answer, _ = self.respond(probe)  # the detector too: a broken one fails before the port opens
        except (RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0][:200]
            raise ModelError(
                f"{self.loaded.spec} fails on an input of shape {list(self.input_shape)} ({first}); "
                "pass --input-shape the model takes"
            ) from exc
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
            logits = self._logits(x)
        if self.output == "label":
            return logits.argmax(1).numpy().astype(np.int64)
        if self.output == "probabilities":
            logits = logits.softmax(1)
        return logits.numpy().astype(np.float32)

    def respond(self, x: Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """The model's answer for ``x`` and, when guarded, the detector's flags (N,) bool (else None)."""
        answer = self.answer(x)
        if self.guard is None:
            return answer, None
        with self.lock:
            return answer, self.guard.flags(x)
