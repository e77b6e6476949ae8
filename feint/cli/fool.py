"""``feint fool``: fooling images for every class (Nguyen et al. 2015), a report and ``fooling.npz``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from feint.cli.common import device_option, resolve_device
from feint.errors import InputError
from feint.io import check_writable

OUT_FILES = {"images": "fooling.npz", "genomes": "cppn_genomes.json"}


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
    return shape  # type: ignore[return-value]


def _shape_and_classes(config: dict[str, Any] | None, shape: tuple[int, int, int] | None) -> tuple[Any, Any, Any]:
    data = (config or {}).get("data") or {}
    shape = shape or (tuple(data["input_shape"]) if data.get("input_shape") else None)
    if shape is None:
        raise InputError("the model does not record its input shape; pass --input-shape C,H,W (e.g. 1,28,28)")
    return shape, data.get("class_names"), data.get("bounds") or (0.0, 1.0)


@click.command()
@click.option("--model", "model_spec", required=True, help="a feint run directory or package.module:factory")
@click.option("--weights", default=None, help="safetensors weights for a package.module:factory model")
@click.option("--method", type=click.Choice(["direct", "cppn", "gradient"]), default="direct", show_default=True)
@click.option("--generations", default=200, show_default=True, type=int, help="generations (gradient: steps)")
@click.option(
    "--population", default=100, show_default=True, type=int, help="offspring per generation (one query batch)"
)
@click.option("--max-queries", default=None, type=int, help="query budget for the evolutionary methods")
@click.option(
    "--start", type=click.Choice(["noise", "blank"]), default="noise", show_default=True, help="gradient: start image"
)
@click.option("--l2", default=0.0, show_default=True, type=float, help="gradient: L2 regularisation weight")
@click.option("--blur-sigma", default=0.0, show_default=True, type=float, help="gradient: blur regularisation (px)")
@click.option("--input-shape", default=None, help="C,H,W when the model does not record it")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--out", required=True, help="folder for report.json, report.html and fooling.npz")
@device_option
def fool_command(
    model_spec: str,
    weights: str | None,
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
    """Make an unrecognisable image per class that the model labels with high confidence."""
    from feint.attacks.fooling import fool, save_cppns
    from feint.evaluate.fooling_report import build_fooling_report, write_fooling_report
    from feint.models import resolve_model
    from feint.oracles import as_oracle
    from feint.report.provenance import model_info

    if generations < 1:
        raise InputError(f"--generations must be at least 1, got {generations}")
    check_writable(out, folder=True)
    model, config = resolve_model(model_spec, weights=weights, device=str(resolve_device(device)))
    shape, class_names, bounds = _shape_and_classes(config, parse_shape(input_shape))
    if method == "gradient":
        target: Any = model
        options: dict[str, Any] = {"start": start, "l2": l2, "blur_sigma": blur_sigma, "bounds": tuple(bounds)}
        access = "white-box"
    else:
        target = as_oracle(model, access="scores", input_shape=shape, bounds=tuple(bounds), max_queries=max_queries)
        options = {"population": population}
        access = "scores"
    result = fool(
        target, method=method, generations=generations, input_shape=shape, seed=seed, progress=not quiet, **options
    )
    folder = Path(out)
    result.save_npz(folder / OUT_FILES["images"])
    files: dict[str, str | None] = {"images": OUT_FILES["images"], "genomes": None}
    if result.genomes is not None:
        save_cppns(folder / OUT_FILES["genomes"], result.genomes, shape=shape)
        files["genomes"] = OUT_FILES["genomes"]
    names = class_names or [str(k) for k in range(int(result.target.numel()))]
    info = {**model_info(model, str(config["arch"]) if config else model_spec), "access": access}
    settings = {"generations": generations, "seed": seed, "input_shape": list(shape), **options}
    if max_queries is not None:
        settings["max_queries"] = max_queries
    report = build_fooling_report(result, class_names=names, model=info, settings=settings, files=files)
    paths = write_fooling_report(folder, report, result, tuple(bounds))
    s = report["summary"]
    click.echo(f"method: {method}  classes fooled at >= 99%: {s['fooled']}/{s['classes']}")
    click.echo(f"median confidence: {s['median_confidence']:.4f}  lowest: {s['min_confidence']:.4f}")
    click.echo(f"queries: {result.queries}  time: {result.seconds:.1f} s")
    if result.stopped:
        click.echo(f"stopped early: {result.stopped}")
    click.echo(f"images: {(folder / OUT_FILES['images']).resolve()}")
    click.echo(f"report: {paths['html'].resolve()}")
