"""Numeric solvers against the exact optimum and against an independent scipy solve."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import ufm

GRID_LAMBDAS = [0.0, 0.2, 0.5, 0.9, 1.0]


@pytest.mark.parametrize("k", [2, 3, 5, 10])
@pytest.mark.parametrize("mu", [1e-3, 1e-2, 1e-1, 1.0])
def test_lbfgs_matches_analytic_optimum(k, mu):
    problem = ufm.MixupUFM(k, weight_decay=mu, lambdas=GRID_LAMBDAS)
    # Strong convexity: a per-sample gradient norm eps bounds the error by eps/mu, so tol = 1e-12
    # guarantees an absolute error <= 1e-9 even at mu = 1e-3, below 1e-8 relative for these features.
    solution = ufm.minimize(problem, method="lbfgs", tol=1e-12)
    assert solution.converged and solution.status == "converged"
    assert solution.grad_norm <= 1e-12
    exact = ufm.optimal_features(problem)
    comparison = ufm.compare_features(solution.features, exact, problem.lambdas)
    assert comparison.max_rel_error <= 1e-8
    assert abs(solution.objective - float(problem.objective(exact))) <= 1e-14 * max(1.0, abs(solution.objective))


@pytest.mark.parametrize(
    "config",
    [
        dict(num_classes=7, dim=11, scale=2.3, alpha=0.4, weight_decay=0.05, num_lambdas=5, seed=3),
        dict(num_classes=4, dim=3, scale=0.5, alpha=3.0, weight_decay=0.5, num_lambdas=6, seed=8),
        dict(num_classes=12, alpha=1.7, weight_decay=2e-3, num_lambdas=4, seed=21),
    ],
    ids=["d>K-scale2.3", "d=K-1-scale0.5", "K12-small-decay"],
)
def test_untuned_configurations(config):
    problem = ufm.MixupUFM(**config)
    solution = ufm.minimize(problem, tol=1e-12)
    comparison = ufm.compare_features(solution.features, ufm.optimal_features(problem), problem.lambdas)
    assert solution.converged
    assert comparison.max_rel_error <= 1e-8


def _numpy_objective(problem):
    """Sum over samples of the per-sample objective and its gradient, in plain NumPy (float64)."""
    w = np.asarray(problem.classifier)
    lam = problem.lambdas
    k = problem.num_classes
    shape = problem.feature_shape

    def fun(x):
        h = x.reshape(shape)
        z = h @ w.T
        zmax = z.max(axis=-1, keepdims=True)
        e = np.exp(z - zmax)
        lse = zmax[..., 0] + np.log(e.sum(-1))
        p = e / e.sum(-1, keepdims=True)
        y = np.zeros_like(z)
        for c in range(k):
            for c2 in range(k):
                y[c, c2, :, c] += lam
                y[c, c2, :, c2] += 1 - lam
        value = np.sum(lse - np.sum(y * z, -1) + 0.5 * problem.weight_decay * np.sum(h * h, -1))
        grad = (p - y) @ w + problem.weight_decay * h
        return value, grad.ravel()

    return fun


@pytest.mark.parametrize("k, mu", [(2, 0.1), (3, 1e-2), (4, 1.0)])
def test_lbfgs_agrees_with_scipy_lbfgsb(k, mu):
    problem = ufm.MixupUFM(k, weight_decay=mu, num_lambdas=3, seed=k)
    result = scipy.optimize.minimize(
        _numpy_objective(problem),
        np.zeros(np.prod(problem.feature_shape)),
        jac=True,
        method="L-BFGS-B",
        options=dict(maxiter=10_000, gtol=1e-11, ftol=1e-16, maxcor=20),
    )
    ours = ufm.minimize(problem, method="lbfgs", tol=1e-11)
    theirs = result.x.reshape(problem.feature_shape)
    # scipy stops on its own criteria (projected-gradient infinity norm); 1e-11 per entry gives
    # feature errors ~1e-11/mu, so agreement to 1e-7 relative is what both solvers guarantee.
    comparison = ufm.compare_features(ours.features, theirs, problem.lambdas)
    assert comparison.max_rel_error < 1e-7
    np.testing.assert_allclose(ours.objective * problem.num_samples, result.fun, rtol=1e-12)


@pytest.mark.parametrize("method, tol", [("gd", 1e-9), ("adam", 1e-7)])
def test_first_order_methods_converge_on_a_small_problem(method, tol):
    problem = ufm.MixupUFM(3, weight_decay=0.1, lambdas=[0.0, 0.3, 0.5])
    solution = ufm.minimize(problem, method=method, tol=tol)
    assert solution.converged, solution.message
    comparison = ufm.compare_features(solution.features, ufm.optimal_features(problem), problem.lambdas)
    assert comparison.max_rel_error <= 10 * tol / problem.weight_decay  # the eps/mu bound, with slack


def test_hitting_max_steps_is_not_reported_as_converged():
    problem = ufm.MixupUFM(5, num_lambdas=4)
    solution = ufm.minimize(problem, method="lbfgs", max_steps=3)
    assert solution.num_steps == 3
    assert not solution.converged
    assert solution.status == "max_steps"
    assert "not converged" in solution.message


def test_grad_norm_is_recomputed_from_the_returned_features():
    problem = ufm.MixupUFM(3, num_lambdas=4)
    solution = ufm.minimize(problem, max_steps=5)
    g = np.asarray(problem.per_sample_gradient(solution.features))
    # The norm comes from cancelling O(1) terms, so two autodiff evaluations that group the sums
    # differently agree to rounding in absolute terms (~1e-16), not to 1e-12 relative of a small norm.
    np.testing.assert_allclose(solution.grad_norm, np.max(np.linalg.norm(g, axis=-1)), rtol=1e-12, atol=1e-15)
    assert solution.objective == pytest.approx(float(problem.objective(solution.features)), rel=1e-15)


def test_record_traces_the_distance_to_the_optimum():
    problem = ufm.MixupUFM(3, num_lambdas=4)
    exact = ufm.optimal_features(problem)

    def distance(h):  # the largest per-sample distance to the optimum
        return jnp.max(jnp.linalg.norm(h - exact, axis=-1))

    solution = ufm.minimize(problem, method="gd", record=distance)
    assert solution.history.shape == (solution.num_steps + 1,)
    assert solution.history[0] == pytest.approx(float(jnp.max(jnp.linalg.norm(exact, axis=-1))))
    assert solution.history[-1] < 1e-8 < solution.history[0]
    # Gradient descent with step 1/L on each mu-strongly convex, L-smooth sample contracts that
    # sample's distance by a factor <= 1 - mu/L every step, so the largest one cannot grow (up to
    # rounding of the norms).
    assert np.all(np.diff(solution.history) <= 1e-14 * solution.history[:-1])


def test_warm_start_from_optimum_takes_no_steps():
    problem = ufm.MixupUFM(4, num_lambdas=3)
    solution = ufm.minimize(problem, init=ufm.optimal_features(problem), tol=1e-12)
    assert solution.num_steps == 0 and solution.converged


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(method="sgd"), ValueError, "unknown method"),
        (dict(tol=0.0), ValueError, "tol"),
        (dict(max_steps=0), ValueError, "max_steps"),
        (dict(max_steps=2.5), TypeError, "max_steps"),
    ],
)
def test_minimize_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ufm.minimize(ufm.MixupUFM(3, num_lambdas=2), **kwargs)


def test_minimize_rejects_non_problem():
    with pytest.raises(TypeError, match="MixupUFM"):
        ufm.minimize({"num_classes": 3})
