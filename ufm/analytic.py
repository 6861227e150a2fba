r"""The exact optimum of the mixup UFM with a fixed simplex-ETF classifier.

Fisher, Meng & Papyan, "Pushing Boundaries: Mixup's Influence on Neural Collapse" (ICLR 2024),
Sec. 3; conventions and statements in ``docs/theory.md``, derivations in ``docs/derivations.md``.

With $\beta = s^2K/(K-1)$ and $\gamma = \mu/\beta$ the objective decouples into independent strictly
convex per-sample problems, and each optimal feature is

* same class $c = c'$: $h = (t/\beta)\,w_c$ with $t(e^t + K - 1) = K/\gamma$;
* different classes, $K \ge 3$: $h = (u\,w_c + v\,w_{c'})/\beta$, $(u, v)$ the minimiser of
  $F(u,v) = \log(e^u + e^v + K - 2) - \lambda u - (1-\lambda)v
  + \tfrac{\gamma}{2}\bigl(u^2 + v^2 - (u+v)^2/K\bigr)$;
* different classes, $K = 2$: $h = (x/\beta)\,w_c$ with $\gamma x/2 = \lambda - \sigma(x)$.

These are exact reductions to 1-D or 2-D equations, not closed forms (except the special cases
listed in the docs); they are solved here to machine precision by safeguarded and damped Newton
iterations in forms that neither overflow nor cancel: logits enter only through ``logaddexp``, and
$\lambda$ and $1-\lambda$ are used separately so that $\lambda \to 0$ and $\lambda \to 1$ keep full
relative accuracy. Every function broadcasts over its array arguments and works under ``jit`` and
``vmap``.

:func:`expected_optimum` integrates quantities at the optimum (objective, confidence, calibration
errors, feature norm, distance to the decision boundary) over mixup's $\lambda \sim
\mathrm{Beta}(\alpha, \alpha)$, with the limits $\alpha \to 0$ and $\alpha \to \infty$ (in NumPy around the
compiled root finders, not itself traceable).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import softplus
from jaxtyping import Array, ArrayLike, Float, Int

from ._blocks import row_blocks
from ._etf import simplex_etf
from ._problem import MixupUFM
from ._roots import damped_newton_2d, safeguarded_newton

__all__ = [
    "etf_beta",
    "relative_decay",
    "same_class_margin",
    "pair_margins",
    "binary_margin",
    "exact_margins",
    "assemble_samples",
    "optimal_samples",
    "optimal_sample_blocks",
    "optimal_features",
    "mse_optimal_features",
    "expected_optimum",
    "ExpectedOptimum",
]


# Traces of the compiled root finders: tests check that they compile a bounded number of times.
TRACES: collections.Counter = collections.Counter()


def etf_beta(num_classes: ArrayLike, scale: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$\beta = s^2K/(K-1)$, the nonzero eigenvalue of $WW^\top$ for a simplex ETF of row norm $s$."""
    k = jnp.asarray(num_classes, dtype=float)
    return jnp.asarray(scale, dtype=float) ** 2 * k / (k - 1)


def relative_decay(num_classes: ArrayLike, weight_decay: ArrayLike, scale: ArrayLike = 1.0):
    r"""$\gamma = \mu/\beta$: the per-feature weight decay $\mu$ relative to the ETF's scale."""
    return jnp.asarray(weight_decay, dtype=float) / etf_beta(num_classes, scale)


