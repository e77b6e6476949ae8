"""``feint train``: train a registered architecture on a dataset, resumable, saved as a run directory."""

from __future__ import annotations

import click

from feint import distributed as fd
from feint.cli.common import data_options, device_option, load_data, parse_params, resolve_device
from feint.io import check_writable
from feint.training import train


@click.command()
@data_options(split=False)
@click.option("--arch", default="lenet", show_default=True, help="softmax, mlp, lenet, maxout or resnet")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--optimizer", default="adam", show_default=True, help="adam or sgd")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--adv", default=None, help="attack applied to every batch (e.g. fgsm, rand_fgsm, pgd)")
@click.option("--adv-eps", default=0.1, show_default=True, type=float)
@click.option("--adv-alpha", default=0.5, show_default=True, type=float, help="weight of the clean loss")
@click.option("--adv-param", "adv_params", multiple=True, help="attack option key=value, repeatable")
@click.option("--out", required=True, help="run directory (config.json, weights.safetensors, checkpoints)")
@click.option("--resume", is_flag=True, help="continue from the last checkpoint in --out")
@click.option("--overwrite", is_flag=True, help="train afresh over a run already in --out")
@click.option("--quiet", is_flag=True, help="no progress bars")
@device_option
def train_command(
    data: str,
    data_path: str | None,
    arch: str,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    seed: int,
    adv: str | None,
    adv_eps: float,
    adv_alpha: float,
    adv_params: tuple[str, ...],
    out: str,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    device: str,
) -> None:
    """Train a model; the test split's clean accuracy is printed at the end.

    Under ``torchrun --nproc-per-node K -m feint train ...`` it trains with DistributedDataParallel:
    ``--batch-size`` per rank, ``--out`` on a folder every rank shares, rank 0 writes.
    """
    dev = fd.start(resolve_device(device))
    with fd.together("loading the data"):
        check_writable(out, folder=True)
        train_data = load_data(data, "train", data_path)
        test_data = load_data(data, "test", data_path)
    result = train(
        arch,
        train_data,
        test_data,
        out=out,
        resume=resume,
        overwrite=overwrite,
        device=dev,
        progress=not quiet,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        seed=seed,
        adv=adv,
        adv_eps=adv_eps,
        adv_alpha=adv_alpha,
        adv_params=parse_params(adv_params),
    )
    if fd.is_root():
        click.echo(f"clean test accuracy: {result.test_accuracy:.4f}")
        click.echo(f"model saved to {out}")
