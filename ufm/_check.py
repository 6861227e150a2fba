r"""The one check every caller uses: exact optimum -> comparison -> geometry -> a report.

:func:`check` is what ``python -m ufm.solve``, the figure scripts and the benchmarks call after
:func:`ufm.minimize`. The exact optimum is generated block by block and compared as it is made, so
the check holds no second features-sized array unless ``keep_exact`` asks for one.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, no_type_check

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from . import analytic
from ._compare import FeatureComparison, summarise_errors
from ._geometry import feature_geometry
from ._learned import learned_solution_from
from ._learned_check import check_learned
from ._minimize import solution_from_features
from ._objective import _per_sample
from ._problem import MixupUFM
from ._solution import Solution
from ._solvers import DEFAULT_TOL
from ._validation import check_nonnegative_real, check_positive_real

__all__ = ["check", "Report", "DEFAULT_CHECK_TOL", "CONVENTION"]

# Largest acceptable relative feature error. float32: measured errors at the default tol are
# <= 3e-4 for gamma >= 5e-5 (docs/robustness.md); below that float32 cannot resolve 1 - p near 1
# (error ~ eps32 / (gamma t^2)) and the check fails, as it should.
DEFAULT_CHECK_TOL = {"float64": 1e-8, "float32": 1e-3}

CONVENTION = "mu per feature: objective = mean over samples of [mixup CE + mu/2 ||h||^2] (mu = N * lambda_H)"


@dataclasses.dataclass(frozen=True)
class Report:
    """The outcome of :func:`check`: how the numeric optimum compares with the exact one.

    Attributes:
        problem: the problem.
        solution: the numeric solution checked.
        comparison: per-sample errors and the test ``||h - h*|| <= rtol ||h*|| + atol`` (``None``
            when ``check(..., compare=False)``, as are ``geometry`` and ``objective_exact``).
        geometry: the theory's structure measured on the numeric features
            (:func:`ufm.feature_geometry`).
        objective_exact: the objective at the exact optimum.
        exact_seconds: time to compute the exact optimum and compare.
        atol_rule: where the test's ``atol`` came from.
        ok: the solve converged and every sample passed the test.
        reasons: why not, in words (empty when ``ok``).
        exact: the exact optimum in ``problem.feature_shape`` when ``check(..., keep_exact=True)``.
    """

    problem: MixupUFM
    solution: Solution
    comparison: FeatureComparison | None
    geometry: dict | None
    objective_exact: float | None
    exact_seconds: float
    ok: bool
    reasons: tuple[str, ...]
    atol_rule: str
    exact: Float[Array, "..."] | None = None

    @property
    def compared(self) -> bool:
        """Whether the features were compared with the exact optimum (``check(..., compare=True)``)."""
        return self.comparison is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (the keys of ``results.json``)."""
        head = {"problem": self.problem.config(), "ok": self.ok, "reasons": list(self.reasons)}
        if not self.compared:
            return {**head, **self.solution.summary(), "compared": False}
        return {
            **head,
            "compared": True,
            **self.solution.summary(),
            "objective_analytic": self.objective_exact,
            "analytic_seconds": self.exact_seconds,
            **self.comparison.summary(),
            "atol_rule": self.atol_rule,
            "geometry": self.geometry,
        }

    def text(self) -> str:
        """The human-readable report that ``python -m ufm.solve`` prints."""
        problem, solution, comparison, geometry = self.problem, self.solution, self.comparison, self.geometry
        k = problem.num_classes
        lines = [
            "mixup UFM, "
            + (f"learned classifier (decay {problem.classifier_decay:g})" if problem.learns_classifier
               else "fixed simplex-ETF classifier")
            + " (Fisher, Meng & Papyan, ICLR 2024)",
            f"  K = {k}, d = {problem.dim}, "
            + ("" if problem.learns_classifier else f"scale = {problem.scale:g}, ")
            + f"alpha = {problem.alpha:g}, "
            f"M = {problem.num_lambdas} lambdas ({_lambda_source(problem)}), "
            f"N = {problem.num_samples} samples, {problem.dtype}",
        ]
        if problem.pairs is not None:
            lines.append(
                f"  pairs: {problem.num_pairs} of {k * k} ordered class pairs "
                f"(all {k} same-class pairs, the rest drawn with seed {problem.seed})"
            )
        lines += [
            f"  weight decay mu = {problem.weight_decay:g} ({CONVENTION})",
            "",
            f"solve ({solution.method}): {solution.status} in {solution.num_steps} steps, "
            f"max per-sample grad norm {solution.grad_norm:.2e} (tol {solution.tol:.0e})",
            f"  time: {solution.solve_seconds:.3f} s solving, {solution.compile_seconds:.3f} s compiling",
        ]
        if solution.sample_outcomes and solution.sample_outcomes["converged"] != problem.num_samples:
            counts = ", ".join(f"{v} {name}" for name, v in solution.sample_outcomes.items() if v)
            lines.append(f"  samples: {counts}")
        if not self.compared:
            lines += [
                f"objective: numeric {solution.objective:.15f}",
                "not compared with the exact optimum (compare=False, --no-check): the verdict is the "
                "solve's convergence only",
            ]
            return "\n".join(lines)
        c, c2, _ = comparison.worst_index
        lines += [
            f"objective: numeric {solution.objective:.15f}   exact {self.objective_exact:.15f}   "
            f"diff {solution.objective - self.objective_exact:+.2e}",
            f"feature error vs exact optimum: max relative {comparison.max_rel_error:.2e}, "
            f"max absolute {comparison.max_abs_error:.2e}",
            f"  test {comparison.criterion} (atol = {self.atol_rule}): "
            f"{'passed' if comparison.passed else 'FAILED'}; worst sample c={c}, c2={c2}, "
            f"lambda={comparison.worst_lambda:.4f} at {comparison.max_excess:.2g} of its bound",
            "",
            "geometry (theory: spread, misalignment and out-of-span components are 0):",
            f"  same-class feature norm {geometry['same_class_norm_mean']:.6f}, "
            f"spread over lambda {geometry['same_class_norm_spread']:.1e}, "
            f"misalignment with w_c {geometry['same_class_max_misalignment']:.1e}",
            f"  largest different-class component outside span{{w_c, w_c2}}: {geometry['max_outside_pair_span']:.1e}",
            f"  largest distance to the c/c2 decision boundary at lambda = "
            f"{geometry['lambda_nearest_half']:.4f} (nearest 1/2): "
            f"{geometry['max_boundary_distance_nearest_half']:.3e} (0 only at lambda = 1/2)",
        ]
        return "\n".join(lines)


