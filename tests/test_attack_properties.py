"""Property-based invariants of every registered attack (hypothesis).

For random tiny models (linear, conv, conv + BatchNorm + Dropout, all-zero weights, saturated
logits; in eval or train mode), random inputs (some exactly on the bounds, some within the check's
tolerance outside them), unusual bounds and extreme budgets (0, below float resolution, past the
bounds' range, 1e12, inf), each attack's result must be: finite; inside the bounds; inside the
eps-ball around ``result.x`` (the inputs clipped onto the bounds) exactly, as torch computes it in
the inputs' dtype (JSMA: at most its L0 budget of changed features); its ``success`` equal to a
re-run of the model on ``x_adv``; and the attack must leave the inputs, the labels, the targets,
the model's weights, buffers, gradients and train/eval mode of every submodule as they were.

Examples per attack come from the hypothesis profile: ``ci`` (the default, derandomised, about
3,500 in all) or ``nightly`` (``pytest --hypothesis-profile nightly``, ten times as many, random).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn

from feint.attacks import ATTACKS, run_attack
from feint.threat import flat_norm

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BOUNDS = [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0), (-3.0, -2.0), (100.0, 100.5), (-1e-3, 1e-3)]
KINDS = ("linear", "conv", "bn-dropout", "zero", "saturated")


class Tiny(nn.Module):
    """A small classifier that maps its bounds to [0, 1] inside (normalisation belongs in the model)."""

    def __init__(
        self, kind: str, channels: int, size: int, classes: int, bounds: tuple[float, float], seed: int
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.lo, self.width = bounds[0], bounds[1] - bounds[0]
        self.scale = 1e4 if kind == "saturated" else 1.0
        features = channels * size * size
        if kind in ("linear", "zero", "saturated"):
            self.body: nn.Module = nn.Sequential(nn.Flatten(), nn.Linear(features, classes))
        else:
            layers: list[nn.Module] = [nn.Conv2d(channels, 3, 3, padding=1)]
            if kind == "bn-dropout":
                layers += [nn.BatchNorm2d(3), nn.Dropout(0.3)]
            self.body = nn.Sequential(*layers, nn.ReLU(), nn.Flatten(), nn.Linear(3 * size * size, classes))
        if kind == "zero":
            for p in self.parameters():
                nn.init.zeros_(p)

    def forward(self, x: Tensor) -> Tensor:
        return self.body((x - self.lo) / self.width) * self.scale


def _budget(draw: st.DrawFn, width: float, norm: str, dim: int) -> float:
    reach = width * (math.sqrt(dim) if norm == "2" else 1.0)
    special = [0.0, 1e-12, 1e-6 * reach, reach, 2 * reach, 1e3 * reach, 1e12, math.inf]
    return draw(st.one_of(st.sampled_from(special), st.floats(0.0, reach)))


def _params(draw: st.DrawFn, name: str, width: float, dim: int, classes: int) -> dict[str, Any]:
    """Options for attack ``name``: its norm, budget and small iteration counts (tiny models, fast examples)."""
    spec = ATTACKS[name]
    params: dict[str, Any] = {}
    accepted = spec.parameters()
    if "norm" in accepted:
        params["norm"] = draw(st.sampled_from(spec.norms))
    norm = params.get("norm", spec.norms[0])
    if "eps" in accepted:
        params["eps"] = _budget(draw, width, norm, dim)
    small = st.integers(1, 3)
    for key in ("steps", "restarts", "max_iter", "binary_steps", "n_target_classes"):
        if key in accepted:
            params[key] = draw(small)
    if name in ("bim", "ll_class"):
        params["steps"] = draw(st.one_of(st.none(), small))  # None: the schedule derived from eps (capped)
    if "n_queries" in accepted:
        params["n_queries"] = draw(st.integers(2, 12))  # a start and the final check
    if name == "hopskipjump":  # from the least it takes (a query and the final check) to a few iterations
        params["max_queries"] = draw(st.integers(2, 300))
    if "early_stop" in accepted:
        params["early_stop"] = draw(st.booleans())
    if "seed" in accepted:
        params["seed"] = draw(st.integers(0, 3))
    if name == "mifgsm":
        params["decay"] = draw(st.floats(0.0, 2.0))
    if name in ("apgd", "apgd-ce") and classes >= 4:
        params["loss"] = draw(st.sampled_from(["ce", "dlr"]))
    if name == "jsma":
        params["gamma"] = draw(st.floats(0.25, 1.0))
        params["theta"] = draw(st.sampled_from([1.0, -1.0, 0.5]))
    if name == "deepfool":
        params["overshoot"] = draw(st.floats(0.0, 0.1))
    if name == "cw":
        params["confidence"] = draw(st.sampled_from([0.0, 0.5]))
    if name == "rand_fgsm" and "eps" in params and draw(st.booleans()):
        params["alpha"] = min(params["eps"], width) * draw(st.floats(0.0, 1.0))
    return params


@st.composite
def cases(draw: st.DrawFn, name: str) -> dict[str, Any]:
    bounds = draw(st.sampled_from(BOUNDS))
    lo, hi = bounds
    width = hi - lo
    classes = draw(st.integers(4 if name in ("apgd-t",) else 2, 5))
    channels, size = draw(st.sampled_from([(1, 4), (3, 4), (1, 8)] if name != "jsma" else [(1, 4), (2, 4)]))
    n = draw(st.integers(1, 4))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    x = lo + width * torch.rand(n, channels, size, size, generator=gen)
    on_edge = torch.rand(x.shape, generator=gen) < draw(st.sampled_from([0.0, 0.3]))
    x = torch.where(on_edge & (torch.rand(x.shape, generator=gen) < 0.5), torch.full_like(x, lo), x)
    x = torch.where(on_edge & (x != lo), torch.full_like(x, hi), x)
    if draw(st.booleans()):  # within the input check's tolerance outside the bounds
        tol = 0.5e-5 * max(1.0, width)
        x = torch.where(x == lo, x - tol, torch.where(x == hi, x + tol, x))
    y = torch.randint(0, classes, (n,), generator=gen)
    model = Tiny(draw(st.sampled_from(KINDS)), channels, size, classes, bounds, draw(st.integers(0, 99)))
    model.train(draw(st.booleans()))
    params = _params(draw, name, width, x[0].numel(), classes)
    params["bounds"] = bounds
    if ATTACKS[name].targeted and draw(st.booleans()):
        params["targeted"] = True
        params["target"] = (y + torch.randint(1, classes, (n,), generator=gen)) % classes
    return {"model": model, "x": x, "y": y, "params": params}


def _state(model: nn.Module) -> tuple[list[bool], dict[str, Tensor], list[Tensor | None]]:
    return (
        [m.training for m in model.modules()],
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        [p.grad for p in model.parameters()],
    )


def check_invariants(name: str, case: dict[str, Any]) -> None:
    model, x, y, params = case["model"], case["x"], case["y"], case["params"]
    given_inputs = (x.clone(), y.clone(), None if "target" not in params else params["target"].clone())
    before = _state(model)

    result = run_attack(name, model, x, y, **params)

    assert torch.equal(x, given_inputs[0]) and torch.equal(y, given_inputs[1]), "the attack changed its inputs"
    if given_inputs[2] is not None:
        assert torch.equal(params["target"], given_inputs[2]), "the attack changed the targets"
    after = _state(model)
    assert after[0] == before[0], "the model's train/eval mode was not restored"
    assert all(torch.equal(after[1][k], v) for k, v in before[1].items()), "weights or buffers changed"
    assert all(g is None for g in after[2]), "the attack left gradients on the model's parameters"

    lo, hi = params["bounds"]
    x_adv, x_in = result.x_adv, result.x
    assert torch.equal(x_in, x.clamp(lo, hi)), "result.x must be the inputs clipped onto the bounds"
    assert bool(torch.isfinite(x_adv).all()), "x_adv is not finite"
    assert bool((x_adv >= lo).all() and (x_adv <= hi).all()), "x_adv leaves the bounds"
    spec = ATTACKS[name]
    if "eps" in params:
        eps, norm = params["eps"], params.get("norm", spec.norms[0])
        size = flat_norm(x_adv - x_in, norm)
        assert bool((size <= eps).all()), f"outside the eps-ball: {size.max().item()} > {eps}"
        assert bool((result.distance <= eps).all())
    if name == "jsma":
        budget = int(params["gamma"] * x[0].numel())
        assert bool(((x_adv != x_in).flatten(1).sum(1) <= budget).all()), "JSMA changed more features than gamma allows"

    was = model.training
    model.eval()
    with torch.no_grad():
        pred = model(x_adv).argmax(1)
    model.train(was)
    target = params.get("target") if params.get("targeted") else None
    rerun = pred == target if target is not None else pred != y
    if name == "ll_class":
        rerun = pred == result.target
    assert torch.equal(result.success, rerun), "success differs from a re-run of the model on x_adv"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_invariants(name: str) -> None:
    @given(case=cases(name))
    def invariants(case: dict[str, Any]) -> None:
        check_invariants(name, case)

    invariants()
