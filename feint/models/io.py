"""Save and load models as a directory: ``config.json`` + ``weights.safetensors``.

Loading never unpickles: the weights are safetensors and the config is JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from feint.errors import ModelError
from feint.io import write_json, write_with
from feint.models.registry import create_model
from feint.version import __version__

CONFIG = "config.json"
WEIGHTS = "weights.safetensors"


def save_model(
    model: nn.Module,
    directory: str | os.PathLike[str],
    *,
    arch: str | None,
    arch_kwargs: dict[str, Any] | None = None,
    data: dict[str, Any],
    training: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and a config that lets :func:`load_model` rebuild it.

    ``data`` is the dataset metadata (``DatasetInfo.to_dict()``), which fixes the input shape and
    the class count. ``arch=None`` marks a module of your own (not a registered architecture): its
    class is recorded for information only (nothing named in a file is ever imported), and
    :func:`load_model` then says how to load the weights into it.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_with(out / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    config = {
        "arch": arch,
        **({} if arch else {"module": f"{type(model).__module__}.{type(model).__qualname__}"}),
        "arch_kwargs": arch_kwargs or {},
        "data": data,
        "training": training or {},
        "feint_version": __version__,
    }
    write_json(out / CONFIG, config)
    return out


def load_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(directory)
    cfg_path = path / CONFIG
    if not path.is_dir():
        raise ModelError(f"no model directory at {str(path)!r}; train one with `feint train --out {path}`")
    if not cfg_path.is_file():
        raise ModelError(f"{cfg_path} is missing; the model directory is incomplete, train or save it again")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{cfg_path} is not valid JSON ({exc}); save the model again") from exc
    if not isinstance(cfg, dict) or "arch" not in cfg or "data" not in cfg:
        raise ModelError(f"{cfg_path} lacks 'arch' or 'data'; it was not written by feint.models.save_model")
    _check_config(cfg, cfg_path)
    return cfg


def _check_config(cfg: dict[str, Any], path: Path) -> None:
    """The fields :func:`load_model` and the commands read must have the right types."""
    data = cfg["data"]
    shape = data.get("input_shape") if isinstance(data, dict) else None
    names = data.get("class_names") if isinstance(data, dict) else None
    problems = []
    if cfg["arch"] is not None and not isinstance(cfg["arch"], str):
        problems.append(f"'arch' is {cfg['arch']!r}, not a name")
    if not isinstance(cfg.get("arch_kwargs", {}), dict):
        problems.append("'arch_kwargs' is not an object")
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(v) is int and v > 0 for v in shape)):
        problems.append(f"'data.input_shape' is {shape!r}, not three positive integers [C, H, W]")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        problems.append("'data.class_names' is not a list of at least two names")
    if problems:
        raise ModelError(f"{path} is damaged: {'; '.join(problems)}; save or train the model again")


def load_model(directory: str | os.PathLike[str], *, device: str | None = None) -> nn.Module:
    """Rebuild the architecture from ``config.json`` and load ``weights.safetensors`` (no pickle)."""
    cfg = load_config(directory)
    if cfg["arch"] is None:
        weights = Path(directory) / WEIGHTS
        raise ModelError(
            f"{directory} holds the weights of your own module {cfg.get('module', '')} (trained with feint.train), "
            f"not of a feint architecture; load them with --model package.module:factory --weights {weights} "
            f"(Python: feint.models.load_weights(YourModule(...), {str(weights)!r}))"
        )
    data = cfg["data"]
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.get("arch_kwargs", {}).items()}
    model = create_model(
        cfg["arch"], input_shape=tuple(data["input_shape"]), num_classes=len(data["class_names"]), **kwargs
    )
    load_weights(model, Path(directory) / WEIGHTS, device=device)
    model.eval()
    return model.to(device) if device else model


def load_weights(model: nn.Module, weights: str | os.PathLike[str], *, device: str | None = None) -> nn.Module:
    """Load a safetensors state dict into ``model``; a clear error when missing, corrupt or mismatched."""
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"weights file {str(path)!r} not found; pass an existing .safetensors file with --weights")
    try:
        state = load_file(str(path), device=device or "cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(
            f"{path} is corrupt or not a safetensors file ({exc}); save it with safetensors.torch.save_file"
        ) from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path} does not fit the model ({first}); pass the weights saved from this model") from exc
    return model
