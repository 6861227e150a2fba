"""Pair subsampling (``pairs=P``): the kept pairs, the ``(P, M, d)`` layout, solves and reporting.

The oracle throughout is the full model: samples are independent, so a subsampled problem must
give exactly the full model's per-sample values, gradients and optimum at the kept pairs.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ufm
from ufm import analytic
from ufm._problem import draw_pairs
from ufm.solve import main


def _rows(pairs: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in row) for row in pairs]


@pytest.mark.parametrize(
    ("k", "count", "seed"), [(2, 2, 0), (2, 3, 1), (3, 9, 0), (5, 5, 3), (10, 37, 7), (40, 100, 2)]
)
def test_kept_pairs(k, count, seed):
    problem = ufm.MixupUFM(k, num_lambdas=3, pairs=count, seed=seed)
    pairs = problem.pair_index
    rows = _rows(pairs)
    assert pairs.shape == (count, 2) and pairs.dtype == np.int32
    assert not pairs.flags.writeable
    assert ((pairs >= 0) & (pairs < k)).all()
    assert len(set(rows)) == count  # drawn without replacement
    assert {(c, c) for c in range(k)} <= set(rows)  # every same-class pair is kept
    assert rows == sorted(rows)  # documented order: lexicographic
    assert problem.num_pairs == count and problem.num_samples == count * 3
    assert problem.feature_shape == (count, 3, k)
    # The pair draw has its own stream: the lambdas are those of the full problem.
    np.testing.assert_array_equal(problem.lambdas, ufm.MixupUFM(k, num_lambdas=3, seed=seed).lambdas)
    np.testing.assert_array_equal(pairs, ufm.MixupUFM(k, num_lambdas=3, pairs=count, seed=seed).pair_index)
    if count == k * k:  # every pair, in the row-major order of the full layout
        assert rows == [(c, c2) for c in range(k) for c2 in range(k)]


def test_full_layout_pair_index_is_row_major():
    problem = ufm.MixupUFM(3, num_lambdas=2)
    assert problem.pairs is None and problem.num_pairs == 9 and problem.feature_shape == (3, 3, 2, 3)
    assert _rows(problem.pair_index) == [(c, c2) for c in range(3) for c2 in range(3)]


def test_seeds_draw_different_pairs():
    draws = {tuple(map(tuple, draw_pairs(10, 30, seed))) for seed in range(5)}
    assert len(draws) == 5


def test_different_class_pairs_are_drawn_uniformly():
    # K = 4, P = 8: each of the 12 different-class pairs is kept with probability 4/12.
    k, count, trials = 4, 8, 3000
    hits = np.zeros((k, k))
    for seed in range(trials):
        pairs = draw_pairs(k, count, seed)
        hits[pairs[:, 0], pairs[:, 1]] += 1
    np.testing.assert_array_equal(np.diag(hits), trials)
    off = hits[~np.eye(k, dtype=bool)]
    p = (count - k) / (k * (k - 1))
    sigma = np.sqrt(trials * p * (1 - p))
    assert np.abs(off - trials * p).max() < 5 * sigma, off  # a biased draw fails by far more


def _full_and_subsampled(k=4, count=9, m=5, mu=0.03, seed=1):
    full = ufm.MixupUFM(k, num_lambdas=m, weight_decay=mu, seed=seed, alpha=0.6)
    sub = ufm.MixupUFM(k, num_lambdas=m, weight_decay=mu, seed=seed, alpha=0.6, pairs=count)
    return full, sub


def test_objective_and_gradient_equal_the_full_model_at_kept_samples():
    full, sub = _full_and_subsampled()
    first, second = sub.pair_index[:, 0], sub.pair_index[:, 1]
    h_full = np.random.default_rng(0).normal(size=full.feature_shape)
    h_sub = h_full[first, second]  # (P, M, d)
    w, lam, mu = full.classifier, jnp.asarray(full.lambdas), full.weight_decay
    per_sample = np.asarray(ufm.per_sample_objective(jnp.asarray(h_full), w, lam, mu))[first, second]
    np.testing.assert_allclose(
        ufm.per_sample_objective(jnp.asarray(h_sub), w, lam, mu, sub.pair_index), per_sample, rtol=1e-14
    )
    np.testing.assert_allclose(float(sub.objective(h_sub)), per_sample.mean(), rtol=1e-14)
    np.testing.assert_allclose(
        sub.per_sample_gradient(h_sub), np.asarray(full.per_sample_gradient(h_full))[first, second],
        rtol=1e-12, atol=1e-14,
    )


def test_optimal_features_equal_the_full_model_at_kept_pairs():
    full, sub = _full_and_subsampled()
    first, second = sub.pair_index[:, 0], sub.pair_index[:, 1]
    exact = np.asarray(ufm.optimal_features(sub))
    assert exact.shape == sub.feature_shape
    np.testing.assert_allclose(exact, np.asarray(ufm.optimal_features(full))[first, second], rtol=1e-14, atol=0)
    np.testing.assert_allclose(
        analytic.mse_optimal_features(sub), np.asarray(analytic.mse_optimal_features(full))[first, second],
        rtol=1e-14, atol=0,
    )
    # ... and it is stationary for the subsampled objective itself.
    assert float(jnp.abs(sub.per_sample_gradient(exact)).max()) < 1e-11


@pytest.mark.parametrize("method", ["newton", "lbfgs"])
@pytest.mark.parametrize(("k", "count", "mu"), [(3, 5, 1e-2), (6, 14, 1e-3), (8, 8, 0.1)])
def test_minimize_with_pairs_matches_the_exact_optimum(method, k, count, mu):
    problem = ufm.MixupUFM(k, num_lambdas=6, weight_decay=mu, pairs=count, seed=k)
    solution = ufm.minimize(problem, method=method)
    assert solution.converged, solution.message
    assert solution.features.shape == problem.feature_shape
    comparison = ufm.compare_features(solution.features, ufm.optimal_features(problem), problem.lambdas,
                                      problem.pair_index)
    assert comparison.max_rel_error <= 1e-8
    c, c2, m = comparison.worst_index
    assert (c, c2) in set(_rows(problem.pair_index)) and 0 <= m < 6
    assert comparison.worst_lambda == problem.lambdas[m]


def test_large_k_with_few_pairs():
    # K = 300 in d = K - 1: 90000 ordered pairs in the full model, 400 kept here.
    problem = ufm.MixupUFM(300, dim=299, num_lambdas=4, pairs=400, seed=3)
    solution = ufm.minimize(problem)
    assert solution.converged, solution.message
    exact = ufm.optimal_features(problem)
    assert ufm.compare_features(solution.features, exact, problem.lambdas, problem.pair_index).max_rel_error <= 1e-8
    geometry = ufm.feature_geometry(solution.features, problem.classifier, problem.lambdas, problem.pair_index)
    assert geometry["same_class_norm_spread"] < 1e-9
    assert geometry["max_outside_pair_span"] < 1e-9


def test_all_pairs_subsampled_layout_reports_like_the_full_layout():
    k, m = 4, 5
    full = ufm.MixupUFM(k, num_lambdas=m)
    every = ufm.MixupUFM(k, num_lambdas=m, pairs=k * k)
    h = np.asarray(ufm.optimal_features(full)) + 1e-6 * np.random.default_rng(1).normal(size=full.feature_shape)
    exact = np.asarray(ufm.optimal_features(full))
    h_pairs, exact_pairs = h.reshape(k * k, m, k), exact.reshape(k * k, m, k)
    assert ufm.feature_geometry(h, full.classifier, full.lambdas) == ufm.feature_geometry(
        h_pairs, every.classifier, every.lambdas, every.pair_index
    )
    a = ufm.compare_features(h, exact, full.lambdas)
    b = ufm.compare_features(h_pairs, exact_pairs, every.lambdas, every.pair_index)
    assert a.worst_index == b.worst_index and a.max_rel_error == b.max_rel_error
    np.testing.assert_array_equal(a.rel_errors.reshape(k * k, m), b.rel_errors)


def test_subsampled_objective_under_jit_and_vmap():
    _, sub = _full_and_subsampled()
    exact = jnp.asarray(ufm.optimal_features(sub))
    w, lam, pairs = sub.classifier, jnp.asarray(sub.lambdas), jnp.asarray(sub.pair_index)
    decays = jnp.asarray([0.01, 0.03, 0.1])
    values = jax.jit(jax.vmap(lambda mu: ufm.mixup_objective(exact, w, lam, mu, pairs)))(decays)
    for mu, value in zip(decays, values):
        one = ufm.MixupUFM(4, num_lambdas=5, weight_decay=float(mu), seed=1, alpha=0.6, pairs=9)
        np.testing.assert_allclose(value, one.objective(exact), rtol=1e-14)


def test_cli_with_pairs_writes_the_pair_layout(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["--classes", "5", "--pairs", "9", "--lambdas", "4", "--out", str(out), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ok"] and result["settings"]["pairs"] == 9
    arrays = np.load(out / "arrays.npz")
    assert arrays["features"].shape == (9, 4, 5) and arrays["analytic_features"].shape == (9, 4, 5)
    problem = ufm.MixupUFM(5, num_lambdas=4, pairs=9)
    np.testing.assert_array_equal(arrays["pair_index"], problem.pair_index)
    comparison = ufm.compare_features(arrays["features"], arrays["analytic_features"], arrays["lambdas"],
                                      arrays["pair_index"])
    assert comparison.max_rel_error == pytest.approx(result["max_rel_error"], rel=1e-12)
    assert json.loads((out / "config.json").read_text())["pairs"] == 9
