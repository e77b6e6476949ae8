"""``patch``: a sticker, an adversarial patch or a universal perturbation, trained and measured on
held-out inputs, as a :class:`~feint.report.Report`.

One pattern for many images, the attacks real physical attacks use: an RP2 sticker inside a mask
(Eykholt et al. 2018, with Sharif et al. 2016's printability and smoothness terms), a patch that
works wherever it is put (Brown et al. 2017) or one small perturbation for a whole data set
(Moosavi-Dezfooli et al. 2017), all in :mod:`feint.attacks.patches`. The room splits the inputs,
trains on one part and measures on the other (:mod:`feint.capabilities.patch.measure`), and
builds the report (:mod:`feint.capabilities.patch.report`, page :mod:`feint.capabilities.patch.page`)
with ``pattern.npz``, the pattern itself. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from feint.attacks.core import eval_mode
from feint.attacks.patches import check_mask, load_palette
from feint.attacks.patches.printability import check_palette
from feint.capabilities.patch.measure import measure_patch
from feint.capabilities.patch.page import render_patch_html
from feint.capabilities.patch.report import build_patch_report, summarize, write_pattern
from feint.capabilities.patch.settings import DEFAULT_AREAS, PatchSettings
from feint.data.dataset import DatasetInfo
from feint.devices import place
from feint.errors import InputError
from feint.io import prepare_out
from feint.report import Report
from feint.report.provenance import model_info
from feint.transforms import Compose, print_and_photo
from feint.validation import check_images, check_labels, model_logits

FRAME_GREY = 0.54  # the grey of the frame the page draws around the pattern
Palette = Tensor | Sequence[Sequence[float]] | str | os.PathLike[str]


def _unit(images: Tensor, bounds: tuple[float, float]) -> Tensor:
    lo, hi = bounds
    return ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)


def patch(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    kind: str = "patch",
    area: float = 0.1,
    areas: Sequence[float] = DEFAULT_AREAS,
    eps: float | None = None,
    norm: str = "inf",
    target: int | None = None,
    source: int | None = None,
    mask: str | Tensor = "square",
    mask_at: Sequence[float] = (0.5, 0.5),
    palette: Palette | None = None,
    printability: float = 1.0,
    smoothness: float = 0.05,
    steps: int = 300,
    samples: int = 4,
    draws: int = 4,
    held_out: float = 0.5,
    pipeline: Compose | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    batch_size: int = 32,
) -> Report:
    """Train a ``kind`` pattern (``"sticker"``, ``"patch"`` or ``"universal"``) on part of ``(x, y)``
    and measure it on the ``held_out`` fraction it never saw.

    A sticker covers ``area`` of the image inside ``mask`` (``"square"`` centred at ``mask_at``,
    ``"strips"``, or a (H, W) tensor of the images' size), trained under EOT over ``pipeline``
    (default :func:`~feint.transforms.print_and_photo`) with ``printability`` (against ``palette``:
    a (P, C) list of colours in [0, 1] or a .json/.csv file) and ``smoothness`` weights. A patch is
    a square of ``area``, trained over random placements, and measured at each of ``areas``. A
    universal perturbation has ``norm`` (``"inf"`` or ``"2"``) at most ``eps``; ``steps`` is then
    the most passes over the data. ``target`` makes it targeted; ``source`` trains and measures on
    that class's inputs only (a sticker for one object). Each held-out input gets ``draws`` random
    placements and transformations. ``data_info`` names the data and gives the bounds (default
    [0, 1]) and class names. With ``out`` the report is saved there (``report.json``,
    ``report.html``, ``pattern.npz``). ``device`` moves the inputs and the model (in place) there.
    """
    settings = PatchSettings(
        kind=kind, area=area, areas=tuple(areas), eps=eps, norm=norm, target=target, source=source,
        mask="file" if isinstance(mask, Tensor) else str(mask), mask_at=(float(mask_at[0]), float(mask_at[1])),
        printability=printability, smoothness=smoothness, steps=steps, samples=samples, draws=draws,
        held_out=held_out, seed=seed, batch_size=batch_size,
    )  # fmt: skip
    model, x, y = place(device, model), place(device, x), place(device, y)
    bounds = data_info.bounds if data_info is not None else (0.0, 1.0)
    check_images(x, bounds=bounds)
    classes = int(model_logits(model, x[:1]).shape[1])
    check_labels(y, n=x.shape[0], num_classes=classes)
    for value, name in ((target, "target"), (source, "source")):
        if value is not None and value >= classes:
            raise InputError(
                f"{name} class {value} (--{name}) does not exist: the model has {classes} classes (0-{classes - 1})"
            )
    height, width = int(x.shape[-2]), int(x.shape[-1])
    cover = check_mask(mask, height, width).to(x) if isinstance(mask, Tensor) else None
    channels = int(x.shape[1])
    if isinstance(palette, (str, os.PathLike)):
        colours: Tensor | None = load_palette(palette, channels)
    else:
        colours = None if palette is None else check_palette(palette, channels)
    chain = pipeline or print_and_photo()
    if out is not None:
        prepare_out(out)
    with eval_mode(model):
        outcome = measure_patch(
            model, x, y, settings, pipeline=chain, mask=cover, palette=colours, bounds=bounds, progress=progress
        )
    names = list(data_info.class_names) if data_info is not None else [str(k) for k in range(classes)]
    data = data_info.to_dict() if data_info is not None else {"name": "data", "class_names": names}
    report = build_patch_report(
        outcome,
        settings=settings,
        pipeline=chain.describe(),
        model=model_info(model, model_name),
        data={**data, "n": int(x.shape[0]), "split": split},
        class_names=names,
    )
    lo, hi = bounds
    shown = outcome.result.pattern / (hi - lo) if kind == "universal" else _unit(outcome.result.pattern, bounds)
    if outcome.result.mask is not None:  # outside the mask, the page's frame grey: the sticker's shape shows
        mask = outcome.result.mask.detach().float().cpu()
        shown = shown * mask + FRAME_GREY * (1 - mask)
    pattern = shown.detach().float().cpu().numpy()
    tiles = {k: _unit(outcome.gallery[k], bounds).numpy() for k in ("clean", "applied")}
    done = Report(
        report,
        page=lambda data: render_patch_html(data, pattern, tiles),
        summarize=summarize,
        extras={"pattern": lambda folder: write_pattern(Path(folder), outcome, report["pattern"]["area"])},
    )
    return done.save(out) if out is not None else done
