"""Ensemble adversarial training.

Tramèr, Kurakin, Papernot, Goodfellow, Boneh & McDaniel 2018, "Ensemble Adversarial Training:
Attacks and Defenses": adversarial examples crafted on the model being trained are a poor sample
of the examples an attacker transfers from other models, so each batch takes its adversarial
half from the current model *or* from one of several static pre-trained models (the sources),
chosen at random per batch. The examples are FGSM at the full eps (the paper's MNIST experiments,
as in the authors' reference code: the setting of feint's image datasets and the default), or, as
in its ImageNet experiments, RAND+FGSM (a random sign step of eps/2, then FGSM with the other
eps/2) or Step-LL (one step down the least-likely class's loss).
The first half of each batch stays clean, the second half is replaced by its adversarial
version (Kurakin et al. 2017's batch), and the loss is the mean cross-entropy over the batch.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from feint.defenses.base import AdversarialRecipe, Recipe, Step, register_recipe
from feint.defenses.context import TrainContext
from feint.defenses.perturb import fgsm_points, rand_fgsm_points, step_ll_points
from feint.defenses.sources import load_sources
from feint.errors import InputError
from feint.validation import check_choice

METHODS = ("fgsm", "rand-fgsm", "step-ll")
MIN_SOURCES, MAX_SOURCES = 2, 5
CURRENT = "current model"


@register_recipe("ensemble-at")
@dataclass(frozen=True, kw_only=True)
class EnsembleAT(AdversarialRecipe):
    """Adversarial half of each batch from the current model or a random static source (``sources``: run dirs)."""

    sources: tuple[str, ...] = ()
    method: str = "fgsm"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.method, METHODS, "ensemble-at method")
        if isinstance(self.sources, str) or not all(isinstance(s, (str, Path)) for s in self.sources):
            raise InputError(f"sources must be a list of run directories, got {self.sources!r}")
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        if not MIN_SOURCES <= len(self.sources) <= MAX_SOURCES:
            raise InputError(
                f"ensemble-at needs {MIN_SOURCES} to {MAX_SOURCES} static source models (--sources runs/a,runs/b), "
                f"got {len(self.sources)}; train them with `feint train --out DIR` on the same data"
            )
        missing = [s for s in self.sources if not (Path(s) / "config.json").is_file()]
        if missing:
            raise InputError(
                f"--sources {', '.join(missing)}: no feint run directory there (no config.json); "
                "train each source with `feint train --out DIR` first"
            )

    def prepare(self, context: TrainContext) -> Recipe:
        bound = super().prepare(context)
        assert isinstance(bound, EnsembleAT)
        models = load_sources(self.sources, context.train_data.info, context.device)
        return _EnsembleRun(bound, models)


class _EnsembleRun(Recipe):
    """Ensemble adversarial training with its static source models loaded; counts the draws per source."""

    def __init__(self, settings: EnsembleAT, sources: list[nn.Module]) -> None:
        self.settings = settings
        self.sources = sources
        self.names = [CURRENT, *settings.sources]
        self.draws: Counter[str] = Counter()

    def options(self) -> dict[str, Any]:
        return self.settings.options()

    @property
    def threat(self) -> Any:
        return self.settings.threat

    def choose(self, step: Step) -> int:
        """Index into ``[current model, *sources]``, uniform and fixed by the batch's seed."""
        gen = torch.Generator().manual_seed(step.seed)
        return int(torch.randint(len(self.names), (1,), generator=gen))

    def batch_loss(self, model: nn.Module, x: Tensor, y: Tensor, step: Step) -> Tensor:
        half = x.shape[0] // 2
        pick = self.choose(step)
        self.draws[self.names[pick]] += 1
        source = model if pick == 0 else self.sources[pick - 1]
        xs, ys, threat = x[half:], y[half:], self.settings.threat
        if self.settings.method == "fgsm":
            x_adv = fgsm_points(source, xs, ys, threat)
        elif self.settings.method == "step-ll":
            x_adv = step_ll_points(source, xs, threat)
        else:
            x_adv = rand_fgsm_points(source, xs, ys, threat, generator=step.generator(x.device))
        return F.cross_entropy(model(torch.cat([x[:half], x_adv])), y)

    def statistics(self) -> dict[str, Any]:
        """Batches whose adversarial half came from each source since the last call (then reset)."""
        counts = {name: self.draws[name] for name in self.names}
        self.draws.clear()
        return {"source_draws": counts}
