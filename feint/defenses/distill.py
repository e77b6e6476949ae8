"""Defensive distillation.

Papernot, McDaniel, Wu, Jha & Swami 2016, "Distillation as a Defense to Adversarial
Perturbations against Deep Neural Networks": a teacher is trained with its softmax at temperature
T (``softmax(z / T)``), then a student of the same architecture is trained on the teacher's soft
labels at the same temperature, and the student is deployed at T = 1. Its logits come out about T
times larger than usual, so its softmax saturates and the cross-entropy gradient vanishes in
float32 — which defeats FGSM and the softmax form of JSMA, not robustness: Carlini & Wagner 2016
("Defensive Distillation is Not Robust to Adversarial Examples") break it with attacks on the
logits, and the audit's scale-invariant attacks do too.

The teacher is itself a training run (recipe ``distill-teacher``), kept in ``OUT/teacher`` and
resumable like any run. Shapes: x (N, C, H, W), y (N,).

Both losses are multiplied by T. Dividing the logits by T divides the gradient by T, and the
network must learn logits T times larger to fit at all; Hinton, Vinyals & Dean 2015 ("Distilling
the Knowledge in a Neural Network") scale their soft loss by T² so that its gradients keep their
size as T changes. Here the factor that gives back the plain cross-entropy's gradient with respect
to the logits, ``p - y``, is T: with it SGD trains at T = 100 as at T = 1 (digits, convnet, 20
epochs at lr 0.01: teacher 97%, student 97%; without it both stay at chance). Adam is nearly
scale-free, but at T = 100 it needs more steps than plain training: with feint's plain defaults
(10 epochs, lr 0.001) the teacher reached 76% and the student 67%, against 92% for plain
training, hence this recipe's own defaults (20 epochs, lr 0.01: 96% and 95%). Where the student
still ends far below its teacher, :func:`student_gap` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import Recipe, Step, register_recipe
from feint.defenses.context import TrainContext
from feint.errors import InputError
from feint.progress import milestone

TEACHER_DIR = "teacher"
STUDENT_GAP = 0.05  # a student this far below its teacher's test accuracy did not learn what it was taught


def student_gap(out: str | Path, student_accuracy: float | None) -> str | None:
    """A warning when the distilled model in ``out`` ends more than :data:`STUDENT_GAP` below its
    teacher's test accuracy (recorded in ``out/teacher``); None when it does not, or nothing says."""
    import json

    try:
        teacher = json.loads((Path(out) / TEACHER_DIR / "config.json").read_text(encoding="utf-8"))
        teacher_accuracy = float(teacher["training"]["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if student_accuracy is None or student_accuracy >= teacher_accuracy - STUDENT_GAP:
        return None
    return (
        f"the distilled model's test accuracy ({student_accuracy:.4f}) is far below its teacher's "
        f"({teacher_accuracy:.4f}); train longer (--epochs) or with a larger --lr"
    )


def _check_temperature(t: float) -> None:
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not t > 0 or math.isinf(t):
        raise InputError(f"temperature must be a finite number > 0 (the paper uses up to 100), got {t!r}")


@register_recipe("distill-teacher")
@dataclass(frozen=True, kw_only=True)
class TemperatureSoftmax(Recipe):
    """Cross-entropy of ``softmax(z / temperature)``: the teacher's training in defensive distillation."""

    temperature: float = 100.0
    public = False

    def __post_init__(self) -> None:
        _check_temperature(self.temperature)

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        return self.temperature * F.cross_entropy(model(x) / self.temperature, y)  # x T: see the module doc


@register_recipe("distill")
@dataclass(frozen=True, kw_only=True)
class Distill(Recipe):
    """Train a teacher at ``temperature``, then this model on its soft labels at ``temperature``; deployed at T = 1."""

    temperature: float = 100.0
    teacher_epochs: int | None = None
    train_defaults: ClassVar[dict[str, Any]] = {"epochs": 20, "lr": 1e-2}  # see the module docstring

    def __post_init__(self) -> None:
        _check_temperature(self.temperature)
        if self.teacher_epochs is not None and (
            not isinstance(self.teacher_epochs, int) or isinstance(self.teacher_epochs, bool) or self.teacher_epochs < 1
        ):
            raise InputError(f"teacher_epochs must be an integer >= 1, got {self.teacher_epochs!r}")

    def prepare(self, context: TrainContext) -> Recipe:
        return _Student(self, train_teacher(self, context))


def train_teacher(settings: Distill, context: TrainContext) -> nn.Module:
    """Train (or resume, or reuse when finished) the teacher at the recipe's temperature."""
    from feint.models.io import load_model

    folder = context.out / TEACHER_DIR if context.out is not None else None
    if folder is not None and context.resume and (folder / "config.json").is_file():
        return load_model(folder, device=str(context.device))
    s = context.settings
    epochs = settings.teacher_epochs or int(s["epochs"])
    where = f" -> {folder}" if folder is not None else ""
    milestone(context.progress, f"distill: training the teacher at T={settings.temperature:g} ({epochs} epochs){where}")
    result = context.train(
        context.arch if context.arch is not None else context.fresh_model(),
        context.train_data,
        context.test_data,
        recipe=TemperatureSoftmax(temperature=settings.temperature),
        epochs=epochs,
        **{k: s[k] for k in ("batch_size", "lr", "optimizer", "weight_decay", "seed")},
        robust_eps=0.0,
        out=folder,
        resume=context.resume,
        overwrite=context.overwrite,
        device=context.device,
        progress=context.progress,
        arch_kwargs=context.arch_kwargs,
    )
    return result.model


class _Student(Recipe):
    """The student's loss with the teacher loaded: cross-entropy against the teacher's softmax at T."""

    def __init__(self, settings: Distill, teacher: nn.Module) -> None:
        self.settings = settings
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def options(self) -> dict[str, Any]:
        return self.settings.options()

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        t = self.settings.temperature
        with torch.no_grad():
            soft = F.softmax(self.teacher(x) / t, 1)
        return -t * (soft * F.log_softmax(model(x) / t, 1)).sum(1).mean()  # x T: see the module doc
