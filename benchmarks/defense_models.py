"""The models of benchmarks/defenses.py: how each is trained, cached under ``benchmarks/.cache/defenses``.

Every defended model is the default ``convnet`` with its recipe's default settings at eps 0.1; the
static sources of ensemble adversarial training and the held-out model that crafts the black-box
examples are undefended models of other architectures (Tramèr et al. 2018 hold out a different
architecture, so that transfer, not a copy of a source, is measured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

import feint
from feint.data import Dataset
from feint.errors import FeintError
from feint.models import load_config, load_model

CACHE = Path(__file__).resolve().parent / ".cache" / "defenses"
EPS = 0.1
SOURCES = (str(CACHE / "source-wide"), str(CACHE / "source-mlp"))

# name: (architecture, its options, recipe, recipe options, training settings). fast-at is trained
# by the command line (benchmarks/defenses.py times it); sources come before ensemble-at. The
# undefended baseline, like the sources, trains 5 epochs (its clean accuracy has levelled off by then).
MODELS: dict[str, tuple[str, dict[str, Any], str | None, dict[str, Any], dict[str, Any]]] = {
    "source-wide": ("convnet", {"width": 32}, None, {}, {"epochs": 5, "seed": 1}),
    "source-mlp": ("mlp", {}, None, {}, {"epochs": 5, "seed": 2}),
    "holdout": ("lenet", {"channels": (16, 32), "hidden": 64}, None, {}, {"epochs": 5, "seed": 3}),
    "undefended": ("convnet", {}, None, {}, {"epochs": 5}),
    "goodfellow": ("convnet", {}, "goodfellow", {"eps": EPS}, {}),
    "pgd-at": ("convnet", {}, "pgd-at", {"eps": EPS}, {}),
    "trades": ("convnet", {}, "trades", {"eps": EPS}, {}),
    "ensemble-at": ("convnet", {}, "ensemble-at", {"eps": EPS, "sources": SOURCES}, {}),
    "distill": ("convnet", {}, "distill", {"temperature": 100.0}, {}),
}


def train_model(name: str, train: Dataset, test: Dataset) -> nn.Module:
    """The cached model ``name``; trained (resumably) when missing."""
    folder = CACHE / name
    try:
        load_config(folder)
        return load_model(folder)
    except FeintError:
        pass
    arch, arch_kwargs, recipe, options, settings = MODELS[name]
    print(f"training {name}", flush=True)
    result = feint.train(
        arch,
        train,
        test,
        arch_kwargs=arch_kwargs or None,
        recipe=recipe,
        recipe_options=options,
        out=folder,
        resume=True,
        **settings,
    )
    print(f"trained {name}: clean test accuracy {result.test_accuracy:.4f}", flush=True)
    return result.model