@jax.jit
def same_class_margin(num_classes: ArrayLike, gamma: ArrayLike) -> Float[Array, "..."]:
    r"""The same-class logit margin $t = z_c - z_k > 0$, the root of $t(e^t + K - 1) = K/\gamma$.

    Solved for $s = \log t$, where $\phi(s) = s + \log(e^{t} + K - 1) - \log(K/\gamma)$ is convex
    and increasing, inside the bracket
    $(K/\gamma)/(K/\gamma + K) \le t \le \min(1/\gamma, \log(1 + K/\gamma))$
    (the upper end because $t e^t \le K/\gamma$ and $W_0(x) \le \log(1+x)$).
    Independent of $\lambda$; $t \approx W_0(K/\gamma)$ as $\gamma \to 0$ and $t \approx 1/\gamma$ as
    $\gamma \to \infty$.
    """
    TRACES["same_class_margin"] += 1
    k = jnp.asarray(num_classes, dtype=float)
    gamma = jnp.asarray(gamma, dtype=float)
    k, gamma = jnp.broadcast_arrays(k, gamma)
    log_rhs = jnp.log(k) - jnp.log(gamma)
    log_km1 = jnp.log(k - 1)
    t_hi = jnp.minimum(1.0 / gamma, jnp.log1p(k / gamma))
    t_lo = 1.0 / (1.0 + gamma)
    t_lo = jnp.minimum(t_lo, t_hi)

    def phi(s):
        t = jnp.exp(s)
        lse = jnp.logaddexp(t, log_km1)
        sig = jnp.exp(t - lse)  # e^t / (e^t + K - 1)
        return s + lse - log_rhs, 1.0 + t * sig

    s = safeguarded_newton(phi, jnp.log(t_lo), jnp.log(t_hi), jnp.log(t_hi))
    return jnp.exp(s)


@jax.jit
def binary_margin(lam: ArrayLike, gamma: ArrayLike) -> Float[Array, "..."]:
    r"""For $K = 2$, different classes: the root $x = z_c - z_{c'}$ of $\gamma x/2 = \lambda - \sigma(x)$.

    Solved for $y = |x| \ge 0$ with $m = \min(\lambda, 1-\lambda)$ in one of two equivalent
    increasing forms, each free of cancellation where it is used:

    * $m < 1/4$: $\log(m + \gamma y/2) + \operatorname{softplus}(y) = 0$, bracketed by
      $0 \le y \le \min\bigl((1-2m)/\gamma,\ \log((1-m)/m)\bigr)$ (keeps relative accuracy as
      $m \to 0$, where $1 - \sigma(y)$ is tiny);
    * $m \ge 1/4$: $\gamma y + \tanh(y/2) = 2e$ with $e = 1/2 - m$ (exact), bracketed by
      $0 \le y \le \min\bigl(2e/\gamma,\ 2\operatorname{artanh}(2e)\bigr)$ (keeps relative accuracy as
      $\lambda \to 1/2$, where the logarithmic form would subtract two numbers close to $\log 2$).

    $x$ has the sign of $\lambda - 1/2$ and vanishes exactly at $\lambda = 1/2$.
    """
    lam = jnp.asarray(lam, dtype=float)
    gamma = jnp.asarray(gamma, dtype=float)
    lam, gamma = jnp.broadcast_arrays(lam, gamma)
    m = jnp.minimum(lam, 1.0 - lam)  # exact: 1 - lam is exact for lam >= 1/2 (Sterbenz)
    near_half = m >= 0.25
    excess = jnp.where(near_half, 0.5 - m, 0.25)  # e in [0, 1/4]; exact for m >= 1/4 (Sterbenz)
    m_log = jnp.where(near_half, 0.25, m)  # keeps the unused branch finite
    hi_log = jnp.minimum((1.0 - 2.0 * m_log) / gamma, jnp.log1p(-m_log) - jnp.log(m_log))
    hi_tanh = jnp.minimum(2.0 * excess / gamma, 2.0 * jnp.arctanh(2.0 * excess))
    hi = jnp.maximum(jnp.where(near_half, hi_tanh, hi_log), 0.0)

    def g(y):
        inner = m_log + 0.5 * gamma * y
        f_log = jnp.log(inner) + softplus(y)
        df_log = 0.5 * gamma / inner + jax.nn.sigmoid(y)
        th = jnp.tanh(0.5 * y)
        f_tanh = gamma * y + th - 2.0 * excess
        df_tanh = gamma + 0.5 * (1.0 - th * th)
        return jnp.where(near_half, f_tanh, f_log), jnp.where(near_half, df_tanh, df_log)

    y = safeguarded_newton(g, jnp.zeros_like(hi), hi, 0.5 * hi)
    return jnp.where(lam >= 0.5, y, -y)


