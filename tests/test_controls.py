"""Negative controls: the comparison, the geometry and the verdict must fail on wrong answers.

Each test feeds the check something that is not the optimum, of a size the test chooses, in the
regimes where a plausible bug would hide it: tiny optima (strong decay), K = 2 (a rank-one pair
span), and NaN (which compares False with everything).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ufm
from ufm.solve import main


def _small_problem():
    # Strong decay and a small scale: every exact feature has norm < 1e-2, so a "relative" error
    # silently measured against max(||h*||, 1) would shrink by 100x or more.
    problem = ufm.MixupUFM(3, dim=4, lambdas=[0.2, 0.5, 0.7], weight_decay=50.0, scale=0.3)
    exact = np.asarray(ufm.optimal_features(problem))
    assert np.linalg.norm(exact, axis=-1).max() < 1e-2
    return problem, exact


def test_comparison_is_relative_at_small_norms():
    problem, exact = _small_problem()
    wrong = exact * (1 + 1e-3)
    comparison = ufm.compare_features(wrong, exact, problem.lambdas, rtol=5e-4)
    assert comparison.max_rel_error == pytest.approx(1e-3, rel=1e-9)
    assert comparison.passed is False
    assert ufm.compare_features(wrong, exact, problem.lambdas, rtol=2e-3).passed is True
    # The one check every caller uses agrees, with its default absolute part switched off.
    report = ufm.check(problem, wrong, rtol=5e-4, atol=0.0)
    assert report.ok is False and report.comparison.max_rel_error == pytest.approx(1e-3, rel=1e-9)


@pytest.mark.parametrize("dim", [2, 5])
def test_k2_geometry_sees_a_component_outside_the_pair_span(dim):
    # K = 2: w_2 = -w_1, so span{w_c, w_c'} is a line. A component of norm delta orthogonal to it
    # must be reported in full (with d = 2 it is the whole orthogonal complement).
    problem = ufm.MixupUFM(2, dim=dim, lambdas=[0.1, 0.5, 0.8], weight_decay=1e-2)
    exact = np.asarray(ufm.optimal_features(problem))
    w = np.asarray(problem.classifier, dtype=np.float64)
    v = np.random.default_rng(0).normal(size=exact.shape)
    v -= (v @ w[0])[..., None] * w[0] / (w[0] @ w[0])
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    delta = 1e-3
    geometry = ufm.feature_geometry(exact + delta * v, problem.classifier, problem.lambdas)
    assert geometry["max_outside_pair_span"] == pytest.approx(delta, rel=1e-9)
    assert geometry["same_class_max_misalignment"] == pytest.approx(delta, rel=1e-9)
    # ... and the optimum itself has none.
    assert ufm.feature_geometry(exact, problem.classifier, problem.lambdas)["max_outside_pair_span"] < 1e-15


def _nan_solution(problem):
    """A solution that claims convergence but has one NaN feature (as a buggy solver or a corrupt
    file could give): the exact optimum with one coordinate replaced."""
    features = np.asarray(ufm.optimal_features(problem)).copy()
    features[1, 0, 0, 0] = np.nan
    return ufm.Solution(
        features=features,
        objective=0.0,
        grad_norm=0.0,
        status=ufm.RESULTS.converged,
        num_steps=1,
        method="newton",
        tol=1e-10,
        compile_seconds=0.0,
        solve_seconds=0.0,
    )


def test_nan_feature_fails_the_comparison_and_the_check():
    problem = ufm.MixupUFM(3, lambdas=[0.3, 0.6])
    exact = np.asarray(ufm.optimal_features(problem))
    broken = exact.copy()
    broken[1, 0, 0, 0] = np.nan
    comparison = ufm.compare_features(broken, exact, problem.lambdas, atol=1.0)  # even a huge atol
    assert comparison.passed is False and math.isnan(comparison.max_excess)
    report = ufm.check(problem, _nan_solution(problem))
    assert report.solution.converged  # the claim is "converged": only the comparison can object
    assert report.comparison.passed is False
    assert report.ok is False and any("feature error" in reason for reason in report.reasons)


def test_cli_nan_feature_with_converged_status_exits_1(capsys, monkeypatch):
    monkeypatch.setattr(ufm, "minimize", lambda problem, *args, **kwargs: _nan_solution(problem))
    assert main(["--classes", "3", "--lambdas", "2"]) == 1
    out = capsys.readouterr().out
    assert "CHECK FAILED" in out and "\nOK" not in out
