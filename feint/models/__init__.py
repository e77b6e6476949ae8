"""Architectures, save/load, and loading user models."""

from feint.models import architectures  # noqa: F401  (registers the built-in architectures)
from feint.models.io import load_config, load_model, load_weights, save_model
from feint.models.loading import LoadedModel, resolve, resolve_model
from feint.models.registry import ARCHITECTURES, create_model, register_model

__all__ = [
    "ARCHITECTURES",
    "LoadedModel",
    "create_model",
    "load_config",
    "load_model",
    "load_weights",
    "register_model",
    "resolve",
    "resolve_model",
    "save_model",
]
