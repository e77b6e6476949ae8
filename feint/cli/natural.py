"""``feint natural``: accuracy under natural variation (rotation, translation, blur, JPEG, ...), a report."""

from __future__ import annotations

import click

from feint.cli.common import (
    check_model_fits_data,
    data_options,
    device_option,
    load_data,
    model_options,
    n_inputs_option,
    output_options,
    quiet_option,
    resolve_device,
    seed_option,
)


@click.command()
@model_options()
@data_options(whole_own_data=True)
@n_inputs_option("measure on")
@seed_option
@quiet_option
@output_options("folder for report.json and report.html")
@device_option
def natural_command(
    model_spec: str,
    weights: str | None,
    trust_file: bool,
    data: str,
    data_path: str | None,
    split: str,
    n: int | None,
    seed: int,
    quiet: bool,
    out: str,
    device: str,
) -> None:
    """Accuracy against the severity of everyday transformations and the worst case over a grid of
    rotations and translations (Engstrom et al. 2019). Labels suffice: the model may be query-only."""
    from feint.capabilities.physical.natural import natural
    from feint.models import resolve

    dev = resolve_device(device)
    loaded = resolve(model_spec, weights=weights, device=str(dev), trust=trust_file)
    dataset = load_data(data, split, data_path, n, seed)
    check_model_fits_data(loaded.config, dataset, model_spec, loaded.target)
    report = natural(
        loaded.target, dataset.x.to(dev), dataset.y.to(dev), data_info=dataset.info, split=dataset.split,
        model_name=loaded.name, model_note=loaded.describe(), out=out, progress=not quiet,
    )  # fmt: skip
    click.echo(report.summary())
    click.echo(f"report: {report.paths['html'].resolve()}")
