r"""A structured, batched, damped Newton method for the mixup UFM: ``method="newton"``.

The objective is a mean of independent strictly convex per-sample problems
$f(h) = \operatorname{logsumexp}(Wh) - y^\top Wh + \tfrac{\mu}{2}\|h\|^2$ with gradient
$g = W^\top(p - y) + \mu h$ and Hessian $H = W^\top(\operatorname{diag}p - pp^\top)W + \mu I$,
$p = \operatorname{softmax}(Wh)$. Only the Gram structure of the simplex ETF is used,
$WW^\top = \beta P$ with $P = I - \mathbf{1}\mathbf{1}^\top/K$ and $\beta = s^2K/(K-1)$
(Fisher, Meng & Papyan, ICLR 2024, Sec. 3); $W$ itself may be any such frame (any embedding).

**Exact Newton step in $O(K)$ per sample.** Split $h = W^\top z/\beta + h_\perp$ with $z = Wh$
(the centred logits) and $h_\perp$ orthogonal to the row space of $W$. On the orthogonal
complement $H = \mu I$ and $g_\perp = \mu h_\perp$, so the Newton step there is $-h_\perp$ exactly.
In the row space write the step as $W^\top x/\beta$ with $\mathbf{1}^\top x = 0$; then
$HW^\top x/\beta = W^\top(S + \gamma I)x$ with $S = \operatorname{diag}p - pp^\top$, $\gamma = \mu/\beta$,
and $g_R = W^\top r$ with $r = p - y + \gamma z$ ($\mathbf{1}^\top r = 0$). Since $S\mathbf{1} = 0$,
$S + \gamma I$ maps centred vectors to centred vectors, so the Newton system is the $K\times K$
diagonal-plus-rank-one system
$$\bigl(\operatorname{diag}(p + \gamma) - pp^\top\bigr)\,x = -r,$$
solved by Sherman--Morrison with the cancellation-free denominator
$1 - \sum_k p_k^2/(p_k+\gamma) = \gamma\sum_k p_k/(p_k + \gamma) > 0$. The Newton decrement is
$\lambda^2 = -g^\top\delta = r^\top A^{-1}r + \mu\|h_\perp\|^2$ and the gradient norm is
$\|g\|^2 = \beta\|r\|^2 + \mu^2\|h_\perp\|^2$.

**Iterating in logit coordinates.** Along the step, $h(t) = W^\top(z + tx)/\beta + (1-t)h_\perp$, so
the iterate stays in the affine set $\{W^\top z/\beta + \sigma h_\perp^{(0)}\}$ and the whole
iteration (objective, gradient norm, step, line search) runs on $(z, \sigma)$: $O(K)$ work per
sample per iteration instead of $O(Kd)$. Features are formed once at the end,
$h = W^\top z/\beta + \sigma h_\perp^{(0)}$. These are exactly the Newton iterates in $h$ (Newton's
method is affine-invariant); nothing is approximated.

**Globalisation.** Each sample has its own Armijo backtracking line search (halving from the full
step), all samples at once in one masked ``lax.while_loop``. Once a sample's decrement is at the
rounding level of its objective, the objective can no longer rank trial points, so the full step
is taken (the sample is then deep in the region of quadratic convergence); the Armijo test also
allows a rounding-level slack. A sample stops (is frozen) as soon as its gradient norm is at most
``tol`` (the same criterion as the other methods), or when its decrement is at rounding level and
its gradient norm stopped decreasing (stalled). Because each sample's trajectory depends on that
sample alone, the result does not depend on how samples are batched or sharded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from . import _sharding
from ._timed import compile_and_run

if TYPE_CHECKING:
    from ._problem import MixupUFM

__all__ = ["newton_direction", "logit_newton_step", "newton_solve", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 200
_ARMIJO = 1e-4  # sufficient-decrease constant
_MAX_HALVINGS = 60  # 2**-60 * step: far below any useful step, so the line search always ends
_ROUNDOFF_FACTOR = 16.0
_CHUNK_ELEMENTS = 1 << 16
# Compiled solvers by (shapes, devices, options): repeated solves of same-shaped problems (sweeps
# over weight decay, alpha or seeds) compile once. Bounded by the number of distinct shapes used.
_COMPILED: dict = {}  # rounding level of a per-sample objective: 16 eps (|terms|)


def _targets(
    class_a: Int[Array, " n"], class_b: Int[Array, " n"], lam: Float[Array, " n"], num_classes: int
) -> Float[Array, "n K"]:
    r"""$y = \lambda e_a + (1-\lambda)e_b$ from indices (XLA fuses it into its consumers)."""
    k = lax.broadcasted_iota(class_a.dtype, (class_a.shape[0], num_classes), 1)
    lam = lam[:, None]
    return jnp.where(k == class_a[:, None], lam, 0.0) + jnp.where(k == class_b[:, None], 1.0 - lam, 0.0)


def _row_sums(*terms: Array) -> tuple[Array, ...]:
    """Sums over the last axis of several arrays in one pass (one variadic XLA reduction)."""
    zeros = tuple(jnp.zeros((), t.dtype) for t in terms)
    return lax.reduce(terms, zeros, lambda u, v: tuple(a + b for a, b in zip(u, v)), (terms[0].ndim - 1,))


def _newton_system(
    z: Float[Array, "n K"], y: Float[Array, "n K"], p: Float[Array, "n K"], gamma: Float[Array, ""]
) -> tuple[Float[Array, "n K"], Float[Array, " n"], Float[Array, " n"], Float[Array, " n"], Float[Array, " n"]]:
    r"""Solve $(\operatorname{diag}(p + \gamma) - pp^\top)x = -r$, $r = p - y + \gamma z$, row-wise.

    Sherman--Morrison with $D = \operatorname{diag}(p + \gamma)$:
    $A^{-1}r = D^{-1}r + D^{-1}p\,\frac{p^\top D^{-1}r}{\gamma\,\mathbf{1}^\top D^{-1}p}$, using
    $1 - p^\top D^{-1}p = \gamma\,\mathbf{1}^\top D^{-1}p$ (no cancellation). The exact solution is
    centred; the rounding-level mean is removed so the logits stay centred.

    Returns:
        ``(x, r^T A^{-1} r, ||P r||^2, y^T z, ||z||^2)``.
    """
    k = z.shape[-1]
    inv = 1.0 / (p + gamma)
    r = p - y + gamma * z
    s_p, s_r, s_pr, s_rr, r_1, r_2, fit, zz = _row_sums(
        p * inv, r * inv, p * r * inv, r * r * inv, r, r * r, y * z, z * z
    )
    coef = s_pr / (gamma * s_p)
    mean = (s_r + s_p * coef) / k
    x = mean[:, None] - (r + p * coef[:, None]) * inv
    return x, s_rr + coef * s_pr, r_2 - r_1 * r_1 / k, fit, zz


def logit_newton_step(
    z: Float[Array, "n K"], y: Float[Array, "n K"], gamma: Float[Array, ""]
) -> tuple[Float[Array, "n K"], Float[Array, " n"], Float[Array, " n"]]:
    r"""The row-space part of the Newton step in logit coordinates, for each row.

    Args:
        z: centred logits $Wh$.
        y: targets (rows summing to one).
        gamma: $\mu/\beta$.

    Returns:
        ``(x, r^T A^{-1} r, ||r||^2)``: the centred step solving
        $(\operatorname{diag}(p + \gamma) - pp^\top)x = -r$, the row-space part of the squared
        Newton decrement, and the squared norm of the centred residual $r = p - y + \gamma z$
        (so that $\|g_R\|^2 = \beta\|r\|^2$).
    """
    p = jax.nn.softmax(z, axis=-1)
    x, dec2, res2, _, _ = _newton_system(z, y, p, gamma)
    return x, dec2, res2


def newton_direction(
    features: Float[Array, "n d"],
    classifier: Float[Array, "K d"],
    targets: Float[Array, "n K"],
    weight_decay: Float[Array, ""],
    beta: Float[Array, ""],
) -> Float[Array, "n d"]:
    r"""The exact Newton step $\delta = -H^{-1}g$ of every sample's objective, in feature space.

    $\delta = -h_\perp + W^\top x/\beta$ with $x$ from :func:`logit_newton_step`; costs $O(Kd)$ per
    sample and never forms a $d\times d$ matrix. Requires $WW^\top = \beta(I - \mathbf{1}\mathbf{1}^\top/K)$.
    """
    z = features @ classifier.T
    h_row = (z @ classifier) / beta
    x, _, _ = logit_newton_step(z, targets, weight_decay / beta)
    return -(features - h_row) + (x @ classifier) / beta


def _solve_logits(
    z0, lse0, hperp2, class_a, class_b, lam, mu, beta, tol, max_steps, num_classes, sharding, record_fn
):
    """The damped Newton loop on (z, sigma); see the module docstring.

    Per iteration the logits are swept four times: softmax, one fused reduction for the Newton
    system, the step itself, and one fused reduction per trial step size. The log-partition of the
    accepted point comes out of the line search and is carried, so the softmax needs no max pass.
    """
    n = z0.shape[0]
    dtype = z0.dtype
    gamma = mu / beta
    eps = jnp.finfo(dtype).eps
    tol2 = tol * tol

    def constrain(a):
        return lax.with_sharding_constraint(a, sharding(a.ndim)) if sharding is not None else a

    # Materialised once per call: the callers pass cache-sized chunks of samples.
    y = _targets(class_a, class_b, lam, num_classes)

    def body(carry):
        it, z, lse, sigma, active, gnorm2_prev, history = carry
        hp2 = sigma * sigma * hperp2
        p = jnp.exp(z - lse[:, None])  # lse >= max(z): no overflow
        x, dec2_row, res2, fit0, zz = _newton_system(z, y, p, gamma)
        x = constrain(x)
        dec2 = dec2_row + mu * hp2
        gnorm2 = beta * res2 + mu * mu * hp2
        f0 = lse - fit0 + 0.5 * gamma * zz + 0.5 * mu * hp2
        size = jnp.abs(lse) + jnp.abs(fit0) + 0.5 * gamma * zz + 0.5 * mu * hp2
        slack = _ROUNDOFF_FACTOR * eps * size
        roundoff = dec2 <= slack
        finite = jnp.isfinite(gnorm2) & jnp.isfinite(dec2) & jnp.isfinite(f0)
        stalled = roundoff & (gnorm2 >= gnorm2_prev)
        active = active & finite & (gnorm2 > tol2) & ~stalled

        # Along the line, f(t) = lse(z + tx) + a quadratic in t; lse(z + tx) - lse(z) =
        # log sum exp(z + tx - lse(z)). Overflow (inf) rejects t, as does underflow (a sum of 0,
        # a drop of the log-partition by > 700, which no acceptable step makes).
        def trial(t):
            return jnp.sum(jnp.exp(z + t[:, None] * x - lse[:, None]), axis=-1)

        def accepted(t, total, coefficients):
            fit1, zx, xx = coefficients
            decay = 0.5 * gamma * (zz + t * (2.0 * zx + t * xx)) + 0.5 * mu * (1.0 - t) ** 2 * hp2
            ft = lse + jnp.log(total) - (fit0 + t * fit1) + decay
            ok = ft <= f0 - _ARMIJO * t * dec2 + slack
            return ok & (total > 0) & jnp.isfinite(total)

        ones = jnp.ones((n,), dtype)
        coefficients = _row_sums(y * x, z * x, x * x)
        total = trial(ones)
        todo = active & ~roundoff & ~accepted(ones, total, coefficients)

        def ls_cond(state):
            j, _, _, todo = state
            return (j < _MAX_HALVINGS) & jnp.any(todo)

        def ls_body(state):
            j, t, total, todo = state
            t = jnp.where(todo, 0.5 * t, t)
            total = trial(t)
            return j + 1, t, total, todo & ~accepted(t, total, coefficients)

        _, t, total, _ = lax.while_loop(ls_cond, ls_body, (0, ones, total, todo))
        z = constrain(jnp.where(active[:, None], z + t[:, None] * x, z))
        lse = jnp.where(active, lse + jnp.log(total), lse)
        sigma = jnp.where(active, sigma * (1.0 - t), sigma)
        it = it + jnp.any(active).astype(it.dtype)
        gnorm2_prev = jnp.where(active, gnorm2, gnorm2_prev)
        if record_fn is not None:
            history = history.at[it].set(record_fn(z, sigma))
        return it, z, lse, sigma, active, gnorm2_prev, history

    def cond(carry):
        it, _, _, _, active, _, _ = carry
        return (it < max_steps) & jnp.any(active)

    sigma0 = constrain(jnp.ones((n,), dtype))
    if record_fn is None:
        history0 = jnp.zeros((0,), dtype)
    else:
        history0 = jnp.full((max_steps + 1,), jnp.nan, dtype).at[0].set(record_fn(z0, sigma0))
    carry = (
        jnp.asarray(0, jnp.int32),
        constrain(z0),
        constrain(lse0),
        sigma0,
        constrain(jnp.ones((n,), bool)),
        constrain(jnp.full((n,), jnp.inf, dtype)),
        history0,
    )
    it, z, _, sigma, _, _, history = lax.while_loop(cond, body, carry)
    return it, z, sigma, history


def _sample_classes(problem: MixupUFM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat per-sample (first class, second class, lambda index), in the order of ``feature_shape``."""
    m = problem.num_lambdas
    pairs = np.asarray(problem.pair_index, dtype=np.int32)  # all K^2 pairs in row-major order by default
    a = np.repeat(pairs[:, 0], m)
    b = np.repeat(pairs[:, 1], m)
    j = np.tile(np.arange(m, dtype=np.int32), pairs.shape[0])
    return a, b, j


