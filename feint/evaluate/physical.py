"""Adversarial examples in the physical world, simulated (Kurakin, Goodfellow & Bengio 2016).

For each attack (FGSM, BIM, the iterative least-likely class method, ...) and eps, the
adversarial inputs are put through each step of a print-and-photo simulation on its own and
through the whole chain, ``draws`` times with seeded random parameters, and the destruction rate
(:mod:`feint.evaluate.destruction`) is measured at top-1 and, with ten or more classes, top-5.
Every attack meets the same transformed draws. With ``eot`` the Expectation over Transformation
attack (Athalye et al. 2018) and plain PGD with the same steps are added, so that what EOT buys
shows beside them. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.registry import get_attack, run_attack
from feint.attacks.result import predict_logits
from feint.errors import InputError
from feint.evaluate.destruction import correct_top, destruction, topk_levels
from feint.progress import bar, milestone
from feint.threat import make_generator
from feint.transforms import Compose, Transform, print_and_photo
from feint.validation import Bounds, check_images, check_labels, check_positive_int, model_logits

PIPELINE = "pipeline"
KURAKIN_ATTACKS = ("fgsm", "bim", "ll_class")
EOT_ATTACKS = ("pgd", "eot_pgd")


@dataclass(frozen=True)
class PhysicalSettings:
    """What to run: ``attacks`` at every ``eps``; ``draws`` transformations per input; EOT options."""

    attacks: tuple[str, ...] = KURAKIN_ATTACKS
    eps: tuple[float, ...] = (0.05, 0.1)
    draws: int = 2
    seed: int = 0
    eot: bool = False
    eot_samples: int = 8
    eot_steps: int = 40

    def __post_init__(self) -> None:
        if not self.attacks or not self.eps:
            raise InputError("give at least one attack and one eps")
        for name in self.attacks:
            spec = get_attack(name)
            if spec.minimum_norm or "inf" not in spec.norms:
                raise InputError(
                    f"attack {name!r} does not take an Linf eps budget; the physical-world evaluation compares "
                    "attacks at the same Linf eps (e.g. fgsm, bim, ll_class, pgd)"
                )
        if any(not e > 0 for e in self.eps):
            raise InputError(f"every eps must be above 0, got {list(self.eps)}")
        check_positive_int(self.draws, "draws")
        check_positive_int(self.eot_samples, "eot_samples")
        check_positive_int(self.eot_steps, "eot_steps")

    @property
    def all_attacks(self) -> tuple[str, ...]:
        extra = tuple(a for a in EOT_ATTACKS if a not in self.attacks) if self.eot else ()
        return (*self.attacks, *extra)


@dataclass(frozen=True)
class PhysicalResult:
    """The measured figures (JSON-safe dicts) and the adversarial inputs per ``"attack@eps"``."""

    clean: dict[str, Any]
    attacks: list[dict[str, Any]]
    destruction: list[dict[str, Any]]
    adversarial: dict[str, Tensor] = field(repr=False)
    topk: tuple[int, ...]
    seconds: float


def _options(name: str, settings: PhysicalSettings, pipeline: Compose, bounds: Bounds, seed: int) -> dict[str, Any]:
    params = get_attack(name).parameters()
    options: dict[str, Any] = {"bounds": bounds}
    if "early_stop" in params:  # Kurakin et al. run every iteration; stopping at the boundary would flatter destruction
        options["early_stop"] = False
    if "seed" in params:
        options["seed"] = seed
    if name in EOT_ATTACKS and settings.eot:
        options["steps"] = settings.eot_steps
    if name == "eot_pgd":
        options.update(transform=pipeline, samples=settings.eot_samples)
    return options


class _Judge:
    """Top-k verdicts of the model on each transform's seeded draws of a batch."""

    def __init__(
        self,
        model: nn.Module,
        y: Tensor,
        transforms: list[tuple[str, Transform]],
        settings: PhysicalSettings,
        bounds: Bounds,
        topk: tuple[int, ...],
    ) -> None:
        self.model, self.y, self.transforms, self.settings, self.bounds, self.topk = (
            model,
            y,
            transforms,
            settings,
            bounds,
            topk,
        )

    def verdicts(self, x: Tensor) -> dict[str, dict[int, Tensor]]:
        """For each transform name: {k: (D, N) bool}, the same random draws for every batch."""
        out: dict[str, dict[int, Tensor]] = {}
        for i, (name, transform) in enumerate(self.transforms):
            logits = []
            for d in range(self.settings.draws):
                gen = make_generator(self.settings.seed * 100_003 + i * 101 + d, x.device)
                logits.append(predict_logits(self.model, transform(x, generator=gen, bounds=self.bounds)))
            stacked = torch.stack(logits)
            out[name] = {k: correct_top(stacked, self.y, k) for k in self.topk}
        return out


