"""Adversarial examples in the physical world, simulated (Kurakin, Goodfellow & Bengio 2016).

For each attack (FGSM, BIM, the iterative least-likely class method, ...) and eps, the
adversarial inputs are put through each step of a print-and-photo simulation on its own and
through the whole chain, ``draws`` times with seeded random parameters, and the destruction rate
(:mod:`feint.capabilities.physical.destruction`) is measured at top-1 and, with ten or more classes, top-5.
Every attack meets the same transformed draws. With ``eot`` the Expectation over Transformation
attack (Athalye et al. 2018) and plain PGD with the same steps are added, so that what EOT buys
shows beside them. Shapes: x (N, C, H, W), y (N,).

The inputs are attacked and transformed in batches of ``batch_size``, each with its own seeds
(:func:`feint.distributed.batch_seed`); under torchrun batch ``c`` runs on rank ``c % K`` and the
per-input verdicts are gathered, so K ranks measure exactly what one process measures.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.registry import get_attack, run_attack
from feint.attacks.result import predict_logits
from feint.capabilities.physical.destruction import correct_top, destruction, topk_levels
from feint.errors import InputError
from feint.memory import check_allocation
from feint.progress import bar, milestone
from feint.threat import make_generator
from feint.transforms import Compose, Transform, print_and_photo
from feint.validation import Bounds, check_images, check_labels, check_positive_int, model_logits

PIPELINE = "pipeline"
KURAKIN_ATTACKS = ("fgsm", "bim", "ll_class")
MAX_DRAWS = 10_000
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
    batch_size: int = 128

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
        if any(not 0 < e < math.inf for e in self.eps):
            raise InputError(f"every eps must be above 0 and finite (--eps), got {list(self.eps)}")
        check_positive_int(self.draws, "draws")
        if self.draws > MAX_DRAWS:
            raise InputError(
                f"draws (--draws) must be at most {MAX_DRAWS:,} (more draws do not change a rate measured to "
                f"0.01 and each one is another pass over every input), got {self.draws:,}"
            )
        check_positive_int(self.eot_samples, "eot_samples")
        check_positive_int(self.eot_steps, "eot_steps")
        check_positive_int(self.batch_size, "batch_size (--batch-size)")

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


def _draw_seed(settings: PhysicalSettings, transform: int, draw: int, batch: int) -> int:
    return fd.batch_seed(settings.seed * 100_003 + transform * 101 + draw, batch)


def _verdicts(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    transforms: list[tuple[str, Transform]],
    settings: PhysicalSettings,
    bounds: Bounds,
    topk: tuple[int, ...],
    batch: int,
) -> Tensor:
    """(N, T, K, D) bool: top-k verdicts of the model on each transform's seeded draws of batch
    ``batch`` (the same draws for the clean and every attack's inputs)."""
    per_transform = []
    for i, (_, transform) in enumerate(transforms):
        logits = []
        for d in range(settings.draws):
            gen = make_generator(_draw_seed(settings, i, d, batch), x.device)
            logits.append(predict_logits(model, transform(x, generator=gen, bounds=bounds)))
        stacked = torch.stack(logits)  # (D, N, classes)
        per_transform.append(torch.stack([correct_top(stacked, y, k) for k in topk]))  # (K, D, N)
    return torch.stack(per_transform).permute(3, 0, 1, 2)


def _top(logits: Tensor, y: Tensor, topk: tuple[int, ...]) -> Tensor:
    """(N, K) bool: ``y`` among the top-k logits, for each k."""
    return torch.stack([correct_top(logits, y, k) for k in topk], dim=1)


def _rates(verdicts: Tensor, topk: tuple[int, ...]) -> dict[str, float]:
    """(N, K, ...) verdicts -> the rate per top-k over inputs (and draws)."""
    return {f"top{k}": float(verdicts[:, i].float().mean()) for i, k in enumerate(topk)}


def _check_memory(settings: PhysicalSettings, x: Tensor, num_classes: int, n_transforms: int) -> None:
    """The largest tensors the settings size, estimated before any is made: a batch repeated for
    every EOT sample (inputs, activations and gradients: about 4 copies), the logits of every draw
    of a batch, and the per-input verdicts of every transformation and draw (bool)."""
    rows, pixels = min(settings.batch_size, int(x.shape[0])), math.prod(int(s) for s in x.shape[1:])
    if settings.eot:
        check_allocation(
            4 * rows * settings.eot_samples * pixels,
            what=f"EOT-PGD on batches of {rows} inputs x {settings.eot_samples:,} samples (--eot-samples)",
            fix="lower --eot-samples or --batch-size",
        )
    check_allocation(
        settings.draws * rows * num_classes + settings.draws * int(x.shape[0]) * n_transforms * 2 / 4,
        what=f"{settings.draws:,} random transformations per input (--draws) of {int(x.shape[0]):,} inputs",
        fix="lower --draws or --n-inputs",
    )


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
    :func:`~feint.transforms.print_and_photo`) and under the whole chain.

    Under torchrun (noticed; every rank calls it alike) the batches are shared among the ranks and
    every rank returns the same figures; ``adversarial`` is filled on rank 0 only."""
    t0 = time.perf_counter()
    settings = settings or PhysicalSettings()
    pipeline = pipeline or print_and_photo()
    fd.join(None, x.device)
    progress = progress and fd.is_root()
    with fd.together("checking the inputs"):
        pipeline.check_size(int(x.shape[-2]), int(x.shape[-1]))
        check_images(x, bounds=bounds)
        num_classes = int(model_logits(model, x[:1]).shape[1])
        check_labels(y, n=x.shape[0], num_classes=num_classes)
        _check_memory(settings, x, num_classes, len(pipeline.transforms) + 1)
    fd.check_job(
        [asdict(settings), pipeline.describe(), list(bounds)], [x, y], model, n_inputs=x.shape[0], what="inputs"
    )
    topk = topk_levels(num_classes)
    transforms = [(t.name, t) for t in pipeline.transforms] + [(PIPELINE, pipeline)]
    names = [n for n, _ in transforms]

    def clean_work(rows: slice, c: int) -> dict[str, Tensor]:
        xb, yb = x[rows], y[rows]
        top = _top(predict_logits(model, xb), yb, topk)
        return {"ok": top, "under": _verdicts(model, xb, yb, transforms, settings, bounds, topk, c)}

    clean_parts = fd.map_rows(x.shape[0], settings.batch_size, clean_work, device=x.device, what="physical: clean")
    clean_ok = clean_parts["ok"]
    clean = {
        "accuracy": {str(k): float(clean_ok[:, i].float().mean()) for i, k in enumerate(topk)},
        "under": [{"transform": n, **_rates(clean_parts["under"][:, t], topk)} for t, n in enumerate(names)],
    }
    attacks, rows, adversarial = [], [], {}
    units = [(a, e) for a in settings.all_attacks for e in settings.eps]
    with bar(progress, total=len(units), desc="physical") as shown:
        for j, (name, eps) in enumerate(units):

            def attack_work(part: slice, c: int, name: str = name, eps: float = eps, j: int = j) -> dict[str, Tensor]:
                xb, yb = x[part], y[part]
                options = _options(name, settings, pipeline, bounds, fd.batch_seed(settings.seed + j, c))
                x_adv = run_attack(name, model, xb, yb, eps=eps, **options).x_adv
                top = _top(predict_logits(model, x_adv), yb, topk)
                verdicts = _verdicts(model, x_adv, yb, transforms, settings, bounds, topk, c)
                return {"x_adv": x_adv, "ok": top, "under": verdicts}

            parts = fd.map_rows(
                x.shape[0], settings.batch_size, attack_work, device=x.device, keep_on_root={"x_adv"},
                what=f"physical: {name} eps {eps:g}",
            )  # fmt: skip
            if "x_adv" in parts:
                adversarial[f"{name}@{eps:g}"] = parts["x_adv"]
            adv_ok = parts["ok"]
            attacks.append({"attack": name, "eps": eps, **_rates(adv_ok, topk)})
            for t, t_name in enumerate(names):
                for i, k in enumerate(topk):
                    d = destruction(clean_ok[:, i], adv_ok[:, i], parts["under"][:, t, i].T)
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
