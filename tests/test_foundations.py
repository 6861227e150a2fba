"""The foundations: compile once, one check, pure-data problems, typed status, solver objects.

Each defect found in review has a regression test here that failed on the code before the fix
(noted on each test).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import pickle
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ufm
from ufm import _joint, _newton, analytic

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- compile once


def test_newton_loop_is_reused_across_class_counts_without_crashing():
    # Before: the hand-made cache keyed on (P, M, d) only, so K = 6 reused K = 5's executable and
    # raised "Argument 'w' compiled with float64[5,5] and called with float64[6,5]".
    first = ufm.minimize(ufm.MixupUFM(5, dim=5, pairs=9))
    second_problem = ufm.MixupUFM(6, dim=5, pairs=9)
    second = ufm.minimize(second_problem)
    assert first.converged and second.converged
    assert ufm.check(second_problem, second).ok


SAME_SHAPE = [  # same K, M, d, P: only data differ (weight decay, lambdas, alpha, seed, scale)
    dict(weight_decay=1e-2, alpha=1.0, seed=0, scale=1.0),
    dict(weight_decay=3e-1, alpha=0.3, seed=5, scale=2.0),
]


@pytest.mark.parametrize("method", ["newton", "lbfgs", "adam", "gd"])
def test_same_shaped_solves_do_not_retrace(method):
    # Before: every call of lbfgs, adam and gd jitted a fresh closure (1-3 s of compilation each).
    counters = {"newton": (_newton.TRACES, "newton")}.get(method, (_joint.TRACES, "joint"))
    traces, key = counters
    kwargs = dict(max_steps=30) if method in ("adam", "gd") else {}
    ufm.minimize(ufm.MixupUFM(4, num_lambdas=3, dim=6, **SAME_SHAPE[0]), method=method, **kwargs)
    before = traces[key]
    solution = ufm.minimize(
        ufm.MixupUFM(4, num_lambdas=3, dim=6, **SAME_SHAPE[1]), method=method, tol=1e-9, max_steps=25
    )
    assert traces[key] == before, f"{method} retraced for a problem of the same shape"
    assert solution.compile_seconds < 0.5  # a cache hit (a compilation takes seconds)


def test_learning_rate_is_data_not_part_of_the_program():
    problem = ufm.MixupUFM(3, num_lambdas=2, dim=5)
    ufm.minimize(problem, method="gd", max_steps=5)
    before = _joint.TRACES["joint"]
    ufm.minimize(problem, method="gd", learning_rate=0.01, max_steps=5)
    ufm.minimize(problem, method=ufm.Adam(learning_rate=0.3), max_steps=5)
    ufm.minimize(problem, method=ufm.Adam(learning_rate=0.01), max_steps=5)
    assert _joint.TRACES["joint"] == before + 1  # adam is another program; its rate is not


def test_a_new_shape_does_trace_again():
    # The negative control of the trace counter: it does count.
    before = _newton.TRACES["newton"]
    ufm.minimize(ufm.MixupUFM(3, num_lambdas=2, dim=11))
    ufm.minimize(ufm.MixupUFM(3, num_lambdas=2, dim=12))
    assert _newton.TRACES["newton"] >= before + 2


def test_exact_optimum_compiles_a_bounded_number_of_times():
    # Before: the root finders compiled once per number of mixing coefficients, so the figure
    # scripts kept their own copy of optimal_features to avoid recompiling.
    ufm.optimal_features(ufm.MixupUFM(3, num_lambdas=2))
    before = dict(analytic.TRACES)
    for m in (1, 3, 7, 20, 33, 64):
        for k in (2, 5, 9):
            ufm.optimal_features(ufm.MixupUFM(k, num_lambdas=m, weight_decay=0.1 * m))
    assert dict(analytic.TRACES) == before


# ----------------------------------------------------------------------------- the check


def test_check_is_meaningful_at_a_zero_optimum():
    # Before: K = 2, lambda = 1/2 has h* = 0 exactly; a converged solve from a random start was
    # reported with a relative error of 1e294 and the check failed.
    problem = ufm.MixupUFM(2, lambdas=[0.5, 0.2, 0.5], dim=4)
    init = np.random.default_rng(0).normal(size=problem.feature_shape)
    solution = ufm.minimize(problem, init=init)
    assert solution.converged
    report = ufm.check(problem, solution)
    assert report.ok, report.reasons
    assert report.comparison.atol == pytest.approx(solution.tol / problem.weight_decay)
    assert "tol/mu" in report.atol_rule
    assert np.isfinite(report.comparison.max_rel_error)  # over samples whose optimum is not zero


def test_check_fails_a_wrong_answer_at_a_zero_optimum():
    # Negative control: at h* = 0 the numeric feature must be within atol of zero.
    problem = ufm.MixupUFM(2, lambdas=[0.5], dim=2)
    exact = np.asarray(ufm.optimal_features(problem))
    assert np.all(exact[0, 1] == 0.0)
    wrong = exact.copy()
    wrong[0, 1, 0, 0] = 1e-3
    report = ufm.check(problem, wrong)
    assert not report.ok and not report.comparison.passed
    assert report.comparison.worst_index == (0, 1, 0)


def test_check_cannot_be_made_vacuous_by_weak_decay():
    # tol/mu grows without bound as mu -> 0; the check caps atol at rtol * max ||h*||.
    problem = ufm.MixupUFM(3, lambdas=[0.3, 0.5], weight_decay=1e-9)
    exact = np.asarray(ufm.optimal_features(problem))
    report = ufm.check(problem, 1.01 * exact, tol=1e-6)
    assert report.comparison.atol < 1e-6 * np.linalg.norm(exact, axis=-1).max() * 1.0001
    assert "max ||h*||" in report.atol_rule
    assert not report.comparison.passed


def test_check_reports_like_the_pieces_it_is_made_of():
    problem = ufm.MixupUFM(4, num_lambdas=5, weight_decay=0.05, dim=6)
    solution = ufm.minimize(problem)
    report = ufm.check(problem, solution, keep_exact=True)
    exact = ufm.optimal_features(problem)
    np.testing.assert_array_equal(report.exact, exact)
    direct = ufm.compare_features(solution.features, exact, problem.lambdas, rtol=report.comparison.rtol,
                                  atol=report.comparison.atol)
    assert direct.max_rel_error == report.comparison.max_rel_error
    assert direct.worst_index == report.comparison.worst_index
    assert report.objective_exact == pytest.approx(float(problem.objective(exact)), rel=1e-15)
    assert report.geometry == ufm.feature_geometry(solution.features, problem.classifier, problem.lambdas)
    record = report.to_dict()
    assert record["ok"] is True and record["status"] == "converged" and record["problem"] == problem.config()


# ----------------------------------------------------------------------------- pure data


def test_replace_redraws_or_keeps_never_goes_stale():
    # Before: dataclasses.replace(problem, seed=1) kept the old draw and config() then claimed the
    # lambdas were given.
    problem = ufm.MixupUFM(4, num_lambdas=6, seed=0)
    with pytest.raises(TypeError):
        dataclasses.replace(problem, seed=1)
    redrawn = problem.replace(seed=1)
    np.testing.assert_array_equal(redrawn.lambdas, ufm.MixupUFM(4, num_lambdas=6, seed=1).lambdas)
    assert not np.array_equal(redrawn.lambdas, problem.lambdas)
    assert redrawn.config()["lambdas"] is None and redrawn.lambda_source == "drawn"
    np.testing.assert_array_equal(problem.replace(weight_decay=0.5).lambdas, problem.lambdas)
    np.testing.assert_array_equal(problem.replace(alpha=3.0).lambdas, ufm.MixupUFM(4, num_lambdas=6, alpha=3.0).lambdas)
    given = ufm.MixupUFM(4, lambdas=[0.1, 0.9])
    np.testing.assert_array_equal(given.replace(seed=7, alpha=2.0).lambdas, [0.1, 0.9])
    assert given.replace(num_lambdas=3).lambda_source == "drawn"  # switching source drops the other
    assert problem.replace(lambdas=[0.5]).num_lambdas == 1
    assert problem.replace(num_classes=7).dim == 7  # an unset dim follows K
    assert copy.replace(problem, seed=1) == redrawn if hasattr(copy, "replace") else True


def test_problem_is_immutable_hashable_and_round_trips():
    problem = ufm.MixupUFM(5, alpha=0.4, num_lambdas=3, seed=2, pairs=9, dim=7, scale=1.5)
    with pytest.raises(AttributeError, match="immutable"):
        problem.seed = 3
    assert problem == ufm.MixupUFM(5, alpha=0.4, num_lambdas=3, seed=2, pairs=9, dim=7, scale=1.5)
    assert problem != problem.replace(weight_decay=0.2)
    assert len({problem, ufm.MixupUFM.from_config(problem.config()), pickle.loads(pickle.dumps(problem))}) == 1
    assert ufm.MixupUFM(**problem.spec()) == problem
    assert "pairs=9" in repr(problem)


def test_float32_problem_evaluates_in_float32():
    # Before: a float32 problem evaluated float64 features in float64.
    problem = ufm.MixupUFM(3, num_lambdas=2, dtype="float32", weight_decay=0.1)
    h64 = np.random.default_rng(1).normal(size=problem.feature_shape)
    value = problem.objective(h64)
    assert value.dtype == jnp.float32
    assert float(value) == float(problem.objective(h64.astype(np.float32)))
    assert problem.per_sample_gradient(h64).dtype == jnp.float32


# ----------------------------------------------------------------------------- status and solvers


def test_status_is_a_typed_enum_with_messages():
    problem = ufm.MixupUFM(3, num_lambdas=2)
    done = ufm.minimize(problem)
    capped = ufm.minimize(problem, method="gd", max_steps=2)
    assert done.status is ufm.RESULTS.converged and done.converged
    assert capped.status is ufm.RESULTS.max_steps and not capped.converged
    assert capped.status == "max_steps"  # a str enum: JSON records keep the plain name
    assert capped.message == ufm.RESULTS.max_steps.message
    assert done.sample_outcomes == {"converged": 18, "max_steps": 0, "stalled": 0,
                                    "line_search_failed": 0, "nonfinite": 0}
    assert capped.sample_outcomes is None


def test_throw_raises_with_the_solution_attached():
    problem = ufm.MixupUFM(3, num_lambdas=2)
    with pytest.raises(ufm.ConvergenceError, match="max_steps") as err:
        ufm.minimize(problem, method="gd", max_steps=2, throw=True)
    assert err.value.solution.num_steps == 2
    assert ufm.minimize(problem, throw=True).converged


def test_newton_reports_samples_whose_line_search_failed(monkeypatch):
    # With no trials after the full step, any sample whose full Newton step has no sufficient
    # decrease has a failed line search: it must be reported (and left where it was), not moved silently.
    import jax

    monkeypatch.setattr(_newton, "_MAX_TRIALS", 0)
    jax.clear_caches()  # the constant is read when the loop is traced
    try:
        problem = ufm.MixupUFM(4, num_lambdas=2, dim=4)
        init = 50.0 * np.random.default_rng(0).normal(size=problem.feature_shape)
        solution = ufm.minimize(problem, init=init)
    finally:
        monkeypatch.undo()
        jax.clear_caches()
    assert solution.sample_outcomes["line_search_failed"] > 0
    assert solution.status is ufm.RESULTS.line_search_failed
    assert "line search" in solution.message


def test_solver_objects_and_names_are_interchangeable():
    problem = ufm.MixupUFM(3, num_lambdas=3, weight_decay=0.1)
    by_name = ufm.minimize(problem, method="lbfgs", tol=1e-11)
    by_object = ufm.minimize(problem, ufm.LBFGS(tol=1e-11))
    np.testing.assert_array_equal(by_name.features, by_object.features)
    assert ufm.minimize(problem, ufm.Newton(max_steps=1)).num_steps == 1
    assert ufm.minimize(problem, ufm.Newton(max_steps=1), max_steps=3).num_steps > 1  # override
    assert set(ufm.SOLVERS) == set(ufm.METHODS)


def test_any_optax_transformation_and_it_compiles_once():
    problem = ufm.MixupUFM(3, num_lambdas=3, weight_decay=0.1)
    solver = ufm.Optax(optax.chain(optax.scale_by_adam(), optax.scale(-0.05)), max_steps=3000, tol=1e-8,
                       label="adam-by-hand")
    solution = ufm.minimize(problem, solver)
    assert solution.converged and solution.method == "adam-by-hand"
    assert ufm.check(problem, solution, rtol=1e-6).ok
    before = _joint.TRACES["joint"]
    ufm.minimize(problem.replace(weight_decay=0.3), solver)
    assert _joint.TRACES["joint"] == before
    line_search = ufm.minimize(problem, ufm.Optax(optax.lbfgs(), max_steps=500), tol=1e-10)
    assert line_search.converged


def test_generic_methods_refuse_devices_instead_of_ignoring_them():
    import jax

    with pytest.raises(ValueError, match="devices applies to the newton solver only"):
        ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), method="lbfgs", devices=jax.devices()[:1])


# ----------------------------------------------------------------------------- random starts


@pytest.mark.parametrize("method, tol, max_steps", [("lbfgs", 1e-10, 2000), ("adam", 1e-6, 20000), ("gd", 1e-9, 20000)])
def test_generic_methods_from_a_random_start_outside_the_classifier_span(method, tol, max_steps):
    # d > K: the start has a component outside the row space of W, which must decay to zero.
    problem = ufm.MixupUFM(3, lambdas=[0.0, 0.3, 0.5], dim=6, weight_decay=0.2)
    init = 2.0 * np.random.default_rng(3).normal(size=problem.feature_shape)
    w = np.asarray(problem.classifier)
    outside = init - (init @ np.linalg.pinv(w)) @ w
    assert np.linalg.norm(outside, axis=-1).min() > 0.5
    solution = ufm.minimize(problem, method=method, init=init, tol=tol, max_steps=max_steps,
                            **({"learning_rate": 0.02} if method == "adam" else {}))
    assert solution.converged, solution.message
    # Strong convexity: a per-sample gradient norm <= tol puts every feature within tol/mu of the
    # optimum; that is the whole guarantee at adam's looser tol, so it is the test's atol.
    report = ufm.check(problem, solution, atol=tol / problem.weight_decay)
    assert report.ok, report.reasons
    assert report.geometry["max_outside_pair_span"] <= tol / problem.weight_decay


# ----------------------------------------------------------------------------- public API only


def _private_uses(path: Path) -> list[str]:
    """Names of ``ufm``'s private modules or attributes a file uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and re.match(r"ufm(\.|$)", node.module):
            if node.module.startswith("ufm._") or any(a.name.startswith("_") for a in node.names):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id == "ufm":
                found.append(f"ufm.{node.attr}")
    return found


