"""``feint.train``: seeded, resumable training; a defense recipe supplies the loss of every batch.

Without a recipe the loss is the cross-entropy. With one (:mod:`feint.defenses`: ``goodfellow``,
``pgd-at``, ``fast-at``, ``trades``, ``ensemble-at``, ``distill``) each batch's loss is
``recipe.batch_loss(model, x, y, step)`` — a plain function of the model, the batch and its
:class:`~feint.defenses.base.Step`, which a distributed wrapper can wrap — the learning rate
follows ``recipe.lr_factor(step)``, and a recipe's guard may stop the run after an epoch and roll
it back to the last good one. Every epoch reports the clean and the robust test accuracy.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from feint.data.dataset import Dataset
from feint.defenses.base import Recipe, Step
from feint.defenses.context import TrainContext
from feint.errors import InputError
from feint.io import write_json
from feint.models.io import save_model
from feint.models.registry import create_model
from feint.progress import bar, milestone
from feint.training.checkpoint import holds_run, load_checkpoint, save_checkpoint
from feint.training.config import TrainConfig
from feint.training.epoch import EpochReport, evaluate_epoch
from feint.validation import check_images, check_labels


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    test_accuracy: float | None = None
    out: Path | None = None


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]


def _without_epochs(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that must match to resume; the epoch count may grow (train longer)."""
    return {k: v for k, v in settings.items() if k != "epochs"}


def _check_data(data: Dataset, name: str) -> None:
    check_images(data.x, bounds=data.info.bounds, name=f"{name}.x")
    check_labels(data.y, n=len(data), num_classes=data.info.num_classes, name=f"{name}.y")


def _config(config: TrainConfig | None, settings: dict[str, Any]) -> TrainConfig:
    base = config.to_dict() if config else {}
    if "recipe" in settings and "recipe_options" not in settings:
        base.pop("recipe_options", None)  # a new recipe does not inherit the old one's options
    try:
        return TrainConfig(**{**base, **settings})
    except TypeError as exc:
        raise InputError(f"unknown training setting: {exc}; see feint.training.TrainConfig") from exc


def _batch_loss(recipe: Recipe | None, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, step: Step) -> torch.Tensor:
    if recipe is None:
        return F.cross_entropy(model(xb), yb)
    return recipe.batch_loss(model, xb, yb, step)


