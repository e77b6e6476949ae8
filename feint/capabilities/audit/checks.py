"""Gradient-masking checks of an audit, each a verdict a person can read.

From Carlini, Athalye, Papernot, Brendel, Rauber, Tsipras, Goodfellow, Madry & Kurakin 2019,
"On Evaluating Adversarial Robustness" (sec. 5, the sanity checks) and Athalye, Carlini & Wagner
2018, "Obfuscated Gradients Give a False Sense of Security": iterative attacks must beat
single-step ones, success must grow with eps, an unbounded attack must reach 100%, white-box
attacks must beat black-box ones and random noise, gradients must be non-zero and finite, and the
model must be deterministic. Counts are per eps over the N inputs; a check tolerates
``max(1, 1% of the clean-correct inputs)`` exceptions, so one unlucky input does not warn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from feint.attacks.core import ascent_gradient, eval_mode

STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def tolerance(n_correct: int) -> int:
    return max(1, math.ceil(0.01 * n_correct))


def _worst(counts: Sequence[int], eps: Sequence[float]) -> tuple[int, float]:
    i = max(range(len(counts)), key=lambda k: counts[k])
    return counts[i], eps[i]


def _weaker_beat_stronger(
    name: str, counts: Sequence[int], eps: Sequence[float], n_correct: int, *, warn: str, passed: str
) -> Check:
    """Warn when, at some eps, more than the tolerance of inputs were fooled only by the weaker method.

    ``warn`` is formatted with ``eps`` and ``count``.
    """
    count, at = _worst(counts, eps) if counts else (0, 0.0)
    if count > tolerance(n_correct):
        return Check(name, "warn", warn.format(eps=f"{at:g}", count=count))
    return Check(name, "pass", passed)


def check_single_step(misses: Sequence[int], eps: Sequence[float], n_correct: int) -> Check:
    """``misses[e]``: inputs FGSM fooled that every iterative white-box attack left robust."""
    return _weaker_beat_stronger(
        "iterative attacks beat single-step FGSM",
        misses,
        eps,
        n_correct,
        warn="at eps={eps} FGSM fooled {count} inputs the iterative attacks missed: "
        "their gradients mislead them (masking) or their budget is too small",
        passed="the iterative attacks found every input FGSM fooled (within tolerance)",
    )


def check_monotone(curves: Mapping[str, Sequence[float]], eps: Sequence[float], n: int) -> Check:
    """Accuracy must not rise with eps: a larger ball contains every smaller one."""
    name = "success grows with eps"
    slack = tolerance(n) / max(n, 1)
    for label, acc in curves.items():
        for i in range(1, len(acc)):
            if acc[i] > acc[i - 1] + slack:
                return Check(
                    name,
                    "warn",
                    f"{label} accuracy rises from {acc[i - 1]:.3f} at eps={eps[i - 1]:g} "
                    f"to {acc[i]:.3f} at eps={eps[i]:g}; the attack is not exploiting the larger budget",
                )
    return Check(name, "pass", f"accuracy never rises with eps ({', '.join(curves)})")


def check_unbounded(successes: int, total: int, attack: str) -> Check:
    """An attack without a size limit must fool (almost) every input.

    ``successes`` of ``total`` clean-correct inputs must come from an attack allowed a size beyond
    the input box (a minimum-norm attack's misses confirmed by one at a box-sized eps:
    :func:`feint.capabilities.audit.diagnose.unbounded`): a budget that merely ran out on a robust model is
    not evidence of masking. Up to :func:`tolerance` misses pass; more warn, and fail when over a
    tenth of the inputs stay out of reach.
    """
    name = "an unbounded attack reaches 100%"
    if total == 0:
        return Check(name, "pass", "no clean-correct inputs to attack")
    rate = successes / total
    detail = f"{attack} without a size limit fooled {successes}/{total} inputs ({rate:.1%})"
    if total - successes <= tolerance(total):
        return Check(name, "pass", detail)
    status = "warn" if rate >= 0.9 else "fail"
    return Check(
        name, status, detail + "; an attack that cannot win even with the whole input box to move in is being blocked"
    )


def check_black_box(extra: Sequence[int], eps: Sequence[float], n_correct: int, attack: str) -> Check:
    """``extra[e]``: inputs the black-box attack fooled after every white-box attack failed."""
    return _weaker_beat_stronger(
        "white-box attacks beat black-box",
        extra,
        eps,
        n_correct,
        warn=f"at eps={{eps}} {attack}, using only scores, fooled {{count}} inputs the "
        "gradient attacks missed: the gradients are uninformative (masking)",
        passed=f"{attack} found (almost) nothing the white-box attacks missed",
    )


def check_noise(extra: Sequence[int], eps: Sequence[float], n_correct: int) -> Check:
    """``extra[e]``: inputs random noise fooled that every white-box attack left robust."""
    return _weaker_beat_stronger(
        "white-box attacks beat random noise",
        extra,
        eps,
        n_correct,
        warn="at eps={eps} random noise fooled {count} inputs the white-box attacks "
        "missed: the attacks are not working on this model",
        passed="random noise of the same size found nothing the white-box attacks missed",
    )


def check_gradients(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 512) -> Check:
    """Share of inputs whose cross-entropy input gradient is exactly zero, or not finite."""
    name = "gradients are non-zero and finite"
    zero, finite, n = 0, True, x.shape[0]
    with eval_mode(model):
        for i in range(0, n, batch_size):
            grad, _ = ascent_gradient(model, x[i : i + batch_size], y[i : i + batch_size], targeted=False)
            flat = grad.flatten(1)
            finite &= bool(torch.isfinite(flat).all())
            zero += int((flat.abs().amax(1) == 0).sum())
    if not finite:
        return Check(name, "fail", "the loss gradient has NaN or infinite entries; gradient attacks cannot work")
    if zero > tolerance(n):
        return Check(
            name,
            "warn",
            f"{zero}/{n} inputs have an exactly zero loss gradient: a saturated softmax "
            "or a non-differentiable layer hides the gradient (masking); trust the DLR, Square and FMN results",
        )
    return Check(name, "pass", f"the loss gradient is non-zero and finite on {n - zero}/{n} inputs")


def check_query_only(access: str) -> Check:
    """A model that only answers queries: white-box attacks could not run, so robustness is overstated."""
    return Check(
        "white-box attacks ran",
        "warn",
        f"the model gives only {access} access, so white-box attacks could not run; only the black-box "
        "attacks did, and every robust accuracy here is an upper bound: the true robustness may be lower",
    )


def check_deterministic(model: nn.Module | Any, x: Tensor, *, batch_size: int = 512) -> Check:
    """Two forward passes (or two queries of an oracle) on the same inputs must agree (in batches of
    ``batch_size``: a big model's activations on many inputs at once would not fit)."""
    name = "outputs are deterministic"
    if not isinstance(model, nn.Module):
        from feint.attacks.result import predict_logits

        a, b = predict_logits(model, x), predict_logits(model, x)
        a, b = a.nan_to_num(neginf=-1e9), b.nan_to_num(neginf=-1e9)
    else:
        with eval_mode(model), torch.no_grad():
            chunks = x.split(batch_size)
            a, b = torch.cat([model(c) for c in chunks]), torch.cat([model(c) for c in chunks])
    if not torch.equal(a.argmax(1), b.argmax(1)):
        return Check(
            name,
            "fail",
            "two passes on the same inputs predict different classes: the model is "
            "randomised; attack it with expectation over transformation (EOT)",
        )
    if not torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(a.abs().max().clamp_min(1))):
        return Check(
            name,
            "warn",
            "two passes give different logits (same classes): randomness in the model "
            "can make gradient attacks look weaker; consider EOT",
        )
    return Check(name, "pass", "two forward passes give the same logits")