def _place_output(features: Array, mesh) -> Array:
    """Keep the output split over the devices along its first axis when that axis divides evenly
    (``K`` for the full layout, ``P`` with ``pairs``); otherwise XLA chooses the placement."""
    if features.shape[0] % mesh.devices.size:
        return features
    return lax.with_sharding_constraint(features, _sharding.sample_sharding(mesh, features.ndim))


def _chunk_rows(num_classes: int, dim: int, per_device: int) -> int:
    """Samples per chunk: a power of two whose logits and features fit in a core's cache."""
    rows = max(8, _CHUNK_ELEMENTS // max(num_classes, dim))
    rows = 1 << (rows.bit_length() - 1)
    return max(1, min(rows, per_device))


def newton_solve(
    problem: MixupUFM,
    tol: float,
    max_steps: int,
    init: Array | None = None,
    devices: Sequence[jax.Device] | None = None,
    record: Callable[[Array], Array] | None = None,
) -> tuple[Array, int, float, float, np.ndarray | None]:
    """Run the structured Newton method on every sample of ``problem``, sharded over ``devices``.

    The samples are flattened, padded and split in equal contiguous blocks over a 1-D device mesh
    (:mod:`ufm._sharding`). Each device walks through its block in cache-sized chunks and runs the
    Newton loop on one chunk at a time, forming that chunk's features at the end: the only
    features-sized array is the output, and no device ever talks to another. With ``record`` the
    iteration must be global (one loop over all samples, a record per iteration), so the chunks
    are replaced by one loop over all samples with the same per-sample arithmetic.

    Args:
        problem: the problem; its ``classifier`` is used as is.
        tol: stop a sample once its gradient 2-norm is at most ``tol``.
        max_steps: cap on Newton iterations.
        init: starting features in ``problem.feature_shape`` (default zeros).
        devices: devices to split the samples over (default all local devices).
        record: optional jittable scalar function of the features, evaluated at the start and after
            every iteration (forms the features each iteration, $O(NKd)$).

    Returns:
        ``(features, num_steps, compile_seconds, solve_seconds, history)``; ``num_steps`` is the
        largest number of iterations any sample took.
    """
    mesh = _sharding.sample_mesh(devices)
    num_devices = mesh.devices.size
    dtype = jnp.dtype(problem.dtype)
    k, d = problem.num_classes, problem.dim
    class_a, class_b, lam_index = _sample_classes(problem)
    n = class_a.size
    per_device = -(-n // num_devices)
    rows = per_device if record is not None else _chunk_rows(k, d, per_device)
    n_pad = -(-n // (num_devices * rows)) * num_devices * rows
    pad = n_pad - n
    # Padding samples are same-class problems for class 0 (well posed); they are dropped at the end.
    class_a = np.pad(class_a, (0, pad))
    class_b = np.pad(class_b, (0, pad))
    lam = np.pad(np.asarray(problem.lambdas, dtype=np.float64)[lam_index], (0, pad)).astype(dtype)
    shape = problem.feature_shape

    scalars = [np.asarray(v, dtype) for v in (problem.weight_decay, problem.beta, tol)]
    args = [
        _sharding.shard_replicated(np.asarray(problem.classifier), mesh),
        _sharding.shard_samples(class_a, mesh),
        _sharding.shard_samples(class_b, mesh),
        _sharding.shard_samples(lam, mesh),
        *(_sharding.shard_replicated(s, mesh) for s in scalars),
    ]
    if init is not None:
        h0 = np.asarray(init, dtype=dtype).reshape(n, d)
        args.append(_sharding.shard_samples(np.pad(h0, ((0, pad), (0, 0))), mesh))

    def start(w, beta, h0):
        """Logits of the start and the squared norm of its part outside the row space of W."""
        if h0 is None:
            return jnp.zeros((rows if record is None else n_pad, k), dtype), None, None
        z0 = h0 @ w.T
        return z0, jnp.sum(jnp.square(h0 - (z0 @ w) / beta), axis=-1), jax.nn.logsumexp(z0, axis=-1)

    def features(w, beta, z, sigma, h0):
        r"""$h = W^\top z/\beta + \sigma h_\perp^{(0)}$ (the untouched part of the start)."""
        h = (z @ w) / beta
        if h0 is not None:
            h = h + sigma[:, None] * (h0 - ((h0 @ w.T) @ w) / beta)
        return h

    def solve(w, a, b, lam, mu, beta, tol, h0, sharding, record_fn):
        z0, hperp2, lse0 = start(w, beta, h0)
        if h0 is None:  # log K, not folded from a constant array
            hperp2 = jnp.zeros(z0.shape[:1], dtype)
            lse0 = jnp.full(z0.shape[:1], np.log(k), dtype)
        it, z, sigma, history = _solve_logits(
            z0, lse0, hperp2, a, b, lam, mu, beta, tol, max_steps, k, sharding, record_fn
        )
        return features(w, beta, z, sigma, h0), it, history

    def run_global(w, a, b, lam, mu, beta, tol, h0=None):
        def sharding(ndim):
            return _sharding.sample_sharding(mesh, ndim)

        def record_fn(z, sigma):
            return record(features(w, beta, z, sigma, h0)[:n].reshape(shape))

        h, it, history = solve(w, a, b, lam, mu, beta, tol, h0, sharding, record_fn)
        return _place_output(h[:n].reshape(shape), mesh), it, history

    def run_chunked(w, a, b, lam, mu, beta, tol, h0=None):
        def local(w, a, b, lam, mu, beta, tol, *h0):
            per = a.shape[0]
            chunked = [x.reshape(per // rows, rows, *x.shape[1:]) for x in (a, b, lam, *h0)]

            def one(chunk):
                h, it, _ = solve(w, *chunk[:3], mu, beta, tol, chunk[3] if h0 else None, None, None)
                return h, it

            h, its = lax.map(one, chunked)
            return h.reshape(per, d), jnp.max(its)[None]

        spec, rep = _sharding.PartitionSpec(_sharding.SAMPLE_AXIS), _sharding.PartitionSpec()
        extra = () if h0 is None else (h0,)
        h, its = jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(rep, spec, spec, spec, rep, rep, rep, *(spec for _ in extra)),
            out_specs=(spec, spec),
            check_vma=False,
        )(w, a, b, lam, mu, beta, tol, *extra)
        return _place_output(h[:n].reshape(shape), mesh), jnp.max(its), jnp.zeros((0,), dtype)

    def compile_loop():
        if record is not None:
            return jax.jit(run_global).lower(*args).compile()
        # Everything the compiled loop closes over is in the key; the data are arguments.
        key = (shape, n_pad, rows, str(dtype), tuple(mesh.devices.flat), init is not None, max_steps)
        if key not in _COMPILED:
            _COMPILED[key] = jax.jit(run_chunked).lower(*args).compile()
        return _COMPILED[key]

    return compile_and_run(compile_loop, args, with_history=record is not None)
