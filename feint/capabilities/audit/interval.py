"""The robustness interval of a smoothed model: a certified lower bound beside the attacks' upper bound.

Every attack-based audit bounds robust accuracy from above: a stronger attack might break more.
For a smoothed classifier g (randomized smoothing, Cohen, Rosenfeld & Kolter 2019;
:func:`feint.smooth`) CERTIFY bounds it from below: at each L2 eps, the share of inputs certified
correct with a radius of at least eps is robust with probability 1 - alpha per certificate. Both
bounds here concern g itself: the attacks ran on the smoothed model with EOT over its noise
(Athalye, Carlini & Wagner 2018) and their final points are judged by g's Monte Carlo vote over
``n`` draws (an input counts as robust when the vote is right at the clean input and at its point).
What lies between the two is unknown: neither the certificate nor the attacks decide it.
Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from feint.capabilities.audit.adaptive import RECORD as ADAPTIVE
from feint.capabilities.audit.randomness import redraw_seed
from feint.capabilities.audit.redraws import candidates
from feint.data.rows import whole
from feint.defenses.smoothing import Smoothed
from feint.measure.certified import certified_accuracy, guarantee
from feint.report.schema import INT, NUM, NUMS, STR, obj

RECORD = "interval"
INTERVAL_SCHEMA: dict[str, Any] = obj(
    {
        "sigma": NUM,
        "n0": INT,
        "n": INT,
        "alpha": NUM,
        "eps": NUMS,
        "certified": NUMS,
        "empirical": NUMS,
        "unknown": NUMS,
        "contradictions": {"type": "array", "items": INT},
        "smoothed_clean_accuracy": NUM,
        "abstain_rate": NUM,
        "forward_rows": INT,
        "eot": {"type": "boolean"},
        "guarantee": STR,
    }
)


def interval_settings(model: Any, norm: str) -> dict[str, Any] | None:
    """The certification settings of a smoothed model in an L2 audit (they join the audit's
    fingerprint); None for any other model or norm."""
    if not isinstance(model, Smoothed) or norm != "2":
        return None
    return {"sigma": model.sigma, "n0": model.n0, "n": model.n, "alpha": model.alpha}


def interval_notes(model: Any, norm: str) -> list[str]:
    """Why a smoothed model's audit has no interval: smoothing certifies L2 radii only."""
    if isinstance(model, Smoothed) and norm != "2":
        return [
            "no certified lower bound: randomized smoothing certifies L2 radii, and this audit is "
            f"{'Linf' if norm == 'inf' else 'L' + norm}; audit with norm='2' (--norm 2) for the robustness interval"
        ]
    return []


def _votes_right(smoothed: Smoothed, points: Tensor, y: Tensor, gen: torch.Generator) -> Tensor:
    """(N,) whether g's majority vote over ``n`` draws is the true class."""
    return smoothed.counts(points, smoothed.n, generator=gen).argmax(1) == y


def measure_interval(model: Any, setup: Any, state: Any, final: dict[int, Tensor]) -> None:
    """Certify the clean inputs and judge each eps's final points (``final``, from the redraws, else the
    attacks' candidates) by g's vote; keep the section in the state (a resumed audit keeps it)."""
    if not isinstance(model, Smoothed) or setup.norm != "2" or RECORD in state.records or state.points is None:
        return
    x = whole(setup.x)  # a streamed source's rows too: certifying reads every input
    gen = torch.Generator(device=x.device)
    gen.manual_seed(redraw_seed(setup.seed, 2_000))
    answers = model.certify(x, generator=gen)
    clean = _votes_right(model, x, setup.y, gen)
    certified = certified_accuracy(answers.prediction, answers.radius, setup.y, setup.eps)
    empirical, contradictions = [], []
    for e, eps in enumerate(setup.eps):
        points = final[e] if e in final else candidates(setup, state, e)
        robust = clean & _votes_right(model, points, setup.y, gen)
        empirical.append(float(robust.float().mean()))
        sure = (answers.prediction == setup.y) & (answers.radius >= eps)
        contradictions.append(int((sure & ~robust).sum()))
    n, count = model.n, int(x.shape[0])
    state.records[RECORD] = {
        "sigma": model.sigma,
        "n0": model.n0,
        "n": n,
        "alpha": model.alpha,
        "eps": list(setup.eps),
        "certified": certified,
        "empirical": empirical,
        "unknown": [max(0.0, u - c) for c, u in zip(certified, empirical, strict=True)],
        "contradictions": contradictions,
        "smoothed_clean_accuracy": float(clean.float().mean()),
        "abstain_rate": float((answers.prediction < 0).float().mean()),
        "forward_rows": count * (model.n0 + n) + count * n * (1 + len(setup.eps)),
        # the adaptive probes found the noise and the attacks averaged it (EOT); off, they saw single draws
        "eot": bool(((state.records.get(ADAPTIVE) or {}).get("section") or {}).get("randomized")),
        "guarantee": guarantee(model.alpha, model.sigma),
    }


def interval_section(state: Any) -> dict[str, Any] | None:
    """The report's ``interval`` section, when the audit measured one."""
    return state.records.get(RECORD)


def interval_lines(interval: dict[str, Any] | None) -> list[str]:
    """The interval per eps for the terminal summary."""
    if not interval:
        return []
    lines = [
        f"robustness interval of the smoothed classifier (sigma {interval['sigma']:g}, n {interval['n']}, "
        f"alpha {interval['alpha']:g}): certified <= robust accuracy <= attacks' worst case"
    ]
    rows = zip(interval["eps"], interval["certified"], interval["empirical"], strict=True)
    lines += [f"{e:>10.4g}  {c:.4f} <= ? <= {u:.4f}  (unknown: {max(0.0, u - c):.4f})" for e, c, u in rows]
    return lines
