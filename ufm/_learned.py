r"""Solvers for a learned classifier: :func:`ufm.minimize` on problems with ``classifier_decay``.

With $\lambda_W > 0$ the classifier $W$ is a variable and the objective is

$$F(W, H) = \sum_i \omega_i\Bigl[\ell(Wh_i; y_i) + \frac{\mu}{2}\|h_i\|^2\Bigr] + \frac{\lambda_W}{2}\|W\|_F^2,$$

$\omega_i = \omega_p\nu_m$ the sample weights (``problem.sample_weights()``). $F$ is not convex and
not separable, and $(W, H) = 0$ is a saddle point, so both methods start from a seeded random
point. $F$ is invariant under $(W, H) \mapsto (WQ, HQ)$ for orthogonal $Q$: the optimum is an orbit,
and what is unique is the Gram matrix $WW^\top$ and the logits $Wh_i$ (``docs/learned.md``).

* ``"lbfgs"`` (and the other optax solvers): one joint minimisation over $(W, \tilde H)$ with the
  scaled features $\tilde h_i = \sqrt{\omega_i}\,h_i$. In these variables every sample's block of
  the Hessian is $W^\top(\operatorname{diag}p - pp^\top)W + \mu I$, whatever its weight, whereas in
  $h_i$ it is $\omega_i$ times that: under class imbalance the weights span orders of magnitude and
  the raw variables condition L-BFGS badly (``docs/learned.md``).
* ``"newton"``: Newton's method on the reduced objective $\Psi(W) = \min_H F(W, H)$ over centred
  classifiers $W = VC$ ($V$ an orthonormal basis of $\mathbf{1}^\perp$; centring $W$ keeps every
  logit difference and lowers $\|W\|$, so nothing is lost). Each evaluation solves every sample's
  feature for the current $W$ with a damped per-sample Newton method that takes the general Gram
  matrix $WW^\top$ (a dense $(K-1)\times(K-1)$ system per sample, $O(K^3)$, where the ETF step of
  ``ufm/_newton.py`` costs $O(K)$); the Hessian of $\Psi$ comes from implicit differentiation of
  those features. About ten outer steps from a random start.

  An alternating method (exact minimisation over the features at fixed $G = WW^\top$, then the
  closed-form $G = \sqrt{\mu/\lambda_W}\,(\sum_i\omega_iz_iz_i^\top)^{1/2}$ at fixed logits) was
  tried first: it is as fast on balanced problems but, under class imbalance, can shrink a minority
  direction of $G$ to zero at a point that is not optimal (block coordinate descent on a function
  that is not smooth at the boundary of the PSD cone), so it is not offered.

Both stop when the largest per-sample gradient norm $\|W^\top(p_i - y_i) + \mu h_i\|$ (each
sample's own objective, as with the fixed classifier) and the classifier gradient norm
$\|\nabla_W F\|_F$ are at most ``tol``. The loops are module-level ``jax.jit`` functions (the
solver's structure is static, everything else data) with trace counters in :data:`TRACES`.
"""

from __future__ import annotations

import collections
import functools
from typing import Any, no_type_check

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jaxtyping import Array, Float, Int

from ._joint import _has_value_in_state
from ._objective import _per_sample
from ._problem import MixupUFM
from ._results import RESULTS
from ._solution import Solution
from ._solvers import GradientDescent, Newton, Optax, as_solver
from ._timed import compile_and_run
from ._validation import check_int

__all__ = [
    "minimize_learned",
    "learned_targets",
    "random_start",
    "sample_newton",
    "reduced_hessian",
    "run_reduced_newton",
    "centred_basis",
    "learned_objective_and_grad_norms",
    "TRACES",
    "DEFAULT_MAX_STEPS",
]

# Traces of the compiled loops: tests check that same-shaped solves do not retrace.
TRACES: collections.Counter = collections.Counter()

