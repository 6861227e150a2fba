"""Expectations over lambda ~ Beta(alpha, alpha): the Gauss-Jacobi rule, MixupUFM(quadrature=M), and
ufm.analytic.expected_optimum against independent oracles (mpmath, scipy's adaptive quadrature,
Monte-Carlo draws, the sympy-derived alpha -> 0 and alpha -> infinity limits)."""

import json
import math

import mpmath
import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.special
import sympy as sp

import ufm
from ufm import analytic
from ufm._quadrature import beta_rule
from ufm.solve import main

EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------------- the Gauss rule


def _mp_jacobi_recurrence(p, q, n):
    """Diagonal a_k and off-diagonal squares b_k of the Jacobi matrix of Beta(p, q) at 50 digits,
    from the classical recurrence of the Jacobi polynomials P^(q-1, p-1) mapped to [0, 1]."""
    mpmath.mp.dps = 50
    a_j, b_j = mpmath.mpf(q) - 1, mpmath.mpf(p) - 1
    s = a_j + b_j
    diag, off = [], []
    for k in range(n):
        x = (b_j - a_j) / (s + 2) if k == 0 else (b_j**2 - a_j**2) / ((2 * k + s) * (2 * k + s + 2))
        diag.append((1 + x) / 2)
        m = k + 1
        if m == 1:
            y = 4 * (1 + a_j) * (1 + b_j) / ((s + 2) ** 2 * (s + 3))
        else:
            y = 4 * m * (m + a_j) * (m + b_j) * (m + s) / ((2 * m + s) ** 2 * (2 * m + s + 1) * (2 * m + s - 1))
        off.append(y / 4)
    return diag, off


def _mp_moments(p, q, count):
    """E[lambda^k] = prod_{j<k} (p + j)/(p + q + j) for Beta(p, q), k = 0 .. count-1, at 50 digits."""
    p, q = mpmath.mpf(p), mpmath.mpf(q)
    out = [mpmath.mpf(1)]
    for j in range(count - 1):
        out.append(out[-1] * (p + j) / (p + q + j))
    return out


@pytest.mark.parametrize(
    ("p", "q", "n"), [(0.05, 0.05, 48), (1.0, 1.0, 48), (4.0, 4.0, 9), (0.05, 1.0, 20), (20.0, 20.0, 48)]
)
def test_beta_rule_is_exact_to_degree_2n_minus_1(p, q, n):
    """sum_i w_i lambda_i^k against 50-digit moments for k <= 2n - 1; the error at degree 2n is
    the squared norm of the monic orthogonal polynomial (a rule of degree 2n - 1 exactly)."""
    mpmath.mp.dps = 50
    nodes, weights = beta_rule(p, q, n)
    assert np.all(np.diff(nodes) > 0) and nodes[0] > 0 and nodes[-1] < 1 and np.all(weights > 0)
    x = [mpmath.mpf(float(v)) for v in nodes]
    w = [mpmath.mpf(float(v)) for v in weights]
    moments = _mp_moments(p, q, 2 * n + 1)
    for k in range(2 * n):
        rule = mpmath.fsum(wi * xi**k for wi, xi in zip(w, x))
        # Rounding the nodes to float64 perturbs lambda^k by ~k eps near lambda = 1.
        assert abs(rule - moments[k]) <= 4 * EPS * (k + 1), (k, float(rule - moments[k]))
    # Degree 2n: the rule misses exactly ||pi_n||^2 = b_1 ... b_n (monic pi_n).
    missing = mpmath.fprod(_mp_jacobi_recurrence(p, q, n)[1])
    rule = mpmath.fsum(wi * xi ** (2 * n) for wi, xi in zip(w, x))
    assert abs((moments[2 * n] - rule) - missing) <= 4 * EPS * (2 * n + 1) + 1e-12 * missing


def _mp_golub_welsch(p, q, n):
    """Nodes and weights from the 50-digit eigen-decomposition of the Jacobi matrix."""
    diag, off = _mp_jacobi_recurrence(p, q, n)
    matrix = mpmath.zeros(n, n)
    for k in range(n):
        matrix[k, k] = diag[k]
        if k + 1 < n:
            matrix[k, k + 1] = matrix[k + 1, k] = mpmath.sqrt(off[k])
    values, vectors = mpmath.eigsy(matrix)
    order = sorted(range(n), key=lambda i: values[i])
    return [values[i] for i in order], [vectors[0, i] ** 2 for i in order]


