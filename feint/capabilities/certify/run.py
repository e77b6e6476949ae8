"""``certify``: certified L2 robustness of a smoothed classifier, as a :class:`~feint.report.Report`.

Cohen, Rosenfeld & Kolter 2019 ("Certified Adversarial Robustness via Randomized Smoothing"): the
model is smoothed with Gaussian noise (:func:`feint.smooth`), CERTIFY runs on every input
(:mod:`feint.capabilities.certify.measure`, resumable group by group), and the report
(:mod:`feint.capabilities.certify.report`, page :mod:`feint.capabilities.certify.page`) gives the
certified accuracy against L2 radius, the abstain rate, the clean accuracy of the smoothed
classifier and the time per certified input. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from feint.capabilities.certify.measure import certify_inputs, group_size
from feint.capabilities.certify.page import render_certify_html
from feint.capabilities.certify.report import build_certify_report, summarize
from feint.capabilities.certify.state import fingerprint
from feint.data.dataset import Dataset, DatasetInfo
from feint.data.inputs import unpack
from feint.defenses.smoothing import Smoothed, smooth
from feint.devices import place
from feint.errors import InputError
from feint.io import prepare_out
from feint.measure.certified import DEFAULT_RADII
from feint.report import Report
from feint.report.provenance import model_info
from feint.validation import check_images, check_labels, check_nonnegative, model_logits


def smoothed_model(model: nn.Module, sigma: float | None, **sampling: int | float | None) -> Smoothed:
    """``model`` smoothed at ``sigma`` with the ``sampling`` settings (n0, n, alpha, batch_size; None: the
    smoothed model's own, or :func:`feint.smooth`'s defaults); a model already smoothed keeps its base and
    noise level (a different ``sigma`` is refused)."""
    given: dict[str, Any] = {k: v for k, v in sampling.items() if v is not None}
    if isinstance(model, Smoothed):
        own: dict[str, Any] = {"n0": model.n0, "n": model.n, "alpha": model.alpha, "batch_size": model.batch_size}
        given = own | given
        if sigma is not None and float(sigma) != model.sigma:
            raise InputError(
                f"the model is already smoothed at sigma {model.sigma:g}, not {sigma!r}; pass its base model "
                "to smooth it at another sigma"
            )
        return smooth(model.base, model.sigma, **given)
    if sigma is None:
        raise InputError(
            "give sigma, the noise level to smooth the model with (e.g. sigma=0.25), or a feint.smooth(...) model"
        )
    return smooth(model, sigma, **given)


def _radii(radii: Sequence[float]) -> list[float]:
    values = sorted({float(r) for r in radii})
    if not values:
        raise InputError("give at least one L2 radius for the table, e.g. radii=(0, 0.25, 0.5, 1.0)")
    for r in values:
        check_nonnegative(r, "every radius")
    return values


def certify(
    model: nn.Module,
    x: Tensor | Dataset,
    y: Tensor | None = None,
    *,
    sigma: float | None = None,
    n0: int | None = None,
    n: int | None = None,
    alpha: float | None = None,
    radii: Sequence[float] = DEFAULT_RADII,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    resume: bool = True,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    batch_size: int | None = None,
) -> Report:
    """Certify the smoothed classifier of ``model`` at noise level ``sigma`` (L2) on ``(x, y)``.

    ``model`` is a base classifier (then ``sigma`` is required) or a :func:`feint.smooth` model.
    CERTIFY (Cohen et al. 2019) chooses each input's class on ``n0`` noisy draws and certifies it on
    ``n`` more at failure probability ``alpha`` (default: the smoothed model's own; for a base model
    100, 10,000 and 0.001, as :func:`feint.smooth`); ``radii`` are the L2 radii of the report's table.
    ``x`` is a :class:`~feint.data.dataset.Dataset` (then no ``y``) or a tensor (N, C, H, W) with
    labels ``y``. The draws go through the base model in passes of ``batch_size`` rows (default 1000; many inputs at
    once); each group of inputs draws from its own seed (from ``seed``). With ``out`` the report is saved
    there (``report.json``, ``report.html``) and ``out/certify_state/`` after every group: a killed run
    called again (``resume``) certifies only the groups left, with the same figures.
    """
    x, y, data_info, split = unpack(x, y, data_info, split)
    smoothed = smoothed_model(model, sigma, n0=n0, n=n, alpha=alpha, batch_size=batch_size)
    smoothed, x, y = place(device, smoothed), place(device, x), place(device, y)
    table_radii = _radii(radii)
    bounds = data_info.bounds if data_info is not None else (0.0, 1.0)
    check_images(x, bounds=bounds)
    num_classes = model_logits(smoothed.base, x).shape[1]
    check_labels(y, n=x.shape[0], num_classes=num_classes)
    if out is not None:
        prepare_out(out)
    settings = {
        "sigma": smoothed.sigma, "n0": smoothed.n0, "n": smoothed.n, "alpha": smoothed.alpha, "radii": table_radii,
        "seed": seed, "batch_size": smoothed.batch_size, "group_size": group_size(smoothed, int(x.shape[0])),
    }  # fmt: skip
    fp = fingerprint(settings, x, y, smoothed)
    certified = certify_inputs(
        smoothed, x, y, seed=seed, fp=fp, out=None if out is None else Path(out), resume=resume, progress=progress
    )
    data = data_info.to_dict() if data_info is not None else {"name": "data"}
    built = build_certify_report(
        certified, y, settings=settings, model=model_info(smoothed.base, model_name),
        data={**data, "n": int(x.shape[0]), "split": split},
    )  # fmt: skip
    report = Report(built, page=render_certify_html, summarize=summarize, notes=tuple(certified.notes))
    return report.save(out) if out is not None else report