# Iteration caps for a learned classifier when neither the solver nor minimize sets one: the joint
# problem needs more L-BFGS iterations than the separable one; "newton" counts outer iterations.
DEFAULT_MAX_STEPS = {"newton": 500, "lbfgs": 20_000}

_ARMIJO = 1e-4
_MAX_HALVINGS = 50
_INNER_STEPS = 60  # per-sample Newton iterations per outer step (quadratic convergence: ~5 used)
_ROUNDOFF_FACTOR = 16.0
# Eigenvalues of G below this fraction of the largest are rounding (the G step never raises rank).
_RANK_RTOL = 1e-13


def learned_targets(problem: MixupUFM) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(N, K)`` and sample weights ``(N,)`` of every sample, in the ``(P, M)`` order."""
    k, m = problem.num_classes, problem.num_lambdas
    lam = np.asarray(problem.lambdas, dtype=np.float64)
    pairs = np.asarray(problem.pair_index)
    y = np.zeros((problem.num_pairs, m, k))
    rows = np.arange(problem.num_pairs)
    y[rows, :, pairs[:, 0]] += lam
    y[rows, :, pairs[:, 1]] += 1.0 - lam
    return y.reshape(-1, k), problem.sample_weights().reshape(-1)


def random_start(problem: MixupUFM, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""A random start $(W_0, H_0)$ from ``numpy.random.default_rng(seed)``: independent
    $\mathcal{N}(0, 1/d)$ entries, so rows and features have norm about one. (Zero is a saddle
    point of $F$: the gradient vanishes there.)"""
    rng = np.random.default_rng(seed)
    d = problem.dim
    w0 = rng.normal(scale=1.0 / np.sqrt(d), size=(problem.num_classes, d))
    h0 = rng.normal(scale=1.0 / np.sqrt(d), size=problem.sample_shape)
    return w0, h0


# ---------------------------------------------------------------------------------------- checks


@jax.jit
def learned_objective_and_grad_norms(
    samples: Float[Array, "P M d"],
    w: Float[Array, "K d"],
    lambdas: Float[Array, " M"],
    mu: Float[Array, ""],
    classifier_decay: Float[Array, ""],
    pair_index: Int[Array, "P 2"],
    weights: Float[Array, "P M"],
) -> tuple[Float[Array, ""], Float[Array, ""], Float[Array, ""], jax.Array]:
    r"""$F(W, H)$, the largest per-sample gradient norm $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$ and
    $\|\nabla_W F\|_F$, by autodiff of the objective (independent of any solver's arithmetic).

    Returns ``(objective, max per-sample grad norm, classifier grad norm, all finite)``.
    """

    def total(w):
        values = _per_sample(samples, w, lambdas, mu, pair_index)
        return jnp.sum(values * weights) + 0.5 * classifier_decay * jnp.sum(w * w)

    def unweighted(h):
        return jnp.sum(_per_sample(h, w, lambdas, mu, pair_index))

    value, grad_w = jax.value_and_grad(total)(w)
    grad_h = jax.grad(unweighted)(samples)
    per_sample = jnp.sqrt(jnp.max(jnp.sum(grad_h * grad_h, axis=-1)))
    finite = jnp.all(jnp.isfinite(samples)) & jnp.all(jnp.isfinite(w))
    return value, per_sample, jnp.linalg.norm(grad_w), finite


# ------------------------------------------------------------------------- joint (optax) methods


def _joint_norm(grad_w: Array, grad_ht: Array, weights: Array) -> Array:
    r"""$\max(\max_i\|g_i\|, \|\nabla_W F\|)$ from the gradient in the scaled variables, where
    $\nabla_{\tilde h_i}F = \sqrt{\omega_i}\,g_i$."""
    per_sample = jnp.sqrt(jnp.max(jnp.sum(grad_ht * grad_ht, axis=-1) / weights))
    return jnp.maximum(per_sample, jnp.linalg.norm(grad_w))


