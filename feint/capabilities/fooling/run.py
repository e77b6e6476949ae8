"""``fool``: an unrecognisable image per class that the model labels with high confidence, as a
:class:`~feint.report.Report`.

Nguyen, Yosinski & Clune 2015 ("Deep Neural Networks are Easily Fooled"): the search itself is
:func:`feint.attacks.fooling.fool` (direct or CPPN evolution from class scores, or gradient ascent);
this room checks the request, runs it, and builds the report
(:mod:`feint.capabilities.fooling.report`, page :mod:`feint.capabilities.fooling.page`) with
``fooling.npz`` (the images) and, for the CPPN method, ``cppn_genomes.json`` (their genomes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import feint.attacks.fooling as fooling
from feint.attacks.fooling.evolution import check_population_fits
from feint.attacks.fooling.result import FoolingResult
from feint.capabilities.fooling.page import render_fooling_html
from feint.capabilities.fooling.report import FILES, build_fooling_report, summarize
from feint.errors import InputError
from feint.io import prepare_out
from feint.oracles import Oracle, as_oracle
from feint.oracles.module import check_input_shape
from feint.report import Report
from feint.report.provenance import model_info
from feint.validation import Bounds, check_choice


def _shape(model: nn.Module | Oracle, input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise InputError("the model does not say its input shape; pass input_shape=(C, H, W), e.g. (1, 28, 28)")
    if len(shape) != 3 or min(int(s) for s in shape) < 1:
        raise InputError(f"input_shape must be three positive sizes (C, H, W), got {tuple(shape)}")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def _classes_before(model: nn.Module | Oracle, shape: tuple[int, int, int]) -> int | None:
    """The model's class count before any search: a module in eval mode answers one blank input (one
    in training mode is left alone: a forward would move its batch-norm statistics); an oracle says it
    when it was declared with one."""
    if isinstance(model, nn.Module):
        if model.training:
            return None
        parameter = next(model.parameters(), None)
        blank = torch.zeros(1, *shape, device=parameter.device if parameter is not None else "cpu")
        with torch.no_grad():
            return int(model(blank).shape[-1])
    return model.num_classes


def _check_class_names(names: Sequence[str] | None, classes: int | None) -> None:
    """``class_names`` must name each of the model's classes, in the order of its outputs."""
    if names and classes is not None and classes != len(names):
        raise InputError(
            f"class_names names {len(names)} classes but the model has {classes}; "
            f"give one name per class, in the order of the model's outputs"
        )


def _files(result: FoolingResult, shape: tuple[int, int, int]) -> dict[str, Any]:
    """The extras: ``fooling.npz`` and, with CPPN genomes, ``cppn_genomes.json`` (each atomic)."""
    extras: dict[str, Any] = {"images": lambda folder: result.save_npz(Path(folder) / FILES["images"])}
    if result.genomes is not None:
        genomes = result.genomes
        extras["genomes"] = lambda folder: fooling.save_cppns(Path(folder) / FILES["genomes"], genomes, shape=shape)
    return extras


def fool(
    model: nn.Module | Oracle,
    *,
    method: str = "direct",
    generations: int = 200,
    population: int = 100,
    max_queries: int | None = None,
    start: str = "noise",
    l2: float = 0.0,
    blur_sigma: float = 0.0,
    input_shape: Sequence[int] | None = None,
    bounds: Bounds | None = None,
    class_names: Sequence[str] | None = None,
    model_name: str | None = None,
    model_note: str | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Report:
    """The best fooling image per class after ``generations`` generations (gradient: steps).

    ``method`` is ``"direct"`` or ``"cppn"`` (evolution from class scores: ``model`` may be a score
    oracle; a torch module is used only through its scores; ``population`` offspring per generation,
    one query batch, at most ``max_queries`` rows in all) or ``"gradient"`` (ascent on the class
    score from a ``start`` image, ``"noise"`` or ``"blank"``, with ``l2`` and ``blur_sigma``
    regularisation; a torch module only). ``input_shape`` (C, H, W) and ``bounds`` default to the
    oracle's (bounds: [0, 1]); ``class_names`` to the class indices. ``model_note`` says in the
    report how the model was loaded. With ``out`` the report is saved there (``report.json``,
    ``report.html``, ``fooling.npz`` and, for ``cppn``, ``cppn_genomes.json``).
    """
    check_choice(method, fooling.METHODS, "fooling method")
    shape = _shape(model, input_shape)
    lo, hi = bounds or getattr(model, "bounds", None) or (0.0, 1.0)
    bounds = (float(lo), float(hi))
    options: dict[str, Any]
    if method == "gradient":
        if isinstance(model, nn.Module):
            check_input_shape(model, shape, bounds)
        target: nn.Module | Oracle = model
        options = {"start": start, "l2": l2, "blur_sigma": blur_sigma, "bounds": bounds}
    else:
        check_population_fits(population, shape)
        target = (
            as_oracle(model, access="scores", input_shape=shape, bounds=bounds)
            if isinstance(model, nn.Module)
            else model
        )
        options = {"population": population, "max_queries": max_queries}
    _check_class_names(class_names, _classes_before(model, shape))  # before the search is paid for
    if out is not None:
        prepare_out(out)
    result = fooling.fool(
        target, method=method, generations=generations, input_shape=shape, seed=seed, progress=progress, **options
    )
    _check_class_names(class_names, int(result.target.numel()))  # one image per class searched
    names = [str(c) for c in class_names] if class_names else [str(k) for k in range(int(result.target.numel()))]
    access = "white-box" if method == "gradient" else "scores"
    info = {**model_info(model, model_name), "access": access, **({"loaded_as": model_note} if model_note else {})}
    settings = {"generations": generations, "seed": seed, "input_shape": list(shape), **options}
    if max_queries is None:
        settings.pop("max_queries", None)
    files = {"images": FILES["images"], "genomes": FILES["genomes"] if result.genomes is not None else None}
    data = build_fooling_report(result, class_names=names, model=info, settings=settings, files=files)
    images = ((result.x.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1).numpy()
    sent = getattr(model, "rows_sent", None)
    notes = (f"rows sent to the server (search, final check and retries): {sent}",) if sent is not None else ()
    report = Report(
        data,
        page=lambda d: render_fooling_html(d, images),
        summarize=summarize,
        notes=notes,
        extras=_files(result, shape),
    )
    return report.save(out) if out is not None else report
