"""The audit page's robustness interval section: the certified lower bound, the attacks' upper
bound on the smoothed classifier, and the gap between them named "unknown" (see
:mod:`feint.capabilities.audit.interval`)."""

from __future__ import annotations

from typing import Any

from feint.report.html import esc, figure, num, pct, table
from feint.report.plots import band_plot

INTRO = (
    "Robust accuracy of the smoothed classifier lies between two bounds: the share of inputs certified at "
    "each L2 eps (randomized smoothing, Cohen et al. 2019) from below, the attacks' worst case from above."
)


def interval_sentence(report: dict[str, Any], i: int | None) -> str:
    """The verdict's sentence on the interval at eps index ``i`` (markup; empty without an interval)."""
    iv = report.get("interval")
    if not iv or i is None or i >= len(iv["eps"]):
        return ""
    low, high = iv["certified"][i], iv["empirical"][i]
    return (
        f' Its smoothed classifier is <a href="#interval">certified</a> right on <b>{pct(low)}</b> of the inputs within'
        f" L2 eps {num(iv['eps'][i])} and the attacks leave it right on {pct(high)}: its robust accuracy lies in"
        f" [{pct(low)}, {pct(high)}], the <b>{pct(max(0.0, high - low))}</b> between unknown."
    )


def interval_section(report: dict[str, Any]) -> str:
    iv = report["interval"]
    uri = band_plot(
        iv["eps"],
        iv["certified"],
        iv["empirical"],
        labels=("certified (lower bound)", "attacks' worst case (upper bound)", "unknown"),
        xlabel="L2 eps",
        ylabel="robust accuracy of the smoothed classifier (%)",
    )
    rows = [
        [num(e), pct(c), pct(u), pct(max(0.0, u - c)), num(k)]
        for e, c, u, k in zip(iv["eps"], iv["certified"], iv["empirical"], iv["contradictions"], strict=True)
    ]
    how = (
        "ran on the smoothed model with EOT over its noise"
        if iv.get("eot", True)
        else "ran on single noisy draws of the smoothed model, without EOT (the adaptive probes were off): a weak "
        "upper bound"
    )
    text = (
        f"<p>Both bounds concern the smoothed classifier g (Gaussian noise of sigma {num(iv['sigma'])}): the attacks "
        f"{how}, and each final point is judged by g's majority vote over "
        f"n = {num(iv['n'])} draws (robust: right at the clean input and at the attack's point). "
        f"{esc(iv['guarantee'])} The audit's other sections count single noisy draws of the model, not g.</p>"
        f"<p>g is right on {pct(iv['smoothed_clean_accuracy'])} of the clean inputs and CERTIFY abstained on "
        f"{pct(iv['abstain_rate'])}; certifying and voting took {num(iv['forward_rows'])} forward rows.</p>"
    )
    note = ""
    if any(iv["contradictions"]):
        note = (
            '<p class="muted"><b>Certified yet broken:</b> some inputs certified at an eps were judged wrong at the '
            "attack's point. Near g's boundary the Monte Carlo vote errs (more draws settle it); otherwise a "
            "certificate was wrong, which each may be with probability alpha.</p>"
        )
    return (
        text
        + figure(uri, "certified lower bound and attacks' upper bound against eps, the gap unknown")
        + table(
            ["L2 eps", "certified (lower)", "attacks (upper)", "unknown", "certified yet broken"],
            rows,
            numeric=range(5),
        )
        + note
    )
