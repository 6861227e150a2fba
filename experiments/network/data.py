"""The data: scikit-learn's bundled handwritten digits (10 classes, 1,797 8x8 images), split once.

The images ship inside scikit-learn's wheel (`sklearn.datasets.load_digits`), so nothing is
downloaded. scikit-learn is needed here only, as the optional ``experiments`` extra; ``ufm``
itself never imports it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Digits", "load_digits_split"]


@dataclasses.dataclass(frozen=True)
class Digits:
    """A stratified train/test split of the digits, pixels scaled to [0, 1]."""

    x_train: np.ndarray  # (n_train, 64) float64
    y_train: np.ndarray  # (n_train,) int32
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


def load_digits_split(test_fraction: float, seed: int) -> Digits:
    """Load the digits and hold out ``test_fraction`` of every class, drawn with ``seed``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # the optional extra is missing
        raise ImportError(
            "this experiment needs scikit-learn for its bundled digits: pip install -e '.[experiments]'"
        ) from err
    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float64) / 16.0
    y = np.asarray(digits.target, dtype=np.int32)
    rng = np.random.default_rng([seed, 7])
    test = np.zeros(y.size, dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        test[rng.choice(members, size=int(round(test_fraction * members.size)), replace=False)] = True
    return Digits(x[~test], y[~test], x[test], y[test], int(y.max()) + 1)
