"""Input checks shared by the Python API and the command line.

Every check raises :class:`TypeError` (wrong kind of value) or :class:`ValueError` (right kind,
invalid value) with a one-line message; the CLI prints the same message and exits with status 2.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_int",
    "check_positive_real",
    "check_num_classes",
    "check_dim",
    "check_lambdas",
    "check_dtype",
    "check_pairs",
    "check_nonnegative_real",
    "check_classifier_decay",
    "check_class_weights",
]


def _as_scalar(value: object) -> object:
    """Unwrap a 0-d NumPy/JAX array (e.g. ``jnp.float64(0.1)``) into a Python scalar; others unchanged."""
    if isinstance(value, np.generic):  # NumPy scalars: report them as plain Python numbers
        return value.item()
    if not isinstance(value, (bool, numbers.Number, str)) and getattr(value, "ndim", None) == 0:
        try:
            return np.asarray(value).item()
        except (TypeError, ValueError):
            return value
    return value


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` >= ``minimum``; booleans and non-integral numbers are refused.

    Integral floats (``3.0``, ``1e5``) are accepted, since a count written in scientific notation
    is still a count.
    """
    value = _as_scalar(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_positive_real(name: str, value: object, why: str = "") -> float:
    """Return ``value`` as a finite ``float`` > 0; ``why`` says what a non-positive value would mean."""
    value = _as_scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        suffix = f" ({why})" if why else ""
        raise ValueError(f"{name} must be finite and > 0, got {value!r}{suffix}")
    return value


def check_nonnegative_real(name: str, value: object) -> float:
    """Return ``value`` as a finite ``float`` >= 0."""
    value = _as_scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def check_num_classes(value: object) -> int:
    return check_int("num_classes", value, 2)


def check_dim(dim: object, num_classes: int) -> int:
    """Feature dimension: ``None`` means ``num_classes``; a simplex ETF needs ``dim >= K - 1``."""
    if dim is None:
        return num_classes
    dim = check_int("dim", dim, 1)
    if dim < num_classes - 1:
        raise ValueError(
            f"dim must be >= num_classes - 1 = {num_classes - 1} to hold a simplex ETF, got {dim}"
        )
    return dim


def check_lambdas(lambdas: object) -> tuple[float, ...]:
    """Explicit mixing coefficients: a non-empty 1-D sequence of finite reals in [0, 1]."""
    try:
        arr = np.asarray(lambdas, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"lambdas must be a 1-D sequence of real numbers, got {lambdas!r}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"lambdas must be 1-D, got shape {arr.shape}")
    if arr.size < 1:
        raise ValueError("lambdas must hold at least one value")
    bad = ~np.isfinite(arr) | (arr < 0.0) | (arr > 1.0)
    if bad.any():
        raise ValueError(
            f"lambdas must lie in [0, 1], got {float(arr[bad][0])!r} (mixing coefficients are probabilities)"
        )
    return tuple(float(x) for x in arr)


_DTYPES = {"float64": np.float64, "float32": np.float32}


def check_dtype(dtype: object) -> str:
    """Return the canonical name ``"float64"`` or ``"float32"``."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"dtype must be 'float64' or 'float32', got {dtype!r}") from None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return name


def check_pairs(pairs: object, num_classes: int) -> int | None:
    """Number of ordered class pairs to keep: ``None`` (all $K^2$) or an integer in $[K, K^2]$.

    The $K$ same-class pairs are always kept, so fewer than $K$ pairs cannot be asked for.
    """
    if pairs is None:
        return None
    count = check_int("pairs", pairs, 1)
    if count < num_classes:
        raise ValueError(
            f"pairs must be >= num_classes = {num_classes} (the {num_classes} same-class pairs are "
            f"always kept), got {count}"
        )
    if count > num_classes * num_classes:
        raise ValueError(
            f"pairs must be <= num_classes**2 = {num_classes * num_classes} (the number of ordered "
            f"class pairs), got {count}"
        )
    return count


def check_classifier_decay(value: object) -> float | None:
    r"""Decay $\lambda_W$ on a learned classifier: ``None`` (the classifier is the fixed simplex ETF)
    or a finite real > 0."""
    if value is None:
        return None
    return check_positive_real(
        "classifier_decay",
        value,
        "without decay on a learned classifier the optimum does not exist: the classifier and the features "
        "grow without bound",
    )


# Class weights must sum to one up to this (absolute) rounding; they are then divided by their sum.
CLASS_WEIGHTS_SUM_TOL = 1e-9


def check_class_weights(weights: object, num_classes: int) -> tuple[float, ...] | None:
    r"""Class weights $\pi$: ``None`` (uniform $1/K$) or $K$ finite reals > 0 summing to one.

    A sum off by more than rounding (``CLASS_WEIGHTS_SUM_TOL``) is refused rather than silently
    renormalised, so that a vector of ratios is never mistaken for a distribution; within rounding
    the weights are divided by their sum, so that they sum to one to the last bits.
    """
    if weights is None:
        return None
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"class_weights must be a sequence of {num_classes} real numbers, got {weights!r}")
    try:
        arr = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"class_weights must be a sequence of {num_classes} real numbers, got {weights!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"class_weights must be 1-D (one weight per class), got shape {arr.shape}")
    if arr.size != num_classes:
        raise ValueError(f"class_weights must hold one weight per class (K = {num_classes}), got {arr.size}")
    bad = ~np.isfinite(arr) | (arr <= 0.0)
    if bad.any():
        raise ValueError(f"class_weights must be finite and > 0 (every class present), got {float(arr[bad][0])!r}")
    total = float(np.sum(arr))
    if abs(total - 1.0) > CLASS_WEIGHTS_SUM_TOL:
        raise ValueError(
            f"class_weights must sum to 1 (a distribution over the classes), got sum {total!r}; "
            "divide ratios by their sum"
        )
    return tuple(float(x) for x in arr / total)
