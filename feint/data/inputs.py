"""The inputs a capability's function takes: a :class:`~feint.data.dataset.Dataset`, or tensors ``x``
and ``y`` (with an optional :class:`~feint.data.dataset.DatasetInfo` and split name).

A Dataset carries its name, classes, bounds and split, so that the Python functions choose the same
defaults (the dataset's eps grid, its class names in the report) as the command line, which passes
the Dataset it loaded.
"""

from __future__ import annotations

from torch import Tensor

from feint.data.dataset import Dataset, DatasetInfo
from feint.errors import InputError


def unpack(
    x: Tensor | Dataset, y: Tensor | None, info: DatasetInfo | None, split: str | None
) -> tuple[Tensor, Tensor, DatasetInfo | None, str | None]:
    """``(x, y, info, split)``: from a Dataset (its own info and split unless given), or the tensors as given."""
    if isinstance(x, Dataset):
        if y is not None:
            raise InputError("pass a Dataset alone, or the tensors x and y; not a Dataset and labels y")
        return x.x, x.y, info or x.info, split or x.split
    if y is None:
        raise InputError("pass the labels y beside the inputs x (or a feint Dataset, e.g. feint.load('digits'))")
    return x, y, info, split
