"""Numeric-vs-exact comparison of features, per sample."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import ArrayLike, Float, Int

from ._blocks import row_blocks

__all__ = ["FeatureComparison", "compare_features"]


@dataclasses.dataclass(frozen=True)
class FeatureComparison:
    r"""Per-sample errors $\|h_i - h_i^\star\|$ and $\|h_i - h_i^\star\| / \|h_i^\star\|$.

    Where the exact feature is exactly zero ($K = 2$, $\lambda = 1/2$) the relative error is
    $\|h_i\|$ divided by the smallest positive float, i.e. it is zero only if the numeric feature
    vanishes too: no sample is left out of the check.

    Attributes:
        abs_errors: absolute errors, ``(K, K, M)`` (or ``(P, M)`` for pair-subsampled features).
        rel_errors: relative errors, same shape.
        max_rel_error: the largest relative error.
        worst_index: ``(c, c2, m)`` of the worst sample: its two classes and its lambda index,
            in both layouts.
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
    features: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    reference: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    lambdas: Float[ArrayLike, " M"],
    pair_index: Int[ArrayLike, "P 2"] | None = None,
) -> FeatureComparison:
    """Compare numeric ``features`` with the exact ``reference``, in float64.

    Both are ``(K, K, M, d)``, or ``(P, M, d)`` with the ``pair_index`` of a problem with
    ``pairs`` (``problem.pair_index``), which is needed to name the worst sample's classes.
    """
    h = np.asarray(features, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    lam = np.asarray(lambdas, dtype=np.float64)
    if pair_index is None:
        if h.shape != ref.shape or h.ndim != 4:
            raise ValueError(f"features and reference must share a (K, K, M, d) shape, got {h.shape}, {ref.shape}")
    else:
        pair_index = np.asarray(pair_index)
        if h.shape != ref.shape or h.ndim != 3 or pair_index.shape != (h.shape[0], 2):
            raise ValueError(
                "with pair_index (P, 2), features and reference must share a (P, M, d) shape, got "
                f"{h.shape}, {ref.shape} and pair_index {pair_index.shape}"
            )
    if lam.shape != (h.shape[-2],):
        raise ValueError(f"lambdas must have shape ({h.shape[-2]},) to match the features, got {lam.shape}")
    abs_err = np.empty(h.shape[:-1])
    ref_norm = np.empty(h.shape[:-1])
    with np.errstate(over="ignore", invalid="ignore"):  # diverged features: inf/NaN errors, no warnings
        for block in row_blocks(h.shape[0], h[0].size):
            abs_err[block] = np.linalg.norm(h[block] - ref[block], axis=-1)
            ref_norm[block] = np.linalg.norm(ref[block], axis=-1)
        rel_err = abs_err / np.maximum(ref_norm, np.finfo(np.float64).tiny)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel_err)), rel_err.shape))
    if pair_index is None:
        worst_index = worst
    else:
        worst_index = (int(pair_index[worst[0], 0]), int(pair_index[worst[0], 1]), worst[1])
    return FeatureComparison(
        abs_errors=abs_err,
        rel_errors=rel_err,
        max_rel_error=float(rel_err[worst]),
        worst_index=worst_index,
        worst_lambda=float(lam[worst[-1]]),
    )
