"""``detect``: a fitted detector of adversarial inputs against attacks, as a :class:`~feint.report.Report`.

The detector is fitted beforehand, scikit-learn style (:mod:`feint.detectors`: mutation testing,
Wang et al. 2019; kernel density + Bayesian uncertainty, Feinman et al. 2017). Here it meets each
attack and an adaptive attack that knows about it (:mod:`feint.capabilities.detect.evaluation`);
the report (:mod:`feint.capabilities.detect.report`, page :mod:`feint.capabilities.detect.page`)
judges it by the adaptive attack (Carlini & Wagner 2017). Shapes: x (N, C, H, W), y (N,).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from feint import distributed as fd
from feint.attacks.registry import get_attack
from feint.attacks.result import AttackResult
from feint.capabilities.detect.evaluation import evaluate_detector
from feint.capabilities.detect.measure import DEFAULT_ATTACKS, EvalSettings
from feint.capabilities.detect.page import render_detect_html
from feint.capabilities.detect.report import build_detect_report, summarize
from feint.data.dataset import DatasetInfo
from feint.detectors.base import Detector
from feint.errors import InputError
from feint.io import prepare_out
from feint.report import Report
from feint.validation import check_images, check_labels


def eval_settings(
    *,
    attacks: Sequence[str],
    eps: float,
    params: Mapping[str, Mapping[str, Any]] | None,
    adaptive: bool,
    kappa: float,
    adaptive_steps: int,
    adaptive_weight: float = EvalSettings.adaptive_weight,
    seed: int,
    batch_size: int,
) -> EvalSettings:
    """:func:`detect`'s settings, checked (every attack name known, every number in range): the command
    line calls it before it loads anything, so a bad option fails at once."""
    if not attacks:
        raise InputError("give at least one attack to evaluate the detector against, e.g. attacks=('fgsm', 'pgd')")
    for name in attacks:
        get_attack(name)
    return EvalSettings(
        attacks=tuple(attacks), eps=eps, adaptive=adaptive, kappa=kappa, adaptive_steps=adaptive_steps,
        adaptive_weight=adaptive_weight, seed=seed, params={k: dict(v) for k, v in (params or {}).items()},
        batch_size=batch_size,
    )  # fmt: skip


def detect(
    detector: Detector,
    x: Tensor,
    y: Tensor,
    *,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    eps: float = 0.1,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    adaptive: bool = True,
    kappa: float = 10.0,
    adaptive_steps: int = 100,
    adaptive_weight: float = 1.0,
    crafted: dict[str, tuple[AttackResult, float]] | None = None,
    data_info: DatasetInfo | None = None,
    split: str | None = None,
    model_name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = False,
    batch_size: int = 128,
) -> Report:
    """Evaluate the fitted ``detector`` (on its own model, ``detector.model``) on clean ``(x, y)`` and on
    ``attacks`` at ``eps``, then on the adaptive attack (``adaptive``): a C&W with confidence
    ``kappa`` against mutation testing, a density-aware PGD of ``adaptive_steps`` steps (weight
    ``adaptive_weight``) against kernel density.

    ``params`` holds per-attack options, e.g. ``{"cw": {"steps": 50}}`` (an ``eps`` there overrides
    ``eps`` for that attack). ``crafted``: attacks already run on the correctly classified inputs
    (:func:`~feint.capabilities.detect.evaluation.craft_all`), reused instead of crafted again.
    ``data_info`` names the data in the report. With ``out`` the report is saved there
    (``report.json``, ``report.html``). Inputs go in batches of ``batch_size``, each attacked with its
    own seeds. Under torchrun every rank calls it alike; rank 0 alone writes ``out``.
    """
    started = time.perf_counter()
    settings = eval_settings(
        attacks=attacks, eps=eps, params=params, adaptive=adaptive, kappa=kappa, adaptive_steps=adaptive_steps,
        adaptive_weight=adaptive_weight, seed=seed, batch_size=batch_size,
    )  # fmt: skip
    fd.join(None, x.device)
    progress = progress and fd.is_root()
    with fd.together("checking the inputs"):
        check_images(x, bounds=detector.bounds)
        check_labels(y, n=x.shape[0])
        if out is not None and fd.is_root():  # rank 0 alone writes
            prepare_out(out)
    fd.check_job(
        dataclasses.asdict(settings), [x, y], detector.model, n_inputs=x.shape[0], what="inputs to evaluate on"
    )
    measured = evaluate_detector(detector, x, y, settings=settings, crafted=crafted, progress=progress)
    data = data_info.to_dict() if data_info is not None else {"name": "unknown"}
    built = build_detect_report(
        detector, measured, settings=settings, data={**data, "n": int(x.shape[0]), "split": split},
        model_name=model_name, seconds=time.perf_counter() - started,
    )  # fmt: skip
    report = Report(built, page=render_detect_html, summarize=summarize)
    return report.save(out) if out is not None and fd.is_root() else report
