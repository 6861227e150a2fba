"""The structured Newton solver (``method="newton"``): exact steps, optimum, reporting."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ufm
from ufm import _newton
from ufm._etf import simplex_etf

LAMBDAS = [0.0, 0.1, 0.5, 0.77, 1.0]  # includes both ends and 1/2


def _dense_newton_step(h, w, y, mu):
    """-H^{-1} g for one sample from the dense d x d Hessian (NumPy float64): the oracle."""
    z = w @ h
    p = np.exp(z - z.max())
    p /= p.sum()
    g = w.T @ (p - y) + mu * h
    hess = w.T @ (np.diag(p) - np.outer(p, p)) @ w + mu * np.eye(h.size)
    return -np.linalg.solve(hess, g)


@pytest.mark.parametrize(
    "k, d, scale, seed",
    [(2, 2, 1.0, None), (3, 2, 1.0, 1), (4, 4, 2.5, 2), (5, 9, 0.7, 3), (6, 5, 1.3, None), (7, 11, 1.0, 4)],
)
def test_newton_step_matches_dense_solve(k, d, scale, seed):
    # d = K - 1, d = K and d > K; non-unit scale; random (Haar) embeddings of the ETF.
    rng = np.random.default_rng(k * 100 + d)
    w = np.asarray(simplex_etf(k, d, scale, seed=seed))
    beta = scale**2 * k / (k - 1)
    n = 6
    h = 3.0 * rng.standard_normal((n, d))  # generic: components outside the row space when d >= K
    a, b = rng.integers(0, k, n), rng.integers(0, k, n)
    lam = rng.uniform(0, 1, n)
    y = lam[:, None] * np.eye(k)[a] + (1 - lam[:, None]) * np.eye(k)[b]
    for mu in (1e-3, 0.1, 2.0):
        got = np.asarray(_newton.newton_direction(jnp.asarray(h), jnp.asarray(w), jnp.asarray(y), mu, beta))
        want = np.stack([_dense_newton_step(h[i], w, y[i], mu) for i in range(n)])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11 * np.abs(want).max())


def test_newton_step_vmaps_and_jits():
    k, d = 4, 6
    w = simplex_etf(k, d, seed=0)
    beta = k / (k - 1)
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.standard_normal((3, 5, d)))
    y = jnp.asarray(rng.dirichlet(np.ones(k), (3, 5)))
    mus = jnp.asarray([1e-2, 1e-1, 1.0])
    batched = jax.jit(jax.vmap(lambda h, y, mu: _newton.newton_direction(h, w, y, mu, beta)))(h, y, mus)
    for i in range(3):
        np.testing.assert_allclose(
            batched[i], _newton.newton_direction(h[i], w, y[i], mus[i], beta), rtol=1e-13, atol=1e-15
        )


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_newton_reaches_exact_optimum(k):
    # One compile per K (the compiled loop is reused across weight decays).
    for mu in (1e-3, 1e-2, 1e-1, 1.0):
        problem = ufm.MixupUFM(k, weight_decay=mu, lambdas=LAMBDAS, dim=k + 1)
        sol = ufm.minimize(problem, method="newton", tol=1e-11)
        assert sol.converged and sol.status == "converged", (mu, sol.summary())
        assert sol.grad_norm <= 1e-11
        err = ufm.compare_features(sol.features, ufm.optimal_features(problem), problem.lambdas)
        assert err.max_rel_error <= 1e-8, (k, mu, err.summary())
        assert sol.num_steps <= 30


def test_newton_agrees_with_lbfgs():
    problem = ufm.MixupUFM(4, weight_decay=3e-2, num_lambdas=6, seed=5, scale=1.7)
    newton = ufm.minimize(problem, method="newton")
    lbfgs = ufm.minimize(problem, method="lbfgs")
    assert newton.converged and lbfgs.converged
    assert newton.num_steps < lbfgs.num_steps
    np.testing.assert_allclose(newton.features, lbfgs.features, rtol=0, atol=1e-8)
    assert abs(newton.objective - lbfgs.objective) <= 1e-12


def test_newton_is_the_default_method():
    problem = ufm.MixupUFM(3, num_lambdas=3)
    assert ufm.minimize(problem).method == "newton"
    assert ufm.METHODS[0] == "newton" and "lbfgs" in ufm.METHODS


def test_newton_uses_the_problems_classifier_not_the_default_embedding():
    k, d, scale = 4, 7, 1.4
    problem = ufm.MixupUFM(k, dim=d, scale=scale, lambdas=LAMBDAS, weight_decay=2e-2)
    rotated = problem.replace(embedding_seed=11)  # same Gram matrix, another embedding
    sol = ufm.minimize(rotated, method="newton")
    assert sol.converged
    # Logits of the optimum are embedding-free: h* = W'^T (W h_default*) / beta.
    default = ufm.optimal_features(problem)  # built from the default embedding
    logits = np.einsum("ijmd,kd->ijmk", default, np.asarray(simplex_etf(k, d, scale)))
    want = np.einsum("ijmk,kd->ijmd", logits, np.asarray(simplex_etf(k, d, scale, seed=11))) / problem.beta
    np.testing.assert_allclose(sol.features, want, rtol=0, atol=1e-9)


def test_newton_from_a_given_start():
    problem = ufm.MixupUFM(3, dim=6, lambdas=LAMBDAS, weight_decay=5e-2)
    rng = np.random.default_rng(1)
    init = 4.0 * rng.standard_normal(problem.feature_shape)  # far, and off the row space of W
    sol = ufm.minimize(problem, method="newton", init=init)
    assert sol.converged
    exact = ufm.optimal_features(problem)
    assert ufm.compare_features(sol.features, exact, problem.lambdas).max_rel_error <= 1e-8
    again = ufm.minimize(problem, method="newton", init=exact)
    assert again.converged and again.num_steps <= 1


def test_newton_reports_max_steps_and_stalling():
    problem = ufm.MixupUFM(5, num_lambdas=4, weight_decay=1e-3)
    capped = ufm.minimize(problem, method="newton", max_steps=1)
    assert not capped.converged and capped.status == "max_steps" and capped.num_steps == 1
    # A tolerance below rounding cannot be met: the solver must stop by itself, not spin.
    tiny = ufm.minimize(problem, method="newton", tol=1e-300, max_steps=150)
    assert not tiny.converged and tiny.status == "stalled" and tiny.num_steps < 150
    assert tiny.grad_norm < 1e-12


def test_newton_record_history():
    problem = ufm.MixupUFM(3, lambdas=LAMBDAS)
    exact = ufm.optimal_features(problem)
    sol = ufm.minimize(problem, method="newton", record=lambda h: jnp.max(jnp.abs(h - exact)))
    assert sol.history.shape == (sol.num_steps + 1,)
    assert sol.history[0] == pytest.approx(float(jnp.max(jnp.abs(exact))))
    assert sol.history[-1] <= 1e-10 / problem.weight_decay  # strong convexity: error <= tol / mu
    plain = ufm.minimize(problem, method="newton")
    np.testing.assert_array_equal(sol.features, plain.features)  # one global loop = chunked loops


def test_newton_float32():
    problem = ufm.MixupUFM(4, num_lambdas=5, dtype="float32")
    sol = ufm.minimize(problem, method="newton", tol=1e-4)
    assert sol.converged and sol.features.dtype == jnp.float32
    err = ufm.compare_features(sol.features, ufm.optimal_features(problem), problem.lambdas)
    assert err.max_rel_error <= 1e-3  # float32: single-precision rounding, not solver error


def test_chunks_and_padding_do_not_change_the_result(monkeypatch):
    problem = ufm.MixupUFM(3, num_lambdas=7, weight_decay=1e-2)  # N = 63: odd, so chunks pad
    whole = ufm.minimize(problem, method="newton")
    monkeypatch.setattr(_newton, "_CHUNK_ELEMENTS", 8 * 3)  # 8 samples per chunk (a new static argument)
    chunked = ufm.minimize(problem, method="newton")
    np.testing.assert_array_equal(whole.features, chunked.features)
    assert whole.num_steps == chunked.num_steps
