r"""Gauss–Jacobi quadrature for Beta distributions on $[0, 1]$: exact expectations over $\lambda$.

The $n$-node Gauss rule of $\mathrm{Beta}(p, q)$ has nodes $\lambda_i \in (0, 1)$ and positive
weights $\nu_i$ summing to one with
$$\sum_i \nu_i f(\lambda_i) = \mathbb{E}_{\lambda \sim \mathrm{Beta}(p, q)}[f(\lambda)]$$
exactly for every polynomial $f$ of degree at most $2n - 1$. Mixup's $\lambda \sim
\mathrm{Beta}(\alpha, \alpha)$ is the symmetric case; $\mathrm{Beta}(\alpha, 1)$ and
$\mathrm{Beta}(1, 1)$ (Gauss–Legendre) serve the composite rules of :mod:`ufm._expectations`.

**Small parameters.** For $\alpha = 0.05$ the density is singular at both ends and the outer nodes
sit within $\sim 10^{-5}$ of 0 and 1; an eigenvalue solver resolves them only to an absolute
$10^{-16}$ (relative $10^{-12}$), and weights formed from them inherit the error. Here every node
and weight has full *relative* accuracy, whatever $p$ and $q$:

1. The measure's chain sequence $\zeta_j$ is known in closed form (the coefficients of Gauss's
   continued fraction for ${}_2F_1(1, p; p+q; z) = \mathbb{E}[1/(1 - z\lambda)]$):
   $\zeta_{2k+1} = \frac{(p+k)(p+q+k-1)}{(p+q+2k-1)(p+q+2k)}$,
   $\zeta_{2k} = \frac{k(q+k-1)}{(p+q+2k-2)(p+q+2k-1)}$, all positive; the Jacobi matrix has diagonal
   $\zeta_{2k} + \zeta_{2k+1}$ and off-diagonal $\sqrt{\zeta_{2k-1}\zeta_{2k}}$.
2. Its eigenvalues (Golub & Welsch, Math. Comp. 23, 1969) are polished by Newton steps on the
   orthogonal polynomial evaluated through the two-term recurrences
   $\pi_{k+1}(\lambda) = \lambda\pi^*_k(\lambda) - \zeta_{2k+1}\pi_k(\lambda)$,
   $\pi^*_{k+1} = \pi_{k+1} - \zeta_{2k+2}\pi^*_k$ (Gautschi, *Orthogonal Polynomials*, 2004,
   §2.1.7), which involve $\lambda$ only as a factor, never as $\lambda - a_k$: near 0 they keep
   relative accuracy. Nodes above $1/2$ are treated as $1 - \lambda$ under the reflected
   $\mathrm{Beta}(q, p)$.
3. Each weight is the Christoffel function $\nu_i = 1/\sum_{k<n} P_k(\lambda_i)^2$ of the
   orthonormal polynomials $P_k$, a sum of positive terms.

For $p = q$ the rule is exactly symmetric: $\lambda_{n-1-i} = 1 - \lambda_i$, equal weights.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from jaxtyping import Float

__all__ = ["beta_rule", "chain_sequence"]

_NEWTON_STEPS = 3


def chain_sequence(p: float, q: float, n: int) -> Float[np.ndarray, " twice_n_plus_1"]:
    r"""$\zeta_0 = 0, \zeta_1, \dots, \zeta_{2n}$ of $\mathrm{Beta}(p, q)$ (see the module docstring).

    The monic orthogonal polynomials satisfy $\pi_{k+1} = (\lambda - \zeta_{2k} - \zeta_{2k+1})\pi_k
    - \zeta_{2k-1}\zeta_{2k}\pi_{k-1}$. $\zeta_1 = p/(p+q)$ is written in its reduced form (the
    general formula is $0/0$ at $p + q = 1$).
    """
    zeta = np.zeros(2 * n + 1)
    k = np.arange(n, dtype=np.float64)
    s = p + q
    with np.errstate(invalid="ignore", divide="ignore"):  # k = 0 at p + q = 1: replaced below
        odd = (p + k) * (s + k - 1.0) / ((s + 2.0 * k - 1.0) * (s + 2.0 * k))
    odd[0] = p / s
    zeta[1::2] = odd
    k = np.arange(1, n + 1, dtype=np.float64)
    zeta[2::2] = k * (q + k - 1.0) / ((s + 2.0 * k - 2.0) * (s + 2.0 * k - 1.0))
    return zeta


def _recurrence(zeta: np.ndarray, n: int, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""$P_n(\lambda)$, $P_n'(\lambda)$ and $\sum_{k<n} P_k(\lambda)^2$ for the orthonormal $P_k$.

    The two-term recurrences in orthonormal scaling: with $b_{k+1} = \zeta_{2k+1}\zeta_{2k+2}$,
    $P_{k+1} = (\lambda P^*_k - \zeta_{2k+1}P_k)/\sqrt{b_{k+1}}$ and
    $P^*_{k+1} = P_{k+1} - \zeta_{2k+2}P^*_k/\sqrt{b_{k+1}}$ ($P_0 = P^*_0 = 1$). No value overflows.
    """
    pk = np.ones_like(lam)
    dpk = np.zeros_like(lam)
    sk = np.ones_like(lam)  # P*_k
    dsk = np.zeros_like(lam)
    total = np.ones_like(lam)
    for k in range(n):
        odd, even = zeta[2 * k + 1], zeta[2 * k + 2]
        root = math.sqrt(odd * even)
        p_next = (lam * sk - odd * pk) / root
        dp_next = (sk + lam * dsk - odd * dpk) / root
        if k + 1 < n:
            total = total + p_next * p_next
        sk, dsk = p_next - (even / root) * sk, dp_next - (even / root) * dsk
        pk, dpk = p_next, dp_next
    return pk, dpk, total


