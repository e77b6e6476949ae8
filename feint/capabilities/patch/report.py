"""The patch report (schema ``feint.patch/1``), its terminal summary and ``pattern.npz``.

``report.json`` holds the held-out success of the sticker, patch or universal perturbation beside
a random pattern's, the success against area or norm, the success and destruction rate under each
step of the print-and-photo pipeline, the printability and the split; ``pattern.npz`` the pattern
itself (``pattern``, ``mask``, ``kind``, ``target``, ``bounds``, the budget and the ids of the fit
and held-out inputs) so another tool can apply it. The page is :mod:`feint.capabilities.patch.page`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from feint.capabilities.patch.measure import PatchOutcome
from feint.capabilities.patch.settings import PatchSettings
from feint.io import write_with
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.schema import INT, NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema

SCHEMA = "feint.patch/1"
FILES = {"pattern": "pattern.npz"}
_RATES = {"type": "array", "items": NUM_OR_NULL}
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": {"type": "object", "required": ["name"]},
        "data": {"type": "object", "required": ["name", "n"]},
        "kind": {"enum": ["sticker", "patch", "universal"]},
        "settings": {"type": "object", "required": ["kind", "target", "source", "steps", "draws", "seed"]},
        "split": obj(
            {"fit": INT, "held_out": INT, "fraction": NUM, "seed": INT, "source": {"type": ["integer", "null"]}}
        ),
        "pattern": obj(
            {
                "shape": {"type": "array", "items": INT},
                "area": NUM_OR_NULL,
                "eps": NUM_OR_NULL,
                "norm": {"type": ["string", "null"]},
            }
        ),
        "clean_accuracy": NUM,
        "success": obj({"rate": NUM_OR_NULL, "baseline": NUM_OR_NULL, "counted": INT}),
        "curve": obj({"axis": {"enum": ["area", "eps"]}, "values": NUMS, "success": _RATES, "baseline": _RATES}),
        "physical": {
            "type": "array",
            "items": obj(
                {"transform": STR, "success": NUM_OR_NULL, "destruction": NUM_OR_NULL, "destroyed": INT, "fooled": INT}
            ),
        },
        "printability": {
            "type": ["object", "null"],
            "properties": {"palette": {"type": "array"}, "distance": NUM, "baseline_distance": NUM, "nps": NUM},
        },
        "gallery": {
            "type": "array",
            "items": obj({"id": INT, "label": STR, "clean_prediction": STR, "prediction": STR}),
        },
        "training": obj({"history": NUMS, "rows": INT, "seconds": NUM}),
        "files": {"type": "object", "additionalProperties": STR},
        "seconds": NUM,
    },
)


def build_patch_report(
    outcome: PatchOutcome,
    *,
    settings: PatchSettings,
    pipeline: dict[str, Any],
    model: dict[str, Any],
    data: dict[str, Any],
    class_names: list[str],
) -> dict[str, Any]:
    r = outcome.result
    pattern = r.pattern
    height, width = data.get("input_shape", [0, *pattern.shape[-2:]])[-2:]
    if r.kind == "sticker" and r.mask is not None:
        area: float | None = float(r.mask.mean())
    elif r.kind == "patch":
        area = float(pattern.shape[-2] * pattern.shape[-1] / (height * width))
    else:
        area = None
    g = outcome.gallery
    gallery = [
        {"id": int(i), "label": class_names[int(t)], "clean_prediction": class_names[int(c)], "prediction": class_names[int(p)]}
        for i, t, c, p in zip(g["ids"].tolist(), g["labels"].tolist(), g["clean_pred"].tolist(), g["pred"].tolist(), strict=True)
    ]  # fmt: skip
    report = {
        **stamp(SCHEMA),
        "model": model,
        "data": data,
        "kind": r.kind,
        "settings": {
            **asdict(settings),
            "pipeline": pipeline,
            "placement": asdict(r.placement) if r.placement else None,
        },
        "split": {
            "fit": int(outcome.fit_ids.numel()),
            "held_out": int(outcome.held_ids.numel()),
            "fraction": settings.held_out,
            "seed": settings.seed,
            "source": settings.source,
        },
        "pattern": {"shape": list(pattern.shape), "area": area, "eps": r.eps, "norm": r.norm},
        **outcome.figures,
        "gallery": gallery,
        "training": {"history": r.history, "rows": r.rows, "seconds": r.seconds},
        "files": dict(FILES),
        "seconds": outcome.seconds,
    }
    return json_safe(report)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: what was trained, the held-out success beside a random pattern, the
    success through the whole print-and-photo pipeline and the printability."""
    s, split = report["settings"], report["split"]
    aim = f"targeted at class {s['target']}" if s["target"] is not None else "untargeted"
    budget = (
        f"area {report['pattern']['area']:.3g}"
        if report["pattern"]["area"] is not None
        else f"eps {s['eps']:g} (L{s['norm']})"
    )
    lines = [
        f"{report['kind']} ({budget}, {aim}): trained on {split['fit']} inputs, measured on {split['held_out']} held out",
        f"held-out success: {_rate(report['success']['rate'])}  random pattern: {_rate(report['success']['baseline'])}"
        f"  (clean accuracy {report['clean_accuracy']:.4f})",
    ]
    whole = next((r for r in report["physical"] if r["transform"] == "pipeline"), None)
    if whole is not None:
        lines.append(
            f"through print and photo: success {_rate(whole['success'])}, destruction rate {_rate(whole['destruction'])}"
        )
    if report["printability"] is not None:
        p = report["printability"]
        lines.append(
            f"distance to the printable palette: {p['distance']:.4f} (random pattern {p['baseline_distance']:.4f})"
        )
    return "\n".join(lines)


def write_pattern(folder: Path, outcome: PatchOutcome, area: float | None) -> Path:
    """``pattern.npz``: the pattern, its mask (empty when none), kind, target (-1: none), bounds,
    budget (``area`` covered, or ``eps`` and ``norm``) and the ids of the fit and held-out inputs."""
    r = outcome.result
    arrays = {
        "pattern": r.pattern.detach().cpu().numpy().astype(np.float32),
        "mask": (r.mask.detach().cpu().numpy() if r.mask is not None else np.zeros((0,))).astype(np.float32),
        "kind": np.array(r.kind),
        "target": np.array(-1 if r.target is None else r.target),
        "bounds": np.array(r.bounds, dtype=np.float32),
        "area": np.array(np.nan if area is None else area),
        "eps": np.array(np.nan if r.eps is None else r.eps),
        "norm": np.array(r.norm or ""),
        "fit_ids": outcome.fit_ids.cpu().numpy(),
        "held_out_ids": outcome.held_ids.cpu().numpy(),
    }

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]

    folder.mkdir(parents=True, exist_ok=True)
    return write_with(folder / FILES["pattern"], save)
