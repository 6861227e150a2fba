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
$h = W^\top z/\beta + \sigma h_\perp^{(0)}$. These are exactly the damped Newton iterates in $h$
(Newton's method is affine-invariant); nothing is approximated. Each accepted step length $t$
multiplies the off-span part by $1 - t$.

**Globalisation: a safeguarded 1-D search along the Newton direction.** Far from the optimum the
softmax saturates: $p$ is nearly one-hot, the loss is nearly piecewise linear in the logits, and the
only curvature left is $\gamma$. The Newton step then points at $(y - p)/\gamma$, a point of size
$1/\gamma$, mostly *across* a ridge where two classes tie for the largest logit, while the decay
pulls along it towards the origin. Halving from the full step (plain Armijo backtracking) accepts
the first point with any decrease, which is just across the ridge; the next step crosses back, and
the iterate zig-zags along the ridge, gaining a fraction of a percent per step (a plain
backtracking search takes hundreds of steps from starts 300 times the unit scale at
$\mu \sim 10^{-4}$; ``docs/performance.md``). A trust region or Levenberg--Marquardt
damping does not help: where $H \approx \mu I$ they shorten the same direction. What helps is
ending the step *on* the ridge, where the two tied classes give the Hessian curvature of order one
across it, so that the next Newton direction runs along the ridge and its full step is good. So
the full step is tried first and taken when it decreases the objective sufficiently,
$f(1) \le f(0) - c_1\lambda^2$ ($c_1 = 10^{-4}$, $\lambda^2 = -f'(0)$ the Newton decrement;
always so near the optimum, where convergence is quadratic): one pass of exponentials and one row
sum. Otherwise the minimum along the line lies in $(0, 1)$, and the step length must satisfy the
strong Wolfe conditions $f(t) \le f(0) - c_1t\lambda^2$ and $|f'(t)| \le c_2\lambda^2$
($c_2 = 1/4$): the slope test rejects the points across the ridge. The minimum is bracketed and
each trial minimises $\max(\text{tangents of } \operatorname{lse} \text{ at the ends}) + $ the
exact quadratic part of $f$ along the line, a lower bound that is exact where the softmax
saturates, so one trial lands at the kink (with safeguards: trials stay inside the bracket, and
while no point with sufficient decrease is known they at least halve). The derivative along the
line is $x^\top\operatorname{softmax}(z + tx)$ plus a known linear function of $t$: a trial is
one pass of exponentials and two row sums. Steps are at most 1, so the off-span part never grows.

All samples search at once in one masked ``lax.while_loop``. Once a sample's decrement is at the
rounding level of its objective, the objective can no longer rank trial points, so the full step
is taken (the sample is then deep in the region of quadratic convergence); the sufficient-decrease
test also allows a rounding-level slack. A sample stops (is frozen) as soon as its gradient norm
is at most ``tol`` (the same criterion as the other methods), or when its decrement is at rounding
level and its gradient norm stopped decreasing (stalled). A sample whose search finds no point with
sufficient decrease in ``_MAX_TRIALS`` trials stays where it is and is reported
(``line_search_failed``), rather than moved by a vanishing step (one that found such a point but
not the slope condition takes that point). Because each sample's trajectory depends on that sample
alone, the result does not depend on how samples are batched or sharded (up to rounding: XLA may
vectorise chunks of different sizes differently).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, Int

from . import _sharding
from ._cpu import usable_cores
from ._problem import MixupUFM
from ._timed import compile_and_run

__all__ = [
    "newton_direction",
    "logit_newton_step",
    "newton_solve",
    "NewtonRun",
    "SAMPLE_OUTCOMES",
    "split_axis",
    "chunk_samples",
    "chunk_starts",
    "sample_targets",
]

_ARMIJO = 1e-4  # sufficient decrease: f(t) <= f(0) - 1e-4 t lambda^2
_CURVATURE = 0.25  # strong Wolfe: |f'(t)| <= 0.25 lambda^2, the step ends near the minimum along the line
_MAX_TRIALS = 60  # trial steps after the full one; typically 0, a handful from far starts
_MODEL_MARGIN = 1e-3  # a model-chosen trial stays this fraction of the bracket away from its ends
_ROUNDOFF_FACTOR = 16.0  # rounding level of a per-sample objective: 16 eps (|terms|)
# Logits per chunk: the chunk's dozen working arrays then stay in a core's L2 cache (measured on a
# 1 MiB-L2 CPU: 15-25% less time than chunks eight times larger, docs/performance.md).
_CHUNK_ELEMENTS = 1 << 13
# Where one CPU device has several cores to itself (JAX's default: one device for the whole CPU),
# chunks large enough for XLA to spread each operation over the cores: on two cores 1.3-1.5x less
# wall time than cache-sized chunks on one core (docs/performance.md).
_SHARED_CHUNK_ELEMENTS = 1 << 17

# How each sample's iteration ended (codes of the per-sample outcome, counted in NewtonRun.counts).
SAMPLE_OUTCOMES = ("converged", "max_steps", "stalled", "line_search_failed", "nonfinite")
_CONVERGED, _RUNNING, _STALLED, _LS_FAILED, _NONFINITE = range(len(SAMPLE_OUTCOMES))

# Traces of the compiled loops, by loop: tests check that same-shaped solves do not retrace.
TRACES: collections.Counter = collections.Counter()


def _targets(
    class_a: Int[Array, " n"], class_b: Int[Array, " n"], lam: Float[Array, " n"], num_classes: int
) -> Float[Array, "n K"]:
    r"""$y = \lambda e_a + (1-\lambda)e_b$ from indices (XLA fuses it into its consumers)."""
    k = lax.broadcasted_iota(class_a.dtype, (class_a.shape[0], num_classes), 1)
    lam = lam[:, None]
    return jnp.where(k == class_a[:, None], lam, 0.0) + jnp.where(k == class_b[:, None], 1.0 - lam, 0.0)


# The targets, for the final check (the same construction, outside the iteration).
sample_targets = _targets


def _row_sums(*terms: Array) -> tuple[Array, ...]:
    """Sums over the last axis of several arrays in one pass (one variadic XLA reduction)."""
    zeros = tuple(jnp.zeros((), t.dtype) for t in terms)
    return lax.reduce(terms, zeros, lambda u, v: tuple(a + b for a, b in zip(u, v)), (terms[0].ndim - 1,))


def _newton_system(
    z: Float[Array, "n K"], y: Float[Array, "n K"], p: Float[Array, "n K"], gamma: Float[ArrayLike, ""]
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
    z: Float[Array, "n K"], y: Float[Array, "n K"], gamma: Float[ArrayLike, ""]
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
    weight_decay: Float[ArrayLike, ""],
    beta: Float[ArrayLike, ""],
) -> Float[Array, "n d"]:
    r"""The exact Newton step $\delta = -H^{-1}g$ of every sample's objective, in feature space.

    $\delta = -h_\perp + W^\top x/\beta$ with $x$ from :func:`logit_newton_step`; costs $O(Kd)$ per
    sample and never forms a $d\times d$ matrix. Requires $WW^\top = \beta(I - \mathbf{1}\mathbf{1}^\top/K)$.
    """
    z = features @ classifier.T
    h_row = (z @ classifier) / beta
    x, _, _ = logit_newton_step(z, targets, weight_decay / beta)
    return -(features - h_row) + (x @ classifier) / beta


def _log_partition_change(z, x, lse):
    r"""$\ell(1) = \operatorname{lse}(z + x) - \operatorname{lse}(z)$ alone, row-wise (one pass of
    exponentials and one row sum; NaN where it under- or overflows, as in :func:`_along`)."""
    total = jnp.sum(jnp.exp(z + x - lse[:, None]), axis=-1)
    fine = (total >= jnp.sqrt(jnp.finfo(z.dtype).tiny)) & jnp.isfinite(total)
    return jnp.where(fine, jnp.log(total), jnp.nan)


def _along(z, x, lse, t, guarded=False):
    r"""The log-partition along the line and its slope, row-wise.

    Returns ``(ell, slope)``: $\ell(t) = \operatorname{lse}(z + tx) - \operatorname{lse}(z)$ and
    $\ell'(t) = x^\top\operatorname{softmax}(z + tx)$: one pass of exponentials and two row sums,
    with nothing ``(n, K)``-sized written. Unguarded, they are
    shifted by the known $\operatorname{lse}(z)$, which needs no max pass; where a trial moves the
    log-partition by hundreds (far starts) that under- or overflows, and the row's $\ell$ comes
    back NaN. Guarded (``guarded=True``), every row is shifted by its own maximum: one more pass,
    always finite.
    """
    shifted = z + t[:, None] * x - lse[:, None]
    if guarded:
        top = jnp.max(shifted, axis=-1)
        e = jnp.exp(shifted - top[:, None])
        total, xe = jnp.sum(e, axis=-1), jnp.sum(x * e, axis=-1)
        return top + jnp.log(total), xe / total
    e = jnp.exp(shifted)
    total, xe = jnp.sum(e, axis=-1), jnp.sum(x * e, axis=-1)
    fine = (total >= jnp.sqrt(jnp.finfo(z.dtype).tiny)) & jnp.isfinite(total) & jnp.isfinite(xe)
    return jnp.where(fine, jnp.log(total), jnp.nan), xe / total


def _line_search(z, x, lse, a, b, dec2, slack, searching):
    r"""Step lengths along the Newton directions $x$: every row its own safeguarded 1-D search.

    Along the line, $\varphi(t) - \varphi(0) = \ell(t) + bt + \tfrac12 at^2$ with
    $\ell(t) = \operatorname{lse}(z + tx) - \operatorname{lse}(z)$ and the exact quadratic part
    ($a$, $b$) from the caller; $\varphi'(0) = -\lambda^2$ (``dec2``) for a Newton direction.
    The full step $t = 1$ is tried first and accepted on sufficient decrease alone,
    $\varphi(1) - \varphi(0) \le -c_1\lambda^2$ (plus a rounding ``slack``; $c_1$ = ``_ARMIJO``).
    Otherwise a trial $t \in (0, 1)$ is accepted when it satisfies the strong Wolfe conditions
    $\varphi(t) - \varphi(0) \le -c_1 t\lambda^2$ and $|\varphi'(t)| \le c_2\lambda^2$
    ($c_2$ = ``_CURVATURE``). A rejected trial is *high* (past the minimum, or without sufficient
    decrease) or *low* (before the minimum); together with 0 and 1 they bracket it. Inside a
    bracket the next trial minimises the model $\max(\text{tangents of } \ell \text{ at the
    bracket's ends}) + bt + \tfrac12 at^2$, a lower bound of the convex $\varphi$ that is exact
    where the softmax saturates ($\ell$ piecewise linear), so that one trial lands where the
    objective bends.

    Args:
        z, x: logits and Newton steps, ``(n, K)``.
        lse: $\operatorname{lse}(z)$, ``(n,)``.
        a, b: the quadratic part of $\varphi$ along the line (see above).
        dec2: squared Newton decrements $\lambda^2 = -\varphi'(0)$.
        slack: rounding allowance of the sufficient-decrease test.
        searching: rows that search; the others get the full step's values.

    Returns:
        ``(t, ell(t), failed)``: the step, the change of the log-partition it makes, and the rows
        whose search found no step with sufficient decrease in ``_MAX_TRIALS`` trials (they must
        not move). Only per-row numbers are carried through the search.
    """
    zero, inf = jnp.zeros_like(dec2), jnp.full_like(dec2, jnp.inf)

    def sufficient(t, ell):  # sufficient decrease, up to a rounding-level slack (NaN: no)
        return ell + t * (b + 0.5 * a * t) <= slack - _ARMIJO * t * dec2

    def verdict(t, ell, slope_ell):
        slope = slope_ell + b + a * t
        high = ~(sufficient(t, ell) & jnp.isfinite(slope)) | (slope > _CURVATURE * dec2)
        low = ~high & (slope < -_CURVATURE * dec2)
        return high, low

    ones = jnp.ones_like(dec2)
    # The full step: sufficient decrease alone accepts it (one pass of exponentials and one row
    # sum, the common case). Unguarded, only a huge step over- or underflows: such a row gets NaN
    # and is rejected.
    ell1 = _log_partition_change(z, x, lse)
    high = ~sufficient(ones, ell1)
    todo = searching & high

    def rejected_full_step():  # value and slope at t = 1 for the search's model, guarded
        return _along(z, x, lse, ones, guarded=True)

    ell_hi, d_hi = lax.cond(jnp.any(todo), rejected_full_step, lambda: (ell1, zero))
    lo, ell_lo, d_lo = zero, zero, -dec2 - b  # l'(0) = phi'(0) - b
    hi = jnp.where(high, ones, inf)

    def next_trial(j, lo, ell_lo, d_lo, hi, ell_hi, d_hi):
        width = hi - lo
        # Minimiser of max(tangent at lo, tangent at hi) + b t + a t^2 / 2: the left piece's
        # stationary point, the right piece's, or the kink where the two tangents cross.
        kink = (ell_hi - d_hi * hi - ell_lo + d_lo * lo) / (d_lo - d_hi)
        left, right = -(b + d_lo) / a, -(b + d_hi) / a
        model = jnp.where(left <= kink, left, jnp.where(right >= kink, right, kink))
        model = jnp.where(jnp.isfinite(model), model, lo + 0.5 * width)
        # Safeguards: stay inside the bracket; and while no point with sufficient decrease is
        # known (lo = 0), at least halve after the model's first try, so that the search reaches
        # any small step in a bounded number of trials, like plain backtracking.
        upper = jnp.where((lo == 0) & (j > 0), 0.5 * hi, hi - _MODEL_MARGIN * width)
        inside = jnp.clip(model, lo + _MODEL_MARGIN * width, upper)
        return inside

    def cond(state):
        j, todo = state[0], state[-1]
        return (j < _MAX_TRIALS) & jnp.any(todo)

    def body(state):
        j, t, ell, lo, ell_lo, d_lo, hi, ell_hi, d_hi, todo = state
        trial = jnp.where(todo, next_trial(j, lo, ell_lo, d_lo, hi, ell_hi, d_hi), t)
        ell_t, dl_t = _along(z, x, lse, trial)
        # Unguarded evaluation under- or overflows only where a trial moves the log-partition by
        # hundreds (far starts): then, and only then, the guarded one.
        ell_t, dl_t = lax.cond(
            jnp.any(todo & jnp.isnan(ell_t)), lambda: _along(z, x, lse, trial, guarded=True), lambda: (ell_t, dl_t)
        )
        high, low = verdict(trial, ell_t, dl_t)
        accept = todo & ~high & ~low
        up, down = todo & high, todo & low
        t, ell = jnp.where(accept, trial, t), jnp.where(accept, ell_t, ell)
        lo, ell_lo, d_lo = (jnp.where(down, new, old) for new, old in ((trial, lo), (ell_t, ell_lo), (dl_t, d_lo)))
        hi, ell_hi, d_hi = (jnp.where(up, new, old) for new, old in ((trial, hi), (ell_t, ell_hi), (dl_t, d_hi)))
        return j + 1, t, ell, lo, ell_lo, d_lo, hi, ell_hi, d_hi, todo & ~accept

    state = (0, ones, ell1, lo, ell_lo, d_lo, hi, ell_hi, d_hi, todo)
    _, t, ell, lo, ell_lo, _, _, _, _, todo = lax.while_loop(cond, body, state)
    # Out of trials: the last point with sufficient decrease, if there is one; else no step at all
    # (reported, never a silent step of vanishing length).
    t, ell = jnp.where(todo, lo, t), jnp.where(todo, ell_lo, ell)
    return t, ell, todo & (lo == 0)


def _rows(mask, like):
    """A per-row mask shaped to broadcast against ``like`` (``(n,)`` or ``(n, K)``)."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def _solve_logits(
    z0, lse0, hperp2, class_a, class_b, lam, mu, beta, tol, max_steps, num_classes, constrain, record_fn, history_length
):
    """The damped Newton loop on (z, sigma); see the module docstring.

    Per iteration the logits are swept a few times: the softmax from the carried log-partition and
    one fused reduction for the Newton system, the step itself, the full step's log-partition (one
    pass of exponentials, one row sum) and, only where the full step is rejected, the search's
    trials (a pass of exponentials and two row sums each). The log-partition of the accepted point
    comes out of the line search and is carried, so the softmax needs no max pass.

    Returns ``(iterations, z, sigma, outcome, history)``; ``outcome`` holds each sample's code in
    ``SAMPLE_OUTCOMES``.
    """
    n = z0.shape[0]
    dtype = z0.dtype
    gamma = mu / beta
    eps = jnp.finfo(dtype).eps
    tol2 = tol * tol

    # Materialised once per call: the callers pass chunks of samples (at most 2^17 logits).
    y = _targets(class_a, class_b, lam, num_classes)

    def assess(z, lse, sigma, gnorm2_prev):
        """The Newton system at the current point and each sample's stopping test."""
        hp2 = sigma * sigma * hperp2
        p = jnp.exp(z - lse[:, None])  # lse >= max(z): no overflow
        x, dec2_row, res2, fit0, zz = _newton_system(z, y, p, gamma)
        dec2 = dec2_row + mu * hp2
        gnorm2 = beta * res2 + mu * mu * hp2
        f0 = lse - fit0 + 0.5 * gamma * zz + 0.5 * mu * hp2
        size = jnp.abs(lse) + jnp.abs(fit0) + 0.5 * gamma * zz + 0.5 * mu * hp2
        slack = _ROUNDOFF_FACTOR * eps * size
        roundoff = dec2 <= slack
        finite = jnp.isfinite(gnorm2) & jnp.isfinite(dec2) & jnp.isfinite(f0)
        stalled = roundoff & (gnorm2 >= gnorm2_prev)
        outcome = jnp.where(
            ~finite, _NONFINITE, jnp.where(gnorm2 <= tol2, _CONVERGED, jnp.where(stalled, _STALLED, _RUNNING))
        )
        return x, dec2, gnorm2, hp2, slack, roundoff, outcome

    def body(carry):
        it, z, lse, sigma, outcome, gnorm2_prev, history = carry
        x, dec2, gnorm2, hp2, slack, roundoff, new_outcome = assess(z, lse, sigma, gnorm2_prev)
        x = constrain(x)
        active = outcome == _RUNNING
        outcome = jnp.where(active, new_outcome, outcome)
        active = outcome == _RUNNING

        # Along the line, f(t) - f(0) = [lse(z + tx) - lse(z)] + b t + a t^2 / 2, where the
        # quadratic part collects -y^T(z + tx), (gamma/2)||z + tx||^2 and (mu/2)(1 - t)^2 ||h_perp||^2.
        fit1, zx, xx = _row_sums(y * x, z * x, x * x)
        a = gamma * xx + mu * hp2
        b = gamma * zx - fit1 - mu * hp2
        # Once the decrement is at rounding level the objective cannot rank trial points: full step.
        t, ell, failed = _line_search(z, x, lse, a, b, dec2, slack, active & ~roundoff)
        # A sample whose search found no acceptable step stays where it is and stops.
        outcome = jnp.where(failed, _LS_FAILED, outcome)
        moved = active & ~failed
        z = constrain(jnp.where(moved[:, None], z + t[:, None] * x, z))
        lse = jnp.where(moved, lse + ell, lse)
        sigma = jnp.where(moved, sigma * (1.0 - t), sigma)
        it = it + jnp.any(active).astype(it.dtype)
        gnorm2_prev = jnp.where(active, gnorm2, gnorm2_prev)
        if record_fn is not None:
            history = history.at[it].set(record_fn(z, sigma))
        return it, z, lse, sigma, outcome, gnorm2_prev, history

    def cond(carry):
        it, outcome = carry[0], carry[4]
        return (it < max_steps) & jnp.any(outcome == _RUNNING)

    sigma0 = constrain(jnp.ones((n,), dtype))
    if record_fn is None:
        history0 = jnp.zeros((0,), dtype)
    else:
        history0 = jnp.full((history_length,), jnp.nan, dtype).at[0].set(record_fn(z0, sigma0))
    carry = (
        jnp.asarray(0, jnp.int32),
        constrain(z0),
        constrain(lse0),
        sigma0,
        constrain(jnp.full((n,), _RUNNING, jnp.int8)),
        constrain(jnp.full((n,), jnp.inf, dtype)),
        history0,
    )
    it, z, lse, sigma, outcome, gnorm2_prev, history = lax.while_loop(cond, body, carry)

    # Samples still running when the cap was hit may have converged on the last step: assess them
    # once more (only then, so a normal exit costs nothing extra).
    def final(outcome):
        return jnp.where(outcome == _RUNNING, assess(z, lse, sigma, gnorm2_prev)[-1], outcome)

    outcome = lax.cond(jnp.any(outcome == _RUNNING), final, lambda o: o, outcome)
    return it, z, sigma, outcome, history


