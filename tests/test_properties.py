r"""Property-based tests (hypothesis) over random problems, random starts and random perturbations.

Ranges: $K \le 12$, weight decay $\mu \in [10^{-5}, 3]$, ETF scale $s \in [0.3, 5]$,
$d \in [K-1, 2K+1]$, $M \le 11$, mixup $\alpha \in [0.1, 10]$, starts $c\,\mathcal N(0, I)$ with
$c \in [10, 300]$ (plus a part outside the classifier's row space where $d > K-1$). Shapes are
drawn from short fixed lists (each new shape compiles the solvers again), data from the full
ranges. Example counts follow the hypothesis profile (``tests/conftest.py``; ``docs/testing.md``).

Oracles: the exact optimum (``ufm.optimal_features``, derived independently in sympy), strong
convexity (a per-sample gradient norm $\|g\|$ puts the feature within $\|g\|/\mu$ of the
optimum), the objective at the start, and perturbations whose size the test chooses itself.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ufm

EPS = float(np.finfo(np.float64).eps)
EXAMPLES = settings().max_examples  # of the active profile


def examples(factor: float) -> int:
    """The profile's example count scaled by what an example costs in this test."""
    return max(3, int(EXAMPLES * factor))


def log_uniform(low: float, high: float):
    return st.floats(math.log(low), math.log(high)).map(math.exp)


# (K, d, M): d = K + 1, d = 2K + 1, d = K - 1 (no room outside the row space), the largest K.
SHAPES = [(2, 3, 3), (5, 11, 2), (12, 11, 2)]


