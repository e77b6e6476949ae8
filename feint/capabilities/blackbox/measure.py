"""The substitute attack's measurement: per eps, attack the substitute white-box, send the result and
same-size random sign noise to the oracle (Carlini et al. 2019, "On Evaluating Adversarial
Robustness": an attack must beat noise).
Shapes: x (N, C, H, W), y and oracle_labels (N,).

The held-out inputs go in batches of ``batch_size``, each with its own seeds; under torchrun batch
``c`` runs on rank ``c % K`` (each rank asks its own oracle) and the per-input labels are gathered,
so K ranks measure exactly what one process measures. The queries are summed over the ranks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from feint import distributed as fd
from feint.attacks.registry import run_attack
from feint.data.dataset import DatasetInfo
from feint.measure.baselines import random_perturbation
from feint.oracles.base import Oracle
from feint.progress import bar, milestone


def _mean(mask: Tensor) -> float:
    return float(mask.float().mean())


def queries_everywhere(oracle: Oracle, since: int) -> int:
    """The queries ``oracle`` counted since ``since``, summed over the ranks."""
    mine = torch.tensor([oracle.queries - since], dtype=torch.int64)
    return int(fd.all_reduce_sum(mine, "counting the queries")[0])


def label_inputs(oracle: Oracle, x: Tensor, batch_size: int) -> Tensor:
    """The oracle's labels of ``x``, asked in batches shared among the ranks (every rank gets all)."""
    return fd.map_rows(
        x.shape[0],
        batch_size,
        lambda rows, _c: {"labels": oracle.labels(x[rows]).to(x.device)},
        device=x.device,
        what="labelling the held-out inputs",
    )["labels"]


def measure_transfer(
    oracle: Oracle,
    substitute: nn.Module,
    x: Tensor,
    y: Tensor,
    oracle_labels: Tensor,
    attack: str,
    params: dict[str, Any],
    grid: list[float],
    info: DatasetInfo,
    seed: int,
    batch_size: int,
    progress: bool,
) -> tuple[dict[str, list[float]], list[tuple[Tensor, Tensor]]]:
    """Per eps: attack the substitute, send the result and same-size random sign noise to the oracle.
    The adversarial inputs with the oracle's labels come back on rank 0 only (empty elsewhere)."""
    rows: dict[str, list[float]] = {"error_rate": [], "flip_rate": [], "substitute_success": [], "noise_error_rate": []}
    adv = []
    correct = oracle_labels == y
    with bar(progress, total=len(grid), desc="transfer") as shown:
        for e in grid:

            def work(part: slice, c: int, e: float = e) -> dict[str, Tensor]:
                batch = {**params, "seed": fd.batch_seed(params["seed"], c)} if "seed" in params else params
                result = run_attack(attack, substitute, x[part], y[part], eps=e, **batch)
                noisy = random_perturbation(
                    x[part], eps=e, norm=result.threat.norm, bounds=info.bounds, seed=fd.batch_seed(seed, c)
                )
                return {
                    "x_adv": result.x_adv,
                    "labels": oracle.labels(result.x_adv).to(x.device),
                    "noise_labels": oracle.labels(noisy).to(x.device),
                    "success": result.success,
                }

            got = fd.map_rows(
                x.shape[0], batch_size, work, device=x.device, keep_on_root={"x_adv"}, what=f"transfer at eps {e:g}"
            )
            labels = got["labels"]
            rows["error_rate"].append(_mean(labels != y))
            rows["flip_rate"].append(_mean((labels != y)[correct]) if bool(correct.any()) else float("nan"))
            rows["substitute_success"].append(_mean(got["success"]))
            rows["noise_error_rate"].append(_mean(got["noise_labels"] != y))
            if "x_adv" in got:
                adv.append((got["x_adv"], labels))
            milestone(
                progress,
                f"transfer at eps {e:g}: target error {rows['error_rate'][-1]:.4f}, noise {rows['noise_error_rate'][-1]:.4f}",
            )
            shown.update(1)
    return rows, adv