def train(
    model: nn.Module | str,
    train_data: Dataset,
    test_data: Dataset | None = None,
    *,
    config: TrainConfig | None = None,
    arch_kwargs: dict[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    **settings: Any,
) -> TrainResult:
    """Train ``model`` (an ``nn.Module`` or an architecture name) on ``train_data``.

    ``settings`` override fields of :class:`TrainConfig` (``epochs=5, recipe="pgd-at",
    recipe_options={"eps": 0.1}``, or ``recipe=FastAT(eps=0.1)``). With ``out``, a checkpoint is
    written after each epoch and the final model is saved there (``config.json`` +
    ``weights.safetensors``); ``resume=True`` continues from the last checkpoint (the same weights
    as an uninterrupted run), ``overwrite=True`` trains afresh over a run already there (otherwise
    that is refused: nothing is replaced unasked). Every setting is checked, and a recipe's sources
    loaded, before the first batch. Returns the trained model (eval mode), the per-epoch history
    (loss, clean and robust test accuracy, the guard's figures) and the clean test accuracy.
    ``progress`` shows a progress bar per epoch when stderr is a terminal, a line per epoch otherwise.
    """
    cfg = _config(config, settings)
    _check_data(train_data, "train_data")
    if test_data is not None:
        _check_data(test_data, "test_data")
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    arch = model if isinstance(model, str) else None
    info = train_data.info
    if isinstance(model, str):
        model = create_model(model, input_shape=info.input_shape, num_classes=info.num_classes, **(arch_kwargs or {}))
    initial = copy.deepcopy(model)
    model = model.to(dev)
    optimizer = _optimizer(model, cfg)
    folder = Path(out) if out else None
    history: list[dict[str, Any]] = []
    start, stopped, guard_state = 0, False, None
    if folder is not None and not (resume or overwrite) and holds_run(folder):
        raise InputError(
            f"{folder} already holds a training run; pass --resume (resume=True) to continue it, "
            "--overwrite (overwrite=True) to train it again from scratch, or choose another --out"
        )
    if folder is not None and resume:
        state = load_checkpoint(folder, model=model, optimizer=optimizer, device=dev)
        if state is not None:
            if _without_epochs(state.get("config", {})) != _without_epochs(cfg.to_dict()):
                raise InputError(
                    f"the checkpoint in {folder} was made with other settings; resume with the same settings "
                    "or drop --resume and choose another --out"
                )
            start, history = int(state["epoch"]), list(state["history"])
            stopped, guard_state = bool(state.get("stopped", False)), state.get("guard")
    context = TrainContext(
        train_data,
        test_data,
        dev,
        cfg.to_dict(),
        lambda: copy.deepcopy(initial).to(dev),
        arch,
        arch_kwargs,
        folder,
        resume,
        overwrite,
        progress,
    )
    base = cfg.build_recipe()
    recipe = base.prepare(context) if base is not None else None
    guard = base.guard_for(context) if base is not None else None
    if guard is not None and guard_state is not None:
        guard.load_state(guard_state)
    threat = _monitor_threat(cfg, base, info.bounds)
    x, y = train_data.x.to(dev), train_data.y.to(dev)
    epochs, batch_size, lr = int(cfg.epochs or 1), int(cfg.batch_size or 1), float(cfg.lr or 0.0)
    batches = -(-len(train_data) // batch_size)
    for epoch in range(start, epochs):
        if stopped:
            break
        good = copy.deepcopy(model.state_dict()) if guard is not None else None
        torch.manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(train_data), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        model.train()
        total, seen = 0.0, 0
        shown = bar(progress, iterable=range(batches), desc=f"epoch {epoch + 1}/{epochs}")
        for b in shown:
            idx = order[b * batch_size : (b + 1) * batch_size].to(dev)
            step = Step(epoch, b, batches, epochs, (cfg.seed * 1000 + epoch) * 100_003 + b)
            if recipe is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr * recipe.lr_factor(step)
            optimizer.zero_grad(set_to_none=True)
            loss = _batch_loss(recipe, model, x[idx], y[idx], step)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            if b % 10 == 0:
                shown.set_postfix(loss=f"{total / seen:.3f}")
        report: EpochReport = evaluate_epoch(model, test_data, threat, guard, seed=cfg.seed)
        if report.collapsed and good is not None:
            model.load_state_dict(good)
            stopped = True
        record = {"epoch": epoch + 1, "loss": total / seen, **report.numbers()}
        if recipe is not None:
            record.update(recipe.statistics())
        history.append(record)
        milestone(progress, f"epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}{report.line()}")
        if folder is not None:
            save_checkpoint(
                folder,
                epoch=epoch + 1,
                model=model,
                optimizer=optimizer,
                state={
                    "config": cfg.to_dict(),
                    "history": history,
                    "stopped": stopped,
                    "guard": guard.state() if guard is not None else None,
                },
            )
    model.eval()
    from feint.training.epoch import accuracy

    test_acc = accuracy(model, test_data, dev) if test_data is not None else None
    if folder is not None:
        training = {**cfg.to_dict(), "test_accuracy": test_acc, "history": history}
        save_model(model, folder, arch=arch or type(model).__name__, arch_kwargs=arch_kwargs, data=info.to_dict(), training=training)
        write_json(folder / "history.json", history)
    return TrainResult(model, history, test_acc, folder)


def _monitor_threat(cfg: TrainConfig, recipe: Recipe | None, bounds: tuple[float, float]) -> Any:
    from feint.threat import ThreatModel

    if cfg.robust_eps is not None:
        eps = cfg.robust_eps
    elif recipe is not None and recipe.threat is not None:
        eps = recipe.threat.eps
    else:
        eps = 0.1 * (bounds[1] - bounds[0])
    return ThreatModel("inf", eps, bounds) if eps > 0 else None
