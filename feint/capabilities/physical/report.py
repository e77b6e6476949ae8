"""The physical-world report (schema ``feint.physical/1``), its printable sheet and its arrays.

``report.json`` holds the destruction rates (Kurakin, Goodfellow & Bengio 2016) per attack, eps,
transformation and top-k; ``adversarial.npz`` the clean and adversarial inputs with their ids;
``sheet.pdf`` a printable sheet of some of them; ``report.html`` the page
(:mod:`feint.capabilities.physical.page`). :func:`summarize` gives the terminal lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from feint.capabilities.physical.measure import PIPELINE, PhysicalResult, PhysicalSettings, rate_of
from feint.io import write_with
from feint.report.files import json_safe
from feint.report.provenance import stamp
from feint.report.schema import INT, NUM, NUM_OR_NULL, NUMS, STR, obj, report_schema
from feint.report.sheet import SheetRow, write_sheet
from feint.transforms import Compose
from feint.validation import Bounds

SCHEMA = "feint.physical/1"
FILES = {"arrays": "adversarial.npz", "sheet": "sheet.pdf"}
_TOPK = {"type": "object", "additionalProperties": NUM}
REPORT_SCHEMA: dict[str, Any] = report_schema(
    SCHEMA,
    {
        "model": {"type": "object", "required": ["name"]},
        "data": {"type": "object", "required": ["name", "n"]},
        "settings": obj(
            {
                "attacks": {"type": "array", "items": STR},
                "eps": NUMS,
                "draws": INT,
                "seed": INT,
                "eot": {"type": "boolean"},
                "eot_samples": INT,
                "eot_steps": INT,
                "batch_size": INT,
                "pipeline": {"type": "object"},
                "topk": {"type": "array", "items": INT},
            }
        ),
        "clean": obj({"accuracy": _TOPK, "under": {"type": "array", "items": {"type": "object"}}}),
        "attacks": {"type": "array", "items": {"type": "object", "required": ["attack", "eps", "top1"]}},
        "destruction": {
            "type": "array",
            "items": obj(
                {
                    "attack": STR,
                    "eps": NUM,
                    "transform": STR,
                    "k": INT,
                    "rate": NUM_OR_NULL,
                    "destroyed": INT,
                    "adversarial": INT,
                }
            ),
        },
        "sheet": obj({"ids": {"type": "array", "items": INT}, "eps": NUM, "attacks": {"type": "array", "items": STR}}),
        "files": {"type": "object", "additionalProperties": STR},
        "seconds": NUM,
    },
)


def sheet_choice(settings: PhysicalSettings, n: int, count: int) -> dict[str, Any]:
    """The inputs on the sheet (the first ``count`` ids) and the eps shown (the largest)."""
    return {"ids": list(range(min(count, n))), "eps": max(settings.eps), "attacks": list(settings.all_attacks)}


def build_physical_report(
    result: PhysicalResult,
    *,
    settings: PhysicalSettings,
    pipeline: Compose,
    model: dict[str, Any],
    data: dict[str, Any],
    sheet: dict[str, Any],
) -> dict[str, Any]:
    report = {
        **stamp(SCHEMA),
        "model": model,
        "data": data,
        "settings": {
            "attacks": list(settings.all_attacks),
            "eps": list(settings.eps),
            "draws": settings.draws,
            "seed": settings.seed,
            "eot": settings.eot,
            "eot_samples": settings.eot_samples,
            "eot_steps": settings.eot_steps,
            "batch_size": settings.batch_size,
            "pipeline": pipeline.describe(),
            "topk": list(result.topk),
        },
        "clean": result.clean,
        "attacks": result.attacks,
        "destruction": result.destruction,
        "sheet": sheet,
        "files": dict(FILES),
        "seconds": result.seconds,
    }
    return json_safe(report)


def summarize(report: dict[str, Any]) -> str:
    """The terminal lines: inputs, clean accuracy and the destruction rate under the whole pipeline
    (top-1) per attack and eps."""
    lines = [f"inputs: {report['data']['n']}  clean accuracy: {report['clean']['accuracy']['1']:.4f}"]
    lines.append(f"{'attack':>10} {'eps':>8}  destruction rate (whole pipeline, top-1)")
    for name in report["settings"]["attacks"]:
        for e in report["settings"]["eps"]:
            rate = rate_of(report["destruction"], name, e, PIPELINE)
            lines.append(f"{name:>10} {e:>8.4g}  {'-' if rate is None else f'{rate:.4f}'}")
    return "\n".join(lines)


def _unit(x: Tensor, bounds: Bounds) -> np.ndarray:
    lo, hi = bounds
    return ((x.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1).numpy()


def sheet_tiles(
    report: dict[str, Any], x: Tensor, adversarial: dict[str, Tensor], bounds: Bounds
) -> dict[str, np.ndarray]:
    """The sheet's images in [0, 1]: "clean" and each attack at the sheet's eps (those kept here:
    under torchrun only rank 0 keeps the adversarial inputs)."""
    sheet = report["sheet"]
    tiles = {"clean": _unit(x[sheet["ids"]], bounds)}
    for name in sheet["attacks"]:
        key = f"{name}@{sheet['eps']:g}"
        if key in adversarial:
            tiles[name] = _unit(adversarial[key][sheet["ids"]], bounds)
    return tiles


def write_arrays(folder: Path, x: Tensor, y: Tensor, adversarial: dict[str, Tensor]) -> Path:
    """``adversarial.npz``: the clean inputs, labels, ids and every run's adversarial inputs (``runs``
    names them, ``"attack@eps"``)."""
    keys = list(adversarial)
    arrays = {
        "x": x.detach().cpu().numpy(),
        "y": y.cpu().numpy(),
        "ids": np.arange(x.shape[0]),
        "x_adv": np.stack([adversarial[k].detach().cpu().numpy() for k in keys]),
        "runs": np.array(keys),
    }

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]

    folder.mkdir(parents=True, exist_ok=True)
    return write_with(folder / FILES["arrays"], save)


def write_sheet_pdf(folder: Path, report: dict[str, Any], tiles: dict[str, np.ndarray]) -> Path:
    """``sheet.pdf``: one row per sheet input, its clean image and each attack's at the sheet's eps."""
    sheet = report["sheet"]
    label = {"clean": "clean", **{a: f"{a} {sheet['eps']:g}" for a in sheet["attacks"]}}
    rows = [
        SheetRow(str(i), tuple((tiles[name][j], label[name]) for name in tiles)) for j, i in enumerate(sheet["ids"])
    ]
    note = (
        "Print at 100% scale. Photograph the page, crop each framed image, resize it to the model's input size "
        f"and classify it; ids match the rows of {FILES['arrays']} (x, y, x_adv)."
    )
    title = f"feint physical-world sheet: {report['model'].get('name')} on {report['data'].get('name')}"
    folder.mkdir(parents=True, exist_ok=True)
    return write_sheet(folder / FILES["sheet"], rows, title=title, note=note)
