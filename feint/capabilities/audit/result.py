"""The audit's result: the ``feint.audit/2`` dict, its :class:`~feint.report.Report` and a short text summary.

Provenance (version, git revision, settings) is saved with every report, as MadryLab's
robustness library does (Engstrom et al. 2019, "Robustness (Python Library)").

``report.json`` keeps exactly the keys of :data:`feint.capabilities.audit.schema.REPORT_SCHEMA`;
``report.html`` is rendered by :func:`feint.capabilities.audit.page.render_report_html`; both are
written atomically by :meth:`feint.report.Report.save`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from feint.capabilities.audit.adaptive import adaptive_summary
from feint.capabilities.audit.checks import Check
from feint.capabilities.audit.diagnose import run_checks
from feint.capabilities.audit.escalate import summary as escalation_summary
from feint.capabilities.audit.interval import interval_lines
from feint.capabilities.audit.passes import passes_lines, passes_summary
from feint.capabilities.audit.presets import Preset
from feint.capabilities.audit.queries import summary_lines
from feint.capabilities.audit.report import build_sections
from feint.capabilities.audit.runner import AuditSetup
from feint.capabilities.audit.schema import SCHEMA
from feint.capabilities.audit.state import AuditState
from feint.data.dataset import DatasetInfo
from feint.report.files import json_safe
from feint.report.gallery import GalleryItem
from feint.report.provenance import model_info, stamp
from feint.report.report import Report


def worst_case_accuracy(report: Report | Mapping[str, Any]) -> list[float]:
    """The audit's headline per eps: the worst case over every attack (the ``worst_case`` section);
    for a randomized model the mean over the redraws of every final point.

    The other figures are keys of the report: ``report["clean_accuracy"]``, ``report["eps"]``,
    ``report["checks"]``, ``report["passes"]``."""
    data = report.data if isinstance(report, Report) else report
    randomized = (data.get("adaptive") or {}).get("randomized") or {}
    if "accuracy_mean" in randomized:
        return list(randomized["accuracy_mean"])
    return list(data["worst_case"]["accuracy"])


def summarize(r: dict[str, Any]) -> str:
    """A few lines for a terminal: clean and worst-case accuracy per eps, checks that warn or fail,
    the escalation, the adaptive probes, the passes and (with ``natural``) the natural variation."""
    lines = [f"clean accuracy: {r['clean_accuracy']:.4f}"]
    randomized = (r.get("adaptive") or {}).get("randomized") or {}
    if "accuracy_mean" in randomized:
        lines.append(
            f"{'eps':>10}  worst-case accuracy: mean over {randomized['redraws']} redraws, "
            "correct in every draw, std over redraws"
        )
        rows = zip(r["eps"], *(randomized[f"accuracy_{k}"] for k in ("mean", "strict", "std")), strict=True)
        lines += [f"{e:>10.4g}  {m:.4f}  {s:.4f}  {d:.4f}" for e, m, s, d in rows]
    else:
        lines.append(f"{'eps':>10}  worst-case accuracy")
        lines += [f"{e:>10.4g}  {a:.4f}" for e, a in zip(r["eps"], worst_case_accuracy(r), strict=True)]
    flagged = [c for c in r["checks"] if c["status"] != "pass"]
    lines.append(f"checks: {len(r['checks']) - len(flagged)} pass, {len(flagged)} warn/fail")
    lines += [f"  [{c['status']}] {c['name']}: {c['detail']}" for c in flagged]
    lines += escalation_lines(r.get("escalation") or {})
    lines += summary_lines(r.get("queries"))
    lines += adaptive_lines(r.get("adaptive") or {})
    lines += passes_lines(r.get("passes") or {})
    lines += interval_lines(r.get("interval"))
    if "natural" in r:
        worst = r["natural"]["grid"]["worst_case_accuracy"]
        lines.append(f"natural variation: worst case over rotations x translations {worst:.4f}")
    for row in (r.get("patch") or {}).get("areas", []):
        lines.append(f"patch covering {row['area']:g} of the image: robust accuracy {row['robust_accuracy']:.4f}")
    return "\n".join(lines)


def audit_report(report: dict[str, Any], gallery: Sequence[GalleryItem], notes: Sequence[str] = ()) -> Report:
    """The audit's :class:`~feint.report.Report`: the ``feint.audit/2`` dict, its page (with
    ``gallery``, the fooled inputs shown) and :func:`summarize`."""

    def page(data: dict[str, Any]) -> str:
        from feint.capabilities.audit.page import render_report_html

        return render_report_html(data, gallery)

    return Report(report, page=page, summarize=summarize, notes=tuple(notes))


def escalation_lines(escalation: dict[str, Any]) -> list[str]:
    """Where and why the audit escalated, and what each rung broke, for the terminal summary."""
    if not escalation.get("escalated"):
        return []
    lines = [f"escalated at eps {r['eps']:g}: " + "; ".join(r["reasons"]) for r in escalation["reasons"]]
    for rung in escalation["rungs"]:
        broke = ", ".join(f"{b} at {e:g}" for e, b in zip(rung["eps"], rung["broke"], strict=True))
        lines.append(f"  {rung['attack']} on the inputs still robust broke {broke}")
    return lines


def adaptive_lines(adaptive: dict[str, Any]) -> list[str]:
    """What the adaptive probes found and how the attacks went through it, for the terminal summary."""
    lines = [f"adaptive: [{c['status']}] {c['name']}: {c['detail']}" for c in adaptive.get("checks") or []]
    for b in (adaptive.get("gradient") or {}).get("bypassed") or []:
        lines.append(f"  bypassed {b['module']!r} ({b['why']}) on the backward pass: {b['how']}")
    randomized = adaptive.get("randomized")
    if randomized:
        lines.append(f"  randomized: {randomized['reason']}")
        deep = randomized.get("deepening")
        if deep:
            lines.append(
                f"  final EOT-PGD on every input before the redraws: {deep['steps']} steps ({deep['draws']} draws) "
                f"on the expected {' and '.join(deep.get('losses', []))} from random starts, the point with the "
                f"smallest EOT margin kept: {deep['forward_rows']} forward + {deep['backward_rows']} backward rows"
            )
    lines += [f"  {note}" for note in adaptive.get("notes") or []]
    for rung in adaptive.get("rungs") or []:
        broke = ", ".join(str(b) for b in rung["broke"])
        lines.append(
            f"  {rung['attack']} ({rung['through']}) broke {broke} per eps "
            f"for {rung['forward_rows']} forward + {rung['backward_rows']} backward rows"
        )
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
    original: Any = None,
) -> dict[str, Any]:
    """The ``feint.audit/2`` dict; ``checks`` are the gradient-masking checks when already run on
    these results (else they run here); ``original`` is the model as given, where the attacks ran on
    an adapted one (:mod:`feint.capabilities.audit.adaptive`)."""
    k = setup.clean_logits.shape[1]
    info = data_info or DatasetInfo("data", tuple(str(i) for i in range(k)), tuple(setup.x.shape[1:]))  # type: ignore[arg-type]
    sections = build_sections(setup, state, adv, list(info.class_names))
    checks = run_checks(setup, state, preset) if checks is None else checks
    per_attack = {name: a["seconds"] for name, a in sections["attacks"].items()}
    report = {
        **stamp(SCHEMA),
        "model": model_info(setup.model if original is None else original, model_name),
        "access": access or {"level": "white-box", "note": "", "white_box_attacks": True},
        "data": {**info.to_dict(), "n": int(setup.x.shape[0]), "split": split},
        "settings": {k: settings[k] for k in ("preset", "norm", "eps", "seed", "attacks")},
        **sections,
        "checks": [c.to_dict() for c in checks],
        "escalation": escalation_summary(setup, state, preset),
        "adaptive": adaptive_summary(setup, state),
        "passes": passes_summary(setup, state),
        "timings": {
            "total_seconds": max(time.perf_counter() - started, sum(per_attack.values())),
            "per_attack": per_attack,
        },
    }
    return json_safe(report)
