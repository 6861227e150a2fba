"""Geometric diagnostics of a set of features: the quantities the theory makes predictions about."""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float, Int

from ._blocks import row_blocks
from ._problem import all_pairs

__all__ = ["feature_geometry", "boundary_coordinates"]


def boundary_coordinates(
    features: Float[ArrayLike, "... d"], w_c: Float[ArrayLike, " d"], w_c2: Float[ArrayLike, " d"]
) -> tuple[np.ndarray, np.ndarray]:
    r"""Signed distance to the $c/c'$ decision boundary $\{h : (w_c - w_{c'})^\top h = 0\}$
    (positive on class $c$'s side) and the coordinate along $(w_c + w_{c'})/\|w_c + w_{c'}\|$.

    For $K = 2$, $w_c + w_{c'} = 0$ and the along-boundary coordinate is returned as zero.
    """
    h = np.asarray(features, dtype=np.float64)
    diff = np.asarray(w_c, dtype=np.float64) - np.asarray(w_c2, dtype=np.float64)
    summ = np.asarray(w_c, dtype=np.float64) + np.asarray(w_c2, dtype=np.float64)
    distance = h @ diff / np.linalg.norm(diff)
    norm_sum = np.linalg.norm(summ)
    along = h @ summ / norm_sum if norm_sum > 1e-12 * np.linalg.norm(diff) else np.zeros(h.shape[:-1])
    return distance, along


def feature_geometry(
    features: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    classifier: Float[ArrayLike, "K d"],
    lambdas: Float[ArrayLike, " M"],
    pair_index: Int[ArrayLike, "P 2"] | None = None,
    lambda_weights: Float[ArrayLike, " M"] | None = None,
) -> dict:
    r"""The structure predicted by the theory, measured on ``features``.

    ``features`` are ``(K, K, M, d)``, or ``(P, M, d)`` together with the ``pair_index`` of a
    problem with ``pairs``. ``lambda_weights`` (default uniform; ``problem.lambda_weights``) weight
    the mean over $\lambda$. Returns a dict with
      * ``same_class_norm_mean`` and ``same_class_norm_spread``: mean of $\|h\|$ over same-class
        samples (over classes, and over $\lambda$ with ``lambda_weights``) and its spread
        (max - min) over $\lambda$ and classes (theory: spread 0);
      * ``same_class_max_misalignment``: the largest norm of the component of a same-class feature
        orthogonal to $w_c$ (theory: 0);
      * ``max_outside_pair_span``: the largest norm of the component of a different-class feature
        outside $\operatorname{span}\{w_c, w_{c'}\}$ (theory: 0);
      * ``lambda_nearest_half`` and ``max_boundary_distance_nearest_half``: the $\lambda$ closest to
        $1/2$ and the largest $|$signed distance$|$ to the $c/c'$ decision boundary at it (theory:
        0 exactly at $\lambda = 1/2$ and nonzero elsewhere).
    Non-finite features give NaN entries (no warnings).
    """
    w = np.asarray(classifier, dtype=np.float64)
    lam = np.asarray(lambdas, dtype=np.float64)
    nu = np.full(lam.size, 1.0) if lambda_weights is None else np.asarray(lambda_weights, dtype=np.float64)
    if nu.shape != lam.shape:
        raise ValueError(f"lambda_weights must have the shape of lambdas {lam.shape}, got {nu.shape}")
    nu = nu / nu.sum()
    k = w.shape[0]
    h = np.asarray(features)  # a view when possible; converted to float64 block by block below
    if pair_index is None:
        pairs = all_pairs(k)
        h = h.reshape(k * k, *h.shape[2:])
    else:
        pairs = np.asarray(pair_index)
    first, second = pairs[:, 0], pairs[:, 1]
    is_same = first == second
    with np.errstate(all="ignore"):  # NaN/inf features must give NaN diagnostics, not warnings
        unit = w / np.linalg.norm(w, axis=-1, keepdims=True)
        # Same-class samples block by block too (with pair subsampling they can be half of all).
        norm_sum, norm_min, norm_max, misalign = 0.0, np.inf, -np.inf, 0.0
        same_rows = np.flatnonzero(is_same)
        for block in row_blocks(same_rows.size, h[0].size):
            rows = same_rows[block]
            same = np.asarray(h[rows], dtype=np.float64)  # (pairs in block, M, d)
            norms = np.linalg.norm(same, axis=-1)
            unit_same = unit[first[rows]][:, None, :]
            along = np.sum(same * unit_same, axis=-1)
            off = np.linalg.norm(same - along[..., None] * unit_same, axis=-1)
            norm_sum += (norms @ nu).sum()  # λ-weighted mean per pair; NaN propagates throughout
            norm_min, norm_max = np.minimum(norm_min, norms.min()), np.maximum(norm_max, norms.max())
            misalign = np.maximum(misalign, off.max())
        same_count = same_rows.size

        m_half = int(np.argmin(np.abs(lam - 0.5)))
        outside = boundary = 0.0
        diff_rows = np.flatnonzero(~is_same)
        for block in row_blocks(diff_rows.size, h[0].size):
            rows = diff_rows[block]
            hs = np.asarray(h[rows], dtype=np.float64)  # (pairs in block, M, d)
            wa, wb = w[first[rows]], w[second[rows]]
            # Orthonormal basis of span{w_c, w_c2} per pair; rank 1 when K = 2 (w_c2 = -w_c).
            basis, _ = np.linalg.qr(np.stack([wa, wb], axis=-1))  # (pairs, d, 2)
            basis = basis[..., : 1 if k == 2 else 2]
            coords = np.einsum("pmd,pdr->pmr", hs, basis)
            residual = hs - np.einsum("pmr,pdr->pmd", coords, basis)
            outside = np.maximum(outside, np.linalg.norm(residual, axis=-1).max())  # NaN propagates
            direction = (wa - wb) / np.linalg.norm(wa - wb, axis=-1, keepdims=True)
            distance = np.abs(np.sum(hs[:, m_half] * direction, axis=-1)).max()
            boundary = np.maximum(boundary, distance)
        return {
            "same_class_norm_mean": float(norm_sum / same_count),
            "same_class_norm_spread": float(norm_max - norm_min),
            "same_class_max_misalignment": float(misalign),
            "max_outside_pair_span": float(outside),
            "lambda_nearest_half": float(lam[m_half]),
            "max_boundary_distance_nearest_half": float(boundary),
        }
