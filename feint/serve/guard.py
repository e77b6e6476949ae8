"""A detector in front of ``feint serve`` (``--detector DIR``): flagged inputs are answered with a flag.

Every input of an inference request meets the detector (:mod:`feint.detectors`; a saved detector
is loaded only onto the model it was fitted on, its fingerprint is checked) before the model's
answer leaves the server. What a request with a flagged input gets depends on ``on_flag``:

- ``refuse`` (default): HTTP 403 with JSON ``{"error": ..., "flagged": [one bool per input]}`` and
  no model answer at all, so a black-box attack through the server learns nothing from a flagged
  query (feint's HTTP oracle stops with the server's message);
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

    def refusal(self, flags: np.ndarray) -> dict[str, Any]:
        """The 403 body for a request with flagged inputs."""
        return {
            "error": f"{int(flags.sum())} of {len(flags)} inputs flagged as adversarial by the {self.detector.kind} "
            "detector; the request is refused (send only the inputs not flagged)",
            "flagged": flags.tolist(),
        }

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
