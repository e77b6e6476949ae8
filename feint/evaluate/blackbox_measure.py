"""The substitute attack's measurement: per eps, attack the substitute white-box, send the result and
same-size random sign noise to the oracle (Carlini et al. 2019, "On Evaluating Adversarial
Robustness": an attack must beat noise), and a terminal summary of the ``feint.blackbox/1`` report.
Shapes: x (N, C, H, W), y and oracle_labels (N,).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from feint.attacks.registry import run_attack
from feint.attacks.substitute import SubstituteState
from feint.data.dataset import DatasetInfo
from feint.evaluate.baselines import random_perturbation
from feint.oracles.base import Oracle
from feint.progress import bar, milestone


def _mean(mask: Tensor) -> float:
    return float(mask.float().mean())


def measure_transfer(
    oracle: Oracle,
    state: SubstituteState,
    x: Tensor,
    y: Tensor,
    oracle_labels: Tensor,
    attack: str,
    params: dict[str, Any],
    grid: list[float],
    info: DatasetInfo,
    seed: int,
    progress: bool,
) -> tuple[dict[str, list[float]], list[tuple[Tensor, Tensor]]]:
    """Per eps: attack the substitute, send the result and same-size random sign noise to the oracle."""
    rows: dict[str, list[float]] = {"error_rate": [], "flip_rate": [], "substitute_success": [], "noise_error_rate": []}
    adv = []
    correct = oracle_labels == y
    with bar(progress, total=len(grid), desc="transfer") as shown:
        for e in grid:
            result = run_attack(attack, state.model, x, y, eps=e, **params)
            labels = oracle.labels(result.x_adv).to(x.device)
            noisy = random_perturbation(x, eps=e, norm=result.threat.norm, bounds=info.bounds, seed=seed)
            noise_labels = oracle.labels(noisy).to(x.device)
            rows["error_rate"].append(_mean(labels != y))
            rows["flip_rate"].append(_mean((labels != y)[correct]) if bool(correct.any()) else float("nan"))
            rows["substitute_success"].append(result.success_rate)
            rows["noise_error_rate"].append(_mean(noise_labels != y))
            adv.append((result.x_adv, labels))
            milestone(
                progress,
                f"transfer at eps {e:g}: target error {rows['error_rate'][-1]:.4f}, noise {rows['noise_error_rate'][-1]:.4f}",
            )
            shown.update(1)
    return rows, adv


def summary(report: dict[str, Any]) -> str:
    """A few lines for a terminal: agreement per round, then the target's error per eps beside noise."""
    lines = [f"{'round':>5}  {'points':>7}  {'queries':>7}  agreement"]
    lines += [f"{r['round']:>5}  {r['set_size']:>7}  {r['queries']:>7}  {r['agreement']:.4f}" for r in report["rounds"]]
    lines.append(f"target clean accuracy: {report['target']['clean_accuracy']:.4f}")
    lines.append(f"{'eps':>8}  target error  noise error  substitute (white-box)")
    t = report["transfer"]
    for i, e in enumerate(report["eps"]):
        lines.append(
            f"{e:>8.4g}  {t['error_rate'][i]:>12.4f}  {t['noise_error_rate'][i]:>11.4f}  {t['substitute_success'][i]:>22.4f}"
        )
    q = report["queries"]
    lines.append(
        f"queries: {q['training']} to train the substitute (budget {q['budget']}), {q['measurement']} to measure"
    )
    return "\n".join(lines)
