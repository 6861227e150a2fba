r"""The optimum of a learned-classifier problem from its convex reformulation, with a certificate.

With scaled features $\tilde h_i = \sqrt{\omega_i}\,h_i$ and $\tilde Z = W\tilde H^\top$ ($K \times N$),
$\min\{\frac{\lambda_W}{2}\|W\|_F^2 + \frac{\mu}{2}\|\tilde H\|_F^2 : W\tilde H^\top = \tilde Z\} =
\tau\|\tilde Z\|_*$ with $\tau = \sqrt{\lambda_W\mu}$ as soon as $d \ge \operatorname{rank}\tilde Z$
(Srebro, Rennie & Jaakkola, NeurIPS 2005), so the learned problem has the optimal value of the
**convex** problem

$$\min_{\tilde Z}\ P(\tilde Z) = f(\tilde Z) + \tau\|\tilde Z\|_*,\qquad
f(\tilde Z) = \sum_i \omega_i\,\ell(\tilde z_i/\sqrt{\omega_i};\,y_i),$$

and its optima are the balanced factors of $\tilde Z^\star$. Its columns are centred, so
$d = K - 1$ suffices. :func:`learned_optimum` solves it independently of :func:`ufm.minimize`'s
joint methods:

1. **Proximal gradient** (FISTA with adaptive restart, O'Donoghue & Candès 2015) with singular-value
   soft-thresholding. Every $f_i$ has Hessian $\operatorname{diag}p - pp^\top \preceq \frac12 I$
   (Böhning 1992) whatever $\omega_i$, so the step $1/L = 2$ is safe for any class weights: the
   $\sqrt{\omega}$ scaling makes the smooth part uniformly conditioned. The thresholding finds the
   rank of the optimum (exact zeros: minority collapse).
2. **Newton polish** from the balanced factors of that point: Newton's method on the reduced
   objective $\Psi(W) = \min_H F(W, H)$ (``ufm/_learned.py``), which converges quadratically
   once near the optimum.
3. **Duality-gap certificate**, which does not depend on how the point was found. With
   $G = \nabla f(\tilde Z)$ (columns $\sqrt{\omega_i}(p_i - y_i)$) and
   $s = \min(1, \tau/\|G\|_2)$, $\Lambda = sG$ is dual feasible ($\|\Lambda\|_2 \le \tau$) and, since
   $\ell^*(q) = \sum_k (q + y)_k\log(q + y)_k$ on the simplex,
   $$D = -f^*(\Lambda) = \sum_i \omega_i\,\mathrm{Ent}\bigl(s\,p_i + (1 - s)\,y_i\bigr)
   \le F^\star \le F(W, H),$$
   so ``objective - dual_bound`` bounds the suboptimality of the returned point.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from typing import no_type_check

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from ._learned import _reduced_start, centred_basis, learned_targets, run_reduced_newton
from ._problem import MixupUFM

__all__ = ["learned_optimum", "LearnedOptimum", "duality_gap", "TRACES"]

TRACES: collections.Counter = collections.Counter()

_STEP = 2.0  # 1/L with L = 1/2 (Boehning's bound on the softmax Hessian)
_PROX_GAP = 1e-11  # stop the proximal gradient here (relative to 1 + |P|); the Newton polish does the rest
_PROX_MAX_STEPS = 50_000
_CHECK_EVERY = 25  # proximal steps between duality-gap evaluations
_POLISH_TOL = 1e-12  # gradient-norm tolerance of the Newton polish
_POLISH_MAX_STEPS = 50
_RANK_RTOL = 1e-10  # singular values below this fraction of the largest count as zero


@dataclasses.dataclass(frozen=True)
class LearnedOptimum:
    r"""The certified optimum of a learned-classifier problem (:func:`ufm.learned_optimum`).

    Attributes:
        classifier: an optimal classifier $W^\star$, ``(K, d)`` float64, centred, in the first
            ``rank`` coordinates (any $W^\star Q$, $Q$ orthogonal, is optimal too).
        features: the optimal features for it, ``problem.feature_shape``.
        objective: $F(W^\star, H^\star)$.
        dual_bound: $D$, a lower bound on the optimal value (module docstring).
        duality_gap: ``objective - dual_bound`` $\ge F(W^\star, H^\star) - F^\star$.
        rank: rank of the optimal logits (of $W^\star$); $K - 1$ unless classes collapse.
        prox_steps: proximal-gradient iterations.
        newton_steps: Newton-polish iterations (0 when the polish did not improve the certificate).
        seconds: wall time.
    """

    classifier: Float[Array, "K d"]
    features: Float[Array, "..."]
    objective: float
    dual_bound: float
    duality_gap: float
    rank: int
    prox_steps: int
    newton_steps: int
    seconds: float

    @property
    def gram(self) -> np.ndarray:
        r"""$W^\star W^{\star\top}$ (``(K, K)``), the rotation-invariant part of the classifier."""
        w = np.asarray(self.classifier, dtype=np.float64)
        return w @ w.T

    def summary(self) -> dict:
        """The scalar fields as a JSON-ready dict."""
        skip = ("classifier", "features")
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


def _loss(z: Array, y: Array) -> Array:
    return jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1)


def _smooth(zt: Array, y: Array, weights: Array, root: Array) -> tuple[Array, Array, Array]:
    """``f``, its gradient (rows $\\sqrt{\\omega_i}(p_i - y_i)$) and the softmax of the unscaled logits."""
    z = zt / root[:, None]
    p = jax.nn.softmax(z, axis=-1)
    return jnp.sum(weights * _loss(z, y)), root[:, None] * (p - y), p


def _entropy(q: Array) -> Array:
    return -jnp.sum(jax.scipy.special.xlogy(q, q), axis=-1)


@jax.jit
def duality_gap(
    zt: Float[Array, "N K"], y: Float[Array, "N K"], weights: Float[Array, " N"], tau: Float[Array, ""]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""$P(\tilde Z)$ and the dual bound $D$ at $\tilde Z$ (rows $\tilde z_i$; module docstring)."""
    root = jnp.sqrt(weights)
    value, grad, p = _smooth(zt, y, weights, root)
    primal = value + tau * jnp.sum(jnp.linalg.svd(zt, compute_uv=False))
    norm = jnp.linalg.svd(grad, compute_uv=False)[0]
    s = jnp.minimum(1.0, tau / norm)
    dual = jnp.sum(weights * _entropy(s * p + (1.0 - s) * y))
    return primal, dual


