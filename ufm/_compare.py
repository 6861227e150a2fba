r"""Numeric-vs-exact comparison of features, per sample, with a criterion that is meaningful at zero.

A sample passes when $\|h - h^\star\| \le \text{rtol}\,\|h^\star\| + \text{atol}$. A purely relative
test cannot work where the exact feature vanishes ($K = 2$, $\lambda = \tfrac12$: $h^\star = 0$),
so the absolute part matters there; :func:`ufm.check` takes ``atol = tol/mu``, the bound strong
convexity gives for a solve that stopped at per-sample gradient norm ``tol``.
"""

from __future__ import annotations

import dataclasses
from typing import no_type_check

import numpy as np
from jaxtyping import ArrayLike, Float, Int

from ._blocks import row_blocks
from ._problem import all_pairs
from ._validation import check_nonnegative_real, check_positive_real

__all__ = ["FeatureComparison", "compare_features", "summarise_errors"]


@dataclasses.dataclass(frozen=True)
class FeatureComparison:
    r"""Per-sample errors $\|h_i - h_i^\star\|$ and the test $\|h_i - h_i^\star\| \le
    \text{rtol}\,\|h_i^\star\| + \text{atol}$.

    Attributes:
        abs_errors: $\|h_i - h_i^\star\|$, ``(K, K, M)`` (or ``(P, M)`` for ``(P, M, d)`` features).
        ref_norms: $\|h_i^\star\|$, same shape.
        rtol, atol: the criterion.
        max_abs_error: the largest absolute error.
        max_rel_error: the largest $\|h_i - h_i^\star\| / \|h_i^\star\|$ over samples whose exact
            feature is not zero (NaN if there is none, or if an error is NaN).
        max_excess: the largest $\|h_i - h_i^\star\| / (\text{rtol}\|h_i^\star\| + \text{atol})$;
            the test passes when it is at most 1.
        passed: every sample passes (False when any error is NaN).
        worst_index: ``(c, c2, m)`` of the sample with the largest excess (its two classes and its
            lambda index, in both layouts).
        worst_lambda: its mixing coefficient.
    """

    abs_errors: np.ndarray
    ref_norms: np.ndarray
    rtol: float
    atol: float
    max_abs_error: float
    max_rel_error: float
    max_excess: float
    passed: bool
    worst_index: tuple[int, int, int]
    worst_lambda: float

    @property
    def rel_errors(self) -> np.ndarray:
        """$\\|h_i - h_i^\\star\\| / \\|h_i^\\star\\|$ (infinite or NaN where $h_i^\\star = 0$)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.abs_errors / self.ref_norms

    @property
    def criterion(self) -> str:
        return f"||h - h*|| <= {self.rtol:.1e} ||h*|| + {self.atol:.1e}"

    def summary(self) -> dict:
        c, c2, m = self.worst_index
        return {
            "max_rel_error": self.max_rel_error,
            "max_abs_error": self.max_abs_error,
            "max_excess": self.max_excess,
            "passed": self.passed,
            "rtol": self.rtol,
            "atol": self.atol,
            "criterion": self.criterion,
            "worst_sample": {"c": c, "c2": c2, "lambda_index": m, "lambda": self.worst_lambda},
        }


@no_type_check  # arguments checked by hand, with one-line messages
def compare_features(
    features: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    reference: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    lambdas: Float[ArrayLike, " M"],
    pair_index: Int[ArrayLike, "P 2"] | None = None,
    *,
    rtol: float = 1e-8,
    atol: float = 0.0,
) -> FeatureComparison:
    r"""Compare numeric ``features`` with the exact ``reference``, in float64, sample by sample.

    Both are ``(K, K, M, d)``, or ``(P, M, d)`` with the ``pair_index`` of a problem with
    ``pairs`` (``problem.pair_index``), which names the worst sample's classes. A sample passes when
    $\|h - h^\star\| \le \text{rtol}\,\|h^\star\| + \text{atol}$; with the default ``atol = 0`` the
    test is purely relative, and a sample whose exact feature is zero passes only if the numeric
    one is exactly zero too.
    """
    rtol = check_positive_real("rtol", rtol)
    atol = check_nonnegative_real("atol", atol)
    h = np.asarray(features, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    lam = np.asarray(lambdas, dtype=np.float64)
    if pair_index is None:
        if h.shape != ref.shape or h.ndim != 4 or h.shape[0] != h.shape[1]:
            raise ValueError(f"features and reference must share a (K, K, M, d) shape, got {h.shape}, {ref.shape}")
        pairs = all_pairs(h.shape[0])
    else:
        pairs = np.asarray(pair_index)
        if h.shape != ref.shape or h.ndim != 3 or pairs.shape != (h.shape[0], 2):
            raise ValueError(
                "with pair_index (P, 2), features and reference must share a (P, M, d) shape, got "
                f"{h.shape}, {ref.shape} and pair_index {pairs.shape}"
            )
    if lam.shape != (h.shape[-2],):
        raise ValueError(f"lambdas must have shape ({h.shape[-2]},) to match the features, got {lam.shape}")
    lead = h.shape[:-1]
    h = h.reshape(-1, *h.shape[-2:])  # (P, M, d): a view
    ref = ref.reshape(h.shape)
    abs_err = np.empty(h.shape[:-1])
    ref_norm = np.empty(h.shape[:-1])
    with np.errstate(over="ignore", invalid="ignore"):  # diverged features: inf/NaN errors, no warnings
        for block in row_blocks(h.shape[0], h[0].size):
            abs_err[block] = np.linalg.norm(h[block] - ref[block], axis=-1)
            ref_norm[block] = np.linalg.norm(ref[block], axis=-1)
    return summarise_errors(abs_err, ref_norm, pairs, lam, rtol, atol, lead)


def summarise_errors(
    abs_err: Float[np.ndarray, "P M"],
    ref_norm: Float[np.ndarray, "P M"],
    pair_index: Int[np.ndarray, "P 2"],
    lambdas: Float[np.ndarray, " M"],
    rtol: float,
    atol: float,
    shape: tuple[int, ...],
) -> FeatureComparison:
    """The :class:`FeatureComparison` of per-sample absolute errors and reference norms
    (``(P, M)``), reported in ``shape`` (the layout's leading axes)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        bound = rtol * ref_norm + atol
        safe = np.where(bound > 0, bound, 1.0)
        excess = np.where(bound > 0, abs_err / safe, np.where(abs_err == 0, 0.0, np.inf))
        excess = np.where(np.isnan(abs_err), np.nan, excess)
        nonzero = ref_norm > 0
        rel = abs_err[nonzero] / ref_norm[nonzero]
    max_rel = float(np.max(rel)) if rel.size else float("nan")
    if np.isnan(abs_err).any():
        max_rel = float("nan")
    flat = int(np.argmax(excess))  # the first NaN, if any
    p, m = np.unravel_index(flat, excess.shape)
    max_excess = float(excess.flat[flat])
    return FeatureComparison(
        abs_errors=abs_err.reshape(shape),
        ref_norms=ref_norm.reshape(shape),
        rtol=rtol,
        atol=atol,
        max_abs_error=float(np.max(abs_err)),
        max_rel_error=max_rel,
        max_excess=max_excess,
        passed=bool(max_excess <= 1.0),
        worst_index=(int(pair_index[p, 0]), int(pair_index[p, 1]), int(m)),
        worst_lambda=float(lambdas[m]),
    )
