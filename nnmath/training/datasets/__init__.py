"""Small real datasets shipped with nnmath (no download).

``load_digits``: the UCI "Optical Recognition of Handwritten Digits" test set as distributed by
scikit-learn (1,797 images of 8×8 pixels, values 0–16, ten classes; Alpaydin & Kaynak 1998;
CC BY 4.0), stored in ``digits.csv.gz`` beside this file.
"""
from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["load_digits", "stratified_split"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: X float64 of shape (1797, 64) with values 0–16, y int64 labels 0–9.

    >>> X, y = load_digits()
    >>> X.shape, y.shape, int(y.max())
    ((1797, 64), (1797,), 9)
    """
    path = os.path.join(os.path.dirname(__file__), "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1], data[:, -1].astype(np.int64)


def stratified_split(y: np.ndarray, test_size: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with each class split in the same proportion (fixed by ``seed``)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_size))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
