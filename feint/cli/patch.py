"""``feint patch``: a sticker, an adversarial patch or a universal perturbation, trained on part of
the data and measured on the rest; report.json, report.html and pattern.npz in ``--out``."""

from __future__ import annotations

import click

from feint.capabilities.patch.settings import DEFAULT_AREAS, MAX_DRAWS
from feint.cli.common import (
    COUNT,
    Bounded,
    batch_size_option,
    data_options,
    device_option,
    load_module_and_data,
    model_options,
    n_inputs_option,
    output_options,
    parse_floats,
    quiet_option,
    resolve_device,
    seed_option,
)
from feint.errors import InputError

CLASS = Bounded(int, low=0)
FRACTION = Bounded(float, low=0, low_open=True, high=1)


@click.command()
@model_options(
    help="run dir, module:factory or a file.onnx that converts to torch",
    trust_help="load a pickled torch model (runs code from the file)",
)
@data_options(whole_own_data=True)
@n_inputs_option("train and measure on")
@click.option("--kind", type=click.Choice(["sticker", "patch", "universal"]), default="patch", show_default=True)
@click.option(
    "--area", default=0.1, show_default=True, type=float, help="sticker, patch: fraction of the image covered"
)
@click.option(
    "--areas",
    default=",".join(f"{a:g}" for a in DEFAULT_AREAS),
    show_default=True,
    help="patch: the areas its success is measured at",
)
@click.option("--eps", default=None, help="universal: the budget, e.g. 0.1 or 8/255")
@click.option("--norm", default="inf", show_default=True, type=click.Choice(["inf", "2"]), help="universal: the norm")
@click.option("--target", default=None, type=CLASS, help="the class to aim at (default: untargeted)")
@click.option("--source", default=None, type=CLASS, help="train and measure on this class's inputs only")
@click.option("--mask", default="square", show_default=True, help="sticker: square, strips or a mask file (.png, .npy)")
@click.option(
    "--mask-at", default="0.5,0.5", show_default=True, help="sticker: centre of the square (row,col fractions)"
)
@click.option("--palette", default=None, help="sticker: printable colours, a .json or .csv list of colours")
@click.option(
    "--printability", default=1.0, show_default=True, type=Bounded(low=0), help="sticker: printability weight"
)
@click.option("--smoothness", default=0.05, show_default=True, type=Bounded(low=0), help="sticker: smoothness weight")
@click.option("--steps", default=300, show_default=True, type=COUNT, help="training steps (universal: most passes)")
@click.option("--samples", default=4, show_default=True, type=COUNT, help="random transformations per image and step")
@click.option(
    "--draws",
    default=4,
    show_default=True,
    type=Bounded(int, low=1, high=MAX_DRAWS),
    help="random placements and transformations per held-out input",
)
@click.option("--held-out", default=0.5, show_default=True, type=FRACTION, help="fraction of the inputs measured on")
@seed_option
@batch_size_option(32, help="images per training step")
@quiet_option
@output_options("folder for report.json, report.html and pattern.npz")
@device_option
def patch_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    n: int | None,
    kind: str,
    area: float,
    areas: str,
    eps: str | None,
    norm: str,
    target: int | None,
    source: int | None,
    mask: str,
    mask_at: str,
    palette: str | None,
    printability: float,
    smoothness: float,
    steps: int,
    samples: int,
    draws: int,
    held_out: float,
    seed: int,
    batch_size: int,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Train a sticker (Eykholt et al. 2018), a patch (Brown et al. 2017) or a universal perturbation
    (Moosavi-Dezfooli et al. 2017) on part of the data; measure it on the held-out rest."""
    from feint.attacks.patches import load_mask
    from feint.capabilities.patch.run import patch

    budget = parse_floats(eps, "--eps")
    if kind == "universal" and not budget:
        raise InputError("--kind universal needs a budget: give --eps (e.g. --eps 0.1 --norm inf)")
    if budget is not None and len(budget) != 1:
        raise InputError(f"--eps takes one budget, got {eps!r}")
    centre = parse_floats(mask_at, "--mask-at") or []
    if len(centre) != 2:
        raise InputError(f"--mask-at takes two fractions row,col (e.g. 0.5,0.5), got {mask_at!r}")
    dev = resolve_device(device)

    loaded, dataset = load_module_and_data(
        out, model_spec=model_spec, weights=weights, trust=trust_file, device=dev, data=data, split=split,
        data_path=data_path, n=n, seed=seed, why="feint patch trains its pattern by gradients",
    )  # fmt: skip
    height, width = dataset.info.input_shape[-2:]
    shape = mask if mask in ("square", "strips") else load_mask(mask, height, width)
    report = patch(
        loaded.module, dataset.x, dataset.y, kind=kind, area=area, areas=parse_floats(areas, "--areas") or [],
        eps=budget[0] if budget else None, norm=norm, target=target, source=source, mask=shape, mask_at=centre,
        palette=palette, printability=printability, smoothness=smoothness, steps=steps, samples=samples,
        draws=draws, held_out=held_out, data_info=dataset.info, split=dataset.split, model_name=loaded.name,
        out=out, seed=seed, device=dev, progress=not quiet, batch_size=batch_size,
    )  # fmt: skip
    click.echo(report.summary())
    click.echo(f"pattern: {report.paths['pattern'].resolve()}")
    click.echo(f"report: {report.paths['html'].resolve()}")
