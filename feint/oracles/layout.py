"""Fitting feint's NCHW float batches to the input a served or exported model declares.

A model file or server states its input shape (``-1``/``None``/a name for a free dimension) and
its element type. :class:`InputLayout` reads that once and turns each batch (N, C, H, W) into the
array the model takes: NCHW as it is, NHWC (channels last), flat features (N, C*H*W, e.g. a
scikit-learn model), or NHW for one channel; float32, float64 or float16.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from feint.errors import InputError, ModelError

# ONNX element types and Open Inference Protocol datatypes feint can feed, as NumPy dtypes.
FLOAT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "FP16": "float16",
}
LAYOUTS = ("NCHW", "NHWC", "flat", "NHW")


def _dim(d: object) -> int | None:
    """A declared dimension: a positive int, else free (None)."""
    return int(d) if isinstance(d, (int, np.integer)) and int(d) > 0 else None


@dataclass(frozen=True)
class InputLayout:
    """The input a model declares: ``shape`` with the batch dimension first, ``dtype`` a NumPy name."""

    shape: tuple[int | None, ...]
    dtype: str
    source: str = "the model"

    @classmethod
    def declared(cls, shape: Sequence[object], element_type: str, *, source: str) -> InputLayout:
        if element_type not in FLOAT_TYPES:
            raise ModelError(
                f"{source} takes inputs of type {element_type}; feint feeds float pixels "
                f"({', '.join(sorted(FLOAT_TYPES))}): export the model with a float input"
            )
        if len(shape) < 2:
            raise ModelError(f"{source} declares an input of shape {list(shape)}; it needs a batch dimension first")
        return cls(tuple(_dim(d) for d in shape), FLOAT_TYPES[element_type], source)

    @property
    def batch(self) -> int | None:
        """A fixed batch size the model insists on, or None."""
        return self.shape[0]

    @property
    def row_shape(self) -> tuple[int, ...] | None:
        """(C, H, W) when the declared shape is fully known NCHW, else None."""
        rest = self.shape[1:]
        return tuple(d for d in rest if d is not None) if len(rest) == 3 and None not in rest else None

    def _fits(self, shape: tuple[int, ...]) -> bool:
        want = self.shape[1:]
        return len(want) == len(shape) and all(w is None or w == s for w, s in zip(want, shape, strict=True))

    def layout_for(self, row: tuple[int, ...]) -> str:
        """Which of :data:`LAYOUTS` maps inputs of shape (C, H, W) ``row`` to the declared shape."""
        c, h, w = row
        options = {"NCHW": (c, h, w), "NHWC": (h, w, c), "flat": (c * h * w,), "NHW": (h, w) if c == 1 else ()}
        for name, shape in options.items():
            if shape and self._fits(shape):
                return name
        declared = ["N" if d is None else d for d in self.shape]
        raise InputError(
            f"{self.source} takes inputs of shape {declared}, which does not fit images of shape "
            f"{list(row)} (as NCHW, NHWC, flat features or NHW); pass data of the shape the model was built for"
        )

    def rearrange(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> the declared layout, as a torch tensor (differentiable)."""
        layout = self.layout_for(tuple(int(s) for s in x.shape[1:]))
        if layout == "NHWC":
            return x.permute(0, 2, 3, 1)
        if layout == "flat":
            return x.reshape(x.shape[0], -1)
        return x[:, 0] if layout == "NHW" else x

    def arrange(self, x: Tensor) -> np.ndarray:
        """(N, C, H, W) float tensor -> the contiguous NumPy array the model takes."""
        return np.ascontiguousarray(self.rearrange(x).detach().cpu().numpy(), dtype=self.dtype)
