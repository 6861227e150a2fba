"""Input checks for features measured outside the model (a network's last layer, a file).

Each check raises :class:`TypeError` (wrong kind of array) or :class:`ValueError` (right kind,
invalid values) with a one-line message that names the array; ``python -m ufm.analyze`` prints the
same message and exits with status 2. Features are checked block by block, so the check holds no
second features-sized array.
"""

from __future__ import annotations

import numpy as np

from ._blocks import row_blocks

__all__ = ["as_features", "as_classifier", "as_classes", "as_lambdas", "finite_blocks", "check_samples"]


def _array(name: str, value: object) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__} ({err})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def _real(name: str, arr: np.ndarray) -> None:
    if np.issubdtype(arr.dtype, np.complexfloating) or arr.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def finite_blocks(name: str, arr: np.ndarray) -> None:
    """Raise unless every entry of ``arr`` is finite (checked in row blocks, no full-size mask)."""
    if np.issubdtype(arr.dtype, np.integer):
        return
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for block in row_blocks(rows.shape[0], rows.shape[1]):
        if not np.isfinite(rows[block]).all():
            raise ValueError(f"{name} must be finite: it contains NaN or infinity")


def as_features(value: object, name: str = "features") -> np.ndarray:
    """``(N, d)`` real, finite features with N >= 1, d >= 1; returned without a copy when possible."""
    arr = _array(name, value)
    _real(name, arr)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, d), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one sample of dimension >= 1, got shape {arr.shape}")
    finite_blocks(name, arr)
    return arr


def as_classifier(value: object, dim: int, min_classes: int = 2) -> np.ndarray:
    """``(K, d)`` real, finite classifier rows, K >= ``min_classes``, d the features' dimension; float64."""
    arr = _array("classifier", value)
    _real("classifier", arr)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"classifier must have shape (K, d) with d = {dim} (the features' dimension), got {arr.shape}")
    if arr.shape[0] < min_classes:
        raise ValueError(f"classifier must have at least {min_classes} rows (one per class), got {arr.shape[0]}")
    arr = arr.astype(np.float64)
    finite_blocks("classifier", arr)
    return arr


def as_classes(name: str, value: object, num_samples: int, num_classes: int | None) -> np.ndarray:
    """Class indices ``(N,)`` in ``0..K-1`` (``K = num_classes``, or any K >= 1 when ``None``); int64."""
    arr = _array(name, value)
    if arr.shape != (num_samples,):
        raise ValueError(f"{name} must have shape ({num_samples},) (one per sample), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (class indices), got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    low, high = int(arr.min()), int(arr.max())
    if low < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got {low}")
    if num_classes is not None and high >= num_classes:
        raise ValueError(
            f"{name} must lie in 0..{num_classes - 1} (one class per classifier row), got {high}"
        )
    return arr


def as_lambdas(value: object, num_samples: int) -> np.ndarray:
    """Mixing coefficients ``(N,)`` in [0, 1]; float64."""
    arr = _array("lambdas", value)
    _real("lambdas", arr)
    if arr.shape != (num_samples,):
        raise ValueError(f"lambdas must have shape ({num_samples},) (one per sample), got {arr.shape}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr < 0.0) | (arr > 1.0)
    if bad.any():
        raise ValueError(
            f"lambdas must lie in [0, 1], got {float(arr[bad][0])!r} (mixing coefficients are probabilities)"
        )
    return arr


def check_samples(features, classifier, class_a, class_b, lambdas) -> tuple:
    r"""Check mixed samples once and return them as ``(features, classifier, class_a, class_b,
    lambdas)``: features unchanged (no copy), classifier and lambdas float64, classes int64.

    Raises ``TypeError``/``ValueError`` with a one-line message naming the array: wrong shape or
    length, NaN or infinity, a class index outside ``0..K-1``, a mixing coefficient outside [0, 1].
    """
    h = as_features(features)
    n, dim = h.shape
    w = as_classifier(classifier, dim)
    k = w.shape[0]
    a = as_classes("class_a", class_a, n, k)
    b = as_classes("class_b", class_b, n, k)
    return h, w, a, b, as_lambdas(lambdas, n)