def _shrink(x: Array, threshold: Array) -> Array:
    r"""Singular-value soft-thresholding, the proximal map of ``threshold * ||.||_*``, for a tall
    ``(N, K)`` matrix: $X \mapsto XV\operatorname{diag}(\max(1 - \theta/\sigma_j, 0))V^\top$ from the
    eigendecomposition $X^\top X = V\operatorname{diag}(\sigma^2)V^\top$ (``K x K``: some thirty times
    faster than an SVD of $X$). Singular values below $\theta$ are set to exactly zero; those above it
    (the ones kept) are resolved to a relative $\varepsilon\sigma_{\max}^2/\sigma^2$."""
    lam, v = jnp.linalg.eigh(x.T @ x)
    sing = jnp.sqrt(jnp.maximum(lam, 0.0))
    kept = sing > threshold
    factor = jnp.where(kept, 1.0 - threshold / jnp.where(kept, sing, 1.0), 0.0)
    return x @ ((v * factor) @ v.T)


@jax.jit
def run_prox_gradient(y, weights, tau, gap_tol, max_steps):
    """FISTA with gradient-based restart from $\\tilde Z = 0$; stops once the duality gap is at most
    ``gap_tol * (1 + |P|)`` (checked every ``_CHECK_EVERY`` steps). Returns ``(Z~, steps)``."""
    TRACES["prox"] += 1
    root = jnp.sqrt(weights)
    threshold = _STEP * tau

    def step(x, momentum_point):
        _, grad, _ = _smooth(momentum_point, y, weights, root)
        return _shrink(momentum_point - _STEP * grad, threshold)

    def cond(carry):
        k, _, _, _, gap, scale = carry
        return (k < max_steps) & (gap > gap_tol * scale)

    def body(carry):
        k, x, point, t, _, _ = carry

        def inner(j, state):
            x, point, t = state
            x_new = step(x, point)
            restart = jnp.sum((point - x_new) * (x_new - x)) > 0
            t = jnp.where(restart, 1.0, t)
            t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
            point = x_new + ((t - 1.0) / t_new) * (x_new - x)
            return x_new, point, t_new

        x, point, t = lax.fori_loop(0, _CHECK_EVERY, inner, (x, point, t))
        primal, dual = duality_gap(x, y, weights, tau)
        return k + _CHECK_EVERY, x, point, t, primal - dual, 1.0 + jnp.abs(primal)

    zero = jnp.zeros_like(y)
    one = jnp.asarray(1.0, y.dtype)
    inf = jnp.asarray(jnp.inf, y.dtype)
    k, x, _, _, _, _ = lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), zero, zero, one, inf, one))
    return x, k


