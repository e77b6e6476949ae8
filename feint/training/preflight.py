"""What a training run checks before it starts: the data, the run folder, and on resume that the
checkpoint was made by the same run (settings, architecture and the data itself, by content)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from feint.data.dataset import Dataset
from feint.errors import InputError
from feint.io import check_writable, remove_stale_temps
from feint.training.checkpoint import holds_run
from feint.training.config import TrainConfig
from feint.validation import check_images, check_labels


def check_training_data(train_data: Dataset, test_data: Dataset | None) -> None:
    """Both sets in their bounds with valid labels, at least two classes, the same task."""
    for name, data in (("train_data", train_data), ("test_data", test_data)):
        if data is not None:
            check_images(data.x, bounds=data.info.bounds, name=f"{name}.x")
            check_labels(data.y, n=len(data), num_classes=data.info.num_classes, name=f"{name}.y")
    info = train_data.info
    if info.num_classes < 2:
        raise InputError(
            f"{info.name} has {info.num_classes} class ({', '.join(info.class_names)}); a classifier needs "
            "at least 2: add the images of another class"
        )
    if test_data is not None and (test_data.info.input_shape, test_data.info.num_classes) != (
        info.input_shape,
        info.num_classes,
    ):
        other = test_data.info
        raise InputError(
            f"the test data ({other.name}: inputs {other.input_shape}, {other.num_classes} classes) does not match "
            f"the training data ({info.name}: inputs {info.input_shape}, {info.num_classes} classes); "
            "train and test on two splits of one dataset"
        )


def run_folder(out: str | os.PathLike[str] | None, *, resume: bool, overwrite: bool) -> Path | None:
    """The run directory, checked writable; an existing run only with ``resume``/``overwrite``, and then
    without the temporary files an interrupted write left there."""
    if out is None:
        return None
    folder = check_writable(out, folder=True)
    if not (resume or overwrite) and holds_run(folder):
        raise InputError(
            f"{folder} already holds a training run; pass --resume (resume=True) to continue it, "
            "--overwrite (overwrite=True) to train it again from scratch, or choose another --out"
        )
    remove_stale_temps(folder)
    return folder


def run_identity(
    cfg: TrainConfig,
    model: nn.Module | str,
    kwargs: dict[str, Any] | None,
    data: Dataset,
    test: Dataset | None,
) -> dict[str, Any]:
    """Everything a resumed run must share with the checkpoint: settings, architecture, the data itself."""

    def described(d: Dataset | None) -> dict[str, Any] | None:
        return None if d is None else {"name": d.info.name, "samples": len(d), "sha256": d.fingerprint()}

    arch_name = model if isinstance(model, str) else f"your module {type(model).__qualname__}"
    return {
        **cfg.to_dict(),
        "arch": arch_name,
        "arch_kwargs": kwargs or {},
        "data": described(data),
        "test_data": described(test),
    }


def check_same_run(folder: Path, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """Refuse to resume when a setting other than the epoch count differs from the checkpoint's
    (the settings, the architecture and the training data), naming each difference."""
    differ = [key for key in sorted(set(saved) | set(now)) if key != "epochs" and saved.get(key) != now.get(key)]
    if not differ:
        return
    shown = "; ".join(f"{key}: {_short(saved.get(key))} then, {_short(now.get(key))} now" for key in differ[:4])
    raise InputError(
        f"the checkpoint in {folder} was made with other settings ({shown}); resume with the same settings "
        "(only --epochs may grow), or drop --resume and choose another --out"
    )


def _short(value: Any) -> str:
    if isinstance(value, dict) and "sha256" in value:
        return f"{value.get('name')!r} ({value.get('samples')} samples, sha256 {str(value['sha256'])[:12]})"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
