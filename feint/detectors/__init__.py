"""Detectors of adversarial inputs, scikit-learn style: mutation testing and kernel density + uncertainty.

- :class:`MutationDetector`: Wang et al. 2019, model mutation testing with label change rates and an SPRT.
- :class:`DensityUncertaintyDetector`: Feinman et al. 2017, kernel density + Bayesian uncertainty.
- :func:`load_detector`: a saved detector of either kind (safetensors + JSON, no pickle).
"""

from feint.detectors.base import Detector, model_fingerprint
from feint.detectors.kde_bu import DensityUncertaintyDetector
from feint.detectors.loading import DETECTORS, load_detector
from feint.detectors.mutation import MutationDetector
from feint.detectors.sprt import SPRT, SPRTResult

__all__ = [
    "DETECTORS",
    "SPRT",
    "DensityUncertaintyDetector",
    "Detector",
    "MutationDetector",
    "SPRTResult",
    "load_detector",
    "model_fingerprint",
]