def _outcome_counts(outcome: Int[Array, " n"], valid: Int[Array, " n"]) -> Int[Array, " 5"]:
    """How many (non-padding) samples ended with each outcome."""
    codes = jnp.arange(len(SAMPLE_OUTCOMES), dtype=outcome.dtype)
    return jnp.sum((outcome[:, None] == codes) & (valid[:, None] > 0), axis=0).astype(jnp.int32)


def _start(w, beta, h0, rows, num_classes, dtype):
    r"""Logits of the start, the squared norm of its part outside the row space of $W$, and its
    log-partition. From zero: $z = 0$, $h_\perp = 0$, $\log K$ (not folded from a constant array)."""
    if h0 is None:
        z0 = jnp.zeros((rows, num_classes), dtype)
        return z0, jnp.zeros((rows,), dtype), jnp.full((rows,), np.log(num_classes), dtype)
    z0 = h0 @ w.T
    return z0, jnp.sum(jnp.square(h0 - (z0 @ w) / beta), axis=-1), jax.nn.logsumexp(z0, axis=-1)


def _features(w, beta, z, sigma, h0):
    r"""$h = W^\top z/\beta + \sigma h_\perp^{(0)}$ (the untouched part of the start)."""
    h = (z @ w) / beta
    if h0 is not None:
        h = h + sigma[:, None] * (h0 - ((h0 @ w.T) @ w) / beta)
    return h


