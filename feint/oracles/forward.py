"""Answering queries with a torch module: eval mode, no gradients, chunks, the fastest CPU layout.

A query-only attack spends nearly all its time in the model's forward pass (HopSkipJump: 85-90%
in convolutions and pooling), so the way a module is run for an oracle or for ``feint serve``
matters more than anything in the attack. :class:`ModuleForward` runs a module

- in eval mode under ``torch.no_grad()``, restoring its mode afterwards;
- in chunks of :func:`default_rows` rows: on the CPU a small convolutional net runs faster per
  row in chunks of about a hundred rows than of a thousand (its activations stay in cache);
- on the CPU, in ``channels_last`` memory format: its 4-D weights (convolution kernels) and its
  4-D inputs (with one channel, NCHW and NHWC are the same bytes, so only the strides are made
  to say so). oneDNN's convolution and max-pooling kernels run several times faster on that
  layout: on Fashion-MNIST's LeNet, one thread, 128 rows, 30 us a row against 164 us (max-pooling
  an NCHW tensor alone took 28% of HopSkipJump's time in a profile). The module itself is never changed: the
  converted copies are passed to :func:`torch.func.functional_call` and rebuilt whenever a
  parameter changes (its version counter or storage moves, e.g. after an optimizer step or
  ``load_state_dict``). The scores equal the plain forward pass up to float rounding (a few 1e-6
  on logits), as they do between two batch sizes. A module whose forward cannot take that
  layout (e.g. it calls ``.view`` on a convolution's output) is run in the plain layout from its
  first failure on.

With ``freeze=True`` (for callers that plan many rows: randomized smoothing's counts), CPU inputs go
through a checked frozen copy of the module (:mod:`feint.oracles.frozen`) where one can be built.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from feint.oracles.frozen import frozen_copy
from feint.validation import check_logits, eval_mode

CPU_ROWS = 128
DEVICE_ROWS = 4096
QUERY_ROWS = 4096
"""The most rows a module oracle hands to :class:`ModuleForward` at once (the rest of a query waits)."""


def module_device(model: nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for a module without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def default_rows(model: nn.Module) -> int:
    """The chunk size a module is run in unless told: :data:`CPU_ROWS` on the CPU, else :data:`DEVICE_ROWS`."""
    return CPU_ROWS if module_device(model).type == "cpu" else DEVICE_ROWS


class ModuleForward:
    """Logits (N, K) of a torch module for inputs (N, C, H, W), run as the module docstring says."""

    def __init__(self, model: nn.Module, *, batch_size: int | None = None, freeze: bool = False) -> None:
        self.model = model
        self.freeze = freeze
        self.batch_size = default_rows(model) if batch_size is None else batch_size
        self.channels_last = True
        self._plain = Chunked(model, self.batch_size)
        self._nhwc = Chunked(model, self.batch_size, nhwc=True)
        self._key: tuple[Any, ...] | None = None
        self._weights: dict[str, Tensor] = {}

    def __call__(self, x: Tensor) -> Tensor:
        with eval_mode(self.model), torch.no_grad():
            frozen = frozen_copy(self.model, x[: self.batch_size]) if self.freeze else None
            if frozen is not None:
                return check_logits(torch.cat([frozen(part) for part in x.split(self.batch_size)]), n=x.shape[0])
            weights = self._kernels() if self.channels_last and x.dim() == 4 else {}
            if weights:
                try:  # one swap of the weights for all the chunks
                    return check_logits(functional_call(self._nhwc, weights, (x,), strict=False), n=x.shape[0])
                except RuntimeError:
                    self.channels_last = False
            return check_logits(self._plain(x), n=x.shape[0])

    def _kernels(self) -> dict[str, Tensor]:
        """The module's CPU convolution kernels in channels_last layout, named as parameters of a
        :class:`Chunked` wrapper (empty where none or not on the CPU)."""
        kernels = {
            name: p for name, p in self.model.named_parameters() if p.dim() == 4 and p.device.type == "cpu"
        }  # fmt: skip
        key = tuple((name, p.data_ptr(), p._version) for name, p in kernels.items())
        if key != self._key:
            self._weights = {
                f"model.{name}": p.detach().contiguous(memory_format=torch.channels_last) for name, p in kernels.items()
            }  # fmt: skip
            self._key = key
        return self._weights


class Chunked(nn.Module):
    """``model`` over consecutive chunks of ``rows`` inputs, each in channels_last layout if ``nhwc``."""

    def __init__(self, model: nn.Module, rows: int, *, nhwc: bool = False) -> None:
        super().__init__()
        self.model = model
        self.rows = rows
        self.nhwc = nhwc

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.model(nhwc(part) if self.nhwc else part) for part in x.split(self.rows)])


def nhwc(x: Tensor) -> Tensor:
    """``x`` (N, C, H, W) in channels_last layout, its strides saying so even where C = 1."""
    x = x.contiguous(memory_format=torch.channels_last)
    if x.shape[1] == 1:
        _, _, h, w = x.shape
        x = x.as_strided(x.shape, (h * w, 1, w, 1), x.storage_offset())
    return x
