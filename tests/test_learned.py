"""A learned classifier: closed form, profile optimum, certified reference, random starts, weights.

Every solve here has K = 3 and one mixing coefficient (N = 9 samples), so that the compiled loops
are shared between tests. Oracles: the sympy closed form of derivations/d10_learned_classifier.py,
the profile optimum built from the exact fixed-ETF optimum (ufm.optimal_features), the convex
reformulation with its duality-gap certificate (ufm.learned_optimum), and NumPy re-implementations.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import ufm
from ufm import _convex, _learned

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `experiments` and `derivations` are folders of the repository
    sys.path.insert(0, str(ROOT))

from derivations import d10_learned_classifier as d10  # noqa: E402
from experiments import learned_classifier as experiment  # noqa: E402

K = 3
IMBALANCED = [0.6, 0.3, 0.1]


def problem(lambdas=(0.3,), mu=0.05, decay=0.01, weights=None, **kwargs) -> ufm.MixupUFM:
    return ufm.MixupUFM(K, lambdas=list(lambdas), weight_decay=mu, classifier_decay=decay, class_weights=weights,
                        **kwargs)


def closed_form(mu: float, decay: float) -> dict[str, float]:
    symbols = d10.symbols()
    at = {symbols["K"]: K, symbols["mu"]: sp.Float(mu, 40), symbols["lambda_W"]: sp.Float(decay, 40)}
    return {name: float(sp.N(expr.subs(at), 30)) for name, expr in d10.closed_forms().items()}


def numpy_objective(prob: ufm.MixupUFM, w, features) -> float:
    """F(W, H) from its definition: sum over pairs and lambdas of pi_c pi_c2 / M [CE mix + mu/2 |h|^2]."""
    w = np.asarray(w, dtype=np.float64)
    h = np.asarray(features, dtype=np.float64)  # (K, K, M, d)
    pi = prob.class_weights
    total = 0.0
    for c in range(K):
        for c2 in range(K):
            for m, lam in enumerate(prob.lambdas):
                z = w @ h[c, c2, m]
                lse = np.log(np.sum(np.exp(z - z.max()))) + z.max()
                decay = 0.5 * prob.weight_decay * h[c, c2, m] @ h[c, c2, m]
                loss = lam * (lse - z[c]) + (1 - lam) * (lse - z[c2]) + decay
                total += pi[c] * pi[c2] / prob.num_lambdas * loss
    return total + 0.5 * prob.classifier_decay * np.sum(w * w)


# ----------------------------------------------------------------------------- no mixup: closed form


@pytest.mark.parametrize("mu, decay", [(0.05, 0.01), (1e-3, 1e-4), (0.7, 0.5)])
def test_no_mixup_optimum_is_the_derived_closed_form(mu, decay):
    prob = problem(lambdas=(1.0,), mu=mu, decay=decay)
    collapsed = mu * decay >= 1 / K  # W = 0, H = 0, F = log K (Result 10.2)
    expected = None if collapsed else closed_form(mu, decay)
    for method in ("newton",):  # L-BFGS reaches the same optimum (test_random_starts_...)
        solution = ufm.minimize(prob, method, init=1)
        assert solution.converged, (method, solution.message)
        w = np.asarray(solution.classifier)
        if collapsed:
            assert abs(solution.objective - math.log(K)) <= 1e-12
            assert np.abs(w).max() <= 1e-8
            continue
        assert abs(solution.objective - expected["objective"]) <= 1e-8
        np.testing.assert_allclose(np.sum(w * w, axis=-1), expected["row_norm_sq"], rtol=1e-6)
        np.testing.assert_allclose(np.sum(np.asarray(solution.features) ** 2, axis=-1), expected["feature_norm_sq"],
                                   rtol=1e-6)
        # Features of class c are parallel to w_c (c is the first index of every pair when lambda = 1).
        h = np.asarray(solution.features)[:, :, 0]
        cos = np.einsum("cjd,cd->cj", h, w) / (np.linalg.norm(h, axis=-1) * np.linalg.norm(w, axis=-1)[:, None])
        assert np.abs(cos - 1).max() <= 1e-8
        assert ufm.metrics.etf_error(w) <= 1e-7
        # Negative control: the closed form of a lambda_W larger by 0.01 % is told apart.
        wrong = closed_form(mu, decay * (1 + 1e-4))
        assert abs(solution.objective - wrong["objective"]) > 1e-8


# ----------------------------------------------------------------------------- balanced mixup: profile


def test_balanced_mixup_optimum_is_the_fixed_etf_optimum_at_the_profile_norm():
    prob = problem()
    profile, scale = experiment.profile_optimum(prob)
    solution = ufm.minimize(prob, "newton", init=2)
    assert solution.converged
    w = np.asarray(solution.classifier)
    assert abs(solution.objective - profile) <= 1e-12
    assert ufm.metrics.etf_error(w) <= 1e-7
    np.testing.assert_allclose(np.linalg.norm(w, axis=-1), scale, rtol=1e-6)
    # Features: the exact fixed-ETF optimum at that norm, once the learned W is rotated onto the ETF.
    fixed = ufm.MixupUFM(K, lambdas=[0.3], weight_decay=0.05, scale=scale)
    u, _, vt = np.linalg.svd(w.T @ np.asarray(fixed.classifier))
    h = np.asarray(solution.features) @ (u @ vt)
    np.testing.assert_allclose(h, np.asarray(ufm.optimal_features(fixed)), rtol=0, atol=1e-6 * np.abs(h).max())
    # Negative control: with imbalanced classes no ETF is optimal, and the comparison says so.
    skewed = problem(weights=IMBALANCED)
    profile_skewed, _ = experiment.profile_optimum(skewed)
    learned = ufm.minimize(skewed, "newton")
    assert profile_skewed - learned.objective > 1e-4
    assert ufm.metrics.etf_error(learned.classifier) > 1e-2


# ----------------------------------------------------------------------------- the certified reference


def test_random_starts_reach_the_certified_optimum_and_compile_once():
    prob = problem(weights=IMBALANCED)
    reference = ufm.learned_optimum(prob)
    assert reference.duality_gap <= 1e-12 and reference.rank == K - 1
    # The reference's objective is F at its own (W, H), recomputed independently.
    assert reference.objective == pytest.approx(numpy_objective(prob, reference.classifier, reference.features),
                                                abs=1e-14)
    # The dual bound is a lower bound at any point, and not a vacuous one away from the optimum.
    y, weights = _learned.learned_targets(prob)
    tau = np.sqrt(prob.weight_decay * prob.classifier_decay)
    rng = np.random.default_rng(0)
    for _ in range(3):
        zt = np.sqrt(weights)[:, None] * (rng.normal(size=(y.shape[0], K)) @ rng.normal(size=(K, K)).T)
        primal, dual = _convex.duality_gap(jnp.asarray(zt), jnp.asarray(y), jnp.asarray(weights), jnp.asarray(tau))
        assert float(dual) <= reference.objective + 1e-14 <= float(primal) + 1e-14
        assert float(primal) - float(dual) > 1e-3
    gram = reference.gram
    for method, seeds in (("lbfgs", (0, 1, 2, 3)), ("newton", (0, 5))):
        for seed in seeds:
            solution = ufm.minimize(prob, method, init=seed)
            assert solution.converged, (method, seed)
            if method == "newton":  # quadratic convergence (a wrong Hessian of the reduced objective is slow)
                assert solution.num_steps <= 15, solution.num_steps
            assert abs(solution.objective - reference.objective) <= 1e-12, (method, seed)
            w = np.asarray(solution.classifier)
            assert np.linalg.norm(w @ w.T - gram) <= 1e-7 * np.linalg.norm(gram), (method, seed)
            assert ufm.check(prob, solution).ok
    # Compile once: decays, class weights, tolerance and caps are data of the compiled loops.
    before = dict(_learned.TRACES)
    for weights_, mu, decay in ((None, 0.02, 0.003), ([0.2, 0.2, 0.6], 0.1, 0.05)):
        for method in ("newton", "lbfgs"):
            solution = ufm.minimize(problem(weights=weights_, mu=mu, decay=decay), method, tol=1e-9, max_steps=300)
            assert solution.compile_seconds < 0.5
    assert dict(_learned.TRACES) == before


def test_check_compares_learned_solves_with_the_reference_and_fails_wrong_answers():
    prob = problem(weights=IMBALANCED)
    solution = ufm.minimize(prob, "newton")
    report = ufm.check(prob, solution, keep_exact=True)
    assert isinstance(report, ufm.LearnedReport) and report.ok, report.reasons
    assert report.comparison.max_rel_error <= 1e-8 and report.classifier_rel_error <= 1e-8
    assert "learned classifier" in report.text()
    record = report.to_dict()
    assert record["reference"]["duality_gap"] <= 1e-12 and record["ok"]
    # Rotating the solution changes nothing (the optimum is an orbit).
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(K, K)))
    rotated = ufm.check(prob, solution.features @ q, classifier=solution.classifier @ q)
    assert rotated.ok and rotated.comparison.max_rel_error <= 1e-8
    # Negative controls: a classifier 1e-4 too long, a fixed-ETF answer, features of another problem.
    wrong = ufm.check(prob, solution.features, classifier=solution.classifier * (1 + 1e-4))
    assert not wrong.ok and any(r.startswith("classifier error") for r in wrong.reasons)
    etf = ufm.check(prob, np.asarray(solution.features), classifier=ufm.simplex_etf(K) * 2.5)
    assert not etf.ok
    other = ufm.minimize(problem(weights=[0.1, 0.3, 0.6]), "newton")
    assert not ufm.check(prob, other.features, classifier=other.classifier).ok


def test_check_never_compares_a_learned_solve_with_the_fixed_etf_optimum():
    learned = ufm.minimize(problem(), "newton")
    fixed = ufm.MixupUFM(K, lambdas=[0.3], weight_decay=0.05)
    with pytest.raises(ValueError, match="not this problem's fixed simplex ETF"):
        ufm.check(fixed, learned)
    with pytest.raises(ValueError, match="pass classifier= with the features"):
        ufm.check(problem(), learned.features)
    with pytest.raises(ValueError, match="classifier applies to problems with a learned classifier"):
        ufm.check(fixed, learned.features, classifier=learned.classifier)


# ----------------------------------------------------------------------------- class weights


def test_class_weights_weight_pairs_and_do_not_move_the_fixed_etf_optimum():
    pi = np.array(IMBALANCED)
    prob = ufm.MixupUFM(K, lambdas=[0.3], weight_decay=0.05, class_weights=pi)
    np.testing.assert_allclose(prob.pair_weights, np.outer(pi, pi).reshape(-1), rtol=1e-15)
    sub = ufm.MixupUFM(K, lambdas=[0.3], class_weights=pi, pairs=5)
    kept = pi[sub.pair_index[:, 0]] * pi[sub.pair_index[:, 1]]
    np.testing.assert_allclose(sub.pair_weights, kept / kept.sum(), rtol=1e-15)
    # Fixed ETF: the exact optimum (which knows nothing of pi) is stationary for the pi-weighted
    # objective (weights multiply loss and decay alike), and the check accepts it.
    exact = ufm.optimal_features(prob)
    grad = jax.grad(lambda h: prob.objective(h))(exact)
    assert float(jnp.max(jnp.abs(grad))) <= 1e-12
    perturbed = exact.at[0, 1, 0, 0].add(1e-3)  # negative control: the gradient does see a change
    assert float(jnp.max(jnp.abs(jax.grad(lambda h: prob.objective(h))(perturbed)))) > 1e-6
    assert ufm.check(prob, exact).ok
    # With a learned classifier the optimum depends on pi: the balanced optimum is an ETF, the
    # imbalanced one is not (test_balanced_mixup_optimum_is_the_fixed_etf_optimum_at_the_profile_norm).


def test_learned_objective_matches_its_definition_and_needs_the_classifier():
    prob = problem(lambdas=(0.3,), weights=IMBALANCED)
    rng = np.random.default_rng(4)
    w, h = rng.normal(size=(K, K)), rng.normal(size=prob.feature_shape)
    assert float(prob.objective(h, classifier=w)) == pytest.approx(numpy_objective(prob, w, h), rel=1e-13)
    with pytest.raises(ValueError, match="pass classifier= too"):
        prob.objective(h)
    with pytest.raises(ValueError, match=r"classifier must have shape \(3, 3\)"):
        prob.objective(h, classifier=w[:2])
    with pytest.raises(ValueError, match="this problem's classifier is the fixed simplex ETF"):
        ufm.MixupUFM(K).objective(ufm.MixupUFM(K).zeros(), classifier=w)
    with pytest.raises(AttributeError, match="use solution.classifier"):
        _ = prob.classifier


# ----------------------------------------------------------------------------- solvers


def test_float32_solve_passes_its_documented_tolerance():
    # float32: tol 1e-5 and check tolerance 1e-3 (docs/learned.md); the reference stays float64.
    # Here the float32 objective rounds 2e-8 below the certified float64 bound: the check must allow it.
    prob = problem(lambdas=(0.5,), weights=IMBALANCED, dtype="float32")
    solution = ufm.minimize(prob, "newton")
    assert solution.converged and solution.classifier.dtype == jnp.float32
    report = ufm.check(prob, solution)
    assert report.ok, report.reasons
    assert report.comparison.rtol == 1e-3 and report.comparison.max_rel_error <= 1e-3


def test_unsupported_options_are_refused():
    prob = problem()
    with pytest.raises(ValueError, match="devices applies to the fixed-classifier newton solver only"):
        ufm.minimize(prob, devices=jax.devices()[:1])
    with pytest.raises(ValueError, match="record is not available"):
        ufm.minimize(prob, record=lambda h: jnp.sum(h))
    with pytest.raises(ValueError, match="gd needs an explicit learning_rate"):
        ufm.minimize(prob, "gd")
    with pytest.raises(TypeError, match="init for a learned classifier"):
        ufm.minimize(prob, init="zeros")
    with pytest.raises(ValueError, match="init must be >= 0"):
        ufm.minimize(prob, init=-1)
    with pytest.raises(ValueError, match="learned_optimum applies to problems with a learned classifier"):
        ufm.learned_optimum(ufm.MixupUFM(K))


# ----------------------------------------------------------------------------- bad input


POSITIVE = "class_weights must be finite and > 0 (every class present), got "
SEQUENCE = "class_weights must be a sequence of 3 real numbers, got "
FIXED_ONLY = " describes the fixed simplex-ETF classifier"
BAD = [
    (dict(classifier_decay=0), ValueError, "classifier_decay must be finite and > 0, got 0.0"),
    (dict(classifier_decay=-0.1), ValueError, "classifier_decay must be finite and > 0, got -0.1"),
    (dict(classifier_decay=math.nan), ValueError, "classifier_decay must be finite and > 0, got nan"),
    (dict(classifier_decay=math.inf), ValueError, "classifier_decay must be finite and > 0, got inf"),
    (dict(classifier_decay="x"), TypeError, "classifier_decay must be a real number, got 'x'"),
    (dict(class_weights=[0.5, 0.5]), ValueError, "class_weights must hold one weight per class (K = 3), got 2"),
    (dict(class_weights=[2, 1, 1]), ValueError,
     "class_weights must sum to 1 (a distribution over the classes), got sum 4.0"),
    (dict(class_weights=[0.0, 0.5, 0.5]), ValueError, POSITIVE + "0.0"),
    (dict(class_weights=[-0.2, 0.6, 0.6]), ValueError, POSITIVE + "-0.2"),
    (dict(class_weights=[math.nan, 0.5, 0.5]), ValueError, POSITIVE + "nan"),
    (dict(class_weights=[[0.2, 0.3, 0.5]]), ValueError,
     "class_weights must be 1-D (one weight per class), got shape (1, 3)"),
    (dict(class_weights="abc"), TypeError, SEQUENCE + "'abc'"),
    (dict(class_weights=["a", "b", "c"]), TypeError, SEQUENCE + "['a', 'b', 'c']"),
    (dict(classifier_decay=0.01, scale=2.0), ValueError, "scale" + FIXED_ONLY),
    (dict(classifier_decay=0.01, embedding_seed=1), ValueError, "embedding_seed" + FIXED_ONLY),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=[m[:45] for _, _, m in BAD])
def test_bad_input_is_refused_with_one_line(kwargs, error, message):
    with pytest.raises(error) as info:
        ufm.MixupUFM(K, **kwargs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_weights_within_rounding_are_renormalised():
    prob = ufm.MixupUFM(K, class_weights=[0.5, 0.3, 0.2 + 5e-10])  # within the 1e-9 accepted
    assert abs(prob.class_weights.sum() - 1.0) <= 4e-16 and abs(prob.pair_weights.sum() - 1.0) <= 4e-16
    assert ufm.MixupUFM.from_config(prob.config()) == prob and prob.replace(class_weights=None) != prob


# ----------------------------------------------------------------------------- command line, experiment


def test_cli_checks_a_learned_solve(capsys):
    from ufm.solve import main

    argv = ["--classes", "3", "--lambdas", "1", "--weight-decay", "0.05", "--classifier-decay", "0.01",
            "--class-weights", "0.6,0.3,0.1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "learned classifier" in out and "duality gap" in out and out.rstrip().endswith("OK")
    assert main([*argv, "--max-steps", "1"]) == 1  # not converged: the check fails, exit 1
    assert "CHECK FAILED" in capsys.readouterr().out


def test_cli_out_saves_the_learned_classifier_and_no_check_skips_the_reference(tmp_path, capsys):
    import json

    from ufm.solve import main

    argv = ["--classes", "3", "--lambdas", "2", "--weight-decay", "0.05", "--classifier-decay", "0.01"]
    assert main([*argv, "--out", str(tmp_path / "checked")]) == 0
    with np.load(tmp_path / "checked" / "arrays.npz") as saved:
        w, h, ref = saved["classifier"], saved["features"], saved["analytic_features"]
    problem = ufm.MixupUFM(3, num_lambdas=2, weight_decay=0.05, classifier_decay=0.01)
    # The saved classifier is the learned one (not an ETF of the fixed model), and the saved
    # reference is the certified optimum in the solution's frame: the features agree with it.
    assert ufm.metrics.etf_error(w) < 1e-6 and abs(np.linalg.norm(w, axis=1).mean() - 1.0) > 1e-3
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-6 * np.abs(ref).max())
    assert ufm.check(problem, h, classifier=w).ok
    capsys.readouterr()
    assert main([*argv, "--no-check", "--out", str(tmp_path / "unchecked")]) == 0
    assert "not compared" in capsys.readouterr().out
    with np.load(tmp_path / "unchecked" / "arrays.npz") as saved:
        assert "analytic_features" not in saved.files and saved["classifier"].shape == (3, 3)
    results = json.loads((tmp_path / "unchecked" / "results.json").read_text())
    assert results["compared"] is False and results["converged"] is True


def test_options_that_do_not_apply_to_a_learned_classifier_are_refused(capsys):
    from ufm.solve import main

    problem = ufm.MixupUFM(3, num_lambdas=2, weight_decay=0.05, classifier_decay=0.01)
    with pytest.raises(ValueError, match="final_check applies to the fixed classifier"):
        ufm.minimize(problem, final_check="autodiff")
    with pytest.raises(SystemExit) as exc:  # gd needs a learning rate, which the CLI does not take
        main(["--classes", "3", "--lambdas", "2", "--classifier-decay", "0.01", "--method", "gd"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "learning rate" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_experiment_quick_run_computes_saves_and_draws(tmp_path):
    import json

    out = tmp_path / "learned"
    record = experiment.run(out, quick=True, force=False, log=lambda *_: None)
    for name in experiment.DATA:
        info = json.loads((out / "data" / f"{name}.json").read_text())
        assert info["all_checks_ok"] and info["max_duality_gap"] <= 1e-10, name
    assert sorted(p.stem for p in (out / "png").glob("*.png")) == sorted(experiment.FIGURE_NAMES)
    assert sorted(p.stem for p in (out / "pdf").glob("*.pdf")) == sorted(experiment.FIGURE_NAMES)
    assert len(record["files"]) == 2 * len(experiment.FIGURE_NAMES)
    # The figures above were drawn from the saved data (run draws from out/data); --from does the
    # same without computing, and refuses a folder without data.
    assert experiment.main(["--from", str(tmp_path)]) == 2