def _lambda_source(problem: MixupUFM) -> str:
    if problem.lambda_source == "quadrature":
        return "Gauss-Jacobi quadrature of Beta(alpha, alpha), weighted"
    return f"seed {problem.seed}" if problem.lambda_source == "drawn" else "given"


@no_type_check  # arguments checked by hand, with one-line messages
def check(
    problem: MixupUFM,
    solution: Solution | Float[ArrayLike, "..."],
    *,
    rtol: float | None = None,
    atol: float | None = None,
    tol: float | None = None,
    keep_exact: bool = False,
    classifier: Float[ArrayLike, "K d"] | None = None,
    compare: bool = True,
) -> Report:
    r"""Compare a numeric solution with the exact optimum and measure the theory's geometry.

    The test per sample is $\|h - h^\star\| \le \text{rtol}\,\|h^\star\| + \text{atol}$, with
    ``rtol`` by dtype (``1e-8`` float64, ``1e-3`` float32) and ``atol = min(tol/mu, rtol *
    max ||h*||)``: a solve that stopped at per-sample gradient norm ``tol`` is, by strong
    convexity, within ``tol/mu`` of the optimum, which makes the test meaningful where
    $h^\star = 0$ ($K = 2$, $\lambda = 1/2$); the cap keeps it from becoming vacuous where
    ``tol/mu`` exceeds the features themselves (very weak decay, float32).

    Args:
        problem: the problem that was solved.
        solution: what :func:`ufm.minimize` returned for it, or features in
            ``problem.feature_shape`` from anywhere else (another solver, a file): their objective
            and gradient norm are then recomputed, and they count as converged when the gradient
            norm is at most ``tol``.
        rtol: relative part of the test (default by dtype, see ``ufm.DEFAULT_CHECK_TOL``).
        atol: absolute part (default ``min(solution.tol / mu, rtol * max ||h*||)``).
        tol: for features given as an array, the gradient-norm tolerance they are held to
            (default by dtype, see ``ufm.DEFAULT_TOL``); not allowed with a :class:`ufm.Solution`.
        keep_exact: keep the exact optimum in ``Report.exact`` (a second features-sized array).
        classifier: for features given as an array of a problem with a learned classifier, the
            classifier they go with (a :class:`ufm.Solution` carries its own).
        compare: ``False`` skips the exact optimum, the comparison and the geometry (for runs where
            only the numeric optimum is wanted, e.g. ``python -m ufm.solve --no-check``): the
            report then carries the solve's own account only, and ``ok`` means converged.

    A problem with a learned classifier (``classifier_decay``) has no fixed-ETF optimum: it is
    checked against its certified optimum (:func:`ufm.learned_optimum`), after the rotation that
    aligns the two, and a :class:`ufm.LearnedReport` is returned (``ok``, ``reasons``, ``text()``,
    ``to_dict()``, ``comparison`` as here; default ``rtol`` ``1e-6`` in float64). A solution whose
    classifier is not the problem's fixed ETF is refused rather than compared with the ETF optimum.

    Returns:
        A :class:`ufm.Report` (:class:`ufm.LearnedReport` for a learned classifier); ``report.ok``
        is the verdict, ``report.reasons`` says why not.
    """
    if not isinstance(problem, MixupUFM):
        raise TypeError(f"problem must be a ufm.MixupUFM, got {type(problem).__name__}")
    if not isinstance(compare, bool):
        raise TypeError(f"compare must be True or False, got {compare!r}")
    if problem.learns_classifier:  # no fixed-ETF optimum: the certified convex reference
        return _check_learned_entry(problem, solution, rtol, atol, tol, keep_exact, classifier, compare)
    if classifier is not None:
        raise ValueError("classifier applies to problems with a learned classifier (classifier_decay); "
                         "this problem's classifier is the fixed simplex ETF")
    if isinstance(solution, Solution) and solution.classifier is not None and not _same_classifier(
        solution.classifier, problem.classifier
    ):
        raise ValueError(
            "the solution's classifier is not this problem's fixed simplex ETF (a solution of a problem with a "
            "learned classifier?): check it against the problem it solves"
        )
    if isinstance(solution, Solution):
        if tol is not None:
            raise ValueError("tol applies to features given as an array; a Solution carries its own")
    elif isinstance(solution, (np.ndarray, jax.Array)):
        tol = DEFAULT_TOL[problem.dtype] if tol is None else check_positive_real("tol", tol)
        solution = solution_from_features(problem, solution, tol)
    else:
        raise TypeError(f"solution must be a ufm.Solution or an array of features, got {type(solution).__name__}")
    rtol = check_positive_real("rtol", DEFAULT_CHECK_TOL[problem.dtype] if rtol is None else rtol)
    if atol is not None:
        atol = check_nonnegative_real("atol", atol)
    if tuple(solution.features.shape) not in (problem.feature_shape, problem.sample_shape):
        raise ValueError(f"solution.features must have shape {problem.feature_shape}, got {solution.features.shape}")
    if not compare:
        return _uncompared(problem, solution)
    numeric = host_samples(problem, solution.features)  # a view on CPU: no second copy

    t0 = time.perf_counter()
    margins = analytic.exact_margins(problem)
    abs_err = np.empty(problem.sample_shape[:2])
    ref_norm = np.empty(problem.sample_shape[:2])
    exact = np.empty(problem.sample_shape) if keep_exact else None
    with np.errstate(over="ignore", invalid="ignore"):
        for block, ref in analytic.optimal_sample_blocks(problem, margins):
            abs_err[block] = np.linalg.norm(numeric[block].astype(np.float64, copy=False) - ref, axis=-1)
            ref_norm[block] = np.linalg.norm(ref, axis=-1)
            if exact is not None:
                exact[block] = ref
    if atol is None:
        atol, atol_rule = _default_atol(solution.tol, problem.weight_decay, rtol, float(np.max(ref_norm)))
    else:
        atol_rule = "given"
    comparison = summarise_errors(
        abs_err, ref_norm, problem.pair_index, problem.lambdas, rtol, atol, problem.feature_shape[:-1]
    )
    objective_exact = _exact_objective(problem, analytic._float64_classifier(problem), margins)
    exact_seconds = time.perf_counter() - t0
    geometry = feature_geometry(numeric, problem.classifier, problem.lambdas, problem.pair_index,
                                lambda_weights=problem.lambda_weights)

    reasons = []
    if not solution.converged:
        reasons.append(solution.message)
    if not comparison.passed:
        reasons.append(
            f"feature error above the test {comparison.criterion} "
            f"(max relative error {comparison.max_rel_error:.3e}, worst sample at "
            f"{comparison.max_excess:.3g} times its bound)"
            + (_float32_hint(problem) if problem.dtype == "float32" else "")
        )
    return Report(
        problem=problem,
        solution=solution,
        comparison=comparison,
        geometry=geometry,
        objective_exact=objective_exact,
        exact_seconds=exact_seconds,
        ok=not reasons,
        reasons=tuple(reasons),
        atol_rule=atol_rule,
        exact=None if exact is None else jnp.asarray(exact.reshape(problem.feature_shape)),
    )


