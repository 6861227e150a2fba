"""The single solve entry point, :func:`ufm.minimize`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import no_type_check

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from . import _joint, _learned, _newton
from ._final_check import FINAL_CHECKS, final_values
from ._problem import MixupUFM
from ._results import RESULTS, ConvergenceError
from ._solution import Solution
from ._solvers import AbstractSolver, Newton, Optax, as_solver
from ._timed import compile_and_run

__all__ = ["minimize", "METHODS"]

METHODS: tuple[str, ...] = ("newton", "lbfgs", "adam", "gd")


@no_type_check  # arguments checked by hand, with one-line messages
def minimize(
    problem: MixupUFM,
    method: str | AbstractSolver = "newton",
    *,
    tol: float | None = None,
    max_steps: int | None = None,
    learning_rate: float | None = None,
    init: Float[ArrayLike, "..."] | None = None,
    record: Callable[[Array], Array] | None = None,
    devices: Sequence[jax.Device] | None = None,
    throw: bool = False,
    final_check: str = "direct",
) -> Solution:
    r"""Minimise ``problem.objective`` over the free features with a jit-compiled loop.

    The whole optimisation runs inside one ``lax.while_loop`` (on CPU, GPU or TPU, in
    ``problem.dtype``) and stops when the largest per-sample gradient norm
    $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$ is at most ``tol``, when ``max_steps`` is reached, or
    when anything becomes non-finite. By strong convexity a per-sample gradient norm $\varepsilon$
    bounds each feature's error by $\varepsilon/\mu$.

    Args:
        problem: the :class:`ufm.MixupUFM` to solve.
        method: a solver object (:class:`ufm.Newton`, :class:`ufm.LBFGS`, :class:`ufm.Adam`,
            :class:`ufm.GradientDescent`, :class:`ufm.Optax` wrapping any optax transformation) or
            one of the names ``"newton"`` (default: exact per-sample Newton steps in $O(K)$ each
            using the ETF Gram structure, per-sample line search, quadratic convergence),
            ``"lbfgs"`` (optax L-BFGS over all features jointly: the generic path), ``"adam"`` or
            ``"gd"`` (first-order baselines for training dynamics).
        tol: tolerance on the largest per-sample gradient 2-norm; overrides the solver's (default
            ``1e-10`` in float64, ``1e-5`` in float32, where rounding puts a floor near
            ``1e-6 * scale`` under it).
        max_steps: iteration cap; overrides the solver's (defaults: 200 newton, 2000 lbfgs,
            20000 adam, 50000 gd).
        learning_rate: for ``adam`` (default 1e-2) and ``gd`` (default $1/(\beta/2 + \mu)$, the
            inverse of the per-sample smoothness constant); an error for the other methods.
        init: starting features in ``problem.feature_shape`` (default zeros).
        record: optional jittable function of the features (``problem.feature_shape``) returning a
            scalar, evaluated at the start and after every step inside the compiled loop (e.g. the
            distance to the exact optimum, for training-dynamics figures); the values are returned
            in ``Solution.history``.
        devices: for ``newton``, the devices the samples are split over (a 1-D mesh; default all
            local devices; pass ``jax.devices()`` after ``jax.distributed.initialize()`` to span
            several hosts). The result does not depend on the number of devices. The generic
            methods run on one device and refuse ``devices``.
        throw: raise :class:`ufm.ConvergenceError` (with the solution attached) unless the solve
            converged, as optimistix does; by default the status is only reported.
        final_check: how ``Solution.objective`` and ``Solution.grad_norm`` are recomputed at the
            returned features, independently of the solver's state: ``"direct"`` (default) evaluates
            each sample's gradient $W^\top(p - y) + \mu h$ and objective in one fused pass;
            ``"autodiff"`` differentiates the objective with ``jax.grad`` (an independent cross-check
            of the formula; about a third more work at $K = 30$ on a CPU).

    Every solver compiles once per layout, dtype and device set: weight decay, mixing
    coefficients, $\alpha$, seeds, tolerance, ``max_steps`` and learning rate are data, so sweeps
    over them reuse the compiled loop and report ``compile_seconds`` of about zero.

    **A learned classifier** (``problem.classifier_decay`` set) is solved by ``ufm/_learned.py``:
    ``"newton"`` is Newton's method on $\min_H F(W, H)$ over the classifier, ``"lbfgs"`` (and the
    other joint solvers; ``gd`` needs a ``learning_rate``) minimise over $(W, \sqrt{\omega}H)$
    jointly. Zero is a saddle point, so ``init`` is ``None`` (a random start, seed 0), an integer
    seed, or a pair ``(classifier, features)``; ``tol`` bounds the per-sample gradient norms and
    $\|\nabla_W F\|_F$ (default ``max_steps``: 500 newton, 20000 lbfgs); ``devices`` and ``record``
    are refused. ``Solution.classifier`` is the learned $W$ (the fixed ETF otherwise). See
    ``docs/learned.md``.

    Returns:
        A :class:`ufm.Solution`; its ``objective`` and ``grad_norm`` are recomputed from the
        returned features (see ``final_check``), and its status is decided from them.
    """
    if not isinstance(problem, MixupUFM):
        raise TypeError(f"problem must be a ufm.MixupUFM, got {type(problem).__name__}")
    if final_check not in FINAL_CHECKS:
        raise ValueError(f"final_check must be one of {', '.join(FINAL_CHECKS)}, got {final_check!r}")
    if problem.learns_classifier:  # W is a variable too: its own solvers, in ufm/_learned.py
        if final_check != "direct":
            raise ValueError(
                "final_check applies to the fixed classifier; a learned classifier's solvers recompute the "
                "objective and gradient norms themselves (ufm/_learned.py)"
            )
        solution = _learned.minimize_learned(
            problem, method, tol=tol, max_steps=max_steps, learning_rate=learning_rate, init=init,
            record=record, devices=devices,
        )
        if throw and not solution.converged:
            raise ConvergenceError(solution)
        return solution
    solver = as_solver(method, tol=tol, max_steps=max_steps, learning_rate=learning_rate)
    tol = solver.tolerance(problem.dtype)
    steps = solver.steps()
    if init is not None:
        init = problem.as_samples(init).astype(problem.dtype)
        if not bool(jnp.all(jnp.isfinite(init))):
            raise ValueError(
                "init must be finite: it contains NaN or infinity (after conversion to the problem's dtype)"
            )
    if record is not None and not callable(record):
        raise TypeError(f"record must be a function of the features, got {type(record).__name__}")

    if isinstance(solver, Newton):
        run = _newton.newton_solve(problem, tol, steps, init=init, devices=devices, record=record)
        features, num_steps, counts = run.features, run.num_steps, run.counts
        compile_s, solve_s, history = run.compile_seconds, run.solve_seconds, run.history
    else:
        if devices is not None:
            raise ValueError(
                f"devices applies to the newton solver only; {solver.name} runs on one device "
                "(leave devices unset, or use method='newton')"
            )
        features, num_steps, compile_s, solve_s, history = _solve_joint(problem, solver, tol, steps, init, record)
        counts = None
    solution = _finish(
        problem, solver, features, num_steps, tol, steps, counts, compile_s, solve_s, history, final_check
    )
    if throw and not solution.converged:
        raise ConvergenceError(solution)
    return solution


def _solve_joint(problem, solver, tol, max_steps, init, record):
    dtype = problem.dtype
    h0 = jnp.zeros(problem.sample_shape, dtype) if init is None else init
    hyper = {k: jnp.asarray(v, dtype) for k, v in solver.hyperparameters(problem.beta, problem.weight_decay).items()}
    args = (
        h0,
        problem.classifier,
        jnp.asarray(problem.lambdas, dtype),
        jnp.asarray(problem.weight_decay, dtype),
        jnp.asarray(problem.pair_index),
        jnp.asarray(tol, dtype),
        jnp.asarray(max_steps, jnp.int32),
        hyper,
    )
    static = dict(
        structure=solver.structure(),
        record=record,
        history_length=max_steps + 1 if record is not None else 0,
        feature_shape=problem.feature_shape,
    )
    (features, num_steps, history), compile_s, solve_s = compile_and_run(_joint.run_joint, args, static)
    num_steps = int(num_steps)
    history = np.asarray(history[: num_steps + 1]) if record is not None else None
    return features, num_steps, compile_s, solve_s, history


@no_type_check
def solution_from_features(
    problem: MixupUFM, features: Float[ArrayLike, "..."], tol: float, final_check: str = "direct"
) -> Solution:
    """A :class:`Solution` for features that come from elsewhere (another solver, a file): objective
    and gradient norm recomputed; status ``converged`` when the gradient norm is at most ``tol``,
    else ``stalled``."""
    features = jnp.asarray(features, problem.dtype)
    if features.shape != problem.feature_shape:
        features = problem.as_features(problem.as_samples(features))  # refuses other shapes
    return _finish(problem, None, features, 0, tol, 1, None, 0.0, 0.0, None, final_check)


def _finish(
    problem, solver, features, num_steps, tol, max_steps, counts, compile_s, solve_s, history, final_check
) -> Solution:
    """Recompute the reported quantities from the returned features alone, and classify the end."""
    objective, grad_norm, finite = final_values(problem, features, final_check)
    if not finite:
        status = RESULTS.nonfinite
    elif grad_norm <= tol:
        status = RESULTS.converged
    elif counts is not None and counts["line_search_failed"]:
        status = RESULTS.line_search_failed
    elif solver is not None and num_steps >= max_steps:
        status = RESULTS.max_steps
    else:
        status = RESULTS.stalled
    return Solution(
        features=features,
        objective=objective,
        grad_norm=grad_norm,
        status=status,
        num_steps=num_steps,
        method="given" if solver is None else solver.label if isinstance(solver, Optax) else solver.name,
        tol=tol,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
        history=history,
        sample_outcomes=counts,
        classifier=problem.classifier,
    )
