"""scikit-learn's 8x8 handwritten digits (1,797 images), the embedded default dataset.

A fixed, stratified, seeded split: 20% test (360 images), the rest train.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from feint.data.dataset import Dataset, DatasetInfo

SPLIT_SEED = 0
TEST_FRACTION = 0.2


def load_digits_dataset(split: str) -> Dataset:
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    idx = {"train": idx_train, "test": idx_test, "all": np.arange(len(y))}[split]
    info = DatasetInfo("digits", tuple(str(i) for i in range(10)), (1, 8, 8), source="sklearn.datasets.load_digits")
    return Dataset(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]), info, split)
