"""``feint.train``: seeded, resumable training with an optional attack on every batch.

With ``adv`` set, each batch is attacked (the model in eval mode while the attack runs) and the
loss is ``alpha * CE(x, y) + (1 - alpha) * CE(x_adv, y)`` — Goodfellow, Shlens & Szegedy 2015,
"Explaining and Harnessing Adversarial Examples", eq. for adversarial training. Every later
adversarial-training recipe plugs in here through the attack registry.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.registry import get_attack
from feint.attacks.result import predict_logits
from feint.data.dataset import Dataset
from feint.errors import InputError
from feint.io import write_json
from feint.models.io import save_model
from feint.models.registry import create_model
from feint.progress import bar, milestone
from feint.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from feint.training.config import TrainConfig
from feint.training.preflight import check_same_run, check_training_data, run_folder, run_identity
from feint.training.shared import RANK_SEED, check_same_world, check_training_job


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    test_accuracy: float | None = None
    out: Path | None = None


def accuracy(model: nn.Module, data: Dataset, device: torch.device) -> float:
    """Clean accuracy on ``data``; under torchrun each rank scores its share and the counts are summed."""
    part = fd.shard(len(data))
    logits = predict_logits(model, data.x[part].to(device))
    hits = (logits.argmax(1) == data.y[part].to(device)).sum()
    counts = fd.all_reduce_sum(torch.stack([hits, torch.tensor(logits.shape[0], device=device)]), "scoring")
    return float(counts[0]) / max(int(counts[1]), 1)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _adversarial_batch(
    model: nn.Module, x: Tensor, y: Tensor, cfg: TrainConfig, seed: int, bounds: tuple[float, float]
) -> Tensor:
    """Attack one batch with the configured attack; its full strength (no early stopping) when supported."""
    assert cfg.adv is not None
    spec = get_attack(cfg.adv)
    accepted = spec.parameters()
    params: dict[str, Any] = {**spec.defaults, **cfg.adv_params}
    for key, value in (("eps", cfg.adv_eps), ("seed", seed), ("bounds", bounds)):
        if key in accepted:
            params[key] = value
    if "early_stop" in accepted:
        params.setdefault("early_stop", False)
    return spec.fn(model, x, y, **params).x_adv


def _batch_loss(
    model: nn.Module, x: Tensor, y: Tensor, cfg: TrainConfig, seed: int, bounds: tuple[float, float]
) -> Tensor:
    if cfg.adv is None:
        return F.cross_entropy(model(x), y)
    x_adv = _adversarial_batch(model, x, y, cfg, seed, bounds)
    clean = F.cross_entropy(model(x), y) if cfg.adv_alpha > 0 else torch.zeros((), device=x.device)
    return cfg.adv_alpha * clean + (1 - cfg.adv_alpha) * F.cross_entropy(model(x_adv), y)


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
    distributed: bool | None = None,
    **settings: Any,
) -> TrainResult:
    """Train ``model`` (an ``nn.Module`` or an architecture name) on ``train_data``.

    ``settings`` override fields of :class:`TrainConfig` (``epochs=5, adv="fgsm", adv_eps=0.1``).
    With ``out``, a checkpoint is written after each epoch and the final model is saved there
    (``config.json`` + ``weights.safetensors``); ``resume=True`` continues from the last checkpoint,
    ``overwrite=True`` trains afresh over a run already there (otherwise that is refused: nothing is
    replaced unasked).
    Returns the trained model (eval mode), the per-epoch history and the clean test accuracy.
    ``progress`` shows a progress bar per epoch when stderr is a terminal (none in logs).

    Under torchrun (``distributed=None`` notices it, ``True`` insists, ``False`` trains alone) every
    rank calls ``train`` alike: the model is wrapped in DistributedDataParallel (gradients averaged),
    each rank draws its share of every epoch from a distributed sampler, ``batch_size`` is per rank
    (the effective batch size, ``batch_size x ranks``, is logged and saved), only rank 0 writes, and
    ``out`` must be one folder every rank shares (each reads the checkpoint on ``resume``).
    """
    try:
        cfg = TrainConfig(**{**(config.to_dict() if config else {}), **settings})
    except TypeError as exc:
        raise InputError(f"unknown training setting: {exc}; see feint.training.TrainConfig") from exc
    check_training_data(train_data, test_data)
    dev = fd.device_for_rank(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if fd.join(distributed, dev):
        check_training_job(cfg.to_dict(), model, arch_kwargs, train_data, Path(out) if out else None)
    folder = run_folder(out, resume=resume, overwrite=overwrite)
    torch.manual_seed(cfg.seed)
    identity = run_identity(cfg, model, arch_kwargs, train_data, test_data) if folder is not None else {}
    saved = None
    if folder is not None and resume:
        saved = read_checkpoint(folder)
        if saved is not None:
            check_same_run(folder, saved.get("config", {}), identity)
    arch = model if isinstance(model, str) else None
    if isinstance(model, str):
        info = train_data.info
        model = create_model(model, input_shape=info.input_shape, num_classes=info.num_classes, **(arch_kwargs or {}))
    model = model.to(dev)
    optimizer = _optimizer(model, cfg)
    history: list[dict[str, float]] = []
    start = 0
    if folder is not None and saved is not None:
        check_same_world(saved, folder)
        load_checkpoint(folder, saved, model=model, optimizer=optimizer, device=dev)
        start, history = int(saved["epoch"]), list(saved["history"])
    x, y = train_data.x.to(dev), train_data.y.to(dev)
    net = fd.for_training(model, dev)
    scale = {"world_size": fd.world_size(), "effective_batch_size": cfg.batch_size * fd.world_size()}
    progress = progress and fd.is_root()
    if fd.active() and progress:
        print(f"training on {fd.world_size()} ranks: {scale['effective_batch_size']} inputs per step", file=sys.stderr)
    for epoch in range(start, cfg.epochs):
        torch.manual_seed(cfg.seed * 1000 + epoch + RANK_SEED * fd.rank())
        order = fd.epoch_order(len(train_data), seed=cfg.seed * 1000, epoch=epoch).to(dev)
        net.train()
        total = torch.zeros((), dtype=torch.float64, device=dev)
        batches = range(0, len(order), cfg.batch_size)
        shown = bar(progress, iterable=batches, desc=f"epoch {epoch + 1}/{cfg.epochs}")
        for b, i in enumerate(shown):
            idx = order[i : i + cfg.batch_size]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            seed = (cfg.seed * 1000 + epoch) * 100_003 + b + RANK_SEED * fd.rank()
            with fd.group_work(f"training (epoch {epoch + 1}, batch {b + 1})"):
                loss = _batch_loss(net, xb, yb, cfg, seed, train_data.info.bounds)
                if not bool(torch.isfinite(loss)):
                    raise InputError(
                        f"training diverged in epoch {epoch + 1} (the loss is {float(loss.detach())}); lower the "
                        f"learning rate (now {cfg.lr}); the last finished epoch's checkpoint is kept"
                    )
                loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
            if b % 10 == 0 and not shown.disable:  # reading the loss waits for the device: only for a bar
                shown.set_postfix(loss=f"{float(total) / (i + len(idx)):.3f}")
        sums = fd.all_reduce_sum(torch.stack([total, torch.tensor(float(len(order)), device=dev)]), "summing the loss")
        record = {"epoch": epoch + 1, "loss": float(sums[0]) / float(sums[1])}
        fd.match_root(model, buffers_only=True)
        if test_data is not None:
            record["test_accuracy"] = accuracy(model, test_data, dev)
        history.append(record)
        tested = f", test accuracy {record['test_accuracy']:.4f}" if "test_accuracy" in record else ""
        milestone(progress, f"epoch {epoch + 1}/{cfg.epochs}: loss {record['loss']:.4f}{tested}")
        if folder is not None and fd.is_root():
            save_checkpoint(
                folder,
                epoch=epoch + 1,
                model=model,
                optimizer=optimizer,
                state={"config": identity, "history": history, **scale},
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
            data=train_data.info.to_dict(),
            training=training,
        )
        write_json(folder / "history.json", history)
    return TrainResult(model, history, test_acc, folder)
