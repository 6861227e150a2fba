"""The objective and its gradient against a plain NumPy implementation built from explicit targets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp, softmax

import ufm


def numpy_objective_and_grad(features, w, lambdas, mu):
    """Independent reference: explicit (N, K) targets, scipy's logsumexp, hand-derived gradient."""
    k, _, m, d = features.shape
    h = features.reshape(-1, d)
    targets = np.zeros((k, k, m, k))
    for c in range(k):
        for c2 in range(k):
            targets[c, c2, :, c] += lambdas
            targets[c, c2, :, c2] += 1 - lambdas
    y = targets.reshape(-1, k)
    z = h @ w.T
    loss = logsumexp(z, axis=1) - np.sum(y * z, axis=1) + 0.5 * mu * np.sum(h * h, axis=1)
    grad = (softmax(z, axis=1) - y) @ w + mu * h  # per-sample gradient
    return loss.mean(), grad.reshape(features.shape)


@pytest.mark.parametrize("k, d, scale, mu", [(2, 2, 1.0, 0.1), (3, 5, 2.0, 1e-3), (6, 5, 0.5, 1.0)])
def test_objective_and_gradient_match_numpy(k, d, scale, mu):
    problem = ufm.MixupUFM(k, dim=d, scale=scale, weight_decay=mu, num_lambdas=4, seed=3)
    rng = np.random.default_rng(0)
    h = rng.standard_normal(problem.feature_shape)
    ref_value, ref_grad = numpy_objective_and_grad(h, np.asarray(problem.classifier), problem.lambdas, mu)
    np.testing.assert_allclose(float(problem.objective(h)), ref_value, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(problem.per_sample_gradient(h)), ref_grad, rtol=1e-11, atol=1e-13)


def test_objective_is_mean_of_per_sample_terms_with_large_logits():
    # Logits of size 1e3 would overflow a naive exp; the objective must stay finite and exact.
    problem = ufm.MixupUFM(4, weight_decay=1e-2, lambdas=[0.0, 0.3, 1.0])
    h = 800.0 * np.ones(problem.feature_shape) * np.asarray(problem.classifier)[:, None, None, :]
    per = ufm.per_sample_objective(jnp.asarray(h), problem.classifier, jnp.asarray(problem.lambdas), 1e-2)
    ref, _ = numpy_objective_and_grad(h, np.asarray(problem.classifier), problem.lambdas, 1e-2)
    assert np.all(np.isfinite(np.asarray(per)))
    np.testing.assert_allclose(float(jnp.mean(per)), ref, rtol=1e-13)


def test_objective_under_jit_and_vmap_over_weight_decay():
    problem = ufm.MixupUFM(3, num_lambdas=5)
    h = jnp.asarray(np.random.default_rng(1).standard_normal(problem.feature_shape))
    lam = jnp.asarray(problem.lambdas)
    decays = jnp.array([1e-3, 1e-1, 1.0])
    batched = jax.jit(jax.vmap(ufm.mixup_objective, in_axes=(None, None, None, 0)))(
        h, problem.classifier, lam, decays
    )
    looped = [float(ufm.MixupUFM(3, num_lambdas=5, weight_decay=float(mu)).objective(h)) for mu in decays]
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-14)


def test_weight_decay_convention_per_feature():
    # mu per feature: the decay term of the mean objective is mu/2 * mean ||h||^2 (= lambda_H/2 ||H||_F^2
    # with lambda_H = mu/N).
    problem = ufm.MixupUFM(3, num_lambdas=2, weight_decay=0.4)
    h = np.random.default_rng(2).standard_normal(problem.feature_shape)
    no_decay = ufm.mixup_objective(jnp.asarray(h), problem.classifier, jnp.asarray(problem.lambdas), 0.0)
    lambda_h = 0.4 / problem.num_samples
    np.testing.assert_allclose(
        float(problem.objective(h)) - float(no_decay), 0.5 * lambda_h * np.sum(h * h), rtol=1e-13
    )


def test_features_shape_is_checked():
    problem = ufm.MixupUFM(3, num_lambdas=2)
    with pytest.raises(ValueError, match="shape"):
        problem.objective(np.zeros((3, 3, 3, 3)))


def test_problem_is_immutable_and_draws_lambdas_from_beta():
    problem = ufm.MixupUFM(3, alpha=0.5, num_lambdas=2000, seed=4)
    with pytest.raises(AttributeError):
        problem.num_classes = 4
    with pytest.raises(ValueError):
        problem.lambdas[0] = 0.5  # read-only
    # Beta(a, a) has mean 1/2 and variance 1/(4(2a+1)); 2000 draws pin both to a few percent.
    assert abs(problem.lambdas.mean() - 0.5) < 0.03
    assert abs(problem.lambdas.var() - 1 / (4 * 2.0)) < 0.02
    again = ufm.MixupUFM(3, alpha=0.5, num_lambdas=2000, seed=4)
    np.testing.assert_array_equal(problem.lambdas, again.lambdas)
    explicit = ufm.MixupUFM(3, lambdas=[0.25, 1.0])
    assert explicit.num_lambdas == 2 and explicit.lambda_source == "given"
    assert problem.lambda_source == "drawn"
    np.testing.assert_array_equal(explicit.lambdas, [0.25, 1.0])
