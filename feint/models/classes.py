"""Does a model's class count match the data's? Checked once, where a model or an oracle meets data.

A model with 3 outputs attacked on 10-class digits, or a scikit-learn classifier fitted on labels
90..99, would run and report a meaningless result (inputs it never gets right, or classes matched
by position only). :func:`check_classes` refuses the mismatch before any work: a torch module is
run once on one input; an oracle states its classes (ONNX and v2 output shapes, a scikit-learn
``classes_``) without spending a query, and a label-only oracle that does not is checked on its
answers instead (:class:`~feint.oracles.LabelOracle` refuses a label outside its classes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from feint.data import Dataset
from feint.errors import InputError
from feint.oracles.base import Oracle
from feint.oracles.forward import module_device
from feint.validation import call_model, check_logits, eval_mode


def model_classes(model: nn.Module | Oracle, data: Dataset) -> int | None:
    """The number of classes ``model`` predicts (a module: from one forward pass on ``data``), or None."""
    if isinstance(model, nn.Module):
        with eval_mode(model), torch.no_grad():  # an error names the data's shape, as the attacks' own checks do
            out = call_model(model, data.x[:1].to(module_device(model)), shape=data.x.shape)
        return int(check_logits(out, n=1).shape[1])
    return model.num_classes


def _class_values(model: nn.Module | Oracle) -> list[Any] | None:
    """A scikit-learn classifier's ``classes_`` when they are integers (its answers are indices into them)."""
    values = getattr(getattr(model, "estimator", None), "classes_", None)
    if values is None or not np.issubdtype(np.asarray(values).dtype, np.integer):
        return None
    return [int(v) for v in values]


def check_classes(model: nn.Module | Oracle, data: Dataset, spec: str) -> None:
    """Refuse ``model`` on ``data`` when it predicts another number of classes, or other class labels."""
    info = data.info
    k = model_classes(model, data)
    if k is not None and k != info.num_classes:
        raise InputError(
            f"the model {spec} predicts {k} classes but {info.name} has {info.num_classes} "
            f"(labels 0..{info.num_classes - 1}); pass the data the model was trained on, or a model of its classes"
        )
    values = _class_values(model)
    if values is not None and values != list(range(len(values))):
        raise InputError(
            f"the model {spec} was fitted on labels {values[0]}..{values[-1]}, but the labels of {info.name} are "
            f"0..{info.num_classes - 1}; fit it on labels 0..{len(values) - 1} (the data's class indices)"
        )