@jax.jit
def pair_margins(
    num_classes: ArrayLike, lam: ArrayLike, gamma: ArrayLike
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    r"""The different-class margins $(u, v)$ with optimal feature $h = (u\,w_c + v\,w_{c'})/\beta$.

    For $K \ge 3$, $u = z_c - z_o$ and $v = z_{c'} - z_o$ ($z_o$ the common logit of every other
    class), the unique minimiser of the strictly convex
    $$F(u,v) = \log(e^u + e^v + K - 2) - \lambda u - (1-\lambda)v
    + \tfrac{\gamma}{2}\bigl(u^2 + v^2 - (u+v)^2/K\bigr),$$
    whose stationarity system is $\gamma u = \lambda - (e^u - 1)q$, $\gamma v = 1 - \lambda - (e^v-1)q$,
    $q = 1/(e^u + e^v + K - 2)$. Solved by damped Newton in $a = (u+v)/2$, $b = (u-v)/2$ from the
    $\lambda = 1/2$ solution $(a, 0)$, so $u = v$ exactly at $\lambda = 1/2$. Symmetry: $v(\lambda) = u(1 - \lambda)$.

    For $K = 2$ (no other class) the pair is reported as $(x/2, -x/2)$ with $x$ from
    :func:`binary_margin`, which gives the same $h$ (since $w_{c'} = -w_c$) and keeps
    $u - v = z_c - z_{c'}$ and $v(\lambda) = u(1-\lambda)$.
    """
    TRACES["pair_margins"] += 1
    k = jnp.asarray(num_classes, dtype=float)
    lam = jnp.asarray(lam, dtype=float)
    gamma = jnp.asarray(gamma, dtype=float)
    k, lam, gamma = jnp.broadcast_arrays(k, lam, gamma)
    lam_c = 1.0 - lam
    binary = k == 2
    # For K = 2 the 2-D problem is degenerate (flat along u = v); solve a harmless K = 3 stand-in
    # there and replace it below by the binary solution.
    k_safe = jnp.where(binary, 3.0, k)
    log_rest = jnp.log(k_safe - 2.0)
    coupling = 1.0 / k_safe

    # Newton runs in a = (u+v)/2, b = (u-v)/2. The a-direction is nearly flat when gamma is small
    # (curvature ~ q + gamma), so its gradient must be formed without cancellation: with
    # r = e^{a+log 2cosh b} and Q = (K-2)/(r + K-2) = 1 - p_u - p_v (computed directly),
    # F_a = -Q + 2 gamma a (1 - 2/K).
    def log_partition(a, b):
        return jnp.logaddexp(a + _log_2cosh(b), log_rest)

    def value(a, b):
        # log Z - lam u - (1-lam) v = lam (-log p_u) + (1-lam) (-log p_v): a sum of non-negative
        # terms, each -log p = softplus(log(sum of the other exponentials) - own logit). Written
        # this way F has no cancellation, so its rounding error is a few ulps of |F| and the line
        # search's slack (relative to |F|) covers it even when log Z ~ 30 and F ~ 1e-8.
        u, v = a + b, a - b
        neg_log_pu = softplus(jnp.logaddexp(v, log_rest) - u)
        neg_log_pv = softplus(jnp.logaddexp(u, log_rest) - v)
        quad = 2.0 * a * a * (1.0 - 2.0 * coupling) + 2.0 * b * b
        return lam * neg_log_pu + lam_c * neg_log_pv + 0.5 * gamma * quad

    def grad_and_hess(a, b):
        u, v = a + b, a - b
        log_z = log_partition(a, b)
        p_u = jnp.exp(u - log_z)
        p_v = jnp.exp(v - log_z)
        q_rest = jnp.exp(log_rest - log_z)  # 1 - p_u - p_v
        not_u = jnp.exp(jnp.logaddexp(v, log_rest) - log_z)  # 1 - p_u
        not_v = jnp.exp(jnp.logaddexp(u, log_rest) - log_z)  # 1 - p_v
        # p_u - lam and p_v - (1 - lam), each in the form that keeps relative accuracy.
        res_u = jnp.where(lam <= 0.5, p_u - lam, lam_c - not_u)
        res_v = jnp.where(lam_c <= 0.5, p_v - lam_c, lam - not_v)
        ga = -q_rest + 2.0 * gamma * a * (1.0 - 2.0 * coupling)
        gb = res_u - res_v + 2.0 * gamma * b
        haa = (p_u + p_v) * q_rest + 2.0 * gamma * (1.0 - 2.0 * coupling)
        hab = (p_u - p_v) * q_rest
        hbb = p_u * not_u + p_v * not_v + 2.0 * p_u * p_v + 2.0 * gamma
        return ga, gb, haa, hab, hbb

    start = _symmetric_margin(k_safe, gamma)
    a, b = damped_newton_2d(value, grad_and_hess, start, jnp.zeros_like(start))
    u, v = a + b, a - b
    x = binary_margin(lam, gamma)
    u = jnp.where(binary, 0.5 * x, u)
    v = jnp.where(binary, -0.5 * x, v)
    return u, v


def _log_2cosh(b: Array) -> Array:
    r"""$\log(2\cosh b)$ without overflow."""
    b = jnp.abs(b)
    return b + jnp.log1p(jnp.exp(-2.0 * b))


def _symmetric_margin(k: Array, gamma: Array) -> Array:
    r"""$u = v$ at $\lambda = 1/2$: the root of $u(2e^u + K - 2) = K/(2\gamma)$ (with $K \ge 3$)."""
    log_rhs = jnp.log(k) - jnp.log(2.0 * gamma)
    log_half_rest = jnp.log(0.5 * (k - 2.0))
    # 2e^u + K - 2 >= K gives u <= 1/(2 gamma); 2u e^u <= K/(2 gamma) gives u <= log(1 + K/(4 gamma)).
    u_hi = jnp.minimum(1.0 / (2.0 * gamma), jnp.log1p(k / (4.0 * gamma)))
    u_lo = jnp.minimum(1.0 / (1.0 + 2.0 * gamma), u_hi)

    def phi(s):
        u = jnp.exp(s)
        lse = jnp.logaddexp(u, log_half_rest)  # log(e^u + (K-2)/2)
        sig = jnp.exp(u - lse)
        return s + jnp.log(2.0) + lse - log_rhs, 1.0 + u * sig

    return jnp.exp(safeguarded_newton(phi, jnp.log(u_lo), jnp.log(u_hi), jnp.log(u_hi)))


def _float64_classifier(problem: MixupUFM) -> np.ndarray:
    # Rebuilt rather than cast, so a float32 problem is still checked against a float64 reference.
    return np.asarray(
        simplex_etf(problem.num_classes, problem.dim, problem.scale, seed=problem.embedding_seed), np.float64
    )


# The margins are solved on lambdas padded to a power of two (at least 64): the root finders then
# compile once per bucket, not once per number of mixing coefficients.
_MIN_BUCKET = 64


def exact_margins(problem: MixupUFM) -> tuple[float, np.ndarray, np.ndarray]:
    r"""$(t, u, v)$ of ``problem`` in float64: the same-class margin and the different-class
    margins at each of ``problem.lambdas`` (see :func:`same_class_margin`, :func:`pair_margins`)."""
    lam = np.asarray(problem.lambdas, dtype=np.float64)
    size = max(_MIN_BUCKET, 1 << (lam.size - 1).bit_length())
    padded = np.full(size, 0.5)
    padded[: lam.size] = lam
    k = np.float64(problem.num_classes)
    gamma = np.float64(problem.gamma)
    t = float(same_class_margin(k, gamma))
    u, v = pair_margins(k, padded, gamma)
    return t, np.asarray(u)[: lam.size], np.asarray(v)[: lam.size]


def assemble_samples(
    classifier: Float[np.ndarray, "K d"],
    pair_index: Int[np.ndarray, "P 2"],
    margins: tuple[float, np.ndarray, np.ndarray],
    beta: float,
) -> Float[np.ndarray, "P M d"]:
    r"""Optimal samples ``(P, M, d)`` of the pairs ``pair_index`` from the margins $(t, u, v)$:
    $(t/\beta)w_c$ for $c = c'$, $(u\,w_c + v\,w_{c'})/\beta$ otherwise (NumPy, float64)."""
    t, u, v = margins
    first, second = pair_index[:, 0], pair_index[:, 1]
    same = (first == second)[:, None]  # (P, 1)
    coef_c = np.where(same, t, u[None, :])  # (P, M)
    coef_c2 = np.where(same, 0.0, v[None, :])
    w = np.asarray(classifier, dtype=np.float64)
    return (coef_c[:, :, None] * w[first][:, None, :] + coef_c2[:, :, None] * w[second][:, None, :]) / beta


def optimal_samples(problem: MixupUFM) -> Float[np.ndarray, "P M d"]:
    """The exact optimum in the internal ``(P, M, d)`` layout, as a float64 NumPy array."""
    return assemble_samples(_float64_classifier(problem), problem.pair_index, exact_margins(problem), problem.beta)


def optimal_sample_blocks(
    problem: MixupUFM, margins: tuple[float, np.ndarray, np.ndarray] | None = None
) -> Iterator[tuple[slice, Float[np.ndarray, "p M d"]]]:
    """The exact optimum in the internal ``(P, M, d)`` layout, block by block: ``(pairs, block)``
    with ``block = optimal_samples(problem)[pairs]`` (float64, about ``2**19`` elements each), so
    that it can be compared or written without ever being held whole.

    Args:
        problem: the problem.
        margins: its :func:`exact_margins`, when already computed.
    """
    margins = exact_margins(problem) if margins is None else margins
    w = _float64_classifier(problem)
    for block in row_blocks(problem.num_pairs, problem.num_lambdas * problem.dim):
        yield block, assemble_samples(w, problem.pair_index[block], margins, problem.beta)


def optimal_features(problem: MixupUFM) -> Float[Array, "K K M d"] | Float[Array, "P M d"]:
    r"""The exact optimum of ``problem.objective``, laid out like the features: ``(K, K, M, d)``, or
    ``(P, M, d)`` for a problem with ``pairs``.

    The sample of pair $(c, c_2)$ at $\lambda = $ ``problem.lambdas[m]`` is $(t/\beta)w_c$ when
    $c = c_2$ and $(u\,w_c + v\,w_{c_2})/\beta$ otherwise, with $t$ from :func:`same_class_margin`
    and $(u, v)$ from :func:`pair_margins`. Computed in float64 whatever ``problem.dtype`` is: it
    is the reference that numerical solutions are checked against. The root finders compile a
    bounded number of times (once per power-of-two bucket of $M$), whatever the problems.
    """
    return jnp.asarray(optimal_samples(problem).reshape(problem.feature_shape), dtype=jnp.float64)


def mse_optimal_features(problem: MixupUFM) -> Float[Array, "K K M d"] | Float[Array, "P M d"]:
    r"""The optimum when $\tfrac12\|Wh - y\|^2$ replaces the cross-entropy: exactly
    $h = (\lambda w_c + (1-\lambda) w_{c'})/(\beta + \mu)$, linear in $\lambda$ (the MSE contrast).
    Laid out like the features of ``problem``."""
    w = _float64_classifier(problem)
    lam = np.asarray(problem.lambdas, dtype=np.float64)[None, :, None]
    pairs = problem.pair_index
    h = lam * w[pairs[:, 0]][:, None, :] + (1 - lam) * w[pairs[:, 1]][:, None, :]
    return jnp.asarray((h / (problem.beta + problem.weight_decay)).reshape(problem.feature_shape), dtype=jnp.float64)


# Expectations over lambda ~ Beta(alpha, alpha) at the exact optimum (defined in their own module,
# which calls the root finders above; imported last for that reason).
from ._expectations import ExpectedOptimum as ExpectedOptimum  # noqa: E402
from ._expectations import expected_optimum as expected_optimum  # noqa: E402
