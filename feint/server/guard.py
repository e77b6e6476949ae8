"""A detector in front of ``feint serve`` (``--detector DIR``): flagged inputs are answered with a flag.

Every input of an inference request meets the detector (:mod:`feint.detectors`; a saved detector
is loaded only onto the model it was fitted on, its fingerprint is checked) before the model's
answer leaves the server. What a flagged input gets depends on ``on_flag``:

- ``refuse`` (default): no model answer for a flagged input, and only for it. The request is
  answered, as a v2 client expects, with full tensors: the model's answer for the inputs not
  flagged and, for each flagged one, a row that carries nothing (logits all 0, probabilities all
  1/K, label -1), beside the output ``flagged`` (one bool per input; sent when the request names
  no outputs or asks for it). A clean input the detector flags by mistake costs no other input
  its answer (so ``feint attack --model URL`` runs), and a black-box attack through the server
  learns nothing about the model from a flagged query;
- ``mark``: the model's answer, with a second output ``flagged`` (BOOL, one per input) for clients
  that act on the flag themselves, and for measuring what the detector catches.

Either way flagged inputs are counted, in total and per client, at ``GET .../stats``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from feint.errors import InputError, ModelError

if TYPE_CHECKING:
    from feint.detectors import Detector
    from feint.models.loading import LoadedModel

FLAG_OUTPUT = "flagged"
ON_FLAG = ("refuse", "mark")


@dataclass(frozen=True)
class Guard:
    """A fitted ``detector`` and what to do with a request it flags (``on_flag``: refuse or mark)."""

    detector: Detector
    on_flag: str = "refuse"

    def __post_init__(self) -> None:
        if self.on_flag not in ON_FLAG:
            raise InputError(f"--on-flag must be one of {', '.join(ON_FLAG)}, got {self.on_flag!r}")

    @property
    def refuses(self) -> bool:
        return self.on_flag == "refuse"

    def flags(self, x: Tensor) -> np.ndarray:
        """(N,) bool: the detector's verdict per input."""
        return self.detector.predict(x).cpu().numpy().astype(bool)

    @staticmethod
    def withhold(answer: np.ndarray, flags: np.ndarray, output: str) -> np.ndarray:
        """``answer`` with the rows of flagged inputs replaced by rows that carry nothing: logits 0,
        probabilities 1/K, label -1."""
        blank = -1 if output == "label" else 1.0 / answer.shape[1] if output == "probabilities" else 0.0
        out = answer.copy()
        out[flags] = blank
        return out

    def describe(self) -> dict[str, Any]:
        return {"kind": self.detector.kind, "on_flag": self.on_flag, "threshold": float(self.detector.threshold_)}


def load_guard(directory: str | os.PathLike[str], loaded: LoadedModel, *, on_flag: str = "refuse") -> Guard:
    """The detector saved in ``directory`` in front of ``loaded``, which must be the white-box model it was fitted on."""
    from feint.detectors import load_detector

    if loaded.module is None:
        raise ModelError(
            f"--detector needs the white-box torch model the detector was fitted on; {loaded.spec} gives only "
            f"{loaded.describe()}. Serve a feint run directory or a package.module:factory with --weights"
        )
    return Guard(load_detector(directory, loaded.module), on_flag)
