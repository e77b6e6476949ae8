"""A frozen copy of a module for long forward-only runs on the CPU, used only where it is checked.

Randomized smoothing's Monte Carlo counts (Cohen, Rosenfeld & Kolter 2019) send 10^4-10^5 noisy
copies of each input through the same model, forward only: the forward pass is the whole cost.
On the CPU, TorchScript freezing (:func:`torch.jit.freeze` + :func:`torch.jit.optimize_for_inference`)
folds the weights into the graph and hands convolutions to oneDNN with prepacked weights (torch's
documentation of ``optimize_for_inference`` also lists fusing a convolution with the activation after it). Measured on Fashion-MNIST's small LeNet, one thread, chunks of 128 rows:
45 us a row frozen, 70 us in the channels_last layout (:class:`feint.oracles.forward.ModuleForward`),
165-200 us in the plain layout. Alternatives tried on the same model: ``torch.compile`` with
inductor's freezing (27 s to compile, then 65 us a row), onnxruntime after an ONNX export (61 us).

torch 2.13 marks TorchScript deprecated. The copy is therefore an optional tier: where tracing
or freezing is unavailable or fails, the caller runs the module as before. A copy is used only
where it is checked:

- it is traced in eval mode without any :class:`torch.jit.TracerWarning` (a warning means the
  trace may not hold for other inputs: Python control flow on tensor values, a size turned
  into a constant), and torch's own trace check passes on a second batch of another size (of the
  probe's rows, a third are traced and the rest checked);
- its logits on the probe rows equal the module's within :data:`TOLERANCE` (a random module, one
  with Python-side state, or a frozen graph that rounds differently beyond that is refused);
- it is rebuilt when any parameter or buffer of the module changes (storage or version counter),
  and cached per module and input shape for as long as the module lives.

The module itself is never changed.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import torch
from torch import Tensor, nn

from feint.validation import eval_mode

FREEZE_ROWS = 20_000
"""The fewest rows a caller plans to send before a frozen copy is worth its one-off cost (tracing
and freezing a small CNN take 0.2-1 s, about 10,000 rows of the time it saves)."""
TOLERANCE = 1e-4
"""Largest difference of a frozen copy's logits from the module's, relative to the logits' scale."""

_copies: weakref.WeakKeyDictionary[nn.Module, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def frozen_copy(model: nn.Module, probe: Tensor) -> Any | None:
    """A checked frozen copy of ``model`` for CPU inputs shaped like ``probe`` (N, ...), N >= 2, or None.

    None where the module or the probe is not on the CPU, where tracing or freezing fails or warns,
    or where the copy's logits differ from the module's on ``probe`` (see the module docstring)."""
    if probe.device.type != "cpu" or probe.shape[0] < 2 or any(p.device.type != "cpu" for p in model.parameters()):
        return None
    state = tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))
    cached = _copies.setdefault(model, {})
    key = (tuple(probe.shape[1:]), probe.dtype)
    if key in cached and cached[key][0] == state:
        return cached[key][1]
    copy = _build(model, probe)
    cached[key] = (state, copy)
    return copy


def _build(model: nn.Module, probe: Tensor) -> Any | None:
    part = max(1, probe.shape[0] // 3)  # the trace's check then runs on a batch of another size
    with eval_mode(model), torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            traced = torch.jit.trace(model, probe[:part], check_inputs=[(probe[part:],)], check_tolerance=TOLERANCE)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            got, want = frozen(probe), model(probe)
        except Exception:  # any failure of an optional tier means: run the module as it is
            return None
    if any(issubclass(w.category, torch.jit.TracerWarning) for w in caught):
        return None
    if not isinstance(got, Tensor) or not isinstance(want, Tensor) or got.shape != want.shape:
        return None
    scale = 1.0 + float(want.abs().max()) if want.numel() else 1.0
    if not bool(torch.isfinite(got).all()) or float((got - want).abs().max()) > TOLERANCE * scale:
        return None
    return frozen


def in_use(model: nn.Module) -> bool:
    """Whether a checked frozen copy of ``model`` exists (one was built and passed its checks)."""
    return any(copy is not None for _, copy in _copies.get(model, {}).values())
