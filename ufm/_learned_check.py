r""":func:`ufm.check` for a problem with a learned classifier: compare with the certified optimum.

There is no fixed-ETF optimum to compare with when $W$ is learned, so the reference is
:func:`ufm.learned_optimum` (the convex reformulation, certified by its duality gap). The optimum
is an orbit $\{(W^\star Q, H^\star Q)\}$, $Q$ orthogonal, so the reference is first rotated onto the
solution (orthogonal Procrustes, $\min_R\|W^\star R - W\|_F$); features are then compared sample by
sample with a test of the same form as for the fixed classifier ($\|h - h^\star\| \le
\text{rtol}\,\|h^\star\| + \text{atol}$, here $\text{atol} = \text{rtol}\max\|h^\star\|$), and the
classifier row by row. The Gram
matrix $WW^\top$ and the objective need no rotation.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._collapse import etf_error
from ._compare import FeatureComparison, summarise_errors
from ._convex import LearnedOptimum, learned_optimum
from ._geometry import feature_geometry
from ._problem import MixupUFM
from ._solution import Solution

__all__ = ["LearnedReport", "check_learned", "DEFAULT_LEARNED_CHECK_TOL"]

# Largest acceptable relative error of features and classifier rows against the certified
# reference. The joint problem is solved to gradient norm tol = 1e-10; its curvature along the
# optimum (modulo rotations) is as small as the decays, so errors of 1e-8..1e-7 are what a
# converged float64 solve reaches (docs/learned.md lists the measurements).
DEFAULT_LEARNED_CHECK_TOL = {"float64": 1e-6, "float32": 1e-3}
# A reference whose duality gap exceeds this (relative to 1 + |F*|) is not a trustworthy optimum.
_CERTIFICATE_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class LearnedReport:
    """The outcome of :func:`ufm.check` for a problem with a learned classifier.

    Attributes:
        problem, solution: what was checked.
        reference: the certified optimum (:class:`ufm.LearnedOptimum`).
        comparison: per-sample feature errors against the reference rotated onto the solution.
        classifier_rel_error: $\\max_k\\|w_k - w^\\star_k\\| / \\max_k\\|w^\\star_k\\|$ (after the rotation;
            absolute when $W^\\star = 0$).
        gram_rel_error: $\\|WW^\\top - W^\\star W^{\\star\\top}\\|_F / \\|W^\\star W^{\\star\\top}\\|_F$ (absolute when
            $W^\\star = 0$).
        etf_error: ETF error of the learned rows (:func:`ufm.metrics.etf_error`; 0 for a simplex ETF).
        reference_etf_error: the same for the reference.
        geometry: :func:`ufm.feature_geometry` of the features with the learned classifier.
        exact_seconds: time to compute the reference and compare.
        ok: converged, every sample and the classifier within the test, reference certified.
        reasons: why not, in words.
        exact: the reference features in the solution's frame, when ``keep_exact``.
    """

    problem: MixupUFM
    solution: Solution
    reference: LearnedOptimum
    comparison: FeatureComparison
    classifier_rel_error: float
    gram_rel_error: float
    etf_error: float
    reference_etf_error: float
    geometry: dict
    exact_seconds: float
    ok: bool
    reasons: tuple[str, ...]
    exact: Float[Array, "..."] | None = None

    @property
    def compared(self) -> bool:
        """Always ``True``: compared with the certified optimum (``check(..., compare=False)``
        returns a :class:`ufm.Report` instead)."""
        return True

    @property
    def objective_reference(self) -> float:
        """The objective at the certified optimum."""
        return self.reference.objective

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (the keys of ``results.json``)."""
        return {
            "problem": self.problem.config(),
            "ok": self.ok,
            "reasons": list(self.reasons),
            "compared": True,
            **self.solution.summary(),
            "reference": {"method": "convex reformulation (nuclear norm): proximal gradient, Newton polish",
                          **self.reference.summary()},
            "objective_reference": self.reference.objective,
            "analytic_seconds": self.exact_seconds,
            **self.comparison.summary(),
            "classifier_rel_error": self.classifier_rel_error,
            "gram_rel_error": self.gram_rel_error,
            "etf_error": self.etf_error,
            "reference_etf_error": self.reference_etf_error,
            "classifier_row_norms": _row_norms(self.solution.classifier).tolist(),
            "geometry": self.geometry,
        }

    def text(self) -> str:
        """The human-readable report that ``python -m ufm.solve`` prints."""
        problem, solution, ref, comparison = self.problem, self.solution, self.reference, self.comparison
        c, c2, _ = comparison.worst_index
        k = problem.num_classes
        pi = problem.class_weights
        weights = "uniform" if np.allclose(pi, 1.0 / k, rtol=0, atol=1e-15) else \
            f"from {pi.min():.3g} to {pi.max():.3g} (ratio {pi.max() / pi.min():.3g})"
        norms = _row_norms(solution.classifier)
        lines = [
            "mixup UFM, learned classifier (W a variable, decay lambda_W), unconstrained features",
            f"  K = {k}, d = {problem.dim}, alpha = {problem.alpha:g}, M = {problem.num_lambdas} lambdas, "
            f"N = {problem.num_samples} samples, {problem.dtype}",
            f"  class weights pi: {weights}; pair (c, c2) weighted pi_c pi_c2",
            f"  weight decay mu = {problem.weight_decay:g} per feature, classifier decay lambda_W = "
            f"{problem.classifier_decay:g}: F = weighted mean of [CE + mu/2 ||h||^2] + lambda_W/2 ||W||^2 "
            f"(with uniform weights this is Zhu et al. 2021's lambda_H = mu/N = "
            f"{problem.weight_decay / problem.num_samples:.3g})",
            "",
            f"solve ({solution.method}): {solution.status} in {solution.num_steps} steps, max gradient norm "
            f"{solution.grad_norm:.2e} (per sample and classifier; tol {solution.tol:.0e})",
            f"  time: {solution.solve_seconds:.3f} s solving, {solution.compile_seconds:.3f} s compiling",
            f"reference: convex reformulation (nuclear norm), rank {ref.rank}, duality gap {ref.duality_gap:.1e} "
            f"({ref.prox_steps} proximal + {ref.newton_steps} Newton steps, {ref.seconds:.2f} s)",
            f"objective: numeric {solution.objective:.15f}   reference {ref.objective:.15f}   "
            f"diff {solution.objective - ref.objective:+.2e}",
            f"classifier vs reference (best rotation): max relative row error {self.classifier_rel_error:.2e}, "
            f"Gram relative error {self.gram_rel_error:.2e}",
            f"feature error vs reference: max relative {comparison.max_rel_error:.2e}, "
            f"max absolute {comparison.max_abs_error:.2e}",
            f"  test {comparison.criterion}: {'passed' if comparison.passed else 'FAILED'}; worst sample "
            f"c={c}, c2={c2}, lambda={comparison.worst_lambda:.4f} at {comparison.max_excess:.2g} of its bound",
            "",
            "learned classifier geometry:",
            f"  row norms ||w_k|| from {norms.min():.6f} to {norms.max():.6f}",
            f"  ETF error {self.etf_error:.1e} (reference {self.reference_etf_error:.1e}; 0 for a simplex ETF)",
        ]
        return "\n".join(lines)


