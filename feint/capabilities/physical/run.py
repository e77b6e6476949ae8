"""``physical``: adversarial examples through a simulated print and photo, as a :class:`~feint.report.Report`.

Kurakin, Goodfellow & Bengio 2016 ("Adversarial examples in the physical world"): attack, put the
adversarial inputs through each step of a print-and-photo simulation and the whole chain, and
measure how many of them the transformations destroy (:mod:`feint.capabilities.physical.measure`).
The report (:mod:`feint.capabilities.physical.report`, page :mod:`feint.capabilities.physical.page`)
comes with ``adversarial.npz`` (every adversarial input) and ``sheet.pdf`` (a printable sheet to
try with a real camera). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from feint import distributed as fd
from feint.capabilities.physical.measure import KURAKIN_ATTACKS, PhysicalSettings, physical_world
from feint.capabilities.physical.page import render_physical_html
from feint.capabilities.physical.report import (
    build_physical_report,
    sheet_choice,
    sheet_tiles,
    summarize,
    write_arrays,
    write_sheet_pdf,
)
from feint.data.dataset import DatasetInfo
from feint.io import prepare_out
from feint.report import Report
from feint.report.provenance import model_info
from feint.report.sheet import cell_size
from feint.transforms import Compose, print_and_photo
from feint.validation import check_positive_int


def physical(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    attacks: Sequence[str] = KURAKIN_ATTACKS,
    eps: Sequence[float] = (0.05, 0.1),
    draws: int = 2,
    eot: bool = False,
    eot_samples: int = 8,
    eot_steps: int = 40,
    pipeline: Compose | None = None,
    sheet: int = 24,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = False,
    batch_size: int = 128,
) -> Report:
    """Destruction rates of ``attacks`` (Linf, at every ``eps``) under a simulated print and photo.

    ``pipeline`` is the simulation (default :func:`~feint.transforms.print_and_photo`), each input
    drawn ``draws`` times through it with seeded random parameters; ``eot`` adds EOT-PGD (Athalye et
    al. 2018) with ``eot_samples`` transformations per step and plain PGD, both ``eot_steps`` steps.
    ``sheet`` inputs go on the printable sheet. ``data_info`` names the data and gives the bounds
    (default [0, 1]). With ``out`` the report is saved there (``report.json``, ``report.html``,
    ``adversarial.npz``, ``sheet.pdf``). Inputs are attacked in batches of ``batch_size``, each with
    its own seeds. Under torchrun every rank calls it alike; rank 0 alone writes ``out``.
    """
    settings = PhysicalSettings(
        attacks=tuple(attacks), eps=tuple(float(e) for e in eps), draws=draws, seed=seed, eot=eot,
        eot_samples=eot_samples, eot_steps=eot_steps, batch_size=batch_size,
    )  # fmt: skip
    check_positive_int(sheet, "sheet (--sheet)")
    cell_size(1 + len(settings.all_attacks))  # the sheet's rows must fit the page, checked before any work
    fd.join(None, x.device)
    with fd.together("checking the output folder"):
        if out is not None and fd.is_root():  # rank 0 alone writes
            prepare_out(out)
    pipeline = pipeline or print_and_photo()
    bounds = data_info.bounds if data_info is not None else (0.0, 1.0)
    result = physical_world(model, x, y, settings=settings, pipeline=pipeline, bounds=bounds, progress=progress)
    data = data_info.to_dict() if data_info is not None else {"name": "data"}
    report = build_physical_report(
        result,
        settings=settings,
        pipeline=pipeline,
        model=model_info(model, model_name),
        data={**data, "n": int(x.shape[0]), "split": split},
        sheet=sheet_choice(settings, int(x.shape[0]), sheet),
    )
    tiles = sheet_tiles(report, x, result.adversarial, bounds)
    done = Report(
        report,
        page=lambda data: render_physical_html(data, tiles),
        summarize=summarize,
        extras={
            "arrays": lambda folder: write_arrays(Path(folder), x, y, result.adversarial),
            "sheet": lambda folder: write_sheet_pdf(Path(folder), report, tiles),
        },
    )
    return done.save(out) if out is not None and fd.is_root() else done