@pytest.mark.parametrize(
    "path",
    [ROOT / "ufm" / "solve.py", ROOT / "ufm" / "analyze.py", *sorted((ROOT / "experiments").rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_cli_figures_and_benchmarks_use_only_the_public_api(path):
    assert _private_uses(path) == []


def test_private_use_detector_can_fail(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import ufm\nfrom ufm._minimize import DEFAULT_TOL\nufm._io.write\n")
    assert len(_private_uses(sample)) == 2


# ----------------------------------------------------------------------------- dependency floors


def test_declared_floors_are_the_versions_ci_installs_and_tests():
    """Every `>=` floor in pyproject.toml is pinned in .ci/floors.txt, which .ci/run installs for a
    smoke run of the tests: a floor that was never installed cannot stay in the pyproject."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {}
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"],
                        *project["optional-dependencies"]["experiments"]]:
        name, _, version = requirement.partition(">=")
        declared[name.strip().lower()] = version.strip()
    pinned = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pinned[name.strip().lower()] = version.strip()
    assert pinned.pop("jaxlib") == pinned["jax"]  # jax needs the jaxlib of its own version
    for name, version in declared.items():
        assert name in pinned, f"{name} has a floor in pyproject.toml but is not installed at it in .ci/floors.txt"
        assert tuple(map(int, pinned[name].split("."))) >= tuple(map(int, version.split("."))), name
        assert pinned[name].startswith(version), f"{name}: pyproject floor {version}, CI tests {pinned[name]}"
    assert "pytest" in (ROOT / ".ci" / "run").read_text() and "floors.txt" in (ROOT / ".ci" / "run").read_text()