def _uncompared(problem: MixupUFM, solution: Solution) -> Report:
    """The report of ``check(..., compare=False)``: the solve's own account only."""
    return Report(
        problem=problem, solution=solution, comparison=None, geometry=None, objective_exact=None,
        exact_seconds=0.0, ok=solution.converged, reasons=() if solution.converged else (solution.message,),
        atol_rule="not compared",
    )


def _same_classifier(a, b) -> bool:
    """Equal up to float32 rounding (a solution may come from the same problem in another dtype)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-6 * float(np.max(np.abs(b)))))


@no_type_check
def _check_learned_entry(problem, solution, rtol, atol, tol, keep_exact, classifier, compare):
    """Arguments of :func:`check` for a learned classifier, checked; then :func:`check_learned`."""
    if isinstance(solution, Solution):
        if tol is not None or classifier is not None:
            raise ValueError("tol and classifier apply to features given as an array; a Solution carries its own")
        if solution.classifier is None:
            raise ValueError("this problem learns its classifier: the solution must carry it (solution.classifier)")
    elif isinstance(solution, (np.ndarray, jax.Array)):
        if classifier is None:
            raise ValueError(
                f"this problem learns its classifier (classifier_decay={problem.classifier_decay:g}): pass "
                "classifier= with the features, or the ufm.Solution itself"
            )
        tol = DEFAULT_TOL[problem.dtype] if tol is None else check_positive_real("tol", tol)
        solution = learned_solution_from(problem, solution, classifier, tol)
    else:
        raise TypeError(f"solution must be a ufm.Solution or an array of features, got {type(solution).__name__}")
    if rtol is not None:
        rtol = check_positive_real("rtol", rtol)
    if atol is not None:
        atol = check_nonnegative_real("atol", atol)
    samples = problem.as_samples(solution.features)
    if samples.shape != problem.sample_shape:
        raise ValueError(f"solution.features must have shape {problem.feature_shape}, got {solution.features.shape}")
    if tuple(np.shape(solution.classifier)) != (problem.num_classes, problem.dim):
        raise ValueError(
            f"solution.classifier must have shape {(problem.num_classes, problem.dim)} (K, d), "
            f"got {tuple(np.shape(solution.classifier))}"
        )
    if not compare:
        return _uncompared(problem, solution)
    return check_learned(problem, solution, rtol, atol, keep_exact)


def host_samples(problem: MixupUFM, features) -> np.ndarray:
    """The features as a NumPy ``(P, M, d)`` array on this host, in their own dtype: a view of a
    CPU array (no copy), one transfer from an accelerator.

    Raises:
        ValueError: for features spread over several processes (gather them first).
    """
    if isinstance(features, jax.Array) and not features.is_fully_addressable:
        raise ValueError(
            "the features are spread over several processes; gather them on one process first "
            "(ufm.distributed.gather, called by every process)"
        )
    return np.asarray(features).reshape(problem.sample_shape)


def _default_atol(tol: float, weight_decay: float, rtol: float, largest_norm: float) -> tuple[float, str]:
    r"""``min(tol/mu, rtol * max ||h*||)`` and which of the two it is.

    ``tol/mu`` is what strong convexity guarantees for a solve that stopped at gradient norm
    ``tol``; where it exceeds ``rtol`` times the largest exact feature (weak decay, float32) it
    would make the test vacuous, so the problem's own feature scale caps it.
    """
    convexity = tol / weight_decay
    scale = rtol * largest_norm
    if convexity <= scale:
        return convexity, "tol/mu (strong convexity)"
    return scale, "check-tol * max ||h*|| (tol/mu would be larger)"


def _exact_objective(problem: MixupUFM, w64: np.ndarray, margins) -> float:
    r"""The objective at the exact optimum from two representative pairs.

    Every same-class sample has the value of pair $(0, 0)$, and every different-class sample at
    $\lambda_m$ that of pair $(0, 1)$ at $\lambda_m$ (the ETF is symmetric), so the weighted mean
    needs the per-sample objective of two pairs only, whatever $K$ and $P$.
    """
    pairs = np.array([[0, 0], [0, 1]], dtype=np.int32)
    two = analytic.assemble_samples(w64, pairs, margins, problem.beta)  # (2, M, d)
    dtype = problem.dtype
    values = np.asarray(
        _per_sample(
            jnp.asarray(two, dtype),
            problem.classifier,
            jnp.asarray(problem.lambdas, dtype),
            jnp.asarray(problem.weight_decay, dtype),
            jnp.asarray(pairs),
        ),
        dtype=np.float64,
    )
    same = problem.pair_index[:, 0] == problem.pair_index[:, 1]
    per_sample = np.where(same[:, None], values[0][None, :], values[1][None, :])
    return float(np.sum(per_sample * problem.sample_weights()))


def _float32_hint(problem: MixupUFM) -> str:
    r"""How finely float32 can resolve this problem's optimum at all.

    Near the optimum $1 - p_c \approx \gamma t$ ($t$ the same-class margin), while float32 holds
    $p_c$ only to $\varepsilon_{32} = 1.2\cdot10^{-7}$; the margin is then determined to a relative
    $\approx \varepsilon_{32}/(\gamma t^2)$, whatever the solver does.
    """
    t = float(analytic.same_class_margin(problem.num_classes, problem.gamma))
    limit = float(np.finfo(np.float32).eps) / (problem.gamma * t * t)
    return f" (float32 resolves this problem only to about {limit:.0e}: eps32/(gamma t^2); use float64)"
