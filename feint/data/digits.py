"""scikit-learn's 8x8 handwritten digits (1,797 images), the embedded default dataset.

A fixed, stratified, seeded split: 20% test (360 images), the rest train.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from feint.data.dataset import Dataset, DatasetInfo, split_indices


def load_digits_dataset(split: str) -> Dataset:
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    idx = split_indices(y, split)
    info = DatasetInfo("digits", tuple(str(i) for i in range(10)), (1, 8, 8), source="sklearn.datasets.load_digits")
    return Dataset(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]), info, split)