def _row_norms(w) -> np.ndarray:
    return np.linalg.norm(np.asarray(w, dtype=np.float64), axis=-1)


def check_learned(
    problem: MixupUFM, solution: Solution, rtol: float | None, atol: float | None, keep_exact: bool
) -> LearnedReport:
    """The body of :func:`ufm.check` for a learned classifier (``solution`` carries its classifier)."""
    rtol = DEFAULT_LEARNED_CHECK_TOL[problem.dtype] if rtol is None else rtol
    t0 = time.perf_counter()
    reference = learned_optimum(problem)
    w = np.asarray(solution.classifier, dtype=np.float64)
    w_ref = np.asarray(reference.classifier, dtype=np.float64)
    # Orthogonal Procrustes: R = U V^T from W*^T W = U S V^T minimises ||W* R - W||_F.
    u, _, vt = np.linalg.svd(w_ref.T @ w)
    rotation = u @ vt
    w_ref = w_ref @ rotation
    numeric = np.asarray(problem.as_samples(solution.features), dtype=np.float64)
    ref = np.asarray(problem.as_samples(reference.features), dtype=np.float64) @ rotation
    abs_err = np.linalg.norm(numeric - ref, axis=-1)
    ref_norm = np.linalg.norm(ref, axis=-1)
    if atol is None:  # the problem's feature scale; absolute (rtol) where the optimum is H = 0
        atol = rtol * (float(np.max(ref_norm)) or 1.0)
    comparison = summarise_errors(
        abs_err, ref_norm, problem.pair_index, problem.lambdas, rtol, atol, problem.feature_shape[:-1]
    )
    # Relative to the reference's scale; absolute when the optimum is W = 0 (strong decay).
    row_scale = float(np.max(_row_norms(w_ref))) or 1.0
    classifier_err = float(np.max(np.linalg.norm(w - w_ref, axis=-1))) / row_scale
    gram_ref = w_ref @ w_ref.T
    gram_err = float(np.linalg.norm(w @ w.T - gram_ref) / (float(np.linalg.norm(gram_ref)) or 1.0))
    geometry = feature_geometry(solution.features, w, problem.lambdas,
                                None if problem.pairs is None else problem.pair_index)
    seconds = time.perf_counter() - t0

    reasons = []
    if not solution.converged:
        reasons.append(solution.message)
    scale = 1.0 + abs(reference.objective)
    if reference.duality_gap > _CERTIFICATE_TOL * scale:
        reasons.append(f"the reference optimum is not certified: duality gap {reference.duality_gap:.2e}")
    # The solution's objective is evaluated in its own dtype: allow for its rounding (float32: ~1e-5).
    rounding = max(_CERTIFICATE_TOL, 64 * float(np.finfo(problem.dtype).eps)) * scale
    if solution.objective < reference.dual_bound - rounding:
        reasons.append(
            f"objective {solution.objective:.15g} is below the certified lower bound {reference.dual_bound:.15g} "
            "(the objective or the reference is wrong)"
        )
    if not comparison.passed:
        reasons.append(
            f"feature error above the test {comparison.criterion} (max relative error "
            f"{comparison.max_rel_error:.3e}, worst sample at {comparison.max_excess:.3g} times its bound)"
        )
    if not classifier_err <= rtol:
        reasons.append(f"classifier error {classifier_err:.3e} above {rtol:.1e} (relative, after the best rotation)")
    return LearnedReport(
        problem=problem,
        solution=solution,
        reference=reference,
        comparison=comparison,
        classifier_rel_error=classifier_err,
        gram_rel_error=gram_err,
        etf_error=etf_error(w),
        reference_etf_error=etf_error(np.asarray(reference.classifier)),
        geometry=geometry,
        exact_seconds=seconds,
        ok=not reasons,
        reasons=tuple(reasons),
        exact=jnp.asarray(ref.reshape(problem.feature_shape)) if keep_exact else None,
    )
