"""What both detectors share: scikit-learn conventions, the model fingerprint, saving without pickle.

A detector follows scikit-learn's estimator rules: the constructor only stores the model and the
settings, ``fit(x, y)`` learns and returns ``self``, learned state ends in ``_``, ``score(x)`` is
higher for inputs more likely adversarial and ``predict(x)`` is a bool per input.

A saved detector is a folder: ``detector.json`` (kind, settings, learned numbers, the fingerprint
of the model it was fitted on) and ``state.safetensors`` (learned tensors). Nothing is pickled or
executed on load, and the folder never names the model: whoever loads it passes the model (from
Python, :func:`~feint.detectors.load_detector`; on the CLI, ``--model``), so a downloaded detector
cannot make feint import code. Loading checks the model's fingerprint, so a detector fitted on one
model is never silently used with another.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from feint.errors import InputError, ModelError
from feint.io import staged_folder, write_json, write_with
from feint.validation import check_images, check_labels, model_logits
from feint.version import __version__

DETECTOR_JSON = "detector.json"
STATE_FILE = "state.safetensors"


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 over the names, shapes, dtypes and values of ``model``'s parameters and buffers."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


class Detector:
    """Base of :class:`~feint.detectors.MutationDetector` and :class:`~feint.detectors.DensityUncertaintyDetector`."""

    kind: ClassVar[str] = ""
    model: nn.Module

    def fit(self, x: Tensor, y: Tensor, *, progress: bool = False) -> Detector:
        """Learn from clean inputs ``x`` (N, C, H, W) and their labels ``y`` (N,); returns ``self``."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a report says about the fitted detector: kind, settings, threshold and what was learned."""
        raise NotImplementedError

    def score(self, x: Tensor) -> Tensor:
        """(N,) float: higher means more likely adversarial."""
        raise NotImplementedError

    def predict(self, x: Tensor) -> Tensor:
        """(N,) bool: flagged as adversarial."""
        return self.score(x) > self.threshold_

    threshold_: float

    # -- settings ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The settings given to the constructor (scikit-learn's ``get_params``), without the model."""
        return asdict(self.settings)  # type: ignore[attr-defined]

    @property
    def bounds(self) -> tuple[float, float]:
        return tuple(self.settings.bounds)  # type: ignore[attr-defined,no-any-return]

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet; call fit(x, y) first or load a saved one")

    def _check_inputs(self, x: Tensor) -> None:
        check_images(x, bounds=self.bounds)

    def _check_fit_inputs(self, x: Tensor, y: Tensor) -> int:
        """Check the settings, the clean inputs and their labels; return the model's class count."""
        self.settings.check()  # type: ignore[attr-defined]
        self._check_inputs(x)
        num_classes = int(model_logits(self.model, x, rows=2).shape[1])
        check_labels(y, n=x.shape[0], num_classes=num_classes)
        return num_classes

    # -- saving -----------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """Learned numbers (JSON) and learned tensors (safetensors)."""
        raise NotImplementedError

    def _restore(self, learned: dict[str, Any], tensors: dict[str, Tensor], folder: Path) -> None:
        raise NotImplementedError

    def _write_extra(self, folder: Path) -> None:
        """Files beyond ``state.safetensors`` (the mutant pool); written before ``detector.json``."""

    def save(self, directory: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Path:
        """Write the fitted detector to ``directory`` (``extra``: JSON-safe notes, e.g. the data; they are
        never read back to load anything, so do not expect a model named there to be loaded)."""
        self._check_fitted()
        # built in a temporary folder and moved in at the end: a killed fit leaves no half detector
        with staged_folder(directory, last=DETECTOR_JSON) as out:
            learned, tensors = self._state()
            tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
            write_with(out / STATE_FILE, lambda tmp: save_file(tensors, str(tmp)))
            self._write_extra(out)
            doc = {
                "kind": self.kind,
                "feint_version": __version__,
                "settings": self.get_params(),
                "learned": learned,
                "model_fingerprint": self.model_fingerprint_,
                "extra": extra or {},
            }
            write_json(out / DETECTOR_JSON, doc)
        return Path(directory)

    model_fingerprint_: str

    @classmethod
    def load(cls, directory: str | os.PathLike[str], model: nn.Module) -> Detector:
        """A detector saved by :meth:`save`, attached to ``model`` (which must be the model it was fitted on)."""
        doc = read_detector_json(directory)
        if doc["kind"] != cls.kind:
            raise ModelError(
                f"{directory} holds a {doc['kind']!r} detector, not {cls.kind!r}; load it with load_detector"
            )
        detector = cls(model, **settings_from_json(doc["settings"]))  # type: ignore[call-arg]
        check_same_model(model, doc["model_fingerprint"], directory)
        detector.model_fingerprint_ = doc["model_fingerprint"]
        detector._restore(doc["learned"], read_tensors(Path(directory) / STATE_FILE), Path(directory))
        return detector


def settings_from_json(settings: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples the settings dataclasses hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}


def check_same_model(model: nn.Module, fingerprint: str, where: str | os.PathLike[str]) -> None:
    if model_fingerprint(model) != fingerprint:
        raise ModelError(
            f"the detector in {where} was fitted on another model (its weights differ from the model given); "
            "load it with the model it was fitted on, or fit a new detector for this model"
        )


def read_detector_json(directory: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(directory) / DETECTOR_JSON
    if not Path(directory).is_dir():
        raise ModelError(f"no detector folder at {str(directory)!r}; fit one with `feint detect fit --out DIR`")
    if not path.is_file():
        raise ModelError(f"{path} is missing; the folder is not a saved feint detector, fit one again")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); fit the detector again") from exc
    needed = ("kind", "settings", "learned", "model_fingerprint")
    if not isinstance(doc, dict) or any(k not in doc for k in needed):
        raise ModelError(f"{path} lacks one of {', '.join(needed)}; it was not written by feint's Detector.save")
    return doc


def read_tensors(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise ModelError(f"{path} is missing; the detector folder is incomplete, fit the detector again")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path} is corrupt or not a safetensors file ({exc}); fit the detector again") from exc
