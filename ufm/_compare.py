"""Numeric-vs-exact comparison of features, per sample."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import ArrayLike, Float

__all__ = ["FeatureComparison", "compare_features"]


@dataclasses.dataclass(frozen=True)
class FeatureComparison:
    r"""Per-sample errors $\|h_i - h_i^\star\|$ and $\|h_i - h_i^\star\| / \|h_i^\star\|$.

    Where the exact feature is exactly zero ($K = 2$, $\lambda = 1/2$) the relative error is
    $\|h_i\|$ divided by the smallest positive float, i.e. it is zero only if the numeric feature
    vanishes too: no sample is left out of the check.

    Attributes:
        abs_errors: ``(K, K, M)`` absolute errors.
        rel_errors: ``(K, K, M)`` relative errors.
        max_rel_error: the largest relative error.
        worst_index: ``(c, c2, m)`` of the worst sample.
        worst_lambda: its mixing coefficient.
    """

    abs_errors: np.ndarray
    rel_errors: np.ndarray
    max_rel_error: float
    worst_index: tuple[int, int, int]
    worst_lambda: float

    def summary(self) -> dict:
        c, c2, m = self.worst_index
        return {
            "max_rel_error": self.max_rel_error,
            "max_abs_error": float(self.abs_errors.max()),
            "worst_sample": {"c": c, "c2": c2, "lambda_index": m, "lambda": self.worst_lambda},
        }


def compare_features(
    features: Float[ArrayLike, "K K M d"],
    reference: Float[ArrayLike, "K K M d"],
    lambdas: Float[ArrayLike, " M"],
) -> FeatureComparison:
    """Compare numeric ``features`` with the exact ``reference`` (both ``(K, K, M, d)``), in float64."""
    h = np.asarray(features, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if h.shape != ref.shape or h.ndim != 4:
        raise ValueError(f"features and reference must share a (K, K, M, d) shape, got {h.shape}, {ref.shape}")
    abs_err = np.linalg.norm(h - ref, axis=-1)
    ref_norm = np.linalg.norm(ref, axis=-1)
    rel_err = abs_err / np.maximum(ref_norm, np.finfo(np.float64).tiny)
    worst = np.unravel_index(int(np.argmax(rel_err)), rel_err.shape)
    worst = tuple(int(i) for i in worst)
    return FeatureComparison(
        abs_errors=abs_err,
        rel_errors=rel_err,
        max_rel_error=float(rel_err[worst]),
        worst_index=worst,
        worst_lambda=float(np.asarray(lambdas, dtype=np.float64)[worst[2]]),
    )
