"""``feint demo``: the main job on the embedded default data.

Trains (or reuses) a small CNN on scikit-learn's digits, audits its robustness and writes
``report.json`` and ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from torch import nn

from feint import distributed as fd
from feint.capabilities.audit.presets import PRESETS
from feint.cli.common import (
    device_option,
    output_options,
    quiet_option,
    resolve_device,
)
from feint.data import load
from feint.errors import FeintError
from feint.io import check_writable
from feint.models import load_config, load_model
from feint.training import train

DEMO_ARCH = "lenet"
DEMO_SETTINGS: dict[str, Any] = {"epochs": 15, "lr": 2e-3, "seed": 0}


def _demo_model(folder: Path, *, retrain: bool, device: str, quiet: bool) -> nn.Module:
    """Reuse a finished demo model in ``folder`` when its settings match, else train one."""
    if not retrain:
        try:
            cfg = load_config(folder)
            same = cfg["arch"] == DEMO_ARCH and all(cfg["training"].get(k) == v for k, v in DEMO_SETTINGS.items())
            if same:
                say(f"reusing the model in {folder}")
                return load_model(folder, device=device)
        except FeintError:
            pass
    say(f"training a {DEMO_ARCH} on digits ({DEMO_SETTINGS['epochs']} epochs) -> {folder}")
    result = train(
        DEMO_ARCH,
        load("digits", "train"),
        load("digits", "test"),
        out=folder,
        resume=not retrain,
        overwrite=retrain,
        device=device,
        progress=not quiet,
        **DEMO_SETTINGS,
    )
    say(f"clean test accuracy: {result.test_accuracy:.4f}")
    return result.model


def say(line: str) -> None:
    """Print on rank 0 only (every rank runs the demo under torchrun)."""
    if fd.is_root():
        click.echo(line)


@click.command()
@output_options("folder for the model and the report", required=False, default="demo-out")
@click.option("--preset", default="standard", show_default=True, type=click.Choice(PRESETS))
@click.option("--retrain", is_flag=True, help="train the model again even if one is saved")
@quiet_option
@device_option
def demo_command(out: str, preset: str, retrain: bool, quiet: bool, device: str) -> None:
    """Train a CNN on digits, audit its robustness, write report.json and report.html."""
    from feint.capabilities.audit.run import audit

    dev = str(fd.start(resolve_device(device)))
    with fd.together("checking --out"):
        folder = check_writable(out, folder=True)
    model = _demo_model(folder / "model", retrain=retrain, device=dev, quiet=quiet)
    report = audit(
        model,
        load("digits", "test"),
        preset=preset,
        model_name=f"{DEMO_ARCH} trained on digits by feint demo",
        out=folder,
        device=dev,
        progress=not quiet,
    )
    say(report.summary())
    say(f"report: {Path(report.html_path or folder).resolve()}")
