"""The final check of every solve (objective and largest per-sample gradient norm at the returned
features), by the direct formula and by autodiff, against an independent NumPy implementation;
and the Newton runner's chunks, which must not change a single bit."""

from __future__ import annotations

import numpy as np
import pytest

import ufm
from ufm import _final_check, _newton


def _numpy_values(problem, features):
    """Weighted objective and max per-sample gradient norm in NumPy float64, written out:
    g = W^T(softmax(Wh) - y) + mu h."""
    w = np.asarray(ufm.simplex_etf(problem.num_classes, problem.dim, problem.scale, seed=problem.embedding_seed))
    h = np.asarray(features, np.float64).reshape(problem.sample_shape)
    pairs, lam, mu = problem.pair_index, problem.lambdas, problem.weight_decay
    eye = np.eye(problem.num_classes)
    y = lam[None, :, None] * eye[pairs[:, 0]][:, None, :] + (1 - lam)[None, :, None] * eye[pairs[:, 1]][:, None, :]
    z = h @ w.T
    top = z.max(axis=-1, keepdims=True)
    lse = top[..., 0] + np.log(np.exp(z - top).sum(axis=-1))
    p = np.exp(z - lse[..., None])
    g = (p - y) @ w + mu * h
    values = lse - np.sum(y * z, axis=-1) + 0.5 * mu * np.sum(h * h, axis=-1)
    return float(np.sum(values * problem.sample_weights())), float(np.sqrt(np.max(np.sum(g * g, axis=-1))))


PROBLEMS = [
    dict(num_classes=2, num_lambdas=3, dim=3),
    dict(num_classes=5, num_lambdas=4, dim=7, pairs=9, seed=3, scale=1.7, embedding_seed=2, weight_decay=0.3),
]
# The shape of the command-line tests' problem: its programs are compiled once per test process.
SMALL = dict(num_classes=4, num_lambdas=5, alpha=0.7, weight_decay=0.05)


@pytest.mark.parametrize("spec", PROBLEMS, ids=lambda s: f"K{s['num_classes']}")
def test_direct_and_autodiff_match_numpy_away_from_the_optimum(spec):
    problem = ufm.MixupUFM(**spec)
    features = 3.0 * np.random.default_rng(spec["num_classes"]).normal(size=problem.feature_shape)
    want_objective, want_norm = _numpy_values(problem, features)
    assert want_norm > 1e-2
    for method in ("direct", "autodiff"):
        objective, norm, finite = _final_check.final_values(problem, features, method)
        assert finite
        assert objective == pytest.approx(want_objective, rel=1e-13), method
        assert norm == pytest.approx(want_norm, rel=1e-12), method


def test_the_direct_check_catches_a_wrong_answer():
    # Negative control: a converged solve passes, the same with one sample moved by 1e-6 does not.
    problem = ufm.MixupUFM(**SMALL)
    features = np.array(ufm.minimize(problem).features)
    assert ufm.check(problem, features, compare=False).solution.converged
    features[1, 2, 3] += 1e-6 * np.random.default_rng(0).normal(size=problem.dim)
    _, norm, _ = _final_check.final_values(problem, features, "direct")
    assert norm >= 0.5e-6 * problem.weight_decay  # strong convexity: |g| >= mu |h - h*| (- tol)
    assert not ufm.check(problem, features, compare=False).solution.converged


def test_minimize_reports_the_same_by_either_check():
    problem = ufm.MixupUFM(**SMALL)
    direct = ufm.minimize(problem)
    autodiff = ufm.minimize(problem, final_check="autodiff")
    assert direct.converged and autodiff.converged
    np.testing.assert_array_equal(direct.features, autodiff.features)
    assert abs(direct.grad_norm - autodiff.grad_norm) <= 1e-14
    assert direct.objective == pytest.approx(autodiff.objective, rel=1e-14)
    capped = [ufm.minimize(problem, max_steps=2, final_check=c) for c in ufm.FINAL_CHECKS]
    assert [s.status for s in capped] == ["max_steps", "max_steps"]
    assert capped[0].grad_norm == pytest.approx(capped[1].grad_norm, rel=1e-12)
    with pytest.raises(ValueError, match="final_check must be one of direct, autodiff, got 'exact'"):
        ufm.minimize(problem, final_check="exact")


def test_the_direct_check_compiles_once_per_shape():
    rng = np.random.default_rng(0)
    problem = ufm.MixupUFM(3, num_lambdas=4, dim=5, weight_decay=0.1)
    _final_check.final_values(problem, rng.normal(size=problem.feature_shape))
    before = _final_check.TRACES["direct"]
    other = problem.replace(weight_decay=0.3, alpha=0.2, seed=4, scale=2.0)  # other data, same shape
    _final_check.final_values(other, rng.normal(size=problem.feature_shape))
    assert _final_check.TRACES["direct"] == before
    wider = problem.replace(dim=6)  # negative control: a new shape traces
    _final_check.final_values(wider, rng.normal(size=wider.feature_shape))
    assert _final_check.TRACES["direct"] == before + 1


def test_chunks_do_not_change_a_bit(monkeypatch):
    # 9 pairs x 7 lambdas in chunks of 9 pairs at one lambda (7 chunks) or in one chunk. From a
    # random start, capped at 6 steps, so the outcomes differ between samples and every chunk's
    # count must be added once.
    problem = ufm.MixupUFM(3, num_lambdas=7, weight_decay=1e-2)
    init = np.random.default_rng(1).normal(size=problem.feature_shape)
    runs = {}
    for elements in (16 * 3, 1 << 17):
        monkeypatch.setattr(_newton, "_chunk_elements", lambda mesh, elements=elements: elements)
        runs[elements] = ufm.minimize(problem, init=init, max_steps=6)
    chunked, whole = runs[16 * 3], runs[1 << 17]
    np.testing.assert_array_equal(chunked.features, whole.features)
    assert chunked.sample_outcomes == whole.sample_outcomes and chunked.num_steps == whole.num_steps
    assert sum(chunked.sample_outcomes.values()) == problem.num_samples
    assert 0 < chunked.sample_outcomes["max_steps"] < problem.num_samples
