"""Vectorised scalar root finding and 2-D convex minimisation, jit- and vmap-compatible.

These are the numerical kernels behind :mod:`ufm.analytic`. They run elementwise over arrays of any
shape inside ``lax.while_loop``, so one call solves every sample at once and the same code runs on
CPU, GPU and TPU.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

__all__ = ["safeguarded_newton", "damped_newton_2d"]


def safeguarded_newton(
    fun_and_deriv: Callable[[Array], tuple[Array, Array]],
    lower: Array,
    upper: Array,
    start: Array,
    max_steps: int = 200,
    rtol: float = 1e-15,
) -> Array:
    """Root of an increasing function on ``[lower, upper]`` (elementwise).

    Newton steps that leave the current bracket are replaced by bisection ("rtsafe"), so the
    iteration converges for any increasing function with a sign change in the bracket, and
    quadratically once Newton takes over. Stops when every element's step is below
    ``rtol * |x|`` (or ``lower == upper``), or after ``max_steps``.
    """
    lower, upper, start = jnp.broadcast_arrays(lower, upper, start)
    x0 = jnp.clip(start, lower, upper)

    def cond(state):
        step, _, _, _, done = state
        return (step < max_steps) & ~jnp.all(done)

    def body(state):
        step, x, lo, hi, done = state
        f, df = fun_and_deriv(x)
        # An increasing function: f < 0 means the root is to the right.
        lo = jnp.where(f < 0, x, lo)
        hi = jnp.where(f > 0, x, hi)
        newton = x - f / df
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        x_new = jnp.where(f == 0, x, x_new)
        small = jnp.abs(x_new - x) <= rtol * jnp.abs(x_new)
        collapsed = hi - lo <= rtol * jnp.abs(hi)
        x_new = jnp.where(done, x, x_new)
        return step + 1, x_new, lo, hi, done | small | collapsed | (f == 0)

    init = (0, x0, lower, upper, lower == upper)
    _, x, _, _, _ = lax.while_loop(cond, body, init)
    return x


def damped_newton_2d(
    value: Callable[[Array, Array], Array],
    grad_and_hess: Callable[[Array, Array], tuple[Array, Array, Array, Array, Array]],
    x: Array,
    y: Array,
    max_steps: int = 200,
    rtol: float = 1e-15,
) -> tuple[Array, Array]:
    r"""Minimise a smooth strictly convex $F(x, y)$ elementwise by damped Newton.

    ``grad_and_hess(x, y)`` returns $(F_x, F_y, F_{xx}, F_{xy}, F_{yy})$. Each Newton step is
    backtracked until the Armijo condition holds, with a slack of a few ulps of $|F|$ so that steps
    near the optimum (where $F$ differences are pure roundoff) are taken in full and the iteration
    ends with quadratic convergence rather than stalling. The $2\times2$ system is solved by
    Cramer's rule, so a symmetric problem ($F_x = F_y$, $F_{xx} = F_{yy}$) keeps $x = y$ exactly.
    """
    x, y = jnp.broadcast_arrays(x, y)
    eps = jnp.finfo(x.dtype).eps

    def cond(state):
        step, _, _, done = state
        return (step < max_steps) & ~jnp.all(done)

    def body(state):
        step, x, y, done = state
        gx, gy, hxx, hxy, hyy = grad_and_hess(x, y)
        det = hxx * hyy - hxy * hxy
        sx = -(hyy * gx - hxy * gy) / det
        sy = -(hxx * gy - hxy * gx) / det
        slope = gx * sx + gy * sy  # <= 0: the Newton decrement, negated
        f0 = value(x, y)
        slack = 16 * eps * (jnp.abs(f0) + 1.0)

        def ls_cond(ls):
            t, accepted, it = ls
            return (it < 60) & ~jnp.all(accepted)

        def ls_body(ls):
            t, accepted, it = ls
            f1 = value(x + t * sx, y + t * sy)
            ok = (f1 <= f0 + 1e-4 * t * slope + slack) & jnp.isfinite(f1)
            accepted = accepted | ok | done
            t = jnp.where(accepted, t, 0.5 * t)
            return t, accepted, it + 1

        t, _, _ = lax.while_loop(ls_cond, ls_body, (jnp.ones_like(x), done, 0))
        x_new = jnp.where(done, x, x + t * sx)
        y_new = jnp.where(done, y, y + t * sy)
        scale = jnp.abs(x_new) + jnp.abs(y_new)
        small = (jnp.abs(t * sx) + jnp.abs(t * sy)) <= rtol * scale
        return step + 1, x_new, y_new, done | small | (slope == 0)

    _, x, y, _ = lax.while_loop(cond, body, (0, x, y, jnp.zeros(x.shape, bool)))
    return x, y
