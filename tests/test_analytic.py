"""The exact optimum: stationarity, the scalar equations, symmetries and special cases (THEORY.md §2)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, lambertw

import ufm
from ufm import analytic

KS = [2, 3, 5, 10]
DECAYS = [1e-3, 1e-2, 1e-1, 1.0]
LAMBDAS = [0.0, 1e-6, 0.1, 0.37, 0.5, 0.81, 1.0 - 1e-6, 1.0]


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("mu", DECAYS)
def test_optimum_is_stationary(k, mu):
    """Autodiff gradient of the objective vanishes at the analytic optimum, for every sample."""
    problem = ufm.MixupUFM(k, weight_decay=mu, lambdas=LAMBDAS, dim=k + 1, scale=1.5)
    h = ufm.optimal_features(problem)
    g = np.asarray(problem.per_sample_gradient(h))
    # Each gradient is a difference of O(1) terms (W^T(p - y) and mu h), so roundoff is ~1e-15.
    assert np.max(np.linalg.norm(g, axis=-1)) < 1e-13


@pytest.mark.parametrize("k", [2, 3, 10, 1000])
@pytest.mark.parametrize("gamma", [1e-4, 1e-2, 1.0, 1e2])
def test_same_class_margin_solves_its_equation(k, gamma):
    t = float(analytic.same_class_margin(k, gamma))
    assert t > 0
    np.testing.assert_allclose(t * (np.exp(t) + k - 1), k / gamma, rtol=1e-13)


@pytest.mark.parametrize("k", [3, 4, 10, 100])
@pytest.mark.parametrize("gamma", [1e-3, 0.1, 5.0])
def test_pair_margins_solve_the_stationarity_system(k, gamma):
    lam = np.array(LAMBDAS)
    u, v = (np.asarray(a) for a in analytic.pair_margins(k, lam, gamma))
    q = 1.0 / (np.exp(u) + np.exp(v) + k - 2)
    np.testing.assert_allclose(gamma * u, lam - (np.exp(u) - 1) * q, atol=1e-14)
    np.testing.assert_allclose(gamma * v, 1 - lam - (np.exp(v) - 1) * q, atol=1e-14)


@pytest.mark.parametrize("gamma", [1e-3, 0.1, 5.0])
def test_binary_margin_solves_its_equation(gamma):
    lam = np.array(LAMBDAS)
    x = np.asarray(analytic.binary_margin(lam, gamma))
    np.testing.assert_allclose(gamma * x / 2, lam - expit(x), atol=1e-15)


@pytest.mark.parametrize("k", KS)
def test_lambda_symmetry(k):
    """v(lambda) = u(1 - lambda), and h[c, c2](lambda) = h[c2, c](1 - lambda)."""
    lam = np.array(LAMBDAS)
    u, v = analytic.pair_margins(k, lam, 0.05)
    u_r, v_r = analytic.pair_margins(k, 1.0 - lam, 0.05)
    np.testing.assert_allclose(np.asarray(v), np.asarray(u_r), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(u), np.asarray(v_r), rtol=1e-13, atol=1e-15)
    problem = ufm.MixupUFM(k, lambdas=lam)
    flipped = ufm.MixupUFM(k, lambdas=1.0 - lam)
    h = np.asarray(ufm.optimal_features(problem))
    h_f = np.asarray(ufm.optimal_features(flipped))
    np.testing.assert_allclose(h, np.swapaxes(h_f, 0, 1), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", [3, 5, 10])
@pytest.mark.parametrize("gamma", [1e-3, 0.1, 5.0])
def test_half_lambda_lies_on_the_decision_boundary(k, gamma):
    u, v = analytic.pair_margins(k, 0.5, gamma)
    assert float(u) == float(v)  # exactly, by construction
    u = float(u)
    np.testing.assert_allclose(u * (2 * np.exp(u) + k - 2), k / (2 * gamma), rtol=1e-13)
    # and no other lambda does: the boundary is crossed only at 1/2
    lam = np.linspace(0, 1, 101)
    uu, vv = (np.asarray(a) for a in analytic.pair_margins(k, lam, gamma))
    assert np.all(np.sign(uu - vv) == np.sign(lam - 0.5))


def test_binary_half_lambda_is_exactly_zero():
    problem = ufm.MixupUFM(2, lambdas=[0.5], weight_decay=0.3)
    h = np.asarray(ufm.optimal_features(problem))
    assert np.all(h[0, 1] == 0.0) and np.all(h[1, 0] == 0.0)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("mu", [1e-3, 0.5])
def test_endpoints_equal_same_class_optimum_of_dominant_class(k, mu):
    problem = ufm.MixupUFM(k, lambdas=[0.0, 1.0], weight_decay=mu)
    h = np.asarray(ufm.optimal_features(problem))
    for c in range(k):
        for c2 in range(k):
            np.testing.assert_allclose(h[c, c2, 1], h[c, c, 0], rtol=1e-12, atol=1e-15)  # lambda = 1 -> class c
            np.testing.assert_allclose(h[c, c2, 0], h[c2, c2, 0], rtol=1e-12, atol=1e-15)  # lambda = 0 -> c2


@pytest.mark.parametrize("k", [3, 10])
def test_features_live_in_the_pair_plane_and_same_class_is_aligned(k):
    problem = ufm.MixupUFM(k, dim=k + 3, num_lambdas=7, seed=5)
    h = np.asarray(ufm.optimal_features(problem))
    geometry = ufm.feature_geometry(h, problem.classifier, problem.lambdas)
    assert geometry["max_outside_pair_span"] < 1e-14
    assert geometry["same_class_norm_spread"] < 1e-13
    assert geometry["same_class_max_misalignment"] < 1e-14


def test_weak_decay_calibrates_pairwise_confidence():
    """gamma -> 0: u - v -> log(lambda / (1 - lambda)), i.e. p_c / p_c2 -> lambda / (1 - lambda)."""
    lam = np.array([0.1, 0.3, 0.6, 0.9])
    errors = []
    for gamma in [1e-4, 1e-6, 1e-8]:
        u, v = analytic.pair_margins(10, lam, gamma)
        errors.append(np.max(np.abs(np.asarray(u - v) - np.log(lam / (1 - lam)))))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-5


def test_strong_decay_approaches_convex_combination():
    """mu -> infinity: (mu + beta/K) h -> lambda w_c + (1 - lambda) w_c2.

    The softmax is linear to first order in the (small) logits, and the beta/K shift absorbs exactly
    that first-order term, so the remainder is second order in z = O(1/mu): the error is O(1/mu^2)
    (within the O(1/mu) bound of the theory). Without the shift, mu h -> the same limit only at O(1/mu).
    """
    k, lam = 5, np.array([0.2, 0.5, 0.9])
    shifted, plain = [], []
    for mu in [1e2, 1e3, 1e4]:
        problem = ufm.MixupUFM(k, lambdas=lam, weight_decay=mu)
        h = np.asarray(ufm.optimal_features(problem))[0, 1]
        w = np.asarray(problem.classifier)
        target = lam[:, None] * w[0] + (1 - lam[:, None]) * w[1]
        shifted.append(np.max(np.linalg.norm((mu + problem.beta / k) * h - target, axis=-1)))
        plain.append(np.max(np.linalg.norm(mu * h - target, axis=-1)))
    # Each tenfold increase of mu divides the errors by ~100 and ~10 respectively.
    assert 80 < shifted[0] / shifted[1] < 120 and 80 < shifted[1] / shifted[2] < 120
    assert 8 < plain[0] / plain[1] < 12 and 8 < plain[1] / plain[2] < 12


def test_weak_decay_same_class_margin_approaches_lambert_w():
    k = 10
    for gamma in [1e-6, 1e-10]:
        t = float(analytic.same_class_margin(k, gamma))
        w0 = float(lambertw(k / gamma).real)
        # t(e^t + K - 1) = K/gamma versus w e^w = K/gamma: t - W0 = O(K e^{-t}) relative.
        assert abs(t - w0) / w0 < 10 * k * np.exp(-t)


def test_mse_optimum_is_stationary_for_the_mse_objective():
    problem = ufm.MixupUFM(4, lambdas=[0.0, 0.3, 0.5, 1.0], weight_decay=0.2, dim=6)
    h = ufm.analytic.mse_optimal_features(problem)
    w = problem.classifier
    lam = jnp.asarray(problem.lambdas)
    eye = jnp.eye(4)
    y = lam[None, None, :, None] * eye[:, None, None, :] + (1 - lam)[None, None, :, None] * eye[None, :, None, :]

    def mse(hh):
        return jnp.sum(0.5 * jnp.sum((hh @ w.T - y) ** 2, axis=-1) + 0.1 * jnp.sum(hh * hh, axis=-1))

    assert float(jnp.max(jnp.abs(jax.grad(mse)(h)))) < 1e-14


def test_independent_of_alpha():
    """The optimum of each sample depends on its lambda only, not on alpha or on the other samples."""
    lam = [0.15, 0.5, 0.95]
    a = np.asarray(ufm.optimal_features(ufm.MixupUFM(5, alpha=0.2, lambdas=lam)))
    b = np.asarray(ufm.optimal_features(ufm.MixupUFM(5, alpha=7.0, lambdas=lam[::-1])))
    np.testing.assert_array_equal(a, b[:, :, ::-1])
    drawn = ufm.MixupUFM(5, alpha=0.3, num_lambdas=6, seed=11)
    again = ufm.MixupUFM(5, alpha=4.0, lambdas=drawn.lambdas)
    np.testing.assert_array_equal(ufm.optimal_features(drawn), ufm.optimal_features(again))


def test_analytic_functions_under_jit_and_vmap():
    gammas = jnp.array([1e-3, 1e-1, 10.0])
    lam = jnp.array([0.0, 0.4, 0.5, 1.0])
    t_vmap = jax.vmap(analytic.same_class_margin, in_axes=(None, 0))(10, gammas)
    t_loop = jnp.stack([analytic.same_class_margin(10, g) for g in gammas])
    np.testing.assert_allclose(t_vmap, t_loop, rtol=1e-15)
    uv_jit = jax.jit(analytic.pair_margins)(7, lam, 0.02)
    uv_vmap = jax.vmap(analytic.pair_margins, in_axes=(None, 0, None))(7, lam, 0.02)
    with jax.disable_jit():  # pair_margins is jitted itself: run it op by op for the eager reference
        uv_eager = analytic.pair_margins(7, lam, 0.02)
    for a, b, c in zip(uv_jit, uv_vmap, uv_eager):
        # Compiled and op-by-op code round differently; u(lambda = 0) = 0 exactly, where the
        # difference is rounding of the margins' size (~4), hence an absolute floor of 1e-14 * 4.
        np.testing.assert_allclose(a, c, rtol=1e-14, atol=1e-14 * float(np.abs(c).max()))
        np.testing.assert_allclose(b, c, rtol=1e-14, atol=1e-14 * float(np.abs(c).max()))
    # K itself may be traced: vmap over the number of classes.
    ks = jnp.array([3.0, 5.0, 9.0])
    u_k = jax.vmap(lambda kk: analytic.pair_margins(kk, 0.3, 0.1)[0])(ks)
    np.testing.assert_allclose(u_k, [float(analytic.pair_margins(int(kk), 0.3, 0.1)[0]) for kk in ks], rtol=1e-14)
