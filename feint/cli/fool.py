"""``feint fool``: fooling images for every class (Nguyen et al. 2015), a report and ``fooling.npz``."""

from __future__ import annotations

from typing import Any

import click

from feint.attacks.fooling.evolution import check_population_fits
from feint.cli.common import (
    COUNT,
    Bounded,
    device_option,
    model_options,
    output_options,
    quiet_option,
    resolve_device,
    seed_option,
)
from feint.errors import InputError


def parse_shape(text: str | None) -> tuple[int, int, int] | None:
    """``"1,28,28"`` -> ``(1, 28, 28)``."""
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError as exc:
        raise InputError(f"--input-shape {text!r} must be C,H,W (e.g. 1,28,28)") from exc
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"--input-shape {text!r} must be three positive sizes C,H,W (e.g. 1,28,28)")
    check_population_fits(1, shape, fix="check --input-shape")
    return shape  # type: ignore[return-value]


def _shape_classes_bounds(loaded: Any, shape: tuple[int, int, int] | None) -> tuple[Any, Any, Any]:
    """(C, H, W), class names and bounds from ``--input-shape``, the run's config or the oracle."""
    data = (loaded.config or {}).get("data") or {}
    oracle = loaded.oracle
    shape = shape or (tuple(data["input_shape"]) if data.get("input_shape") else None)
    shape = shape or (oracle.input_shape if oracle is not None else None)
    if shape is None:
        raise InputError("the model does not record its input shape; pass --input-shape C,H,W (e.g. 1,28,28)")
    bounds = data.get("bounds") or (oracle.bounds if oracle is not None else (0.0, 1.0))
    return shape, data.get("class_names"), tuple(bounds)


@click.command()
@model_options()
@click.option("--method", type=click.Choice(["direct", "cppn", "gradient"]), default="direct", show_default=True)
@click.option("--generations", default=200, show_default=True, type=COUNT, help="generations (gradient: steps)")
@click.option(
    "--population", default=100, show_default=True, type=COUNT, help="offspring per generation (one query batch)"
)
@click.option(
    "--max-queries", default=None, type=COUNT, help="total queries the evolutionary methods may send (the whole run)"
)
@click.option(
    "--start-image",
    "start",
    type=click.Choice(["noise", "blank"]),
    default="noise",
    show_default=True,
    help="gradient: start image",
)
@click.option("--l2", default=0.0, show_default=True, type=Bounded(low=0), help="gradient: L2 regularisation weight")
@click.option(
    "--blur-sigma", default=0.0, show_default=True, type=Bounded(low=0), help="gradient: blur regularisation (px)"
)
@click.option("--input-shape", default=None, help="C,H,W when the model does not record it")
@seed_option
@quiet_option
@output_options("folder for report.json, report.html and fooling.npz")
@device_option
def fool_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    method: str,
    generations: int,
    population: int,
    max_queries: int | None,
    start: str,
    l2: float,
    blur_sigma: float,
    input_shape: str | None,
    seed: int,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Make an unrecognisable image per class that the model labels with high confidence.

    direct and cppn need only class scores: the model may be query-only (.skops, ONNX, a v2 URL).
    """
    from feint.capabilities.fooling.run import fool
    from feint.models import resolve

    loaded = resolve(model_spec, weights=weights, device=str(resolve_device(device)), trust=trust_file)
    shape, class_names, bounds = _shape_classes_bounds(loaded, parse_shape(input_shape))
    if method == "gradient" and loaded.module is None:
        raise InputError(
            f"--method gradient needs a white-box torch model, but {model_spec} gives {loaded.describe()}; "
            "use --method direct or cppn, which need only class scores"
        )
    report = fool(
        loaded.target, method=method, generations=generations, population=population, max_queries=max_queries,
        start=start, l2=l2, blur_sigma=blur_sigma, input_shape=shape, bounds=bounds, class_names=class_names,
        model_name=loaded.name, model_note=loaded.describe(), out=out, seed=seed, progress=not quiet,
    )  # fmt: skip
    click.echo(report.summary())
    click.echo(f"images: {report.paths['images'].resolve()}")
    click.echo(f"report: {report.paths['html'].resolve()}")
