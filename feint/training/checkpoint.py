"""Per-epoch checkpoints without pickle: safetensors for model and optimizer tensors, JSON for the rest.

Layout: ``DIR/checkpoints/epoch-0003/{model,optimizer}.safetensors + state.json`` and
``DIR/checkpoints/latest.json`` naming the newest complete one. ``latest.json`` is replaced
atomically only after the epoch folder is complete, so an interrupted write is never resumed from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from feint.errors import InputError
from feint.io import write_json, write_with

LATEST = "latest.json"


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    folder: Path, *, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> Path:
    ckpt_root = folder / "checkpoints"
    target = ckpt_root / f"epoch-{epoch:04d}"
    target.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_with(target / "model.safetensors", lambda tmp: save_file(weights, str(tmp)))
    opt_tensors, opt_meta = _flatten_optimizer(optimizer)
    write_with(target / "optimizer.safetensors", lambda tmp: save_file(opt_tensors, str(tmp)))
    write_json(target / "state.json", {**state, "epoch": epoch, "optimizer": opt_meta})
    write_json(ckpt_root / LATEST, {"epoch": epoch, "folder": target.name})
    for old in ckpt_root.glob("epoch-*"):
        if old.is_dir() and old.name != target.name:
            shutil.rmtree(old, ignore_errors=True)
    return target


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` already holds a training run: a checkpoint or a saved model."""
    return (folder / "checkpoints" / LATEST).is_file() or (folder / "config.json").is_file()


def read_checkpoint(folder: Path) -> dict[str, Any] | None:
    """The state (settings, history, epoch) of the newest complete checkpoint, without loading any weights;
    None when there is none."""
    latest = folder / "checkpoints" / LATEST
    if not latest.is_file():
        return None
    try:
        pointer = json.loads(latest.read_text(encoding="utf-8"))
        state = json.loads((folder / "checkpoints" / pointer["folder"] / "state.json").read_text(encoding="utf-8"))
        state["folder"] = pointer["folder"]
        return dict(state)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise _unreadable(folder, exc) from exc


def load_checkpoint(
    folder: Path, state: dict[str, Any], *, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> None:
    """Restore model and optimizer from the checkpoint whose ``state`` :func:`read_checkpoint` returned."""
    target = folder / "checkpoints" / state["folder"]
    try:
        model.load_state_dict(load_file(str(target / "model.safetensors"), device=str(device)))
        opt_tensors = load_file(str(target / "optimizer.safetensors"), device=str(device))
        optimizer.load_state_dict(_unflatten_optimizer(opt_tensors, state["optimizer"]))
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise _unreadable(folder, exc) from exc


def _unreadable(folder: Path, exc: Exception) -> InputError:
    return InputError(
        f"the checkpoint in {folder / 'checkpoints'} cannot be read ({exc}); delete that folder to start afresh"
    )
