"""``feint natural``: accuracy under natural variation (rotation, translation, blur, JPEG, ...), a report."""

from __future__ import annotations

import click

from feint.cli.common import (
    SEED,
    check_model_fits_data,
    data_options,
    device_option,
    load_data,
    n_inputs_option,
    resolve_device,
)


@click.command()
@click.option("--model", "model_spec", required=True, help="run dir, module:factory, file.onnx, file.skops or a v2 URL")
@click.option("--weights", default=None, help="safetensors weights for a package.module:factory model")
@click.option("--trust-file", is_flag=True, help="load a pickle/joblib model (runs code from the file)")
@data_options()
@n_inputs_option("measure on")
@click.option("--seed", default=0, show_default=True, type=SEED, help="picks the --n-inputs subset")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--out", required=True, help="folder for report.json and report.html")
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