@functools.partial(jax.jit, static_argnames=("structure",))
def run_joint_learned(w0, ht0, y, weights, mu, classifier_decay, tol, max_steps, hyper, *, structure):
    r"""Minimise $F$ over $(W, \tilde H)$, $\tilde h_i = \sqrt{\omega_i}h_i$ (rows of ``ht0``, ``(N, d)``).

    Returns ``(W, H~, num_steps)``.
    """
    TRACES["joint"] += 1
    optimizer = structure.make_transform(hyper)
    root = jnp.sqrt(weights)

    def fun(params):
        w, ht = params
        z = (ht / root[:, None]) @ w.T
        loss = jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1)
        return jnp.sum(weights * loss) + 0.5 * mu * jnp.sum(ht * ht) + 0.5 * classifier_decay * jnp.sum(w * w)

    params0 = (w0, ht0)
    state0 = optimizer.init(params0)
    from_state = _has_value_in_state(state0)
    value_and_grad = optax.value_and_grad_from_state(fun) if from_state else jax.value_and_grad(fun)

    def cond(carry):
        k, _, _, value, grad = carry
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad[0])) & jnp.all(jnp.isfinite(grad[1]))
        return (k < max_steps) & (_joint_norm(grad[0], grad[1], weights) > tol) & finite

    def body(carry):
        k, params, state, value, grad = carry
        updates, state = optimizer.update(grad, state, params, value=value, grad=grad, value_fn=fun)
        params = optax.apply_updates(params, updates)
        value, grad = value_and_grad(params, state=state) if from_state else value_and_grad(params)
        return k + 1, params, state, value, grad

    value0, grad0 = jax.value_and_grad(fun)(params0)
    carry = (jnp.asarray(0, jnp.int32), params0, state0, value0, grad0)
    k, (w, ht), _, _, _ = lax.while_loop(cond, body, carry)
    return w, ht, k


# ------------------------------------------------------------------------------ "newton" method


def sample_newton(
    w: Float[Array, "K r"],
    b: Float[Array, "N r"],
    y: Float[Array, "N K"],
    mu: Float[Array, ""],
    tol: Float[Array, ""],
    max_steps: int,
) -> tuple[Float[Array, "N r"], Int[Array, ""]]:
    r"""Every sample's feature for a fixed classifier with any Gram matrix $WW^\top$: damped Newton on
    $f(b) = \operatorname{logsumexp}(Wb) - y^\top Wb + \frac{\mu}{2}\|b\|^2$, all samples at once.

    The Hessian $W^\top(\operatorname{diag}p - pp^\top)W + \mu I \succeq \mu I$ is formed and solved
    per sample ($r \times r$, $O(Kr^2 + r^3)$); each sample has its own Armijo backtracking, takes the
    full step once its decrement is at rounding level, and stops at gradient norm ``tol``.

    Returns ``(b, iterations)``.
    """
    r = w.shape[1]
    eye = jnp.eye(r, dtype=w.dtype)
    eps = jnp.finfo(w.dtype).eps
    outer = w[:, :, None] * w[:, None, :]  # w_k w_k^T, (K, r, r)

    def value(b):
        z = b @ w.T
        return jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1) + 0.5 * mu * jnp.sum(b * b, axis=-1)

    def cond(carry):
        it, _, active = carry
        return (it < max_steps) & jnp.any(active)

    def body(carry):
        it, b, _ = carry
        z = b @ w.T
        p = jax.nn.softmax(z, axis=-1)
        g = (p - y) @ w + mu * b
        active = jnp.sum(g * g, axis=-1) > tol * tol
        q = p @ w
        hess = jnp.einsum("nk,kij->nij", p, outer) - q[:, :, None] * q[:, None, :] + mu * eye
        factor = jnp.linalg.cholesky(hess)  # positive definite: >= mu I
        step = -jax.scipy.linalg.cho_solve((factor, True), g[..., None])[..., 0]
        decrement = -jnp.sum(g * step, axis=-1)
        f0 = value(b)
        slack = _ROUNDOFF_FACTOR * eps * (jnp.abs(f0) + 1.0)
        roundoff = decrement <= slack

        def accepted(t):
            return value(b + t[:, None] * step) <= f0 - _ARMIJO * t * decrement + slack

        ones = jnp.ones_like(f0)
        todo = active & ~roundoff & ~accepted(ones)

        def ls_cond(state):
            j, _, todo = state
            return (j < _MAX_HALVINGS) & jnp.any(todo)

        def ls_body(state):
            j, t, todo = state
            t = jnp.where(todo, 0.5 * t, t)
            return j + 1, t, todo & ~accepted(t)

        _, t, failed = lax.while_loop(ls_cond, ls_body, (0, ones, todo))
        move = active & ~failed
        b = jnp.where(move[:, None], b + t[:, None] * step, b)
        return it + 1, b, active

    it, b, _ = lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), b, jnp.ones(b.shape[0], bool)))
    return b, it