def _refine(p: float, q: float, n: int, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes near 0 (``start`` <= 1/2) polished to full relative accuracy, and their weights."""
    zeta = chain_sequence(p, q, n)
    lam = start.copy()
    for _ in range(_NEWTON_STEPS):
        value, slope, _ = _recurrence(zeta, n, lam)
        step = value / slope
        # A Newton step from an eigenvalue accurate to ~1e-16 absolute is tiny; anything else
        # (a zero slope, a jump) keeps the eigenvalue.
        ok = np.isfinite(step) & (np.abs(step) <= 1e-8 * np.maximum(lam, 1e-300) + 1e-14)
        lam = np.where(ok, lam - step, lam)
    _, _, total = _recurrence(zeta, n, lam)
    return lam, 1.0 / total


@functools.lru_cache(maxsize=256)
def _cached_rule(p: float, q: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    zeta = chain_sequence(p, q, n)
    if n == 1:
        nodes, weights = np.array([zeta[1]]), np.array([1.0])
    else:
        diagonal = zeta[0 : 2 * n : 2] + zeta[1 : 2 * n : 2]
        off = np.sqrt(zeta[1 : 2 * n - 2 : 2] * zeta[2 : 2 * n - 1 : 2])
        import scipy.linalg  # here, not at import: scipy is ~35 MB the solver and CLI do not need
        start = np.clip(np.sort(scipy.linalg.eigh_tridiagonal(diagonal, off, eigvals_only=True)), 0.0, 1.0)
        lower = start <= 0.5
        nodes, weights = np.empty(n), np.empty(n)
        nodes[lower], weights[lower] = _refine(p, q, n, start[lower])
        if p == q:  # exact symmetry: mirror the lower half (the middle node of odd n is 1/2)
            half = n // 2
            nodes[n - half :] = 1.0 - nodes[:half][::-1]
            weights[n - half :] = weights[:half][::-1]
            if n % 2:
                nodes[half], weights[half] = 0.5, _refine(p, q, n, np.array([0.5]))[1][0]
        else:
            upper, upper_weights = _refine(q, p, n, 1.0 - start[~lower])
            nodes[~lower], weights[~lower] = 1.0 - upper, upper_weights
    weights = weights / math.fsum(weights)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def beta_rule(p: float, q: float, n: int) -> tuple[Float[np.ndarray, " n"], Float[np.ndarray, " n"]]:
    r"""The $n$-node Gauss rule of $\mathrm{Beta}(p, q)$ on $[0, 1]$: ``(nodes, weights)``, float64.

    Nodes ascending in $(0, 1)$, weights positive and summing to one;
    $\sum_i \nu_i f(\lambda_i) = \mathbb{E}[f(\lambda)]$ exactly for polynomials of degree $\le 2n - 1$.
    Nodes and weights have full relative accuracy, also next to 0 and 1 for small $p, q$; for
    $p = q$ (mixup's $\mathrm{Beta}(\alpha, \alpha)$) the rule is exactly symmetric about $1/2$.
    Returned arrays are read-only (cached).
    """
    return _cached_rule(float(p), float(q), int(n))
