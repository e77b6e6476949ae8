"""Resolve a model given on the command line, in one place for every command.

``--model`` accepts:

- a feint run directory (``config.json`` + ``weights.safetensors``);
- ``package.module:factory``, a callable returning an ``nn.Module`` mapping pixels to logits,
  with weights from ``--weights`` (safetensors, never a pickle);
- ``file.onnx``: white-box when onnx2torch converts it and the conversion matches onnxruntime,
  else a query-only oracle through onnxruntime;
- ``file.skops``: a fitted scikit-learn classifier (a query-only oracle);
- ``file.pkl`` / ``.joblib``: only with ``trust=True`` (``--trust-file``);
- ``http(s)://host:port/v2/models/NAME``: a model served with the Open Inference Protocol.

:func:`resolve` returns a :class:`LoadedModel` saying which access was obtained and how;
:func:`resolve_model` is for code that needs a white-box module and says clearly when there is none.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from feint.errors import ModelError
from feint.models.files import PICKLE_SUFFIXES, load_pickle, load_skops
from feint.models.io import CONFIG, load_config, load_model, load_weights
from feint.oracles import Oracle
from feint.oracles.logits import access_of

FORMS = (
    "a feint run directory, package.module:factory (with --weights), file.onnx, file.skops, "
    "or http(s)://host:port/v2/models/NAME"
)


@dataclass(frozen=True)
class LoadedModel:
    """A model as a command got it: a white-box ``module``, or only an ``oracle``.

    Attributes:
        spec: what was given.
        source: "run", "factory", "onnx", "skops", "pickle" or "http".
        module: the torch module when gradients are available, else None.
        oracle: the query-only access when there is no module, else None.
        config: a feint run's config (trained data, architecture), else None.
        note: how the access was obtained (e.g. why an ONNX graph stayed an oracle).
    """

    spec: str
    source: str
    module: nn.Module | None
    oracle: Oracle | None
    config: dict[str, Any] | None = None
    note: str = ""

    @property
    def access(self) -> str:
        """ "white-box", "scores" or "labels"."""
        if self.module is not None:
            return "white-box"
        assert self.oracle is not None
        return access_of(self.oracle)

    @property
    def target(self) -> nn.Module | Oracle:
        """What attacks receive: the module when there is one, else the oracle."""
        return self.module if self.module is not None else self.oracle  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return (
            str(self.config["arch"]) if self.config else Path(self.spec).name if "://" not in self.spec else self.spec
        )

    @property
    def how(self) -> str:
        """Where the access comes from, e.g. "onnx: not converted to torch: ..."."""
        return f"{self.source}{': ' + self.note if self.note else ''}"

    def describe(self) -> str:
        """One line for a terminal or a report: the access and how it was obtained."""
        return f"{self.access} access ({self.how})"


def _import_factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ModelError(f"model {spec!r} is not one of: {FORMS}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"cannot import module {module_name!r} for model {spec!r} ({exc}); check PYTHONPATH") from exc
    except Exception as exc:  # the module's own code failed while importing
        raise ModelError(f"importing {module_name!r} for model {spec!r} failed ({type(exc).__name__}: {exc})") from exc
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ModelError(f"module {module_name!r} has no callable {attr!r}; name a function that returns an nn.Module")
    return factory


def _object_model(obj: Any, spec: str, source: str, device: str | None) -> LoadedModel:
    """A loaded file's object: a torch module stays white-box, a fitted classifier becomes an oracle."""
    if isinstance(obj, nn.Module):
        return LoadedModel(spec, source, (obj.to(device) if device else obj).eval(), None)
    from feint.oracles.sklearn import sklearn_oracle

    return LoadedModel(spec, source, None, sklearn_oracle(obj, name=Path(spec).name), note=type(obj).__name__)


def resolve(
    spec: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | None = None,
    trust: bool = False,
    convert: bool = True,
) -> LoadedModel:
    """Load ``spec`` (any form in :data:`FORMS`); ``convert=False`` keeps an ONNX file query-only."""
    text = str(spec)
    if text.startswith(("http://", "https://")):
        from feint.oracles.http import http_oracle

        return LoadedModel(text, "http", None, http_oracle(text), note="Open Inference Protocol")
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from feint.oracles.onnx import onnx_oracle

        oracle = onnx_oracle(path)
        if convert:
            from feint.models.onnx_torch import onnx_to_module

            module, why = onnx_to_module(path)
            if module is not None:
                return LoadedModel(text, "onnx", module.to(device) if device else module, None, note=why)
            return LoadedModel(text, "onnx", None, oracle, note=f"not converted to torch: {why}")
        return LoadedModel(text, "onnx", None, oracle, note="onnxruntime")
    if suffix == ".skops":
        return _object_model(load_skops(path, trust=trust), text, "skops", device)
    if suffix in PICKLE_SUFFIXES:
        return _object_model(load_pickle(path, trust=trust), text, "pickle", device)
    if path.is_dir() or (path / CONFIG).exists():
        return LoadedModel(text, "run", load_model(path, device=device), None, load_config(path))
    if ":" not in text or path.suffix:
        raise ModelError(f"no model directory at {text!r} (nor a model file); pass {FORMS}")
    factory = _import_factory(text)
    try:
        model = factory()
    except Exception as exc:  # a user's factory may raise anything
        raise ModelError(
            f"the factory {text!r} raised {type(exc).__name__}: {exc}; it must build the model with no arguments"
        ) from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"{text!r} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        load_weights(model, weights, device=device)
    return LoadedModel(text, "factory", (model.to(device) if device else model).eval(), None)


def resolve_model(
    spec: str | os.PathLike[str], *, weights: str | os.PathLike[str] | None = None, device: str | None = None
) -> tuple[nn.Module, dict[str, Any] | None]:
    """``(module in eval mode, feint config or None)``; a clear error for a query-only model."""
    loaded = resolve(spec, weights=weights, device=device)
    if loaded.module is None:
        raise ModelError(
            f"{spec} gives only {loaded.describe()}; this needs a white-box torch model. "
            "Use a black-box attack (square, hopskipjump) or the audit, which runs its black-box part"
        )
    return loaded.module, loaded.config
