"""A torch ``nn.Module`` behind an oracle: the same model at score-only or label-only access.

The module runs on the inputs' device as :class:`feint.oracles.forward.ModuleForward` runs it (eval
mode, no gradients, the fastest CPU memory layout; its mode is restored after each request), in
forward passes of ``batch_size`` rows (default: :func:`~feint.oracles.forward.default_rows`),
up to :data:`~feint.oracles.forward.QUERY_ROWS` of them handed over at once.
``output="probabilities"`` answers softmax scores (what many APIs return) instead of logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from feint.errors import InputError, ModelError
from feint.oracles.base import LabelOracle, ScoreOracle
from feint.oracles.forward import QUERY_ROWS, ModuleForward, module_device
from feint.validation import Bounds, eval_mode, model_logits


def check_input_shape(model: nn.Module, input_shape: Sequence[int], bounds: Bounds = (0.0, 1.0)) -> int:
    """Run ``model`` once on one input of ``input_shape`` (C, H, W) at mid-range; return its class count.
    A shape the model cannot take is one :class:`~feint.errors.InputError` here, not a matmul error later."""
    shape = tuple(int(s) for s in input_shape)
    probe = torch.full((1, *shape), (float(bounds[0]) + float(bounds[1])) / 2, device=module_device(model))
    try:
        with eval_mode(model):
            return int(model_logits(model, probe, rows=1).shape[1])
    except ModelError as exc:
        raise InputError(
            f"the model cannot take inputs of shape {shape} ({str(exc).split('; ')[0]}); "
            "pass the input shape (C,H,W) the model was built for"
        ) from exc


class ModuleScoreOracle(ScoreOracle):
    """Scores of a torch model; ``output`` is ``"logits"`` or ``"probabilities"`` (softmax)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        output: str = "logits",
        input_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        bounds: Bounds = (0.0, 1.0),
        max_queries: int | None = None,
        batch_size: int | None = None,
        name: str | None = None,
    ) -> None:
        forward = ModuleForward(model, batch_size=batch_size)
        super().__init__(
            output=output,
            input_shape=input_shape,
            num_classes=num_classes,
            bounds=bounds,
            max_queries=max_queries,
            batch_size=max(forward.batch_size, QUERY_ROWS),
            name=name or type(model).__name__,
        )
        self.model = model
        self.forward = forward

    def _scores(self, x: Tensor) -> Tensor:
        logits = self.forward(x)
        return logits.softmax(1) if self.output == "probabilities" else logits


class ModuleLabelOracle(LabelOracle):
    """Only the top-1 label of a torch model."""

    def __init__(
        self,
        model: nn.Module,
        *,
        input_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        bounds: Bounds = (0.0, 1.0),
        max_queries: int | None = None,
        batch_size: int | None = None,
        name: str | None = None,
    ) -> None:
        forward = ModuleForward(model, batch_size=batch_size)
        super().__init__(
            input_shape=input_shape,
            num_classes=num_classes,
            bounds=bounds,
            max_queries=max_queries,
            batch_size=max(forward.batch_size, QUERY_ROWS),
            name=name or type(model).__name__,
        )
        self.model = model
        self.forward = forward

    def _labels(self, x: Tensor) -> Tensor:
        logits = self.forward(x)
        self._learn_classes(int(logits.shape[1]))
        return logits.argmax(1)