@st.composite
def problems(draw, shapes=tuple(SHAPES), weight_decay=(1e-5, 3.0), scale=(0.3, 5.0)):
    k, d, m = draw(st.sampled_from(shapes))
    return ufm.MixupUFM(
        k,
        dim=d,
        num_lambdas=m,
        weight_decay=draw(log_uniform(*weight_decay)),
        scale=draw(log_uniform(*scale)),
        alpha=draw(log_uniform(0.1, 10.0)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def row_space_projector(problem: ufm.MixupUFM) -> np.ndarray:
    """$W^\\top W/\\beta$: the orthogonal projector onto span$\\{w_k\\}$ (as $WW^\\top = \\beta(I - 11^\\top/K)$)."""
    w = np.asarray(problem.classifier, dtype=np.float64)
    return w.T @ w / problem.beta


def far_start(problem: ufm.MixupUFM, scale: float, off_span: float, seed: int) -> np.ndarray:
    """$c\\,\\mathcal N(0, I)$ features plus, where $d > K - 1$, an extra part of relative size
    ``off_span`` outside the classifier's row space."""
    rng = np.random.default_rng(seed)
    start = scale * rng.normal(size=problem.feature_shape)
    outside = rng.normal(size=problem.feature_shape)
    outside -= outside @ row_space_projector(problem)
    return start + off_span * scale * outside


def per_sample_bound(problem: ufm.MixupUFM, features, exact: np.ndarray) -> np.ndarray:
    r"""Strong convexity: $\|h - h^\star\| \le \|g(h)\|/\mu$ per sample, plus rounding.

    Rounding: the gradient $W^\top(p - y) + \mu h$ is evaluated to about $16\varepsilon(s\sqrt K +
    \mu\|h\|)$, which divided by $\mu$ is a feature error; the exact optimum itself is accurate to
    a few $\varepsilon\|h^\star\|$ (margins to ~1e-15).
    """
    grad = np.asarray(problem.per_sample_gradient(features), dtype=np.float64)
    g = np.linalg.norm(grad, axis=-1)
    h_norm = np.linalg.norm(np.asarray(features, dtype=np.float64), axis=-1)
    exact_norm = np.linalg.norm(exact, axis=-1)
    mu, s, k = problem.weight_decay, problem.scale, problem.num_classes
    rounding = 16 * EPS * (s * math.sqrt(k) + mu * h_norm) / mu + 16 * EPS * exact_norm
    return g / mu + rounding


def assert_at_exact_optimum(problem: ufm.MixupUFM, solution: ufm.Solution) -> None:
    exact = np.asarray(ufm.optimal_features(problem))
    error = np.linalg.norm(np.asarray(solution.features) - exact, axis=-1)
    bound = per_sample_bound(problem, solution.features, exact)
    worst = np.unravel_index(np.argmax(error / bound), error.shape)
    assert np.all(error <= bound), (worst, error[worst], bound[worst])


# ----------------------------------------------------------------------------- solvers


@settings(max_examples=examples(2.0))
@given(
    problem=problems(),
    start_scale=log_uniform(10.0, 300.0),
    off_span=st.sampled_from([0.0, 1.0, 30.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_newton_converges_from_far_and_off_span_starts(problem, start_scale, off_span, seed):
    start = far_start(problem, start_scale, off_span, seed)
    solution = ufm.minimize(problem, "newton", init=start)
    assert solution.converged, solution.summary()
    assert solution.num_steps <= 50, solution.num_steps
    assert solution.objective <= float(problem.objective(start))
    assert_at_exact_optimum(problem, solution)


# Fixed problems (the record function closes over each one, and compiles once per problem) with
# random far starts: the small-decay far-start case, K = 2, and d = K - 1 at K = 12.
HISTORY_PROBLEMS = [
    ufm.MixupUFM(8, weight_decay=1.82e-4, scale=1.55, dim=8, num_lambdas=3, seed=929, alpha=2.7),
    ufm.MixupUFM(2, weight_decay=3e-5, scale=4.0, dim=4, num_lambdas=4, seed=1, alpha=0.2),
    ufm.MixupUFM(12, weight_decay=2.0, scale=0.4, dim=11, num_lambdas=2, seed=2, alpha=8.0),
]
_OBJECTIVES = {}


def _objective_of(index: int):
    """One record function per problem, built once (``record`` is part of the compiled program)."""
    if index not in _OBJECTIVES:
        problem = HISTORY_PROBLEMS[index]
        w, lam = problem.classifier, jnp.asarray(problem.lambdas)
        weights, mu = jnp.asarray(problem.sample_weights()), problem.weight_decay
        _OBJECTIVES[index] = jax.jit(lambda h: ufm.mixup_objective(h, w, lam, mu, None, weights))
    return _OBJECTIVES[index]


@settings(max_examples=examples(1.0))
@given(
    index=st.integers(0, len(HISTORY_PROBLEMS) - 1),
    start_scale=log_uniform(10.0, 300.0),
    off_span=st.sampled_from([0.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_newton_objective_never_increases(index, start_scale, off_span, seed):
    problem = HISTORY_PROBLEMS[index]
    start = far_start(problem, start_scale, off_span, seed)
    objective = _objective_of(index)
    solution = ufm.minimize(problem, "newton", init=start, record=objective)
    history = solution.history
    assert solution.converged and history.shape == (solution.num_steps + 1,)
    assert history[0] == pytest.approx(float(problem.objective(start)), rel=1e-13)  # the start itself
    assert history[-1] == pytest.approx(solution.objective, rel=1e-12, abs=1e-14)
    # The line search accepts a rise only at the rounding level of a sample's terms: 16 eps times
    # |lse| + |y^T z| + decay, where |z| <= sqrt(2 f / gamma) and f <= f(start).
    f0 = history[0]
    rounding = 64 * EPS * (1.0 + f0 + math.sqrt(2.0 * f0 / problem.gamma))
    rises = np.diff(history)
    assert np.all(rises <= rounding), (np.argmax(rises), rises.max(), rounding)


@settings(max_examples=examples(0.67))
@given(
    problem=problems(shapes=((3, 4, 2),), weight_decay=(1e-2, 1.0), scale=(0.5, 2.0)),
    start_scale=log_uniform(1.0, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_lbfgs_converges_on_smaller_ranges(problem, start_scale, seed):
    # The generic joint L-BFGS: one shape, moderate decay and starts (it needs ~100 joint steps).
    start = far_start(problem, start_scale, 1.0, seed)
    solution = ufm.minimize(problem, "lbfgs", init=start, tol=1e-10)
    assert solution.converged, solution.summary()
    assert solution.objective <= float(problem.objective(start))
    assert_at_exact_optimum(problem, solution)


# ----------------------------------------------------------------------------- exact optimum


@settings(max_examples=examples(4.0))
@given(
    k=st.integers(2, 12),
    extra_dim=st.integers(0, 13),
    weight_decay=log_uniform(1e-5, 3.0),
    scale=log_uniform(0.3, 5.0),
    lambdas=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    embedding_seed=st.integers(0, 2**31 - 1),
)
def test_exact_optimum_symmetries(k, extra_dim, weight_decay, scale, lambdas, embedding_seed):
    # Mixing coefficients closed under lambda -> 1 - lambda; a random embedding of the ETF.
    lam = np.array(lambdas + [1.0 - x for x in lambdas])
    d = min(k - 1 + extra_dim, 2 * k + 1)
    problem = ufm.MixupUFM(k, dim=d, lambdas=lam, weight_decay=weight_decay, scale=scale, embedding_seed=embedding_seed)
    h = np.asarray(ufm.optimal_features(problem))  # (K, K, M, d)
    m = lam.size // 2
    size = np.linalg.norm(h, axis=-1).max()
    tol = 1e-12 * size + 1e-300
    # (c, c', lambda) and (c', c, 1 - lambda) are the same sample.
    swapped = np.concatenate([h[:, :, m:], h[:, :, :m]], axis=2).transpose(1, 0, 2, 3)
    assert np.max(np.linalg.norm(h - swapped, axis=-1)) <= tol
    # The ETF is symmetric under every permutation of the classes: norm and logit margin of the
    # optimum are the same for every ordered pair of distinct classes (and every class alone).
    w = np.asarray(problem.classifier, dtype=np.float64)
    logits = h @ w.T  # (K, K, M, K)
    c, c2 = np.nonzero(~np.eye(k, dtype=bool))
    norms = np.linalg.norm(h[c, c2], axis=-1)  # (pairs, M)
    margins = logits[c, c2, :, c] - logits[c, c2, :, c2]
    assert np.ptp(norms, axis=0).max() <= tol
    assert np.ptp(margins, axis=0).max() <= 1e-12 * np.abs(logits).max() + 1e-300
    same = np.linalg.norm(h[np.arange(k), np.arange(k)], axis=-1)
    assert np.ptp(same) <= tol


# ----------------------------------------------------------------------------- comparison, geometry


def _exact(k, d, weight_decay, scale):
    lam = [0.15, 0.5, 0.9]  # includes 1/2: its different-class optima lie on the decision boundary
    problem = ufm.MixupUFM(k, dim=d, lambdas=lam, weight_decay=weight_decay, scale=scale)
    return problem, np.asarray(ufm.optimal_features(problem))


def _unit_outside(problem, rng, shape):
    """Random unit vectors, per sample, orthogonal to both classifier rows of the sample's pair."""
    w = np.asarray(problem.classifier, dtype=np.float64)
    k = problem.num_classes
    v = rng.normal(size=shape)
    for c in range(k):
        for c2 in range(k):
            basis, _ = np.linalg.qr(np.stack([w[c], w[c2]] if c != c2 and k > 2 else [w[c]], axis=-1))
            v[c, c2] -= (v[c, c2] @ basis) @ basis.T
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# (weight decay, scale): small norms (strong decay, ||h*|| ~ 4e-3), large norms (weak decay, small
# scale, ||h*|| ~ 30) and the defaults.
NORM_REGIMES = [(50.0, 0.3), (1e-5, 0.3), (1e-2, 1.0)]


@settings(max_examples=examples(4.0))
@given(
    k=st.integers(2, 6),
    extra_dim=st.integers(1, 4),
    regime=st.sampled_from(NORM_REGIMES),
    kind=st.sampled_from(["scaled", "rotated", "noised"]),
    size=log_uniform(1e-9, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_comparison_reports_the_deviation_it_was_given(k, extra_dim, regime, kind, size, seed):
    problem, exact = _exact(k, k - 1 + extra_dim, *regime)
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(exact, axis=-1, keepdims=True)
    if kind == "scaled":
        features = exact * (1.0 + size)
        expected = size
    elif kind == "rotated":
        # Rotate every sample by the angle theta in the plane of h and a unit u orthogonal to it:
        # ||R h - h|| = 2 sin(theta / 2) ||h||.
        u = rng.normal(size=exact.shape)
        u -= np.sum(u * exact, axis=-1, keepdims=True) * exact / np.where(norms > 0, norms, 1.0) ** 2
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        theta = 2.0 * math.asin(size / 2.0)
        features = math.cos(theta) * exact + math.sin(theta) * norms * u
        expected = size
    else:
        u = rng.normal(size=exact.shape)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        features = exact + size * norms * u
        expected = size
    comparison = ufm.compare_features(features, exact, problem.lambdas, rtol=1e-12)
    # Relative: the same deviation reads the same at ||h*|| ~ 1e-3 and ~ 10. Rounding: the
    # features are formed to ~eps relative, so the relative error is known to ~eps / size.
    assert comparison.max_rel_error == pytest.approx(expected, rel=1e-6 + 64 * EPS / size)
    assert comparison.max_abs_error == pytest.approx(expected * norms.max(), rel=1e-6 + 64 * EPS / size)
    assert comparison.passed is False  # rtol 1e-12 < every deviation drawn
    # The verdict is relative too: it flips between rtol = deviation / 2 and 2 deviation.
    assert ufm.compare_features(features, exact, problem.lambdas, rtol=0.5 * expected).passed is False
    assert ufm.compare_features(features, exact, problem.lambdas, rtol=2.0 * expected).passed is True


@settings(max_examples=examples(4.0))
@given(
    k=st.integers(2, 6),
    extra_dim=st.integers(1, 4),
    regime=st.sampled_from(NORM_REGIMES),
    relative=log_uniform(1e-8, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_geometry_reports_the_deviation_it_was_given(k, extra_dim, regime, relative, seed):
    # Every sample gets a component of norm delta orthogonal to its pair's classifier rows; at
    # lambda = 1/2 different-class samples also move by delta across the decision boundary; and
    # the exact same-class samples at the first lambda are stretched by (1 + relative).
    problem, exact = _exact(k, k - 1 + extra_dim, *regime)
    rng = np.random.default_rng(seed)
    delta = relative * np.linalg.norm(exact, axis=-1).max()
    stretched = exact.copy()
    diagonal = np.arange(k)
    stretched[diagonal, diagonal, 0] *= 1.0 + relative
    features = stretched + delta * _unit_outside(problem, rng, exact.shape)
    w = np.asarray(problem.classifier, dtype=np.float64)
    across = np.zeros_like(exact)
    for c in range(k):
        for c2 in range(k):
            if c != c2:
                across[c, c2, 1] = (w[c] - w[c2]) / np.linalg.norm(w[c] - w[c2])  # lambda = 1/2
    features += delta * across
    geometry = ufm.feature_geometry(features, problem.classifier, problem.lambdas)
    same_norm = np.linalg.norm(exact[0, 0, 0])
    scale = np.linalg.norm(exact, axis=-1).max()
    rounding = 64 * EPS * scale  # features formed to ~eps times their size
    assert geometry["max_outside_pair_span"] == pytest.approx(delta, abs=rounding)
    assert geometry["same_class_max_misalignment"] == pytest.approx(delta, abs=rounding)
    assert geometry["same_class_norm_spread"] == pytest.approx(
        np.hypot((1 + relative) * same_norm, delta) - np.hypot(same_norm, delta), abs=rounding
    )
    assert geometry["lambda_nearest_half"] == 0.5
    assert geometry["max_boundary_distance_nearest_half"] == pytest.approx(delta, abs=rounding)
