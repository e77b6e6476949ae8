"""Checks on what users pass in. Each failure raises one :class:`InputError` or
:class:`ModelError` that names the problem and the fix."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from feint.errors import FeintError, InputError, ModelError, NonFiniteLogits

Bounds = tuple[float, float]


def check_images(x: Tensor, *, bounds: Bounds = (0.0, 1.0), name: str = "x") -> None:
    """Inputs must be a float NCHW tensor, finite, inside ``bounds``."""
    if not isinstance(x, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}; convert it with torch.as_tensor(...)")
    if not x.is_floating_point():
        raise InputError(f"{name} has dtype {x.dtype}; pass float pixels scaled to {bounds}, e.g. x.float() / 255")
    if x.dim() != 4:
        raise InputError(
            f"{name} has shape {tuple(x.shape)}; feint expects a batch NCHW (4 dimensions), "
            "e.g. x.unsqueeze(0) for one image or x.unsqueeze(1) for grey images"
        )
    if x.shape[0] == 0:
        raise InputError(f"{name} is an empty batch; pass at least one input")
    if not bool(torch.isfinite(x).all()):
        raise InputError(f"{name} contains NaN or infinite values; clean the data before attacking it")
    lo, hi = bounds
    tol = 1e-5 * max(1.0, hi - lo)
    if float(x.min()) < lo - tol or float(x.max()) > hi + tol:
        raise InputError(
            f"{name} has values in [{float(x.min()):.4g}, {float(x.max()):.4g}], outside the bounds {bounds}; "
            "scale the inputs into the bounds (normalisation belongs inside the model) or pass bounds=(lo, hi)"
        )


def check_labels(y: Tensor, *, n: int, num_classes: int | None = None, name: str = "y") -> None:
    """Labels must be a 1-D integer tensor of length ``n`` with values in [0, num_classes)."""
    if not isinstance(y, Tensor):
        raise InputError(f"{name} must be a torch.Tensor of class indices, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise InputError(f"{name} has dtype {y.dtype}; pass integer class indices (y.long()), not one-hot or scores")
    if y.dim() != 1 or y.shape[0] != n:
        raise InputError(f"{name} has shape {tuple(y.shape)}; expected ({n},), one class index per input")
    if num_classes is not None and n > 0:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            raise InputError(
                f"{name} has labels in [{lo}, {hi}] but the model has {num_classes} classes; "
                f"labels must lie in [0, {num_classes - 1}]"
            )


def check_nonnegative(value: float, name: str, *, finite: bool = True) -> None:
    """A number >= 0 (and finite unless ``finite=False``: only an eps may be ``inf``)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or math.isnan(value) or value < 0 or (finite and math.isinf(value)):
        raise InputError(f"{name} must be a {'finite ' if finite else ''}number >= 0, got {value!r}")


def check_positive_int(value: int, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{name} must be an integer >= 1, got {value!r}")


def check_fraction(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InputError(f"{name} must lie in [0, 1], got {value!r}")


def check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(map(str, choices))}")


def check_logits(out: object, *, n: int) -> Tensor:
    """The model's output must be logits of shape (n, K); probabilities are detected and refused."""
    if not isinstance(out, Tensor):
        raise ModelError(
            f"the model returned {type(out).__name__}, not a tensor; wrap it so forward() returns logits (N, classes)"
        )
    if out.dim() != 2 or out.shape[0] != n:
        raise ModelError(
            f"the model returned shape {tuple(out.shape)} for {n} inputs; it must return logits of shape ({n}, classes)"
        )
    if out.shape[1] < 2:
        raise ModelError("the model returns a single output; feint needs one logit per class (at least 2)")
    check_finite_logits(out)
    probs_like = bool((out >= 0).all() and (out <= 1).all())
    if probs_like and bool(torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4)):
        raise ModelError(
            "the model returns probabilities (rows in [0, 1] summing to 1), but feint needs logits; "
            "remove the final softmax from the model"
        )
    return out


def check_finite_logits(logits: Tensor, *, where: str = "") -> Tensor:
    """Logits (N, K) must be finite: NaN or infinite rows raise one :class:`NonFiniteLogits` naming them."""
    finite = torch.isfinite(logits)
    if not bool(finite.all()):
        bad = (~finite.flatten(1).all(1)).nonzero().flatten().tolist() if logits.dim() >= 1 else None
        raise NonFiniteLogits(bad, total=int(logits.shape[0]) if logits.dim() >= 1 else 1, where=where)
    return logits


def call_model(model: nn.Module, x: Tensor, *, shape: Sequence[int] | None = None) -> Tensor:
    """``model(x)``; whatever the model raises (a user's module may raise anything) becomes one :class:`ModelError`
    (``shape``: the input shape to name in it, default ``x``'s)."""
    try:
        return model(x)
    except FeintError:
        raise
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise ModelError(
            f"the model fails on inputs of shape {tuple(shape or x.shape)} ({type(exc).__name__}: {first}); "
            "check the channel count and image size the model expects"
        ) from exc


def model_logits(model: nn.Module, x: Tensor, *, rows: int = 8) -> Tensor:
    """Run ``model`` on the first ``rows`` inputs of ``x`` without gradients: check that it accepts
    their shape and returns logits, and return them."""
    with torch.no_grad():
        out = call_model(model, x[:rows], shape=x.shape)
    return check_logits(out, n=min(rows, x.shape[0]))


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (BatchNorm/Dropout frozen) and restore its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