@pytest.mark.parametrize(("p", "q"), [(0.05, 0.05), (0.05, 1.0), (3.0, 0.3)])
def test_beta_rule_has_full_relative_accuracy_next_to_the_ends(p, q):
    # For alpha = 0.05 the outer nodes sit at ~1e-3 of the ends (n = 12); an eigenvalue solver
    # alone resolves them only to an absolute 1e-16 (measured relative error 3e-12 at n = 48).
    n = 12
    nodes, weights = beta_rule(p, q, n)
    ref_nodes, ref_weights = _mp_golub_welsch(p, q, n)
    for x, ref in zip(nodes, ref_nodes):
        distance = min(ref, 1 - ref)  # relative to the near end (float64 holds 1 - x only absolutely)
        assert abs(x - ref) <= (4 * EPS * distance if ref <= 0.5 else 2 * EPS), (x, float(ref))
    for w, ref in zip(weights, ref_weights):
        assert abs(w - ref) <= 1e-14 * ref


def test_beta_rule_symmetry_and_small_cases():
    nodes, weights = beta_rule(0.3, 0.3, 7)
    np.testing.assert_array_equal(nodes[4:], (1.0 - nodes[:3])[::-1])  # lambda_{n-1-i} = 1 - lambda_i exactly
    np.testing.assert_array_equal(weights, weights[::-1])
    assert nodes[3] == 0.5
    np.testing.assert_allclose(beta_rule(2.0, 3.0, 1), ([0.4], [1.0]), rtol=1e-15)
    legendre_x, legendre_w = np.polynomial.legendre.leggauss(10)
    np.testing.assert_allclose(beta_rule(1.0, 1.0, 10), ((1 + legendre_x) / 2, legendre_w / 2), rtol=1e-14)


# ----------------------------------------------------------------------------- MixupUFM(quadrature=M)


def test_quadrature_problem_is_a_lambda_source():
    problem = ufm.MixupUFM(3, alpha=0.3, quadrature=16, weight_decay=0.05)
    nodes, weights = beta_rule(0.3, 0.3, 16)
    np.testing.assert_array_equal(problem.lambdas, nodes)
    np.testing.assert_array_equal(problem.lambda_weights, weights)
    assert problem.lambda_source == "quadrature" and problem.quadrature == 16 and problem.num_lambdas == 16
    np.testing.assert_allclose(problem.sample_weights().sum(), 1.0, rtol=1e-15)
    assert repr(problem) == "MixupUFM(3, alpha=0.3, weight_decay=0.05, quadrature=16)"
    # replace(alpha) recomputes the nodes; a new source replaces the old one; the seed does not matter.
    np.testing.assert_array_equal(problem.replace(alpha=2.0).lambdas, beta_rule(2.0, 2.0, 16)[0])
    assert problem.replace(num_lambdas=5).lambda_source == "drawn"
    assert problem.replace(lambdas=[0.5]).lambda_source == "given"
    assert ufm.MixupUFM(3).replace(quadrature=4).lambda_source == "quadrature"
    assert problem.replace(seed=7) == problem
    assert problem != ufm.MixupUFM(3, alpha=0.3, lambdas=nodes, weight_decay=0.05)  # same lambdas, other weights
    config = json.loads(json.dumps(problem.config()))
    assert config["lambda_source"] == "quadrature" and config["num_lambdas"] is None
    assert ufm.MixupUFM.from_config(config) == problem


def test_weights_do_not_move_the_optimum():
    """Quadrature weights multiply each sample's loss and decay alike: every sample's optimum is the
    unweighted one, and the solver finds it. (The joint solvers minimise the unweighted sum by
    construction, see ufm._joint.)"""
    weighted = ufm.MixupUFM(3, alpha=0.05, quadrature=8, weight_decay=0.05)
    uniform = ufm.MixupUFM(3, lambdas=weighted.lambdas, weight_decay=0.05)
    assert weighted.lambda_weights.max() / weighted.lambda_weights.min() > 10  # far from uniform
    exact = ufm.optimal_features(weighted)
    np.testing.assert_array_equal(exact, ufm.optimal_features(uniform))
    solution = ufm.minimize(weighted)
    report = ufm.check(weighted, solution)
    assert report.ok, report.reasons
    np.testing.assert_allclose(solution.features, ufm.minimize(uniform).features, atol=1e-12)
    # The weighted objective is stationary at the exact optimum ...
    import jax

    grad = np.asarray(jax.grad(weighted.objective)(exact))
    assert np.abs(grad).max() < 1e-15
    # ... while weighting the loss but not the decay would move it (negative control).
    nu = weighted.sample_weights().reshape(3, 3, 8)

    @jax.jit
    def loss_weighted_only_gradient_and_values(h):
        def loss_weighted_only(h):
            losses = ufm.per_sample_objective(h, weighted.classifier, weighted.lambdas, 0.0)
            return (nu * losses).sum() + 0.5 * 0.05 * (h * h).sum() / h[..., 0].size

        losses = ufm.per_sample_objective(h, weighted.classifier, weighted.lambdas, 0.0)
        return jax.grad(loss_weighted_only)(h), losses + 0.5 * 0.05 * (h * h).sum(axis=-1)

    wrong_grad, values = (np.asarray(a) for a in loss_weighted_only_gradient_and_values(exact))
    assert np.abs(wrong_grad).max() > 1e-3
    # And the reported objective is the weighted mean, not the plain one.
    assert float(weighted.objective(exact)) == pytest.approx(float((values * nu).sum()), rel=1e-14)
    assert abs(float(weighted.objective(exact)) - values.mean()) > 1e-3


