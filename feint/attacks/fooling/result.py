"""The outcome of a fooling-image search: the best image per class and how confidence grew.

Nguyen, Yosinski & Clune 2015 ("Deep Neural Networks are Easily Fooled: High Confidence
Predictions for Unrecognizable Images") report, per class, the model's softmax confidence in its
best unrecognisable image. The confidences here are re-measured on the final images, outside the
search (DESIGN.md, abstraction 3). Shapes: x (K, C, H, W), target (K,), history (G + 1, K).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError
from feint.io import write_with
from feint.oracles.base import ScoreOracle

METHODS = ("direct", "cppn", "gradient")


def confidences(scores: Tensor, *, probabilities: bool) -> Tensor:
    """(N, K) softmax confidences from (N, K) logits, or the scores themselves when they already are probabilities."""
    return scores.float() if probabilities else scores.float().softmax(1)


def oracle_confidence(oracle: ScoreOracle, x: Tensor) -> Tensor:
    """(N, K) confidences of ``oracle`` on ``x`` (one counted query of N rows)."""
    return confidences(oracle.scores(x), probabilities=oracle.output == "probabilities")


@dataclass(frozen=True)
class FoolingResult:
    """Best image per class, re-checked.

    Attributes:
        x: (K, C, H, W) the best image found for each target class.
        target: (K,) the class each image was made for.
        confidence: (K,) the model's confidence in ``target`` on ``x``, measured after the search.
        prediction: (K,) the model's top-1 class on ``x``.
        history: (G + 1, K) the best confidence per class after each generation (row 0: the start).
        queries: input rows the search sent to the model, the final check included.
        seconds: wall time of the search.
        method: ``"direct"``, ``"cppn"`` or ``"gradient"``.
        stopped: why the search ended early (a spent query budget), else None.
        genomes: the CPPN genome of each image (``method == "cppn"``), else None.
    """

    x: Tensor
    target: Tensor
    confidence: Tensor
    prediction: Tensor
    history: Tensor
    queries: int
    seconds: float
    method: str
    stopped: str | None = None
    genomes: tuple[Any, ...] | None = None

    @property
    def generations(self) -> int:
        return int(self.history.shape[0]) - 1

    def fooled(self, threshold: float = 0.99) -> Tensor:
        """(K,) bool: classes whose image the model assigns at least ``threshold`` confidence."""
        return self.confidence >= threshold

    def save_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write ``x``, ``target`` and ``confidence`` (and ``history``) to ``path`` atomically."""
        if not str(path).endswith(".npz"):
            raise InputError(f"fooling images are saved as .npz; {str(path)!r} must end in .npz")
        arrays = {
            "x": self.x.detach().cpu().numpy().astype(np.float32),
            "target": self.target.cpu().numpy().astype(np.int64),
            "confidence": self.confidence.cpu().numpy().astype(np.float32),
            "history": self.history.cpu().numpy().astype(np.float32),
        }

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]

        return write_with(path, write)


def finish(
    oracle: ScoreOracle,
    images: Tensor,
    history: list[Tensor],
    *,
    queries_before: int,
    seconds: float,
    method: str,
    stopped: str | None,
    genomes: tuple[Any, ...] | None = None,
) -> FoolingResult:
    """Re-measure the champions ``images`` (K, C, H, W) with one query and build the result."""
    conf = oracle_confidence(oracle, images)
    k = images.shape[0]
    target = torch.arange(k, device=conf.device)
    return FoolingResult(
        x=images.detach(),
        target=target,
        confidence=conf[target, target],
        prediction=conf.argmax(1),
        history=torch.stack([h.to(conf.device) for h in history]),
        queries=oracle.queries - queries_before,
        seconds=seconds,
        method=method,
        stopped=stopped,
        genomes=genomes,
    )