def physical_world(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    settings: PhysicalSettings | None = None,
    pipeline: Compose | None = None,
    bounds: Bounds = (0.0, 1.0),
    progress: bool = False,
) -> PhysicalResult:
    """Destruction rates of ``settings.attacks`` at each eps under each step of ``pipeline`` (default:
    :func:`~feint.transforms.print_and_photo`) and under the whole chain."""
    t0 = time.perf_counter()
    settings = settings or PhysicalSettings()
    pipeline = pipeline or print_and_photo()
    pipeline.check_size(int(x.shape[-2]), int(x.shape[-1]))
    check_images(x, bounds=bounds)
    check_labels(y, n=x.shape[0], num_classes=int(model_logits(model, x).shape[1]))
    clean_logits = predict_logits(model, x)
    topk = topk_levels(int(clean_logits.shape[1]))
    transforms = [(t.name, t) for t in pipeline.transforms] + [(PIPELINE, pipeline)]
    judge = _Judge(model, y, transforms, settings, bounds, topk)
    clean_ok = {k: correct_top(clean_logits, y, k) for k in topk}
    under = judge.verdicts(x)
    clean = {
        "accuracy": {str(k): float(clean_ok[k].float().mean()) for k in topk},
        "under": [{"transform": n, **{f"top{k}": float(v[k].float().mean()) for k in topk}} for n, v in under.items()],
    }
    attacks, rows, adversarial = [], [], {}
    units = [(a, e) for a in settings.all_attacks for e in settings.eps]
    with bar(progress, total=len(units), desc="physical") as shown:
        for j, (name, eps) in enumerate(units):
            options = _options(name, settings, pipeline, bounds, settings.seed + j)
            x_adv = run_attack(name, model, x, y, eps=eps, **options).x_adv
            adversarial[f"{name}@{eps:g}"] = x_adv
            adv_logits = predict_logits(model, x_adv)
            adv_ok = {k: correct_top(adv_logits, y, k) for k in topk}
            attacks.append({"attack": name, "eps": eps, **{f"top{k}": float(adv_ok[k].float().mean()) for k in topk}})
            for t_name, verdict in judge.verdicts(x_adv).items():
                for k in topk:
                    d = destruction(clean_ok[k], adv_ok[k], verdict[k])
                    rows.append(
                        {
                            "attack": name,
                            "eps": eps,
                            "transform": t_name,
                            "k": k,
                            "rate": d.rate,
                            "destroyed": d.destroyed,
                            "adversarial": d.adversarial,
                        }
                    )
            shown.update(1)
            whole = next(r["rate"] for r in rows[::-1] if r["transform"] == PIPELINE and r["k"] == 1)
            milestone(progress, f"physical: {name} eps {eps:g} done, pipeline destruction rate {whole}")
    return PhysicalResult(clean, attacks, rows, adversarial, topk, time.perf_counter() - t0)


def rate_of(rows: list[dict[str, Any]], attack: str, eps: float, transform: str = PIPELINE, k: int = 1) -> float | None:
    """The destruction rate in ``rows`` (``PhysicalResult.destruction`` or a report's) for one
    attack, eps, transformation and top-k; None when absent or nothing was adversarial."""
    for row in rows:
        if row["attack"] == attack and row["eps"] == eps and row["transform"] == transform and row["k"] == k:
            return row["rate"]
    return None
