"""Geometric diagnostics of a set of features: the quantities the theory makes predictions about."""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float

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
    features: Float[ArrayLike, "K K M d"],
    classifier: Float[ArrayLike, "K d"],
    lambdas: Float[ArrayLike, " M"],
) -> dict:
    r"""The structure predicted by the theory, measured on ``features``.

    Returns a dict with
      * ``same_class_norm_mean`` and ``same_class_norm_spread``: mean of $\|h\|$ over same-class
        samples and its spread (max - min) over $\lambda$ and classes (theory: spread 0);
      * ``same_class_max_misalignment``: the largest norm of the component of a same-class feature
        orthogonal to $w_c$ (theory: 0);
      * ``max_outside_pair_span``: the largest norm of the component of a different-class feature
        outside $\operatorname{span}\{w_c, w_{c'}\}$ (theory: 0);
      * ``lambda_nearest_half`` and ``max_boundary_distance_nearest_half``: the $\lambda$ closest to
        $1/2$ and the largest $|$signed distance$|$ to the $c/c'$ decision boundary at it (theory:
        0 exactly at $\lambda = 1/2$ and nonzero elsewhere).
    """
    h = np.asarray(features, dtype=np.float64)
    w = np.asarray(classifier, dtype=np.float64)
    lam = np.asarray(lambdas, dtype=np.float64)
    k = w.shape[0]
    idx = np.arange(k)
    same = h[idx, idx]  # (K, M, d)
    norms = np.linalg.norm(same, axis=-1)
    unit = w / np.linalg.norm(w, axis=-1, keepdims=True)
    along = np.einsum("kmd,kd->km", same, unit)
    misalign = np.linalg.norm(same - along[..., None] * unit[:, None, :], axis=-1)

    m_half = int(np.argmin(np.abs(lam - 0.5)))
    outside = 0.0
    boundary = 0.0
    for c in range(k):
        for c2 in range(k):
            if c == c2:
                continue
            basis, _ = np.linalg.qr(np.stack([w[c], w[c2]], axis=1))  # (d, 2); rank 1 when K = 2
            rank = 1 if k == 2 else 2
            basis = basis[:, :rank]
            hs = h[c, c2]
            residual = hs - (hs @ basis) @ basis.T
            outside = max(outside, float(np.linalg.norm(residual, axis=-1).max()))
            dist, _ = boundary_coordinates(hs[m_half], w[c], w[c2])
            boundary = max(boundary, float(abs(dist)))
    return {
        "same_class_norm_mean": float(norms.mean()),
        "same_class_norm_spread": float(norms.max() - norms.min()),
        "same_class_max_misalignment": float(misalign.max()),
        "max_outside_pair_span": outside,
        "lambda_nearest_half": float(lam[m_half]),
        "max_boundary_distance_nearest_half": boundary,
    }
