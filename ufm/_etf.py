"""The fixed classifier: a simplex equiangular tight frame (ETF)."""

from __future__ import annotations

from typing import no_type_check

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._validation import check_dim, check_int, check_num_classes, check_positive_real

__all__ = ["simplex_etf"]


@no_type_check  # arguments checked by hand, with one-line messages
def simplex_etf(
    num_classes: int,
    dim: int | None = None,
    scale: float = 1.0,
    seed: int | None = None,
) -> Float[Array, "K d"]:
    r"""Rows of a simplex ETF: the fixed classifier of the unconstrained-features model.

    $$W = s\sqrt{\tfrac{K}{K-1}}\,\bigl(I_K - \tfrac{1}{K}\mathbf{1}\mathbf{1}^\top\bigr)U^\top,$$

    with $U \in \mathbb{R}^{d\times K}$ orthonormal columns ($d \ge K$), or, for $d = K-1$, an
    orthonormal basis of the centred subspace. Hence $\|w_k\| = s$,
    $\langle w_k, w_l\rangle = -s^2/(K-1)$ for $k \ne l$, $\sum_k w_k = 0$ and
    $WW^\top = \beta(I - \mathbf{1}\mathbf{1}^\top/K)$ with $\beta = s^2K/(K-1)$
    (Fisher, Meng & Papyan, ICLR 2024, Sec. 3).

    Args:
        num_classes: $K \ge 2$.
        dim: feature dimension $d \ge K - 1$; default $K$.
        scale: row norm $s > 0$.
        seed: ``None`` embeds the ETF in the first coordinates deterministically; an integer picks a
            random orthonormal embedding (Haar-distributed) with that seed.

    Returns:
        A ``(K, d)`` array in the default float dtype.
    """
    k = check_num_classes(num_classes)
    d = check_dim(dim, k)
    s = check_positive_real("scale", scale)
    rng = None if seed is None else np.random.default_rng(check_int("seed", seed, 0))

    centred = np.eye(k) - np.full((k, k), 1.0 / k)
    if d >= k:
        if rng is None:
            basis = np.eye(d)[:, :k]  # (d, K)
        else:
            basis = _haar_orthonormal(rng, d, k)
        rows = centred @ basis.T  # (K, d)
    else:  # d == K - 1: an orthonormal basis V of the centred subspace, (I - 11^T/K) = V V^T
        v, _ = np.linalg.qr(centred[:, : k - 1])
        rotation = np.eye(k - 1) if rng is None else _haar_orthonormal(rng, k - 1, k - 1)
        rows = v @ rotation.T
    w = s * np.sqrt(k / (k - 1)) * rows
    return jnp.asarray(w)


def _haar_orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal columns, uniformly distributed (sign-fixed QR)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))