def _reduced_start(centred: np.ndarray, w0: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""$(W_0, H_0)$ in the reduced coordinates: the centred part $V^\top W_0 = C_0R$ of the classifier,
    rotated by the orthonormal $R$ of its polar decomposition into $K - 1$ columns, and the features
    $Rh$ (the logits of the start's row space are kept)."""
    wc = centred.T @ w0  # (K-1, d)
    u, sing, vt = np.linalg.svd(wc, full_matrices=False)  # wc = u diag(sing) vt, vt: (K-1, d)
    return u * sing, h0 @ vt.T


def centred_basis(num_classes: int) -> np.ndarray:
    r"""An orthonormal basis $V$ (``(K, K-1)``) of the centred logits $\{z : \mathbf{1}^\top z = 0\}$."""
    k = num_classes
    q, _ = np.linalg.qr(np.eye(k)[:, : k - 1] - 1.0 / k)
    return q


def _sample_hessian(w, p, mu):
    r"""Per-sample Hessians $W^\top(\operatorname{diag}p - pp^\top)W + \mu I$, ``(N, r, r)``."""
    q = p @ w
    outer = w[:, :, None] * w[:, None, :]
    return jnp.einsum("nk,kij->nij", p, outer) - q[:, :, None] * q[:, None, :] + mu * jnp.eye(w.shape[1], dtype=w.dtype)


def reduced_hessian(
    w: Float[Array, "K r"],
    b: Float[Array, "N r"],
    y: Float[Array, "N K"],
    weights: Float[Array, " N"],
    mu: Float[Array, ""],
    classifier_decay: Float[Array, ""],
) -> Float[Array, "Kr Kr"]:
    r"""The Hessian of $\Psi(W) = \min_H F(W, H)$ at $W$, with $b_i$ each sample's optimal feature.

    With $S_i = \operatorname{diag}p_i - p_ip_i^\top$, $H_i$ the per-sample Hessian
    (:func:`_sample_hessian`) and $B_i = \partial^2 f_i/\partial b\,\partial W$ (the map
    $dW \mapsto dW^\top(p_i - y_i) + W^\top S_i\,dW\,b_i$), implicit differentiation of
    $\nabla_b f_i(W, b_i^\star(W)) = 0$ gives
    $$\nabla^2\Psi = \lambda_W I + \sum_i\omega_i\bigl(S_i \otimes b_ib_i^\top - B_i^\top H_i^{-1}B_i\bigr),$$
    indices of $W$ flattened row-major ($(k, j) \mapsto kr + j$).
    """
    k, r = w.shape
    p = jax.nn.softmax(b @ w.T, axis=-1)
    s = p[:, :, None] * jnp.eye(k, dtype=w.dtype) - p[:, :, None] * p[:, None, :]  # (N, K, K)
    # Sum over samples as one matrix product: (K K, N) @ (N, r r) -> (k, l, j, m) -> (k, j, l, m).
    pairs = (b[:, :, None] * b[:, None, :]).reshape(-1, r * r)
    first = ((weights[:, None] * s.reshape(-1, k * k)).T @ pairs).reshape(k, k, r, r)
    first = first.transpose(0, 2, 1, 3).reshape(k * r, k * r)
    # B_i[j, (l, m)] = delta_jm (p - y)_l + (W^T S)_jl b_m
    wts = jnp.einsum("kj,nkl->njl", w, s)
    coupling = (jnp.eye(r, dtype=w.dtype)[None, :, None, :] * (p - y)[:, None, :, None]
                + wts[:, :, :, None] * b[:, None, None, :]).reshape(-1, r, k * r)
    # B^T H^{-1} B = E^T E with E = L^{-1} B, H = LL^T; L^{-1} explicitly (r x r), then batched
    # products: much faster on CPU than a triangular solve with K r right-hand sides per sample.
    factor = jnp.linalg.cholesky(_sample_hessian(w, p, mu))
    eye = jnp.broadcast_to(jnp.eye(r, dtype=w.dtype), factor.shape)
    scaled = jnp.sqrt(weights)[:, None, None] * jax.scipy.linalg.solve_triangular(factor, eye, lower=True)
    e = (scaled @ coupling).reshape(-1, k * r)
    second = e.T @ e
    return first - second + classifier_decay * jnp.eye(k * r, dtype=w.dtype)


def _reduced_value(w, b, y, weights, mu, classifier_decay):
    z = b @ w.T
    loss = jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1) + 0.5 * mu * jnp.sum(b * b, axis=-1)
    return jnp.sum(weights * loss) + 0.5 * classifier_decay * jnp.sum(w * w)


@jax.jit
def run_reduced_newton(centred, c0, b0, y, weights, mu, classifier_decay, tol, max_steps):
    r"""Newton's method on the reduced objective $\Psi(C) = \min_H F(VC, H)$ over centred classifiers
    $W = VC$ (``centred`` $= V$, ``(K, K-1)``; $C$ is ``(K-1, K-1)``), features in $K - 1$ coordinates.

    Every evaluation solves each sample's feature exactly (:func:`sample_newton`); the gradient is
    $V^\top\nabla_WF$ at those features (envelope theorem) and the Hessian comes from implicit
    differentiation of the features (:func:`reduced_hessian`). $\Psi$ is invariant under
    $C \mapsto CQ$: the Hessian's null directions are dropped (pseudo-inverse), negative curvature
    (away from the optimum) is replaced by its absolute value, and an Armijo line search makes every
    step a descent step.

    Returns ``(W (K, K-1), b (N, K-1), Newton steps)``.
    """
    TRACES["newton"] += 1
    eps = jnp.finfo(c0.dtype).eps
    inner_tol = 0.5 * tol

    def features(c, b):
        return sample_newton(centred @ c, b, y, mu, inner_tol, _INNER_STEPS)[0]

    def value(c, b):
        return _reduced_value(centred @ c, b, y, weights, mu, classifier_decay)

    def gradient(c, b):
        w = centred @ c
        p = jax.nn.softmax(b @ w.T, axis=-1)
        return centred.T @ ((weights[:, None] * (p - y)).T @ b + classifier_decay * w)

    # W = VC, so the Hessian in C is (V (x) I)^T (Hessian in W) (V (x) I).
    lift = jnp.kron(centred, jnp.eye(c0.shape[1], dtype=c0.dtype))

    def norms(c, b):
        w = centred @ c
        p = jax.nn.softmax(b @ w.T, axis=-1)
        grad_h = (p - y) @ w + mu * b
        grad_c = centred.T @ ((weights[:, None] * (p - y)).T @ b + classifier_decay * w)
        return jnp.maximum(jnp.sqrt(jnp.max(jnp.sum(grad_h * grad_h, axis=-1))), jnp.linalg.norm(grad_c))

    def cond(carry):
        k, _, _, norm, _, stalled = carry
        return (k < 0) | ((k < max_steps) & (norm > tol) & jnp.isfinite(norm) & ~stalled)

    def body(carry):
        k, c, b, norm, f0, _ = carry
        size = c.size
        grad = gradient(c, b).reshape(size)
        hess = lift.T @ reduced_hessian(centred @ c, b, y, weights, mu, classifier_decay) @ lift
        lam, q = jnp.linalg.eigh(0.5 * (hess + hess.T))
        scale = jnp.max(jnp.abs(lam))
        keep = jnp.abs(lam) > 1e-10 * scale
        coeff = jnp.where(keep, (q.T @ grad) / jnp.where(keep, jnp.abs(lam), 1.0), 0.0)
        # Pass -1 only solves the start's features (a zero step through the same line search), so
        # the per-sample solver appears once in the compiled program.
        step = jnp.where(k < 0, 0.0, -(q @ coeff).reshape(c.shape))
        slope = jnp.sum(grad * step.reshape(size))  # < 0
        slack = _ROUNDOFF_FACTOR * eps * jnp.abs(f0)

        def ls_cond(state):
            j, t, _, f_t = state
            return (j == 0) | ((j < _MAX_HALVINGS) & (f_t > f0 + _ARMIJO * t * slope + slack))

        def ls_body(state):  # the first pass tries the full step, later ones halve it
            j, t, _, _ = state
            t = jnp.where(j == 0, t, 0.5 * t)
            b_t = features(c + t * step, b)
            return j + 1, t, b_t, value(c + t * step, b_t)

        one = jnp.asarray(1.0, c.dtype)
        _, t, b_t, f_t = lax.while_loop(ls_cond, ls_body, (0, one, b, f0))
        # No acceptable step: the objective can no longer rank trial points (rounding); stop there.
        stalled = f_t > f0 + _ARMIJO * t * slope + slack
        c_new = c + t * step
        c, b = jnp.where(stalled, c, c_new), jnp.where(stalled, b, b_t)
        norm = jnp.where(stalled, norm, norms(c_new, b_t))
        return k + 1, c, b, norm, jnp.where(stalled, f0, f_t), stalled

    inf = jnp.asarray(jnp.inf, c0.dtype)
    carry = (jnp.asarray(-1, jnp.int32), c0, b0, inf, inf, jnp.asarray(False))
    k, c, b, _, _, _ = lax.while_loop(cond, body, carry)
    return centred @ c, b, k


# ------------------------------------------------------------------------------- the entry point


@no_type_check
def _start(problem: MixupUFM, init: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W0 (K, d), H0 (P, M, d))`` from ``init``: ``None`` (seed 0), a seed, or a pair."""
    if init is None:
        return random_start(problem, 0)
    if isinstance(init, (int, np.integer)) and not isinstance(init, bool):
        return random_start(problem, check_int("init", init, 0))
    if not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise TypeError(
            "init for a learned classifier must be None (random start, seed 0), an integer seed, or a pair "
            f"(classifier, features), got {type(init).__name__}"
        )
    w0 = np.asarray(init[0], dtype=np.float64)
    shape = (problem.num_classes, problem.dim)
    if w0.shape != shape:
        raise ValueError(f"init classifier must have shape {shape} (K, d), got {w0.shape}")
    h0 = np.asarray(problem.as_samples(init[1]), dtype=np.float64)
    if not (np.all(np.isfinite(w0)) and np.all(np.isfinite(h0))):
        raise ValueError("init must be finite: it contains NaN or infinity")
    return w0, h0


@no_type_check
def minimize_learned(problem: MixupUFM, method, *, tol, max_steps, learning_rate, init, record, devices) -> Solution:
    """:func:`ufm.minimize` for a problem with a learned classifier (arguments as there)."""
    solver = as_solver(method, tol=tol, max_steps=max_steps, learning_rate=learning_rate)
    if devices is not None:
        raise ValueError("devices applies to the fixed-classifier newton solver only; a learned classifier "
                         "is solved on one device")
    if record is not None:
        raise ValueError("record is not available for a learned classifier (the solvers do not form the "
                         "features at every step)")
    if isinstance(solver, GradientDescent) and solver.learning_rate is None:
        raise ValueError("gd needs an explicit learning_rate for a learned classifier (its default is the "
                         "fixed ETF's smoothness constant)")
    dtype = problem.dtype
    tol = solver.tolerance(dtype)
    steps = solver.max_steps if solver.max_steps is not None else DEFAULT_MAX_STEPS.get(
        solver.name, solver.default_max_steps)
    w0, h0 = _start(problem, init)
    y, weights = learned_targets(problem)
    n, d = y.shape[0], problem.dim
    as_dtype = functools.partial(jnp.asarray, dtype=dtype)
    mu, decay = as_dtype(problem.weight_decay), as_dtype(problem.classifier_decay)

    if isinstance(solver, Newton):
        k = problem.num_classes
        centred = centred_basis(k)
        c0, b0 = _reduced_start(centred, w0, h0.reshape(n, d))
        args = (as_dtype(centred), as_dtype(c0), as_dtype(b0), as_dtype(y), as_dtype(weights), mu, decay,
                as_dtype(tol), jnp.asarray(steps, jnp.int32))
        (w, b, num_steps), compile_s, solve_s = compile_and_run(run_reduced_newton, args, {})
        pad = ((0, 0), (0, d - (k - 1)))  # W has K - 1 columns; the features live in the first K - 1 coordinates
        samples = as_dtype(np.pad(np.asarray(b), pad).reshape(problem.sample_shape))
        w = as_dtype(np.pad(np.asarray(w), pad))
    else:
        hyper = {name: as_dtype(v) for name, v in solver.hyperparameters(1.0, problem.weight_decay).items()}
        ht0 = h0.reshape(n, d) * np.sqrt(weights)[:, None]
        args = (as_dtype(w0), as_dtype(ht0), as_dtype(y), as_dtype(weights), mu, decay, as_dtype(tol),
                jnp.asarray(steps, jnp.int32), hyper)
        (w, ht, num_steps), compile_s, solve_s = compile_and_run(
            run_joint_learned, args, {"structure": solver.structure()}
        )
        samples = (ht / jnp.sqrt(as_dtype(weights))[:, None]).reshape(problem.sample_shape)
    return _finish_learned(problem, solver, samples, w, int(num_steps), tol, steps, compile_s, solve_s)


@no_type_check
def learned_solution_from(problem: MixupUFM, features, classifier, tol: float) -> Solution:
    """A :class:`Solution` for a classifier and features from elsewhere (objective and gradient
    norms recomputed; ``converged`` when both are at most ``tol``, else ``stalled``)."""
    samples = problem.as_samples(features).astype(problem.dtype)
    w = problem._classifier_for(classifier)
    return _finish_learned(problem, None, samples, w, 0, tol, 1, 0.0, 0.0)


def _finish_learned(problem, solver, samples, w, num_steps, tol, max_steps, compile_s, solve_s) -> Solution:
    dtype = problem.dtype
    value, per_sample, grad_w, finite = learned_objective_and_grad_norms(
        samples,
        w,
        jnp.asarray(problem.lambdas, dtype),
        jnp.asarray(problem.weight_decay, dtype),
        jnp.asarray(problem.classifier_decay, dtype),
        jnp.asarray(problem.pair_index),
        jnp.asarray(problem.sample_weights(), dtype),
    )
    objective, grad_norm = float(value), max(float(per_sample), float(grad_w))
    finite = bool(finite) and np.isfinite(objective) and np.isfinite(grad_norm)
    if not finite:
        status = RESULTS.nonfinite
    elif grad_norm <= tol:
        status = RESULTS.converged
    elif solver is not None and num_steps >= max_steps:
        status = RESULTS.max_steps
    else:
        status = RESULTS.stalled
    name = "given" if solver is None else solver.label if isinstance(solver, Optax) else solver.name
    return Solution(
        features=problem.as_features(samples),
        objective=objective,
        grad_norm=grad_norm,
        status=status,
        num_steps=num_steps,
        method=name,
        tol=tol,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
        classifier=w,
    )
