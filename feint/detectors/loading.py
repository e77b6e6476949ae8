"""Loading a saved detector of either kind, and naming the kinds for the CLI."""

from __future__ import annotations

import os

from torch import nn

from feint.detectors.base import Detector, read_detector_json
from feint.detectors.kde_bu import DensityUncertaintyDetector
from feint.detectors.mutation import MutationDetector
from feint.errors import ModelError

DETECTORS: dict[str, type[MutationDetector] | type[DensityUncertaintyDetector]] = {
    "mutation": MutationDetector,
    "kde-bu": DensityUncertaintyDetector,
}


def load_detector(directory: str | os.PathLike[str], model: nn.Module) -> Detector:
    """The detector saved in ``directory``, attached to ``model`` (the model it was fitted on)."""
    kind = read_detector_json(directory)["kind"]
    if kind not in DETECTORS:
        raise ModelError(f"{directory} holds an unknown detector kind {kind!r}; known: {', '.join(DETECTORS)}")
    return DETECTORS[kind].load(directory, model)