def _balanced_factors(zt: np.ndarray, weights: np.ndarray, mu: float, decay: float, width: int):
    r"""$(W, H)$ with $W\tilde H^\top = \tilde Z^\top$ and $\frac{\lambda_W}{2}\|W\|^2 = \frac{\mu}{2}\|\tilde H\|^2$:
    $W = (\mu/\lambda_W)^{1/4}V\Sigma^{1/2}$, $\tilde H = (\lambda_W/\mu)^{1/4}U\Sigma^{1/2}$ from
    $\tilde Z^\top = V\Sigma U^\top$, zero-padded to ``width`` columns; also the rank."""
    u, sing, vt = np.linalg.svd(zt, full_matrices=False)  # zt = u diag(sing) vt, (N, K)
    rank = int(np.sum(sing > _RANK_RTOL * sing[0])) if sing[0] > 0 else 0
    u, sing, vt = u[:, :rank], sing[:rank], vt[:rank]
    root = np.sqrt(sing)
    w = (mu / decay) ** 0.25 * vt.T * root
    h = (decay / mu) ** 0.25 * u * root / np.sqrt(weights)[:, None]
    pad = ((0, 0), (0, width - rank))
    return np.pad(w, pad), np.pad(h, pad), rank


@no_type_check  # arguments checked by hand
def learned_optimum(problem: MixupUFM) -> LearnedOptimum:
    r"""The optimum of a problem with a learned classifier, from its convex reformulation, with a
    duality-gap certificate (see the module docstring of ``ufm/_convex.py`` and ``docs/learned.md``).

    Independent of :func:`ufm.minimize`'s joint methods: proximal gradient with singular-value
    soft-thresholding on $\min_{\tilde Z} f(\tilde Z) + \sqrt{\lambda_W\mu}\,\|\tilde Z\|_*$, a Newton
    polish, and a dual bound $D \le F^\star$ computed from the returned point alone. Float64.

    Args:
        problem: a :class:`ufm.MixupUFM` with ``classifier_decay``.

    Returns:
        A :class:`ufm.LearnedOptimum`; ``duality_gap`` bounds how far ``objective`` can be above
        the optimal value.
    """
    if not isinstance(problem, MixupUFM):
        raise TypeError(f"problem must be a ufm.MixupUFM, got {type(problem).__name__}")
    if not problem.learns_classifier:
        raise ValueError(
            "learned_optimum applies to problems with a learned classifier (classifier_decay); for the fixed "
            "simplex ETF use ufm.optimal_features"
        )
    t0 = time.perf_counter()
    k, d = problem.num_classes, problem.dim
    mu, decay = problem.weight_decay, problem.classifier_decay
    y, weights = learned_targets(problem)
    tau = np.sqrt(mu * decay)
    f64 = np.float64
    zt, prox_steps = run_prox_gradient(
        jnp.asarray(y, f64), jnp.asarray(weights, f64), jnp.asarray(tau, f64), jnp.asarray(_PROX_GAP, f64),
        jnp.asarray(_PROX_MAX_STEPS, jnp.int32),
    )
    zt = np.asarray(zt)
    w, h, rank = _balanced_factors(zt, weights, mu, decay, k - 1)
    candidates = [(w, h, 0)]
    if rank > 0:  # polish: Newton on the reduced objective from the balanced factors
        centred = centred_basis(k)
        c0, b0 = _reduced_start(centred, w, h)
        w_n, h_n, steps = run_reduced_newton(
            *(jnp.asarray(a, f64) for a in (centred, c0, b0, y, weights, mu, decay, _POLISH_TOL)),
            jnp.asarray(_POLISH_MAX_STEPS, jnp.int32),
        )
        candidates.append((np.asarray(w_n), np.asarray(h_n), int(steps)))
    best = None
    for w_c, h_c, steps in candidates:
        objective = _objective(problem, w_c, h_c, y, weights)
        primal, dual = duality_gap(jnp.asarray(np.sqrt(weights)[:, None] * (h_c @ w_c.T)), jnp.asarray(y),
                                   jnp.asarray(weights), jnp.asarray(tau))
        gap = objective - float(dual)
        if best is None or gap < best[3]:
            best = (w_c, h_c, objective, gap, float(dual), steps)
    w, h, objective, gap, dual, steps = best
    pad = ((0, 0), (0, d - (k - 1)))
    samples = np.pad(h, pad).reshape(problem.sample_shape)
    return LearnedOptimum(
        classifier=jnp.asarray(np.pad(w, pad)),
        features=problem.as_features(jnp.asarray(samples)),
        objective=objective,
        dual_bound=dual,
        duality_gap=gap,
        rank=rank,
        prox_steps=int(prox_steps),
        newton_steps=steps,
        seconds=time.perf_counter() - t0,
    )


def _objective(problem, w, h, y, weights) -> float:
    r"""$F(W, H)$ in float64 from the flat arrays (features in the first columns)."""
    z = h @ w.T
    loss = np.asarray(_loss(jnp.asarray(z), jnp.asarray(y)))
    value = np.sum(weights * (loss + 0.5 * problem.weight_decay * np.sum(h * h, axis=-1)))
    return float(value + 0.5 * problem.classifier_decay * np.sum(w * w))