def _place_output(samples: Array, mesh) -> Array:
    """Keep the output split over the devices along its first axis when that axis divides evenly;
    otherwise XLA chooses the placement."""
    if samples.shape[0] % mesh.devices.size:
        return samples
    return lax.with_sharding_constraint(samples, _sharding.sample_sharding(mesh, samples.ndim))


def chunk_samples(pairs, lam, start, rows):
    r"""First class, second class and $\lambda$ of the ``rows`` local samples from ``start`` on, in
    the row-major order of a local ``(pairs, lambdas)`` block."""
    m = lam.shape[0]
    index = start + lax.iota(jnp.int32, rows)
    pair = index // m
    return pairs[pair, 0], pairs[pair, 1], lam[index % m]


def chunk_starts(i, rows, n):
    """Chunk ``i`` of ``rows`` samples out of ``n``: the nominal start ``i * rows`` and the start
    actually used, moved back so that the last chunk ends at ``n`` (it then repeats samples of
    the previous chunk, which give the same result: every sample's iteration is its own)."""
    nominal = i * rows
    return nominal, jnp.minimum(nominal, n - rows)


def _block_chunks(num_pairs: int, num_lambdas: int, rows: int) -> tuple[int, int]:
    r"""Chunk of a ``(num_pairs, num_lambdas)`` block: ``(pairs, lambdas)`` per chunk, about
    ``rows`` samples. Pairs first: every chunk then holds as few mixing coefficients as possible,
    and since a sample's iteration count depends on its $\lambda$ (and on whether its classes
    agree) but not on which classes (the ETF is symmetric), a chunk stops near its own samples'
    count instead of the slowest $\lambda$'s."""
    pairs = -(-num_pairs // -(-num_pairs // rows))  # even chunks: as few repeated samples as possible
    lambdas = max(1, min(num_lambdas, rows // pairs))
    return pairs, -(-num_lambdas // -(-num_lambdas // lambdas))


@functools.partial(jax.jit, static_argnames=("feature_shape", "rows", "mesh", "split"))
def _run_blocks(w, pairs, lam, mu, beta, tol, max_steps, h0, *, feature_shape, rows, mesh, split):
    """Every device solves its block of the ``(P, M)`` samples (the pairs split over the devices
    when ``split == 0``, the mixing coefficients when ``split == 1``) in chunks of about ``rows``
    samples (a few pairs at one or a few mixing coefficients), each chunk running the Newton loop
    to the end and writing its features in place into the output. Nothing is padded, so the
    output is exactly the features, already laid out as ``feature_shape`` and split over the
    devices: the only features-sized array. No communication but the final reductions of the
    iteration counts and outcomes."""
    TRACES["newton"] += 1
    k, d = w.shape

    def local(w, pairs, lam, mu, beta, tol, max_steps, *h0):
        num_pairs, num_lambdas = pairs.shape[0], lam.shape[0]
        chunk_pairs, chunk_lambdas = _block_chunks(num_pairs, num_lambdas, rows)
        size = chunk_pairs * chunk_lambdas
        pair_chunks = -(-num_pairs // chunk_pairs)
        num_chunks = pair_chunks * -(-num_lambdas // chunk_lambdas)

        def solve_chunk(i):
            pair_nominal, pair_start = chunk_starts(i % pair_chunks, chunk_pairs, num_pairs)
            lam_nominal, lam_start = chunk_starts(i // pair_chunks, chunk_lambdas, num_lambdas)
            index = lax.iota(jnp.int32, size)
            p = pair_start + index // chunk_lambdas
            m = lam_start + index % chunk_lambdas
            start = (pair_start, lam_start, 0)
            h_start = None
            if h0:
                h_start = lax.dynamic_slice(h0[0], start, (chunk_pairs, chunk_lambdas, d)).reshape(size, d)
            z0, hperp2, lse0 = _start(w, beta, h_start, size, k, w.dtype)
            it, z, sigma, outcome, _ = _solve_logits(
                z0, lse0, hperp2, pairs[p, 0], pairs[p, 1], lam[m], mu, beta, tol, max_steps, k, lambda x: x, None, 0
            )
            h = _features(w, beta, z, sigma, h_start).reshape(chunk_pairs, chunk_lambdas, d)
            fresh = ((p >= pair_nominal) & (m >= lam_nominal)).astype(jnp.int8)
            return start, h, it, _outcome_counts(outcome, fresh)

        def chunk(i, carry):
            out, its, counts = carry
            start, h, it, chunk_counts = solve_chunk(i)
            return lax.dynamic_update_slice(out, h, start), jnp.maximum(its, it), counts + chunk_counts

        carry = (
            jnp.zeros((num_pairs, num_lambdas, d), w.dtype),
            jnp.zeros((), jnp.int32),
            jnp.zeros(len(SAMPLE_OUTCOMES), jnp.int32),
        )
        out, its, counts = lax.fori_loop(0, num_chunks, chunk, carry)
        return out, its[None], counts[None]

    split_spec = _sharding.PartitionSpec(_sharding.SAMPLE_AXIS)
    rep = _sharding.PartitionSpec()
    pairs_spec, lam_spec = (split_spec, rep) if split == 0 else (rep, split_spec)
    out_spec = _sharding.PartitionSpec(*([None] * split), _sharding.SAMPLE_AXIS)
    extra = () if h0 is None else (h0,)
    h, its, counts = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(rep, pairs_spec, lam_spec, rep, rep, rep, rep, *(out_spec for _ in extra)),
        out_specs=(out_spec, split_spec, split_spec),
        check_vma=False,
    )(w, pairs, lam, mu, beta, tol, max_steps, *extra)
    # (P, M, d) split along P or M -> feature_shape split along the same axis: a relabelling.
    axis = 0 if split == 0 else len(feature_shape) - 2
    features = lax.with_sharding_constraint(
        h.reshape(feature_shape), _sharding.axis_sharding(mesh, len(feature_shape), axis)
    )
    history = jnp.zeros((0,), w.dtype)
    return features, jnp.max(its), jnp.sum(counts, axis=0), history


@functools.partial(jax.jit, static_argnames=("feature_shape", "rows", "mesh"))
def _run_chunked(w, a, b, lam, valid, mu, beta, tol, max_steps, h0, *, feature_shape, rows, mesh):
    """The layout for device counts that divide neither the first axis of the features nor $M$:
    the samples are flattened and padded to a multiple of the devices and of ``rows``, and every
    device walks through its block in chunks of ``rows``, as in :func:`_run_blocks`."""
    TRACES["newton"] += 1
    k, d = w.shape
    n = int(np.prod(feature_shape[:-1]))

    def local(w, a, b, lam, valid, mu, beta, tol, max_steps, *h0):
        per = a.shape[0]
        chunked = [x.reshape(per // rows, rows, *x.shape[1:]) for x in (a, b, lam, valid, *h0)]

        def one(chunk):
            a, b, lam, valid = chunk[:4]
            start = chunk[4] if h0 else None
            z0, hperp2, lse0 = _start(w, beta, start, rows, k, w.dtype)
            it, z, sigma, outcome, _ = _solve_logits(
                z0, lse0, hperp2, a, b, lam, mu, beta, tol, max_steps, k, lambda x: x, None, 0
            )
            return _features(w, beta, z, sigma, start), it, _outcome_counts(outcome, valid)

        h, its, counts = lax.map(one, chunked)
        return h.reshape(per, d), jnp.max(its)[None], jnp.sum(counts, axis=0)[None]

    spec, rep = _sharding.PartitionSpec(_sharding.SAMPLE_AXIS), _sharding.PartitionSpec()
    extra = () if h0 is None else (h0,)
    h, its, counts = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(rep, spec, spec, spec, spec, rep, rep, rep, rep, *(spec for _ in extra)),
        out_specs=(spec, spec, spec),
        check_vma=False,
    )(w, a, b, lam, valid, mu, beta, tol, max_steps, *extra)
    history = jnp.zeros((0,), w.dtype)
    return _place_output(h[:n].reshape(feature_shape), mesh), jnp.max(its), jnp.sum(counts, axis=0), history


@functools.partial(jax.jit, static_argnames=("feature_shape", "mesh", "record", "history_length"))
def _run_global(w, a, b, lam, valid, mu, beta, tol, max_steps, h0, *, feature_shape, mesh, record, history_length):
    """One loop over all samples (so that ``record`` sees the whole iterate after every step), with
    the same per-sample arithmetic as :func:`_run_chunked`."""
    TRACES["newton_record"] += 1
    k, d = w.shape
    n = int(np.prod(feature_shape[:-1]))
    n_pad = a.shape[0]

    def constrain(x):
        return lax.with_sharding_constraint(x, _sharding.sample_sharding(mesh, x.ndim))

    def record_fn(z, sigma):
        return record(_features(w, beta, z, sigma, h0)[:n].reshape(feature_shape))

    z0, hperp2, lse0 = _start(w, beta, h0, n_pad, k, w.dtype)
    it, z, sigma, outcome, history = _solve_logits(
        z0, lse0, hperp2, a, b, lam, mu, beta, tol, max_steps, k, constrain, record_fn, history_length
    )
    h = _features(w, beta, z, sigma, h0)
    return _place_output(h[:n].reshape(feature_shape), mesh), it, _outcome_counts(outcome, valid), history


@dataclasses.dataclass(frozen=True)
class NewtonRun:
    """What :func:`newton_solve` returns."""

    features: Float[Array, "..."]
    num_steps: int
    counts: dict[str, int]
    compile_seconds: float
    solve_seconds: float
    history: np.ndarray | None


def _sample_classes(problem: MixupUFM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat per-sample (first class, second class, lambda index), in the order of the ``(P, M)`` layout."""
    m = problem.num_lambdas
    pairs = np.asarray(problem.pair_index, dtype=np.int32)
    a = np.repeat(pairs[:, 0], m)
    b = np.repeat(pairs[:, 1], m)
    j = np.tile(np.arange(m, dtype=np.int32), pairs.shape[0])
    return a, b, j


def _chunk_rows(num_classes: int, dim: int, per_device: int, mesh=None) -> int:
    """Samples per chunk: a power of two whose logits and features fit in a core's cache, or, on a
    CPU device with several cores to itself, large enough to be spread over them."""
    rows = max(8, _chunk_elements(mesh) // max(num_classes, dim))
    rows = 1 << (rows.bit_length() - 1)
    return max(1, min(rows, per_device))


def _cores_per_device(mesh) -> int:
    """Usable CPU cores per local CPU device of ``mesh`` (``1`` for accelerators)."""
    devices = list(mesh.devices.flat)
    if devices[0].platform != "cpu":
        return 1
    local = sum(d.process_index == jax.process_index() for d in devices)
    return max(1, usable_cores() // max(1, local))


def _chunk_elements(mesh) -> int:
    return _SHARED_CHUNK_ELEMENTS if mesh is not None and _cores_per_device(mesh) >= 2 else _CHUNK_ELEMENTS


def split_axis(feature_shape: tuple[int, ...], num_devices: int) -> int | None:
    """How the samples are split over ``num_devices``: ``0`` by pairs (the first axis of
    ``feature_shape``, $K$ or $P$, divides evenly), ``1`` by mixing coefficients ($M$ divides
    evenly), ``None`` when neither does (the samples are then flattened and padded)."""
    if feature_shape[0] % num_devices == 0:
        return 0
    if feature_shape[-2] % num_devices == 0:
        return 1
    return None


def newton_solve(
    problem: MixupUFM,
    tol: float,
    max_steps: int,
    init: Float[Array, "P M d"] | None = None,
    devices: Sequence[jax.Device] | None = None,
    record: Callable[[Array], Array] | None = None,
) -> NewtonRun:
    """Run the structured Newton method on every sample of ``problem``, sharded over ``devices``.

    The samples are split in equal blocks over a 1-D device mesh (:mod:`ufm._sharding`): by pairs
    when the number of devices divides the first axis of the features ($K$, or $P$ with pair
    subsampling), else by mixing coefficients when it divides $M$; otherwise they are flattened
    and padded with dummy samples. Each device walks through its block in chunks (cache-sized, or
    larger on a CPU device with several cores) and runs the Newton loop on one chunk at a time,
    writing that chunk's features at the end: the only features-sized array is the output
    (already in ``problem.feature_shape`` and split over the devices), and no device ever talks to
    another. With ``record`` the iteration must be
    global (one loop over all samples, a record per iteration), so the chunks are replaced by one
    loop over all samples with the same per-sample arithmetic.

    The compiled loops are module-level ``jax.jit`` functions whose static arguments are the
    layout, the chunk size and the device mesh (and ``record``): weight decay, mixing
    coefficients, tolerance and ``max_steps`` are data, so same-shaped solves compile once.

    Args:
        problem: the problem; its ``classifier`` is used as is.
        tol: stop a sample once its gradient 2-norm is at most ``tol``.
        max_steps: cap on Newton iterations.
        init: starting samples ``(P, M, d)`` (default zeros).
        devices: devices to split the samples over (default all local devices).
        record: optional jittable scalar function of the features (in ``problem.feature_shape``),
            evaluated at the start and after every iteration (forms the features each iteration).

    Returns:
        A :class:`NewtonRun`; ``num_steps`` is the largest number of iterations any sample took.
    """
    mesh = _sharding.sample_mesh(devices)
    num_devices = mesh.devices.size
    dtype = jnp.dtype(problem.dtype)
    k, d = problem.num_classes, problem.dim
    split = split_axis(problem.feature_shape, num_devices)
    scalars = [
        _sharding.shard_replicated(np.asarray(v, t), mesh)
        for v, t in ((problem.weight_decay, dtype), (problem.beta, dtype), (tol, dtype), (max_steps, np.int32))
    ]
    classifier = _sharding.shard_replicated(np.asarray(problem.classifier), mesh)

    if record is None and split is not None:
        n_local = problem.num_samples // num_devices
        pairs = np.asarray(problem.pair_index, dtype=np.int32)
        lam = np.asarray(problem.lambdas, dtype=np.float64).astype(dtype)
        args = [
            classifier,
            _sharding.shard_axis(pairs, mesh, 0) if split == 0 else _sharding.shard_replicated(pairs, mesh),
            _sharding.shard_axis(lam, mesh, 0) if split == 1 else _sharding.shard_replicated(lam, mesh),
            *scalars,
            None if init is None else _sharding.shard_axis(np.asarray(init, dtype=dtype), mesh, split),
        ]
        static = dict(
            feature_shape=problem.feature_shape,
            rows=_chunk_rows(k, d, n_local, mesh),
            mesh=mesh,
            split=split,
        )
        run = _run_blocks
    else:
        class_a, class_b, lam_index = _sample_classes(problem)
        n = class_a.size
        per_device = -(-n // num_devices)
        rows = per_device if record is not None else _chunk_rows(k, d, per_device, mesh)
        n_pad = -(-n // (num_devices * rows)) * num_devices * rows
        pad = n_pad - n
        # Padding samples are same-class problems for class 0 (well posed); they are dropped at the end.
        valid = np.pad(np.ones(n, np.int8), (0, pad))
        class_a = np.pad(class_a, (0, pad))
        class_b = np.pad(class_b, (0, pad))
        lam = np.pad(np.asarray(problem.lambdas, dtype=np.float64)[lam_index], (0, pad)).astype(dtype)
        args = [
            classifier,
            *(_sharding.shard_samples(x, mesh) for x in (class_a, class_b, lam, valid)),
            *scalars,
            None,
        ]
        if init is not None:
            h0 = np.asarray(init, dtype=dtype).reshape(n, d)
            args[-1] = _sharding.shard_samples(np.pad(h0, ((0, pad), (0, 0))), mesh)
        if record is None:
            run, static = _run_chunked, dict(feature_shape=problem.feature_shape, rows=rows, mesh=mesh)
        else:
            run = _run_global
            static = dict(feature_shape=problem.feature_shape, mesh=mesh, record=record, history_length=max_steps + 1)
    outputs, compile_s, solve_s = compile_and_run(run, args, static)
    features, num_steps, counts, history = outputs
    num_steps = int(num_steps)
    counts = dict(zip(SAMPLE_OUTCOMES, (int(c) for c in np.asarray(counts)), strict=True))
    history = np.asarray(history[: num_steps + 1]) if record is not None else None
    return NewtonRun(features, num_steps, counts, compile_s, solve_s, history)
