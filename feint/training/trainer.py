"""``feint.train``: seeded, resumable training; a defense recipe supplies the loss of every batch.

Without a recipe the loss is the cross-entropy. With one (:mod:`feint.defenses`: ``goodfellow``,
``pgd-at``, ``fast-at``, ``trades``, ``ensemble-at``, ``distill``) each batch's loss is
``recipe.batch_loss(model, x, y, step)`` — a plain function of the model, the batch and its
:class:`~feint.defenses.base.Step`, which a distributed wrapper can wrap — the learning rate
follows ``recipe.lr_factor(step)``, and a recipe's guard may stop the run after an epoch and roll
it back to the last good one. Every epoch reports the clean and the robust test accuracy.

Under torchrun every rank calls :func:`train` alike and trains with DistributedDataParallel,
whatever the recipe: see :func:`train` and :mod:`feint.training.loop`.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from feint import distributed as fd
from feint.data.dataset import Dataset
from feint.defenses.context import TrainContext
from feint.io import write_json
from feint.models.io import save_model
from feint.models.registry import create_model
from feint.progress import milestone
from feint.training.checkpoint import read_checkpoint, save_checkpoint
from feint.training.config import TrainConfig
from feint.training.epoch import EpochReport, accuracy, evaluate_epoch
from feint.training.loop import train_epoch
from feint.training.preflight import check_same_run, check_training_data, run_folder, run_identity
from feint.training.setup import make_optimizer, monitor_threat, resolve_config, restore, shared_statistics
from feint.training.shared import check_same_world, check_training_job


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    test_accuracy: float | None = None
    out: Path | None = None


@fd.alone_unless_distributed
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
    progress: bool = False,
    distributed: bool | None = None,
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
    ``progress`` (off by default in Python, as in every capability; the command line turns it on) shows a
    progress bar per epoch and a line per finished epoch.

    Under torchrun (``distributed=None`` notices it, ``True`` insists, ``False`` trains alone) every
    rank calls ``train`` alike: the model is wrapped in DistributedDataParallel (gradients averaged;
    the recipe's per-batch hook gets the wrapper), each rank draws its share of every epoch from a
    distributed sampler, ``batch_size`` is per rank (the effective batch size, ``batch_size x
    ranks``, is logged and saved), the end-of-epoch check and the guard's decision are rank 0's,
    only rank 0 writes, and ``out`` must be one folder every rank shares (each reads the checkpoint
    on ``resume``, which needs as many ranks as the run had).
    """
    cfg = resolve_config(config, settings)
    check_training_data(train_data, test_data)
    dev = fd.device_for_rank(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if fd.join(distributed, dev):
        check_training_job(cfg.to_dict(), model, arch_kwargs, train_data, Path(out) if out else None)
    progress = progress and fd.is_root()
    folder = run_folder(out, resume=resume, overwrite=overwrite)
    torch.manual_seed(cfg.seed)
    identity = run_identity(cfg, model, arch_kwargs, train_data, test_data) if folder is not None else {}
    saved = read_checkpoint(folder) if folder is not None and resume else None
    if folder is not None and saved is not None:
        check_same_run(folder, saved.get("config", {}), identity)
        check_same_world(saved, folder)
    arch = model if isinstance(model, str) else None
    info = train_data.info
    if isinstance(model, str):
        model = create_model(model, input_shape=info.input_shape, num_classes=info.num_classes, **(arch_kwargs or {}))
    initial = copy.deepcopy(model)
    model = model.to(dev)
    optimizer = make_optimizer(model, cfg)
    start, history, stopped, guard_state = restore(folder, saved, model, optimizer, dev)
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
        train,
    )
    base = cfg.build_recipe()
    with fd.together("preparing the recipe"):  # a source model one rank cannot read: an error everywhere
        recipe = base.prepare(context) if base is not None else None
    guard = base.guard_for(context) if base is not None else None
    if guard is not None and guard_state is not None:
        guard.load_state(guard_state)
    threat = monitor_threat(cfg, base, info.bounds)
    x, y = train_data.x.to(dev), train_data.y.to(dev)
    epochs = int(cfg.epochs or 1)
    net = fd.for_training(model, dev)
    scale = {"world_size": fd.world_size(), "effective_batch_size": int(cfg.batch_size or 1) * fd.world_size()}
    if fd.active() and progress:
        print(f"training on {fd.world_size()} ranks: {scale['effective_batch_size']} inputs per step", file=sys.stderr)
    for epoch in range(start, epochs):
        if stopped:
            break
        good = copy.deepcopy(model.state_dict()) if guard is not None else None
        wall, cpu = time.perf_counter(), time.process_time()
        loss = train_epoch(
            net,
            optimizer,
            recipe,
            x,
            y,
            epoch=epoch,
            epochs=epochs,
            batch_size=int(cfg.batch_size or 1),
            lr=float(cfg.lr or 0.0),
            seed=cfg.seed,
            progress=progress,
        )
        spent = {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
        fd.match_root(model, buffers_only=True)
        report: EpochReport = evaluate_epoch(model, test_data, threat, guard, seed=cfg.seed)
        if report.collapsed and good is not None:
            model.load_state_dict(good)
            stopped = True
        record = {"epoch": epoch + 1, "loss": loss, **report.numbers(), **spent}
        if recipe is not None:
            record.update(shared_statistics(recipe.statistics()))
        history.append(record)
        milestone(progress, f"epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}{report.line()}")
        if folder is not None and fd.is_root():
            save_checkpoint(
                folder,
                epoch=epoch + 1,
                model=model,
                optimizer=optimizer,
                state={
                    "config": identity,
                    "history": history,
                    "stopped": stopped,
                    "guard": guard.state() if guard is not None else None,
                    **scale,
                },
            )
    model.eval()
    fd.match_root(model)
    test_acc = accuracy(model, test_data, dev) if test_data is not None else None
    if folder is not None and fd.is_root():
        training = {**cfg.to_dict(), **scale, "test_accuracy": test_acc, "history": history}
        save_model(
            model,
            folder,
            arch=arch,
            arch_kwargs=arch_kwargs,
            data=info.to_dict(),
            training=training,
        )
        write_json(folder / "history.json", history)
    return TrainResult(model, history, test_acc, folder)
