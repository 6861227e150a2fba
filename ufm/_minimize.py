"""The single solve entry point, :func:`ufm.minimize`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from . import _newton
from ._optax_solvers import _METHODS, optax_method, optax_step
from ._problem import MixupUFM, mixup_objective
from ._solution import Solution
from ._timed import compile_and_run
from ._validation import check_int, check_positive_real

__all__ = ["minimize", "METHODS", "max_sample_grad_norm"]

METHODS: tuple[str, ...] = ("newton", *_METHODS)

# Default tolerance on the largest per-sample gradient norm, by dtype. float32: the gradient is
# computed with a rounding floor of about eps32 * s * |z| ~ 1e-6 * s (eps32 = 1.2e-7, logits
# |z| <~ 25), so 1e-5 is the smallest tolerance the solvers reach for scale s <= 10; see
# docs/robustness.md for the measurements.
DEFAULT_TOL = {"float64": 1e-10, "float32": 1e-5}


def max_sample_grad_norm(per_sample_grad: Float[Array, "... d"]) -> Float[Array, ""]:
    """The largest 2-norm over samples of a per-sample gradient array."""
    return jnp.sqrt(jnp.max(jnp.sum(per_sample_grad * per_sample_grad, axis=-1)))


def minimize(
    problem: MixupUFM,
    method: str = "newton",
    tol: float | None = None,
    max_steps: int | None = None,
    learning_rate: float | None = None,
    init: Float[ArrayLike, "..."] | None = None,
    record: Callable[[Array], Array] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Solution:
    r"""Minimise ``problem.objective`` over the free features with a jit-compiled loop.

    The whole optimisation runs inside one ``lax.while_loop`` (on CPU, GPU or TPU, in
    ``problem.dtype``) and stops when the largest per-sample gradient norm
    $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$ is at most ``tol``, when ``max_steps`` is reached, or
    when anything becomes non-finite. By strong convexity a per-sample gradient norm $\varepsilon$
    bounds each feature's error by $\varepsilon/\mu$.

    Args:
        problem: the :class:`MixupUFM` to solve.
        method: ``"newton"`` (default: exact per-sample Newton steps in $O(K)$ each using the ETF
            Gram structure, per-sample line search, quadratic convergence; see :mod:`ufm._newton`),
            ``"lbfgs"`` (optax L-BFGS with zoom line search over all features jointly: the
            generic path), ``"adam"`` or ``"gd"`` (first-order baselines for training dynamics).
        tol: tolerance on the largest per-sample gradient 2-norm (default ``1e-10`` in float64,
            ``1e-5`` in float32, where rounding puts a floor near ``1e-6 * scale`` under it).
        max_steps: iteration cap (default depends on the method: 200 for newton, 2000 for lbfgs,
            20000 for adam, 50000 for gd).
        learning_rate: for ``adam`` (default 1e-2) and ``gd`` (default $1/(\beta/2 + \mu)$, the
            inverse of the per-sample smoothness constant); ignored by ``newton`` and ``lbfgs``.
        init: starting features in ``problem.feature_shape`` (default zeros).
        record: optional jittable function of the features returning a scalar, evaluated at the
            start and after every step inside the compiled loop (e.g. the distance to the exact
            optimum, for training-dynamics figures); the values are returned in
            ``Solution.history``.
        devices: for ``newton``, the devices the samples are split over (a 1-D mesh; default all
            local devices; pass ``jax.devices()`` after ``jax.distributed.initialize()`` to span
            several hosts). The result does not depend on the number of devices. The generic
            methods run on the default device and ignore it.

    ``newton`` compiles once per shape, dtype, device set and ``max_steps``: later solves of
    same-shaped problems (sweeps over weight decay, alpha, seeds) reuse it and report
    ``compile_seconds`` of about zero. See ``docs/performance.md``.

    Returns:
        A :class:`Solution`; its ``grad_norm`` is recomputed by autodiff of ``problem.objective``
        at the returned features.
    """
    if not isinstance(problem, MixupUFM):
        raise TypeError(f"problem must be a ufm.MixupUFM, got {type(problem).__name__}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    tol = check_positive_real("tol", DEFAULT_TOL[problem.dtype] if tol is None else tol)
    if learning_rate is not None:  # validated for every method, used by adam and gd
        learning_rate = check_positive_real("learning_rate", learning_rate)
    if init is not None:
        init = problem._check_features(init).astype(problem.dtype)
        if not bool(jnp.all(jnp.isfinite(init))):
            raise ValueError("init must be finite: it contains NaN or infinity (after conversion to the problem's dtype)")
    if method == "newton":
        max_steps = _newton.DEFAULT_MAX_STEPS if max_steps is None else check_int("max_steps", max_steps, 1)
        features, num_steps, compile_s, solve_s, history = _newton.newton_solve(
            problem, tol, max_steps, init=init, devices=devices, record=record
        )
        return _finish(problem, features, num_steps, method, tol, max_steps, compile_s, solve_s, history)
    spec = optax_method(method)
    max_steps = spec.default_max_steps if max_steps is None else check_int("max_steps", max_steps, 1)
    if learning_rate is None:
        learning_rate = spec.default_learning_rate(problem.beta, problem.weight_decay)
    else:
        learning_rate = check_positive_real("learning_rate", learning_rate)
    features0 = problem.zeros() if init is None else init

    optimizer = spec.make(learning_rate)
    w = problem.classifier
    lambdas = jnp.asarray(problem.lambdas, dtype=problem.dtype)
    mu = jnp.asarray(problem.weight_decay, dtype=problem.dtype)
    n = problem.num_samples
    pair_index = problem.pair_index_array()

    def run(h0, w, lambdas, mu, pair_index):
        def fun(h):
            return n * mixup_objective(h, w, lambdas, mu, pair_index)

        step = optax_step(spec, optimizer, fun)
        value0, grad0 = jax.value_and_grad(fun)(h0)

        def cond(carry):
            k, _, _, value, grad, _ = carry
            finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
            return (k < max_steps) & (max_sample_grad_norm(grad) > tol) & finite

        def body(carry):
            k, h, opt_state, value, grad, history = carry
            h, opt_state, value, grad = step(h, opt_state, value, grad)
            if record is not None:
                history = history.at[k + 1].set(record(h))
            return k + 1, h, opt_state, value, grad, history

        if record is None:
            history0 = jnp.zeros((0,))
        else:
            history0 = jnp.full((max_steps + 1,), jnp.nan).at[0].set(record(h0))
        carry = (jnp.asarray(0), h0, optimizer.init(h0), value0, grad0, history0)
        k, h, _, _, _, history = lax.while_loop(cond, body, carry)
        return h, k, history

    args = (features0, w, lambdas, mu, pair_index)
    features, num_steps, compile_s, solve_s, history = compile_and_run(
        lambda: jax.jit(run).lower(*args).compile(), args, with_history=record is not None
    )
    return _finish(problem, features, num_steps, method, tol, max_steps, compile_s, solve_s, history)


_FINISH_SLAB_ELEMENTS = 1 << 22


@jax.jit
def _objective_and_grad_norm(features, w, lambdas, mu, pair_index=None):
    r"""Objective and largest per-sample gradient norm, by autodiff of :func:`per_sample_objective`.

    Samples are independent, so the work is done in slabs of the $\lambda$ axis (axis ``-2``):
    each slab's per-sample gradients are the gradient of the sum of its own per-sample objectives.
    Peak memory is then a few slabs rather than several copies of the features.
    """
    from ._problem import per_sample_objective

    num_lambdas = features.shape[-2]
    per_lambda = features.size // num_lambdas
    width = max(1, min(num_lambdas, _FINISH_SLAB_ELEMENTS // per_lambda))
    while num_lambdas % width:
        width -= 1

    def slab(i, carry):
        total, max_sq, finite = carry
        h = lax.dynamic_slice_in_dim(features, i * width, width, axis=-2)
        lam = lax.dynamic_slice_in_dim(lambdas, i * width, width)
        value, grad = jax.value_and_grad(lambda h: jnp.sum(per_sample_objective(h, w, lam, mu, pair_index)))(h)
        max_sq = jnp.maximum(max_sq, jnp.max(jnp.sum(grad * grad, axis=-1)))
        return total + value, max_sq, finite & jnp.all(jnp.isfinite(h))

    zero = jnp.zeros((), features.dtype)
    total, max_sq, finite = lax.fori_loop(0, num_lambdas // width, slab, (zero, zero, jnp.asarray(True)))
    return total / (features.size // features.shape[-1]), jnp.sqrt(max_sq), finite


def _finish(
    problem, features, num_steps, method, tol, max_steps, compile_s, solve_s, history=None
) -> Solution:
    """Recompute the reported quantities from the returned features alone (autodiff of the objective)."""
    lambdas = jnp.asarray(problem.lambdas, dtype=problem.dtype)
    mu = jnp.asarray(problem.weight_decay, dtype=problem.dtype)
    value, grad_norm, finite = _objective_and_grad_norm(
        features, problem.classifier, lambdas, mu, problem.pair_index_array()
    )
    objective, grad_norm = float(value), float(grad_norm)
    finite = bool(finite) and bool(np.isfinite(grad_norm)) and bool(np.isfinite(objective))
    converged = finite and grad_norm <= tol
    if not finite:
        status = "nonfinite"
    elif converged:
        status = "converged"
    elif num_steps >= max_steps:
        status = "max_steps"
    else:
        status = "stalled"
    return Solution(
        features=features,
        objective=objective,
        grad_norm=grad_norm,
        converged=converged,
        status=status,
        num_steps=num_steps,
        method=method,
        tol=tol,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
        history=history,
    )