def test_geometry_means_over_lambda_use_the_weights():
    problem = ufm.MixupUFM(3, alpha=0.05, quadrature=8)
    h = np.array(ufm.optimal_features(problem))
    h[0, 0] *= 1.0 + (2.0 * problem.lambdas[:, None] - 1.0) ** 2  # norms that vary with lambda
    norms = np.linalg.norm(h[[0, 1, 2], [0, 1, 2]], axis=-1)  # (K, M)
    weighted = ufm.feature_geometry(h, problem.classifier, problem.lambdas, lambda_weights=problem.lambda_weights)
    plain = ufm.feature_geometry(h, problem.classifier, problem.lambdas)
    assert weighted["same_class_norm_mean"] == pytest.approx((norms @ problem.lambda_weights).mean(), rel=1e-14)
    assert plain["same_class_norm_mean"] == pytest.approx(norms.mean(), rel=1e-14)
    assert abs(weighted["same_class_norm_mean"] - plain["same_class_norm_mean"]) > 1e-2
    report = ufm.check(problem, h)
    assert report.geometry["same_class_norm_mean"] == weighted["same_class_norm_mean"]


def test_cli_quadrature(capsys):
    # K = 3, M = 8: the shape solved above, so the compiled Newton loop is reused.
    code = main(["--classes", "3", "--quadrature", "8", "--alpha", "0.4", "--weight-decay", "0.1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ok"]
    assert result["settings"]["lambda_source"] == "quadrature" and result["settings"]["quadrature"] == 8
    problem = ufm.MixupUFM.from_config(result["problem"])
    assert problem == ufm.MixupUFM(3, alpha=0.4, weight_decay=0.1, quadrature=8)
    assert result["objective_analytic"] == pytest.approx(
        float(problem.objective(ufm.optimal_features(problem))), rel=1e-14
    )


# ----------------------------------------------------------------------------- oracles


def _pair(k, gamma, lam):
    """(u, v) at one lambda, solved in the padded shape the package uses (no extra compilation)."""
    padded = np.full(64, 0.5)
    padded[0] = lam
    u, v = analytic.pair_margins(np.float64(k), padded, np.float64(gamma))
    return float(u[0]), float(v[0])


def _quantities(k, gamma, lam, scale=1.0):
    """The per-lambda quantities, written here from the definitions (NumPy, independent of the package)."""
    u, v = _pair(k, gamma, lam)
    beta = scale**2 * k / (k - 1)
    z = np.array([u, v] + [0.0] * (k - 2))
    p = scipy.special.softmax(z)
    loss = scipy.special.logsumexp(z) - lam * u - (1 - lam) * v
    return {
        "pair_objective": loss + 0.5 * gamma * (u * u + v * v - (u + v) ** 2 / k),
        "confidence": p[0],
        "calibration_error": abs(p[0] - lam),
        "pairwise_calibration_error": abs(p[0] / (p[0] + p[1]) - lam),
        "feature_norm": scale * math.sqrt(u * u + v * v - 2 * u * v / (k - 1)) / beta,
        "boundary_distance": abs(u - v) / math.sqrt(2 * beta),
        "gap": p[0] - lam,
        "pairwise_gap": p[0] / (p[0] + p[1]) - lam,
    }


def _adaptive(f, alpha, points):
    """E[f] under Beta(alpha, alpha) by scipy's QUADPACK with the algebraic end-point weight (QAWS),
    split at ``points``."""
    total = 0.0
    edges = [0.0, *sorted(points), 1.0]
    for a, b in zip(edges[:-1], edges[1:]):
        left = alpha - 1 if a == 0.0 else 0.0
        right = alpha - 1 if b == 1.0 else 0.0

        def integrand(x, a=a, b=b):
            smooth = (x ** (alpha - 1) if a != 0.0 else 1.0) * ((1 - x) ** (alpha - 1) if b != 1.0 else 1.0)
            return f(x) * smooth

        value, _ = scipy.integrate.quad(
            integrand, a, b, weight="alg", wvar=(left, right), epsabs=1e-15, epsrel=1e-13, limit=200
        )
        total += value
    return total / scipy.special.beta(alpha, alpha)


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_quadrature_48_objective_matches_adaptive_quadrature(alpha):
    """Done-when: E_lambda[optimal objective] by quadrature=48 agrees with QUADPACK to 1e-10."""
    k, mu = 4, 1e-2
    problem = ufm.MixupUFM(k, alpha=alpha, weight_decay=mu, quadrature=48)
    by_rule = float(problem.objective(ufm.optimal_features(problem)))
    gamma = problem.gamma
    t = float(analytic.same_class_margin(k, gamma))
    same = math.log(math.exp(t) + k - 1) - t + 0.5 * gamma * (1 - 1 / k) * t * t
    pair = _adaptive(lambda x: _quantities(k, gamma, x)["pair_objective"], alpha, [0.5])
    assert abs(by_rule - (same / k + (1 - 1 / k) * pair)) <= 1e-10


@pytest.mark.parametrize(("k", "mu", "alpha"), [(3, 1e-2, 0.3), (3, 1e-2, 3.0), (2, 0.1, 0.3), (10, 1e-3, 1.0)])
def test_expected_optimum_matches_adaptive_quadrature(k, mu, alpha):
    """Every expectation against QUADPACK split where each absolute value has its kink. The
    crossings are found here by Brent's method on brackets known from the structure: p_c - lambda > 0
    near 0 and < 0 at 1/2 (K >= 3); r - lambda changes sign in (0, 1/2) at weak decay, and both vanish
    at 1/2 by symmetry."""
    beta = k / (k - 1)
    gamma = mu / beta
    cuts = [0.5]
    if k > 2:
        cuts.append(scipy.optimize.brentq(lambda x: _quantities(k, gamma, x)["gap"], 1e-6, 0.5 - 1e-9, xtol=1e-15))
        g = lambda x: _quantities(k, gamma, x)["pairwise_gap"]  # noqa: E731
        if g(1e-3) > 0 > g(0.49):
            root = scipy.optimize.brentq(g, 1e-3, 0.49, xtol=1e-15)
            cuts += [root, 1 - root]
    package_cuts = ufm._expectations._crossings(k, gamma)
    for c in cuts:
        if c != 0.5:
            assert min(abs(np.array(package_cuts) - min(c, 1 - c))) <= 1e-12
    expected = analytic.expected_optimum(k, alpha, mu)
    cache = {}

    def f(key):
        def value(x):
            if x not in cache:
                cache[x] = _quantities(k, gamma, x)
            return cache[x][key]

        return value

    for key in ("pair_objective", "confidence", "calibration_error", "pairwise_calibration_error",
                "feature_norm", "boundary_distance"):
        reference = _adaptive(f(key), alpha, cuts)
        assert getattr(expected, key) == pytest.approx(reference, rel=1e-11, abs=1e-15), key


def test_expected_optimum_at_weak_decay():
    """At mu = 1e-5 the optimum changes within ~gamma log(1/gamma) of lambda = 0 and 1: the rule's
    panels are graded down to gamma/4 there (without that grading the error is ~1e-3)."""
    k, mu, alpha = 10, 1e-5, 0.3
    gamma = mu * (k - 1) / k
    expected = analytic.expected_optimum(k, alpha, mu)
    reference = _adaptive(lambda x: _quantities(k, gamma, x)["pair_objective"], alpha, [0.5])  # smooth
    assert expected.pair_objective == pytest.approx(reference, rel=1e-12)


def test_splitting_at_the_crossings_matters():
    """Negative control: the same composite rule without breakpoints at the crossings of p_c - lambda
    and r - lambda integrates the kinks of the absolute values with errors of ~1e-8."""
    from ufm import _expectations as ex

    k, mu, alpha = 3, 1e-2, 0.3
    gamma = mu * (k - 1) / k
    reference = analytic.expected_optimum(k, alpha, mu)
    nodes, weights = ex._composite_rule(alpha, gamma, ())
    values = ex._pair_values(k, gamma, 1.0, nodes)
    for key in ("calibration_error", "pairwise_calibration_error"):
        assert abs(weights @ values[key] - getattr(reference, key)) > 1e-9
    assert abs(weights @ values["pair_objective"] - reference.pair_objective) < 1e-14  # smooth: unaffected


@pytest.mark.parametrize("alpha", [0.2, 4.0])
def test_monte_carlo_agrees_within_its_standard_error(alpha):
    """2048 drawn lambdas (32 seeds of 64 draws), the objective at the exact optimum of each problem."""
    import jax

    k, mu = 3, 0.05
    per_sample = jax.jit(ufm.per_sample_objective)  # compiled once, instead of op by op
    per_lambda = []
    for seed in range(32):
        problem = ufm.MixupUFM(k, alpha=alpha, weight_decay=mu, num_lambdas=64, seed=seed)
        h = ufm.optimal_features(problem)
        values = np.asarray(per_sample(h, problem.classifier, problem.lambdas, mu)).mean(axis=(0, 1))
        assert float(problem.objective(h)) == pytest.approx(values.mean(), rel=1e-13)
        per_lambda.append(values)
    per_lambda = np.concatenate(per_lambda)
    estimate, error = per_lambda.mean(), per_lambda.std(ddof=1) / math.sqrt(per_lambda.size)
    exact = analytic.expected_optimum(k, alpha, mu).objective
    assert abs(estimate - exact) <= 4 * error  # fixed seeds: deterministic
    assert abs(estimate - exact) > 1e-3 * error  # and it is a Monte-Carlo estimate, not the exact value


# ----------------------------------------------------------------------------- the alpha limits


def _derived_limits(k, mu, scale):
    """The limits of docs/derivations.md Result 8.2, evaluated at the package's t and m."""
    from derivations import d9_mixup_alpha as d9
    from derivations._common import K, gamma, s, t

    beta = scale**2 * k / (k - 1)
    g = mu / beta
    t_value = float(analytic.same_class_margin(k, g))
    m_value = max(_pair(k, g, 0.5)[0], 0.0) if k > 2 else 0.0
    small, large = d9.limits()
    definitions = d9.limit_definitions()
    point = {K: k, gamma: g, s: scale, t: t_value, d9.m: m_value}
    return [
        {key: float(sp.N(expr.subs(definitions).subs(point), 30)) for key, expr in side.items()}
        for side in (small, large)
    ]


@pytest.mark.parametrize(("k", "mu", "scale"), [(2, 0.1, 1.0), (3, 1e-2, 1.0), (10, 1e-3, 2.0)])
def test_alpha_limits_match_the_derivation_and_are_approached(k, mu, scale):
    small, large = _derived_limits(k, mu, scale)
    e = analytic.expected_optimum(k, np.array([0.0, 1e-6, 1e-4, 1e4, 1e6, np.inf]), mu, scale)
    for key in small:
        values = getattr(e, key)
        assert values[0] == pytest.approx(small[key], rel=1e-13, abs=1e-15), key
        assert values[-1] == pytest.approx(large[key], rel=1e-13, abs=1e-15), key
        near0 = np.abs(values[1:3] - values[0])
        far = np.abs(values[3:5] - values[-1])
        if key == "confidence" and k == 2:  # exactly 1/2 for every alpha (lambda <-> 1 - lambda)
            assert max(near0.max(), far.max()) < 1e-15
            continue
        # O(alpha) as alpha -> 0 (Result 8.1): a factor 100 per factor 100 in alpha.
        assert near0[1] / near0[0] == pytest.approx(100, rel=0.01), key
        # alpha -> infinity: O(1/alpha) for smooth quantities, O(alpha^-1/2) for those with a kink at
        # lambda = 1/2 (E|lambda - 1/2| ~ 1/(2 sqrt(pi alpha))), and for K = 2 every quantity but the
        # objective has that kink (h = 0 at lambda = 1/2).
        kinked = key in ("pairwise_calibration_error", "boundary_distance") or (
            k == 2 and key != "objective" and key != "pair_objective"
        )
        assert far[0] / far[1] == pytest.approx(10 if kinked else 100, rel=0.02), key


def test_expected_optimum_compiles_nothing_new():
    """expected_optimum reuses the root finders compiled for the exact optimum, whatever K, mu, alpha."""
    ufm.optimal_features(ufm.MixupUFM(3, num_lambdas=2))
    before = dict(analytic.TRACES)
    for k, mu, alphas in ((2, 0.5, [0.1, 3.0]), (7, 1e-3, 0.05), (40, 2.0, [[1.0, 20.0]])):
        out = analytic.expected_optimum(k, alphas, mu)
        assert np.shape(out.objective) == np.shape(alphas)
    assert dict(analytic.TRACES) == before
    assert isinstance(analytic.expected_optimum(3, 0.5, 0.1).objective, float)
