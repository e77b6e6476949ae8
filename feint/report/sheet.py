"""A printable sheet (PDF) of images with their ids, for printing and photographing for real.

Kurakin, Goodfellow & Bengio 2016 printed clean and adversarial images on paper, photographed the
prints with a phone and classified the photos. This writes such a sheet: A4 pages, one row per
input id (its clean image, then each adversarial version), every image framed in black so it can
be cropped from a photo, drawn pixel for pixel (no smoothing) at a fixed printed size. Written
with matplotlib's PDF backend, through ``Figure`` only (no pyplot), atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feint.errors import InputError
from feint.io import write_with

A4 = (8.27, 11.69)  # inches
CELL = 1.25  # printed size of one image, inches, when a row has room
SMALLEST = 0.6
MARGIN = 0.6


@dataclass(frozen=True)
class SheetRow:
    """One input: its id and its images, each (C, H, W) in [0, 1] with a short caption."""

    id: str
    images: tuple[tuple[np.ndarray, str], ...]


def _draw(ax: object, image: np.ndarray, caption: str) -> None:
    pixels = np.clip(image, 0, 1)
    if pixels.shape[0] == 1:
        ax.imshow(pixels[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")  # type: ignore[attr-defined]
    else:
        ax.imshow(pixels[:3].transpose(1, 2, 0), interpolation="nearest")  # type: ignore[attr-defined]
    ax.set_xticks([])  # type: ignore[attr-defined]
    ax.set_yticks([])  # type: ignore[attr-defined]
    for spine in ax.spines.values():  # type: ignore[attr-defined]
        spine.set_linewidth(2.0)
        spine.set_color("black")
    ax.set_xlabel(caption, fontsize=7)  # type: ignore[attr-defined]


def cell_size(columns: int) -> float:
    """Printed size (inches) of each image in a row of ``columns``; an error when they cannot fit."""
    cell = min(CELL, (A4[0] - 2 * MARGIN) / max(columns, 1))
    if cell < SMALLEST:
        most = int((A4[0] - 2 * MARGIN) // SMALLEST)
        raise InputError(f"a sheet row holds at most {most} images, got {columns}; print fewer attacks per sheet")
    return cell


def write_sheet(path: str | os.PathLike[str], rows: Sequence[SheetRow], *, title: str, note: str = "") -> Path:
    """Write ``rows`` to the PDF ``path``: as many A4 pages as needed, ``title`` and ``note`` on each."""
    if not rows:
        raise InputError("a printable sheet needs at least one row of images")
    cell = cell_size(max(len(r.images) for r in rows))
    per_page = int((A4[1] - 2 * MARGIN - 0.9) // (cell + 0.35))
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    def write(tmp: Path) -> None:
        with PdfPages(tmp) as pdf:
            for start in range(0, len(rows), per_page):
                fig = Figure(figsize=A4)
                fig.text(MARGIN / A4[0], 1 - MARGIN / A4[1], title, fontsize=11, weight="bold", va="top")
                if note:
                    fig.text(MARGIN / A4[0], 1 - (MARGIN + 0.3) / A4[1], note, fontsize=7, va="top", wrap=True)
                for r, row in enumerate(rows[start : start + per_page]):
                    top = MARGIN + 0.9 + r * (CELL + 0.35)
                    for c, (image, caption) in enumerate(row.images):
                        left = MARGIN + c * CELL
                        box = (
                            left / A4[0],
                            1 - (top + CELL - 0.1) / A4[1],
                            (CELL - 0.15) / A4[0],
                            (CELL - 0.15) / A4[1],
                        )
                        _draw(fig.add_axes(box), image, f"#{row.id} {caption}")
                pdf.savefig(fig)

    return write_with(path, write)
