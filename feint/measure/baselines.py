"""The random-noise baseline of an audit: a perturbation of the same norm and size, no model access.

Carlini et al. 2019, "On Evaluating Adversarial Robustness", sec. 5: an attack must beat random
noise of the same size, or it is not working. Linf: uniform random signs, ``delta = +-eps`` per
feature; L2: a uniformly random direction of length ``eps``. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from feint.attacks.oracle_run import oracle_run
from feint.attacks.result import AttackResult
from feint.errors import InputError
from feint.oracles import LabelOracle, Oracle
from feint.threat import ThreatModel, flat_norm, make_generator


def _noise_threat(norm: str, eps: float, bounds: tuple[float, float]) -> ThreatModel:
    threat = ThreatModel(norm, eps, bounds)
    if threat.norm not in ("inf", "2"):
        raise InputError(f"the noise baseline supports the 'inf' and '2' norms, not {norm!r}")
    return threat


def random_perturbation(
    x: Tensor, *, eps: float, norm: str = "inf", bounds: tuple[float, float] = (0.0, 1.0), seed: int | None = 0
) -> Tensor:
    """``x`` plus random sign noise (Linf) or a random L2 direction of length ``eps`` (capped at the
    box's diameter), clipped to ``bounds``."""
    threat = _noise_threat(norm, eps, bounds).fitted(x[0].numel())
    gen = make_generator(seed, x.device)
    if threat.norm == "inf":
        delta = torch.randint(0, 2, x.shape, generator=gen, device=x.device).to(x.dtype) * 2 - 1
    else:
        delta = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        delta = delta / flat_norm(delta, "2").clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))
    return threat.clip(x + threat.eps * delta)


def random_noise(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    norm: str = "inf",
    bounds: tuple[float, float] = (0.0, 1.0),
    seed: int | None = 0,
) -> AttackResult:
    """Random sign noise (Linf) or a random L2 direction of length ``eps``, checked like an attack."""
    threat = _noise_threat(norm, eps, bounds)
    access = "labels" if isinstance(model, LabelOracle) else "scores"
    with oracle_run(model, x, y, threat, access=access) as run:
        return run.finish(random_perturbation(run.x, eps=eps, norm=norm, bounds=bounds, seed=seed))
