"""The audit's result: the ``feint.audit/1`` dict, its files and a short text summary.

Provenance (version, git revision, settings) is saved with every report, as MadryLab's
robustness library does (Engstrom et al. 2019, "Robustness (Python Library)").

``report.json`` keeps exactly the keys of :data:`feint.evaluate.schema.REPORT_SCHEMA`;
``report.html`` is rendered by :func:`feint.evaluate.report_html.render_report_html`; both are
written atomically by :func:`feint.report.files.write_report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from feint.data.dataset import DatasetInfo
from feint.evaluate.checks import Check
from feint.evaluate.diagnose import run_checks
from feint.evaluate.escalate import summary as escalation_summary
from feint.evaluate.presets import Preset
from feint.evaluate.queries import summary_lines
from feint.evaluate.report import build_sections, pick_gallery
from feint.evaluate.runner import AuditSetup
from feint.evaluate.schema import SCHEMA
from feint.evaluate.state import AuditState
from feint.report.files import WrittenReport, json_safe, write_report
from feint.report.provenance import model_info, stamp


@dataclass(frozen=True)
class AuditReport(WrittenReport):
    """The report dict (``to_dict()``), the paths written (None without ``out``) and notes."""

    @property
    def eps(self) -> list[float]:
        return list(self.report["eps"])

    @property
    def clean_accuracy(self) -> float:
        return float(self.report["clean_accuracy"])

    @property
    def worst_case_accuracy(self) -> list[float]:
        return list(self.report["worst_case"]["accuracy"])

    @property
    def checks(self) -> list[dict[str, str]]:
        return list(self.report["checks"])

    def summary(self) -> str:
        """A few lines for a terminal: clean and worst-case accuracy per eps, checks that warn or fail."""
        r = self.report
        lines = [f"clean accuracy: {self.clean_accuracy:.4f}", f"{'eps':>10}  worst-case accuracy"]
        lines += [f"{e:>10.4g}  {a:.4f}" for e, a in zip(self.eps, self.worst_case_accuracy, strict=True)]
        flagged = [c for c in r["checks"] if c["status"] != "pass"]
        lines.append(f"checks: {len(r['checks']) - len(flagged)} pass, {len(flagged)} warn/fail")
        lines += [f"  [{c['status']}] {c['name']}: {c['detail']}" for c in flagged]
        lines += escalation_lines(r.get("escalation") or {})
        lines += summary_lines(r.get("queries"))
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def escalation_lines(escalation: dict[str, Any]) -> list[str]:
    """Where and why the audit escalated, and what each rung broke, for the terminal summary."""
    if not escalation.get("escalated"):
        return []
    lines = [f"escalated at eps {r['eps']:g}: " + "; ".join(r["reasons"]) for r in escalation["reasons"]]
    for rung in escalation["rungs"]:
        broke = ", ".join(f"{b} at {e:g}" for e, b in zip(rung["eps"], rung["broke"], strict=True))
        lines.append(f"  {rung['attack']} on the inputs still robust broke {broke}")
    return lines


def build_report(
    setup: AuditSetup,
    state: AuditState,
    adv: list[Tensor],
    *,
    preset: Preset,
    settings: dict[str, Any],
    data_info: DatasetInfo | None,
    split: str | None,
    model_name: str | None,
    started: float,
    checks: list[Check] | None = None,
    access: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``feint.audit/1`` dict; ``checks`` are the gradient-masking checks when already run on
    these results (else they run here)."""
    k = setup.clean_logits.shape[1]
    info = data_info or DatasetInfo("unknown", tuple(str(i) for i in range(k)), tuple(setup.x.shape[1:]))  # type: ignore[arg-type]
    sections = build_sections(setup, state, adv, list(info.class_names))
    checks = run_checks(setup, state, preset) if checks is None else checks
    per_attack = {name: a["seconds"] for name, a in sections["attacks"].items()}
    report = {
        **stamp(SCHEMA),
        "model": model_info(setup.model, model_name),
        "access": access or {"level": "white-box", "note": "", "white_box_attacks": True},
        "data": {**info.to_dict(), "n": int(setup.x.shape[0]), "split": split},
        "settings": {k: settings[k] for k in ("preset", "norm", "eps", "seed", "attacks")},
        **sections,
        "checks": [c.to_dict() for c in checks],
        "escalation": escalation_summary(setup, state, preset),
        "timings": {
            "total_seconds": max(time.perf_counter() - started, sum(per_attack.values())),
            "per_attack": per_attack,
        },
    }
    return json_safe(report)


def write_outputs(
    report: dict[str, Any], setup: AuditSetup, state: AuditState, adv: list[Tensor], out: str | Path
) -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` (with a gallery from the worst-case logits ``adv``)."""
    from feint.evaluate.report_html import render_report_html

    gallery = pick_gallery(setup, state, adv, list(report["per_class"]["class_names"]))
    return write_report(out, report, render_report_html(report, gallery))
