"""The ``feint.detect/1`` report of a detector evaluation: the dict, its verdict, its files, a text summary.

The verdict is about the adaptive attack, not the plain ones: a detector is only as good as its
numbers against an attack that knows about it (Carlini & Wagner 2017). It fails when the adaptive
attack brings its ROC-AUC below 0.75, warns when it lowers the ROC-AUC by more than 0.05 or the TPR
at 5% FPR by more than 0.1 (or when no adaptive attack was run, or a plain attack already stays
below 0.9), and passes otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from torch import Tensor

from feint import distributed as fd
from feint.attacks.result import AttackResult
from feint.capabilities.detect.evaluation import EvalSettings, evaluate_detector
from feint.capabilities.detect.schema import SCHEMA
from feint.data.dataset import DatasetInfo
from feint.detectors.base import Detector
from feint.report.files import json_safe, write_report
from feint.report.provenance import model_info, stamp
from feint.validation import check_images, check_labels, check_positive_int


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


def detect_report(
    detector: Detector,
    x: Tensor,
    y: Tensor,
    *,
    settings: EvalSettings | None = None,
    out: str | os.PathLike[str] | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    crafted: dict[str, tuple[AttackResult, float]] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate ``detector`` on clean ``(x, y)`` and attacks (``crafted``: already run, see
    :func:`~feint.capabilities.detect.evaluation.craft_all`); write ``report.json`` + ``report.html`` to ``out``."""
    settings = settings or EvalSettings()
    started = time.perf_counter()
    fd.join(None, x.device)
    progress = progress and fd.is_root()
    with fd.together("checking the inputs"):
        check_positive_int(settings.batch_size, "batch_size (--batch-size)")
        check_images(x, bounds=detector.bounds)
        check_labels(y, n=x.shape[0])
    fd.check_job(
        dataclasses.asdict(settings), [x, y], detector.model, n_inputs=x.shape[0], what="inputs to evaluate on"
    )
    measured = evaluate_detector(detector, x, y, settings=settings, crafted=crafted, progress=progress)
    data = data_info.to_dict() if data_info is not None else {"name": "unknown"}
    report = {
        **stamp(SCHEMA),
        "model": model_info(detector.model, model_name),
        "data": {**data, "n": int(x.shape[0]), "split": split},
        "detector": detector.describe(),  # type: ignore[attr-defined]
        "settings": dataclasses.asdict(settings) | {"attacks": list(settings.attacks)},
        **measured,
        "summary": verdict(measured),
        "timings": {"total_seconds": time.perf_counter() - started},
    }
    report = json_safe(report)
    if out is not None and fd.is_root():  # under torchrun rank 0 alone writes
        from feint.capabilities.detect.page import render_detect_html

        write_report(out, report, render_detect_html(report))
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for a terminal."""
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
    return lines


def report_paths(out: str | os.PathLike[str]) -> tuple[Path, Path]:
    return Path(out) / "report.json", Path(out) / "report.html"
