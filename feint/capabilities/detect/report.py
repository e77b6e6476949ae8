"""The ``feint.detect/1`` report of a detector evaluation: the dict, its verdict and the terminal summary.

The verdict is about the adaptive attack, not the plain ones: a detector is only as good as its
numbers against an attack that knows about it (Carlini & Wagner 2017). It fails when the adaptive
attack brings its ROC-AUC below 0.75, warns when it lowers the ROC-AUC by more than 0.05 or the TPR
at 5% FPR by more than 0.1 (or when no adaptive attack was run, or a plain attack already stays
below 0.9), and passes otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from feint.capabilities.detect.measure import EvalSettings
from feint.capabilities.detect.schema import SCHEMA
from feint.detectors.base import Detector
from feint.report.files import json_safe
from feint.report.provenance import model_info, stamp


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def verdict(measured: dict[str, Any]) -> dict[str, str]:
    """``status`` (pass / warn / fail) and a ``headline`` that states the drop plainly."""
    aucs = {name: a["roc_auc"] for name, a in measured["attacks"].items() if a["roc_auc"] is not None}
    plain = ", ".join(f"{name} {auc:.3f}" for name, auc in aucs.items()) or "no attack fooled the model"
    text = f"ROC-AUC against attacks that ignore the detector: {plain}."
    if not measured["adaptive"]:
        return {"status": "warn", "headline": text + " No adaptive attack was run, so these numbers are optimistic."}
    status = "pass" if min(aucs.values(), default=1.0) >= 0.9 else "warn"
    for entry in measured["adaptive"]:
        before, after = entry["plain"], entry["adaptive"]
        text += (
            f" The adaptive attack ({entry['name']}) lowers the ROC-AUC from {_f(before['roc_auc'])} to "
            f"{_f(after['roc_auc'])} (a drop of {_f(entry['drop']['roc_auc'])}) and the TPR at 5% FPR from "
            f"{_f(before['tpr_at_5_fpr'])} to {_f(after['tpr_at_5_fpr'])}; {after['evaded']:.1%} of the attacked "
            f"inputs now fool the model undetected (plain {entry['counterpart']}: {before['evaded']:.1%})."
        )
        drop, auc, tpr_drop = entry["drop"]["roc_auc"], after["roc_auc"], entry["drop"]["tpr_at_5_fpr"]
        if auc is not None and auc < 0.75:
            status = "fail"
        elif status == "pass" and ((drop or 0.0) > 0.05 or (tpr_drop or 0.0) > 0.1):
            status = "warn"
    return {"status": status, "headline": text}


def build_detect_report(
    detector: Detector,
    measured: dict[str, Any],
    *,
    settings: EvalSettings,
    data: dict[str, Any],
    model_name: str | None,
    seconds: float,
) -> dict[str, Any]:
    """The ``feint.detect/1`` dict: the model, data (with ``n`` and ``split``), detector and settings,
    the measured figures (:func:`~feint.capabilities.detect.evaluation.evaluate_detector`) and the verdict."""
    report = {
        **stamp(SCHEMA),
        "model": model_info(detector.model, model_name),
        "data": data,
        "detector": detector.describe(),  # type: ignore[attr-defined]
        "settings": dataclasses.asdict(settings) | {"attacks": list(settings.attacks)},
        **measured,
        "summary": verdict(measured),
        "timings": {"total_seconds": seconds},
    }
    return json_safe(report)


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: per group (clean, natural errors, each attack, each adaptive attack) its
    size, ROC-AUC, TPR at 5% FPR, flagged fraction and time per decision; the SPRT; the verdict."""
    lines = [f"{'attack':>20}  {'n':>5}  ROC-AUC  TPR@5%FPR  flagged  s/decision"]
    rows = [("clean (correct)", report["clean"]), ("natural errors", report["natural_misclassified"])]
    rows += list(report["attacks"].items())
    rows += [(e["name"], e["adaptive"]) for e in report["adaptive"]]
    for name, r in rows:
        auc, tpr = r.get("roc_auc"), r.get("tpr_at_5_fpr")
        flagged, secs = r["flagged"], r["seconds_per_decision"]
        lines.append(
            f"{name:>20}  {r['n']:>5}  {_f(auc):>7}  {_f(tpr):>9}  {_f(flagged):>7}  "
            f"{'n/a' if secs is None else f'{secs:.2e}':>10}"
        )
    if report["sprt"]:
        s = report["sprt"]
        lines.append(
            f"SPRT: accuracy {s['accuracy']:.3f} over {s['decisions']} decisions, "
            f"{s['mutants_per_decision']:.1f} mutants per decision on average"
        )
    lines.append(f"[{report['summary']['status']}] {report['summary']['headline']}")
    return "\n".join(lines)
