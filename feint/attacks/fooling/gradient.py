"""Fooling images by gradient ascent on a class score (white-box).

Nguyen, Yosinski & Clune 2015 (section 3.4) also produce fooling images by following the gradient
of a class's score from a blank or random start, the class-model visualisation of Simonyan,
Vedaldi & Zisserman 2014 ("Deep Inside Convolutional Networks"): maximise ``log p(c | x)`` minus
an optional L2 penalty ``l2 * ||x - m||^2`` towards the middle ``m`` of the bounds (Simonyan et
al.'s regulariser, their zero image being the dataset mean). Optionally the image is blurred
every ``blur_every`` steps (Yosinski et al. 2015, "Understanding Neural Networks Through Deep
Visualization"), which favours smoother images. Each step moves along the L2-normalised gradient,
scaled so that a step changes a pixel by about ``step_size`` on average, and clips to the bounds.
All classes are optimised together in one batch. Shapes: x (K, C, H, W).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from feint.attacks.core import QueryCounter, eval_mode
from feint.attacks.fooling.evolution import check_population_fits, model_device
from feint.attacks.fooling.result import FoolingResult, finish
from feint.errors import InputError
from feint.oracles import as_oracle
from feint.progress import bar, milestone
from feint.threat import flat_norm, make_generator
from feint.transforms import Blur
from feint.validation import Bounds, check_choice, check_nonnegative, check_positive_int, model_logits

STARTS = ("noise", "blank")


def _start(kind: str, shape: tuple[int, ...], bounds: Bounds, seed: int, device: torch.device) -> Tensor:
    lo, hi = bounds
    if kind == "blank":
        return torch.full(shape, (lo + hi) / 2, device=device)
    gen = make_generator(seed, device)
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=device)


def fool_gradient(
    model: nn.Module,
    *,
    input_shape: Sequence[int] | None,
    steps: int = 200,
    step_size: float = 0.01,
    start: str = "noise",
    l2: float = 0.0,
    blur_sigma: float = 0.0,
    blur_every: int = 4,
    bounds: Bounds = (0.0, 1.0),
    seed: int = 0,
    progress: bool = False,
) -> FoolingResult:
    """One image per class by normalised gradient ascent on ``log p(class | x)`` from ``start``
    (``"noise"``: uniform in the bounds, ``"blank"``: mid-grey), for ``steps`` steps.

    Needs gradients, so ``model`` must be a torch module; ``input_shape`` is (C, H, W).
    """
    if not isinstance(model, nn.Module):
        raise InputError(
            f"gradient ascent needs a torch module with gradients, got {type(model).__name__}; "
            "for a model behind an API use the evolutionary methods (direct or cppn)"
        )
    check_positive_int(steps, "steps")
    check_nonnegative(step_size, "step_size")
    check_nonnegative(l2, "l2")
    check_choice(start, STARTS, "start")
    check_positive_int(blur_every, "blur_every")
    check_nonnegative(blur_sigma, "blur_sigma (--blur-sigma)")
    if input_shape is None or len(input_shape) != 3:
        raise InputError(f"gradient ascent needs input_shape=(C, H, W) of the model's inputs, got {input_shape!r}")
    shape = tuple(int(s) for s in input_shape)
    check_population_fits(1, shape, fix="gradient ascent makes one image per class")
    blur = Blur(blur_sigma) if blur_sigma > 0 else None
    if blur is not None:
        blur.check_size(shape[-2], shape[-1])
    device = model_device(model)
    t0 = time.perf_counter()
    with eval_mode(model):
        probe = model_logits(model, _start("blank", (1, *shape), bounds, seed, device))
        k = int(probe.shape[1])
        counted = QueryCounter(model)
        x = _start(start, (k, *shape), bounds, seed, device)
        target = torch.arange(k, device=device)
        middle = (bounds[0] + bounds[1]) / 2
        scale = step_size * x[0].numel() ** 0.5
        history = []
        with bar(progress, total=steps, desc="fool (gradient)") as shown:
            for step in range(steps):
                x = x.detach().requires_grad_(True)
                with torch.enable_grad():
                    log_p = counted(x).log_softmax(1)[target, target]
                    objective = log_p - l2 * (x - middle).flatten(1).pow(2).sum(1)
                    (grad,) = torch.autograd.grad(objective.sum(), x)
                history.append(log_p.detach().exp())
                norm = flat_norm(grad, "2").clamp_min(1e-12).view(-1, 1, 1, 1)
                x = (x.detach() + scale * grad / norm).clamp(*bounds)
                if blur is not None and (step + 1) % blur_every == 0:
                    x = blur(x, bounds=bounds)
                shown.update(1)
                if (step + 1) % max(1, steps // 10) == 0:
                    median = float(history[-1].median())
                    milestone(progress, f"fool (gradient): step {step + 1}, median confidence {median:.4f}")
            with torch.no_grad():
                history.append(counted(x).softmax(1)[target, target])
    oracle = as_oracle(model, access="scores", bounds=bounds)
    return finish(
        oracle,  # type: ignore[arg-type]
        x.detach(),
        history,
        queries_before=-counted.queries,
        seconds=time.perf_counter() - t0,
        method="gradient",
        stopped=None,
    )
