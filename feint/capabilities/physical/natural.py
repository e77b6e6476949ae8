"""``natural``: accuracy under natural variation as its own :class:`~feint.report.Report`.

Rotation, translation, scaling, cropping, blur, brightness and JPEG at growing severity, and the
worst case over a grid of combined rotations and translations (Engstrom, Tran, Tsipras, Schmidt &
Madry 2019), measured by :func:`feint.measure.natural.natural_variation` (the section ``feint
audit --natural`` adds to an audit). Only top-1 labels are used, so the model may be query-only.
Report: :mod:`feint.capabilities.physical.natural_report`; page:
:mod:`feint.capabilities.physical.natural_page`. Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import os

from torch import Tensor, nn

from feint.capabilities.physical.natural_page import render_natural_html
from feint.capabilities.physical.natural_report import build_natural_report, summarize
from feint.data.dataset import DatasetInfo
from feint.io import prepare_out
from feint.measure.natural import SpatialGrid, natural_variation
from feint.oracles import Oracle
from feint.oracles.logits import access_of
from feint.report import Report
from feint.report.provenance import model_info
from feint.validation import check_images, check_labels, model_logits


def natural(
    model: nn.Module | Oracle,
    x: Tensor,
    y: Tensor,
    *,
    grid: SpatialGrid | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    model_note: str | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Report:
    """Accuracy of ``model`` on ``(x, y)`` against the severity of each natural transformation, and the
    worst case over ``grid`` (default :class:`~feint.measure.natural.SpatialGrid`: 7 rotations x 5 x 5
    shifts).

    ``model`` is a torch module or an oracle (labels suffice; every transformed batch is a counted
    query). ``data_info`` names the data and gives the bounds (default [0, 1]); ``model_note`` says
    in the report how the model was loaded. With ``out`` the report is saved there (``report.json``,
    ``report.html``). Nothing here is random: the same inputs give the same figures.
    """
    bounds = data_info.bounds if data_info is not None else (0.0, 1.0)
    check_images(x, bounds=bounds)
    if isinstance(model, Oracle):
        if model.num_classes is None:  # a label-only oracle does not say how many classes it has; the data does
            model.num_classes = data_info.num_classes if data_info is not None else int(y.max()) + 1
        num_classes, access = model.num_classes, access_of(model)
    else:  # one clear error for a model that does not fit the inputs or returns probabilities
        num_classes, access = int(model_logits(model, x).shape[1]), "white-box"
    check_labels(y, n=x.shape[0], num_classes=num_classes)
    if out is not None:
        prepare_out(out)
    measured = natural_variation(model, x, y, grid=grid, bounds=bounds, progress=progress)
    info = {**model_info(model, model_name), "access": access, **({"loaded_as": model_note} if model_note else {})}
    data = data_info.to_dict() if data_info is not None else {"name": "data"}
    report = Report(
        build_natural_report(measured, model=info, data={**data, "n": int(x.shape[0]), "split": split}),
        page=render_natural_html,
        summarize=summarize,
    )
    return report.save(out) if out is not None else report
