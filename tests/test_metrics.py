"""ufm.metrics against independent NumPy implementations, constructed cases with known values, and
the weight-decay fit on exact optima.

The reference implementations here are written from the definitions in docs/analyze.md with dense
arrays and loops (per class, per pair, per threshold), sharing no code with ufm.metrics.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit, softmax

import ufm
from ufm import _fit, analytic, metrics

# ----------------------------------------------------------------------------- references


def reference_neural_collapse(h, y, w=None):
    h = np.asarray(h, dtype=np.float64)
    k = int(y.max()) + 1 if w is None else w.shape[0]
    n = h.shape[0]
    means = np.stack([h[y == c].mean(axis=0) for c in range(k)])
    centred = means - means.mean(axis=0)
    within = sum((h[y == c] - means[c]).T @ (h[y == c] - means[c]) for c in range(k)) / n
    between = centred.T @ centred / k
    nc1 = np.trace(within @ np.linalg.pinv(between, rcond=1e-10, hermitian=True)) / k
    sigma2 = [np.mean(np.sum((h[y == c] - means[c]) ** 2, axis=1)) for c in range(k)]
    ratios = [
        (sigma2[c] + sigma2[e]) / (2 * np.sum((means[c] - means[e]) ** 2)) for c in range(k) for e in range(c + 1, k)
    ]
    target = (np.eye(k) - np.ones((k, k)) / k) / np.sqrt(k - 1)

    def structure(g):
        return np.linalg.norm(g / np.linalg.norm(g) - target)

    norms = np.linalg.norm(centred, axis=1)
    cosines = [
        centred[c] @ centred[e] / (norms[c] * norms[e]) for c in range(k) for e in range(k) if c != e
    ]
    out = {
        "nc1": nc1,
        "cdnv": np.mean(ratios),
        "etf_error": structure(centred @ centred.T),
        "equinorm": np.std(norms) / np.mean(norms),
        "equiangle": np.mean(np.abs(np.array(cosines) + 1 / (k - 1))),
        "self_duality": None,
        "ncc_mismatch": None,
    }
    if w is not None:
        distances = np.linalg.norm(h[:, None, :] - means[None, :, :], axis=2)
        out["self_duality"] = structure(w @ centred.T)
        out["ncc_mismatch"] = np.mean(np.argmax(h @ w.T, axis=1) != np.argmin(distances, axis=1))
    return out


def reference_crossing(lam, margin):
    """Brute force over every threshold: fewest samples on the wrong side, interpolated."""
    order = np.argsort(lam, kind="stable")
    lam, margin = lam[order], margin[order]
    n = lam.size
    wrong = [np.sum(margin[:j] > 0) + np.sum(margin[j:] <= 0) for j in range(n + 1)]
    best = [j for j in range(n + 1) if wrong[j] == min(wrong)]
    values = []
    for j in (best[0], best[-1]):
        if 0 < j < n:
            ml, mr = margin[j - 1], margin[j]
            values.append(lam[j - 1] + (lam[j] - lam[j - 1]) * (-ml) / (mr - ml))
    return np.mean(values) if values else np.nan


def reference_mixup_geometry(h, w, a, b, lam):
    same = a == b
    k = w.shape[0]
    cos = [h[i] @ w[a[i]] / (np.linalg.norm(h[i]) * np.linalg.norm(w[a[i]])) for i in np.flatnonzero(same)]
    class_means = {c: h[same & (a == c)].mean(axis=0) for c in np.unique(a[same])}
    spread = sum(np.sum((h[i] - class_means[a[i]]) ** 2) for i in np.flatnonzero(same))
    scale = sum(np.sum(class_means[a[i]] ** 2) for i in np.flatnonzero(same))
    shares = []
    for i in np.flatnonzero(~same):
        basis = np.stack([w[a[i]], w[b[i]]], axis=1)
        coef, *_ = np.linalg.lstsq(basis, h[i], rcond=1e-10)
        shares.append(np.linalg.norm(h[i] - basis @ coef) / np.linalg.norm(h[i]))
    z = h @ w.T
    rows = np.flatnonzero(~same)
    conf = expit(z[rows, a[rows]] - z[rows, b[rows]])
    prob = softmax(z[rows], axis=1)[np.arange(rows.size), a[rows]]
    crossings = {}
    for c in range(k):
        for e in range(c + 1, k):
            fwd = (a == c) & (b == e)
            bwd = (a == e) & (b == c)
            if not (fwd | bwd).any():
                continue
            pair_lam = np.concatenate([lam[fwd], 1 - lam[bwd]])
            pair_margin = np.concatenate([z[fwd, c] - z[fwd, e], z[bwd, c] - z[bwd, e]])
            crossings[(c, e)] = reference_crossing(pair_lam, pair_margin)
    bins = np.minimum((lam[rows] * 10).astype(int), 9)
    return {
        "same_alignment_mean": np.mean(cos),
        "same_alignment_min": np.min(cos),
        "same_spread": np.sqrt(spread / scale),
        "outside_span_mean": np.mean(shares),
        "outside_span_max": np.max(shares),
        "crossings": crossings,
        "confidence_gap_mean": np.mean(np.abs(conf - lam[rows])),
        "calibration_confidence": [conf[bins == j].mean() if (bins == j).any() else np.nan for j in range(10)],
        "calibration_probability": [prob[bins == j].mean() if (bins == j).any() else np.nan for j in range(10)],
    }


def flat_samples(problem, features):
    """(K, K, M, d) or (P, M, d) features of a problem -> flat (N, d) rows with their classes and lambdas."""
    m = problem.num_lambdas
    pairs = problem.pair_index
    h = np.array(features, dtype=np.float64).reshape(-1, problem.dim)
    return (h, np.repeat(pairs[:, 0], m), np.repeat(pairs[:, 1], m), np.tile(np.asarray(problem.lambdas), len(pairs)))


def random_labelled(seed, n=600, k=4, d=7):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % k)
    centres = 2.0 * rng.normal(size=(k, d))
    h = centres[y] + rng.normal(size=(n, d)) * rng.uniform(0.3, 1.5, size=(k, 1))[y]
    w = centres + 0.8 * rng.normal(size=(k, d))
    return h, y, w


# ----------------------------------------------------------------------------- neural collapse


@pytest.mark.parametrize("dtype", [np.float64, np.float32, "jax"])
def test_neural_collapse_matches_the_reference_on_random_data(dtype):
    h, y, w = random_labelled(0)
    expected = reference_neural_collapse(h.astype(np.float32) if dtype is np.float32 else h, y, w)
    given = jnp.asarray(h) if dtype == "jax" else h.astype(dtype)
    result = metrics.neural_collapse(given, jnp.asarray(y) if dtype == "jax" else y, w)
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(value, rel=1e-10, abs=1e-14), name
    assert 0 < result.ncc_mismatch < 1  # a case where the decisions differ, so the count is tested
    assert result.class_counts == tuple(np.bincount(y))


def test_neural_collapse_without_classifier_and_with_unequal_classes():
    h, y, _ = random_labelled(1, n=301, k=5, d=9)
    result = metrics.neural_collapse(h, y)
    expected = reference_neural_collapse(h, y)
    for name in ("nc1", "cdnv", "etf_error", "equinorm", "equiangle"):
        assert getattr(result, name) == pytest.approx(expected[name], rel=1e-10), name
    assert result.self_duality is None and result.ncc_mismatch is None and result.num_classes == 5


@pytest.mark.parametrize(("k", "d", "stretch"), [(5, 8, 1e-3), (6, 3, 1.0)])
def test_nc1_with_ill_conditioned_or_rank_deficient_between_class_scatter(k, d, stretch):
    # Class means spread 1000 times less along one direction, or d < K - 1 (Sigma_B of rank d):
    # the pseudo-inverse must keep the small but genuine direction and drop only true zeros.
    rng = np.random.default_rng(k)
    centres = rng.normal(size=(k, d))
    centres[:, 0] *= stretch
    y = np.repeat(np.arange(k), 30)
    h = centres[y] + 0.01 * rng.normal(size=(y.size, d))
    expected = reference_neural_collapse(h, y)
    assert metrics.neural_collapse(h, y).nc1 == pytest.approx(expected["nc1"], rel=1e-8)


def test_neural_collapse_in_several_row_blocks(monkeypatch):
    # Small blocks exercise the accumulation across blocks (the default blocks hold 2**22 numbers).
    from ufm import _blocks

    monkeypatch.setattr(_blocks, "_BLOCK_ELEMENTS", 64)
    h, y, w = random_labelled(2, n=500, k=4, d=8)
    result = metrics.neural_collapse(h, y, w)
    expected = reference_neural_collapse(h, y, w)
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(value, rel=1e-10), name


def test_collapsed_simplex_etf_gives_zero_for_every_metric():
    # Same-class optimum of the mixup UFM: h = (t / beta) w_c, repeated, unequal class sizes.
    k, d = 6, 9
    w = np.asarray(ufm.simplex_etf(k, d, scale=1.3, seed=4))
    counts = np.array([3, 7, 1, 5, 9, 2])
    y = np.repeat(np.arange(k), counts)
    h = 4.2 * w[y]
    result = metrics.neural_collapse(h, y, w)
    assert result.nc1 <= 1e-28 and result.cdnv <= 1e-28
    for name in ("etf_error", "equinorm", "equiangle", "self_duality"):
        assert getattr(result, name) <= 1e-14, name
    assert result.ncc_mismatch == 0.0
    # Negative control: one class mean moved off the ETF.
    moved = h.copy()
    moved[y == 2] *= 1.5
    off = metrics.neural_collapse(moved, y, w)
    assert off.etf_error > 1e-2 and off.equinorm > 1e-2 and off.self_duality > 1e-2


def test_rotation_scale_and_shift_of_the_features():
    h, y, w = random_labelled(3, n=400, k=4, d=6)
    q, _ = np.linalg.qr(np.random.default_rng(9).normal(size=(6, 6)))
    base = metrics.neural_collapse(h, y, w)
    moved = metrics.neural_collapse(3.7 * h @ q.T + 5.0, y, 3.7 * w @ q.T)
    # Every metric is invariant under a rotation and scale of features and classifier together,
    # and under a shift of the features (argmax W h is not: its decisions move with the shift).
    for name in ("nc1", "cdnv", "etf_error", "equinorm", "equiangle", "self_duality"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name), rel=1e-9), name


@pytest.mark.parametrize("theta", [0.3, 1.1, math.pi / 2])
def test_self_duality_of_a_rotated_etf_is_known(theta):
    # K = 3 in the plane: class means rotated by theta against the classifier give
    # W M^T = beta (cos theta P + sin theta S), S antisymmetric, so the distance is 2 |sin(theta/2)|.
    w = np.asarray(ufm.simplex_etf(3, 2))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    y = np.repeat(np.arange(3), 4)
    result = metrics.neural_collapse(2.0 * w[y] @ rotation.T, y, w)
    assert result.self_duality == pytest.approx(2 * abs(math.sin(theta / 2)), rel=1e-12)
    assert result.etf_error <= 1e-15 and result.nc1 <= 1e-30


def test_known_values_of_an_unequal_frame():
    # Means (1, 0), (-1, 0), (0, 2), (0, -2) (already centred), samples at mean +- (s, 0).
    s = 0.3
    means = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    y = np.repeat(np.arange(4), 2)
    h = means[y] + np.tile([[s, 0.0], [-s, 0.0]], (4, 1))
    result = metrics.neural_collapse(h, y)
    assert result.equinorm == pytest.approx(1 / 3, rel=1e-14)  # norms 1, 1, 2, 2: std 0.5, mean 1.5
    assert result.equiangle == pytest.approx(4 / 9, rel=1e-14)  # 4 ordered pairs |-1 + 1/3|, 8 pairs |0 + 1/3|
    assert result.nc1 == pytest.approx(s * s / 2, rel=1e-12)  # tr(diag(s^2, 0) diag(2, 1/2)) / 4
    assert result.cdnv == pytest.approx(s * s * (1 / 4 + 4 / 5 + 1 / 16) / 6, rel=1e-12)
    # G = M M^T has rows summing to 0, trace 10 and ||G||_F = sqrt(68).
    assert result.etf_error == pytest.approx(math.sqrt(2 - 20 / math.sqrt(68 * 3)), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_etf_error_of_given_rows(k):
    rng = np.random.default_rng(k)
    # Orthonormal rows: G = I, so the distance is sqrt(2 - 2 sqrt((K - 1) / K)).
    assert metrics.etf_error(np.eye(k)) == pytest.approx(math.sqrt(2 - 2 * math.sqrt((k - 1) / k)), rel=1e-13)
    etf = np.asarray(ufm.simplex_etf(k, k + 2, scale=2.5, seed=1))
    assert metrics.etf_error(etf) <= 1e-15
    q, _ = np.linalg.qr(rng.normal(size=(k + 2, k + 2)))
    assert metrics.etf_error(7.0 * etf @ q) <= 1e-14  # any scale and orientation
    assert metrics.etf_error(etf + 0.3) > 0.05  # rows are used as given, not centred
    assert math.isnan(metrics.etf_error(np.zeros((k, 3))))


def test_ncc_agreement_and_full_disagreement():
    w = np.asarray(ufm.simplex_etf(4, 5, seed=2))
    y = np.repeat(np.arange(4), 25)
    h = w[y] + 0.05 * np.random.default_rng(0).normal(size=(100, 5))
    assert metrics.neural_collapse(h, y, w).ncc_mismatch == 0.0
    # -W picks the class whose mean is least aligned: never the nearest one.
    assert metrics.neural_collapse(h, y, -w).ncc_mismatch == 1.0


# ----------------------------------------------------------------------------- mixup geometry


def random_mixed(seed, n=700, k=4, d=6, distinct_lambdas=None):
    """Noisy mixed samples around the MSE optimum's shape (cheap: no margins), for a perturbed ETF;
    with ``distinct_lambdas`` the lambdas are drawn from that many values, and the features are
    placed around the exact optimum instead."""
    rng = np.random.default_rng(seed)
    w = np.asarray(ufm.simplex_etf(k, d, seed=seed)) + 0.2 * rng.normal(size=(k, d))
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 0.3, a, rng.integers(0, k, n))
    if distinct_lambdas is None:
        lam = rng.uniform(size=n)
        h = 3.0 * (lam[:, None] * w[a] + (1 - lam[:, None]) * w[b])
    else:
        lam = rng.choice(rng.uniform(size=distinct_lambdas), n)
        h = metrics.exact_optimum(w, a, b, lam, 0.02)
    return h + 0.3 * rng.normal(size=(n, d)), w, a, b, lam


def test_mixup_geometry_matches_the_reference_on_random_data():
    h, w, a, b, lam = random_mixed(0)
    result = metrics.mixup_geometry(h, w, a, b, lam)
    expected = reference_mixup_geometry(h, w, a, b, lam)
    for name in ("same_alignment_mean", "same_alignment_min", "same_spread", "outside_span_mean",
                 "outside_span_max", "confidence_gap_mean"):
        assert getattr(result, name) == pytest.approx(expected[name], rel=1e-10), name
    np.testing.assert_allclose(result.calibration_confidence, expected["calibration_confidence"], rtol=1e-12)
    np.testing.assert_allclose(result.calibration_probability, expected["calibration_probability"], rtol=1e-12)
    got = {tuple(p): x for p, x in zip(result.pairs.tolist(), result.crossing_lambdas)}
    assert got.keys() == expected["crossings"].keys()
    for pair, value in expected["crossings"].items():
        np.testing.assert_allclose(got[pair], value, rtol=1e-12, err_msg=str(pair))
    assert np.isfinite(result.crossing_lambdas).sum() >= 3  # the interpolation itself is compared
    assert result.num_same + result.num_different == a.size


def test_mixup_geometry_in_several_row_blocks(monkeypatch):
    from ufm import _blocks

    h, w, a, b, lam = random_mixed(1, n=300)
    whole = metrics.mixup_geometry(h, w, a, b, lam)
    monkeypatch.setattr(_blocks, "_BLOCK_ELEMENTS", 64)
    blocked = metrics.mixup_geometry(h, w, a, b, lam)
    for name, value in whole.to_dict(per_pair=True).items():
        np.testing.assert_allclose(blocked.to_dict(per_pair=True)[name], value, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_mixup_geometry_of_an_exact_optimum_is_the_theory(k):
    problem = ufm.MixupUFM(k, num_lambdas=9, weight_decay=0.05, dim=k + 2, embedding_seed=1, scale=1.4)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    w = np.asarray(problem.classifier)
    result = metrics.mixup_geometry(h, w, a, b, lam)
    assert result.same_alignment_min >= 1 - 1e-15 and result.same_spread <= 1e-14
    assert result.outside_span_max <= 1e-14
    # Both orders (c, c2, lambda) and (c2, c, lambda) are present: mirrored lambdas, so the
    # interpolated sign change sits at 1/2 up to rounding.
    assert result.crossing_offset_max <= 1e-14 and result.pairs_without_crossing == 0
    assert result.pairs.shape[0] == k * (k - 1) // 2
    # A known out-of-plane component: share eps / sqrt(|h|^2 + eps^2) for every sample.
    normal = np.linalg.svd(w)[2][-1]  # orthogonal to every row of W (d > K - 1)
    eps = 0.01
    lifted = metrics.mixup_geometry(h + eps * normal, w, a, b, lam)
    norms = np.linalg.norm(h[a != b], axis=1)
    assert lifted.outside_span_max == pytest.approx(np.max(eps / np.sqrt(norms**2 + eps**2)), rel=1e-10)
    assert lifted.same_alignment_min < 1 - 1e-6  # negative control: the same-class check sees it too


# ----------------------------------------------------------------------------- weight-decay fit


@pytest.mark.parametrize(
    ("k", "dim", "scale", "mu"),
    [(2, 3, 1.0, 1e-2), (3, 2, 0.5, 1e-4), (3, 5, 3.0, 0.3), (10, 10, 1.0, 1e-2), (10, 12, 2.0, 1.0),
     (25, 24, 0.7, 1e-3)],
)
def test_fit_recovers_the_weight_decay_of_exact_optima(k, dim, scale, mu):
    problem = ufm.MixupUFM(k, num_lambdas=6, weight_decay=mu, dim=dim, scale=scale, embedding_seed=k, alpha=0.5)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    fit = metrics.fit_weight_decay(h, problem.classifier, a, b, lam)
    assert abs(fit.weight_decay / mu - 1) <= 1e-6, fit.weight_decay
    assert fit.rel_residual <= 1e-8 and not fit.at_bound
    assert fit.beta == pytest.approx(problem.beta, rel=1e-14)
    # Negative control: the MSE optimum of the same problem is not a cross-entropy UFM optimum.
    mse = flat_samples(problem, analytic.mse_optimal_features(problem))[0]
    assert metrics.fit_weight_decay(mse, problem.classifier, a, b, lam).rel_residual > 1e-3


def test_fit_with_many_distinct_lambdas_finishes_on_all_of_them(monkeypatch):
    # More distinct lambdas than the search uses (1024 by default; 16 here, so that the test stays
    # small): the search runs on an evenly spaced subset, Gauss-Newton steps on all of them finish it.
    monkeypatch.setattr(_fit, "_SEARCH_LAMBDAS", 16)
    problem = ufm.MixupUFM(3, num_lambdas=60, weight_decay=0.02, dim=4, seed=3)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    steps = []
    original = _fit._gauss_newton
    monkeypatch.setattr(_fit, "_gauss_newton", lambda *args: steps.append(1) or original(*args))
    fit = metrics.fit_weight_decay(h, problem.classifier, a, b, lam)
    assert steps and fit.num_lambda_values == 60
    assert abs(fit.weight_decay / 0.02 - 1) <= 1e-6 and fit.rel_residual <= 1e-8
    # With noise the subset's estimate differs from the full fit, which the steps then reach.
    noisy = h + 0.2 * np.random.default_rng(0).normal(size=h.shape)
    full = metrics.fit_weight_decay(noisy, problem.classifier, a, b, lam)
    monkeypatch.setattr(_fit, "_SEARCH_LAMBDAS", 1024)
    direct = metrics.fit_weight_decay(noisy, problem.classifier, a, b, lam)
    assert full.weight_decay == pytest.approx(direct.weight_decay, rel=1e-8)


def test_fit_matches_a_brute_force_least_squares_fit():
    # Noisy features and a classifier that is not an ETF: compare with a direct minimisation of
    # sum ||z - z*||^2, z* the centred logits of exact_optimum sample by sample.
    h, w, a, b, lam = random_mixed(4, n=400, k=4, d=6, distinct_lambdas=50)
    fit = metrics.fit_weight_decay(h, w, a, b, lam)

    def centred(x):
        return x - x.mean(axis=1, keepdims=True)

    z = centred(h @ w.T)

    def residual(log_mu):
        optimum = metrics.exact_optimum(w, a, b, lam, math.exp(log_mu))
        return np.sum((z - centred(optimum @ w.T)) ** 2) / np.sum(z * z)

    grid = np.linspace(math.log(1e-6), math.log(10.0), 60)
    best = grid[np.argmin([residual(x) for x in grid])]
    brute = minimize_scalar(residual, bounds=(best - 0.3, best + 0.3), method="bounded", options={"xatol": 1e-10})
    assert fit.weight_decay == pytest.approx(math.exp(brute.x), rel=1e-6)
    assert fit.rel_residual == pytest.approx(math.sqrt(brute.fun), rel=1e-8)
    assert 0.05 < fit.rel_residual < 0.9  # a genuinely noisy case


def test_fit_in_several_row_blocks_without_kept_logits(monkeypatch):
    from ufm import _blocks

    h, w, a, b, lam = random_mixed(5, n=300, distinct_lambdas=40)
    whole = metrics.fit_weight_decay(h, w, a, b, lam)
    monkeypatch.setattr(_blocks, "_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(_fit, "_CACHED_LOGITS", 0)  # logits recomputed in the second pass
    blocked = metrics.fit_weight_decay(h, w, a, b, lam)
    for name, value in whole.to_dict().items():
        np.testing.assert_allclose(blocked.to_dict()[name], value, rtol=1e-9, err_msg=name)


def test_fit_reports_where_the_features_deviate():
    problem = ufm.MixupUFM(4, num_lambdas=5, weight_decay=0.1, dim=4)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    w = np.asarray(problem.classifier)
    h[17] += 0.5 * (w[0] - w[1])  # one sample off its optimum (a change the logits see)
    fit = metrics.fit_weight_decay(h, problem.classifier, a, b, lam)
    assert fit.worst_index == 17 and (fit.worst_class_a, fit.worst_class_b) == (a[17], b[17])
    assert fit.worst_lambda == lam[17] and fit.worst_error > 0.1
    kind = "rel_residual_same" if a[17] == b[17] else "rel_residual_different"
    other = "rel_residual_different" if a[17] == b[17] else "rel_residual_same"
    assert getattr(fit, kind) > 10 * getattr(fit, other)  # the outlier also moves the fit a little


def test_fit_at_the_end_of_its_range_says_so():
    problem = ufm.MixupUFM(3, num_lambdas=4, weight_decay=0.1, dim=3)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    tiny = metrics.fit_weight_decay(1e-9 * h, problem.classifier, a, b, lam)  # logits ~1e-9: gamma ~1e9
    assert tiny.at_bound and tiny.gamma == pytest.approx(metrics.GAMMA_RANGE[1])
    with pytest.raises(ValueError, match="nothing to fit"):
        metrics.fit_weight_decay(0 * h, problem.classifier, a, b, lam)


@pytest.mark.parametrize("k", [2, 3, 8])
def test_margin_derivatives_match_finite_differences(k):
    lam = np.array([0.0, 0.1, 0.37, 0.5, 0.9, 1.0])
    for gamma in (1e-4, 0.03, 2.0):
        u, v, t = _fit._margins(k, lam, gamma)
        du, dv, dt = _fit.margin_derivatives(k, lam, gamma, u, v, t)
        step = 1e-5
        up, down = _fit._margins(k, lam, gamma * math.exp(step)), _fit._margins(k, lam, gamma * math.exp(-step))
        for exact, plus, minus in ((du, up[0], down[0]), (dv, up[1], down[1]), (dt, up[2], down[2])):
            numeric = (np.asarray(plus) - np.asarray(minus)) / (2 * step * gamma)  # d/dgamma via log gamma
            np.testing.assert_allclose(exact, numeric, rtol=1e-6, atol=1e-9 / gamma)


def test_margin_derivatives_are_the_derived_ones():
    # derivations/d8_margin_sensitivity.py derives the formulas; evaluate its sympy expressions.
    import sys
    from pathlib import Path

    import sympy as sp

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from derivations import _common as sym
    from derivations import d8_margin_sensitivity as d8

    du_expr, dv_expr, *_ = d8.pair_sensitivity()
    for k, lam, gamma in ((3, 0.2, 0.05), (10, 0.77, 1e-3), (2, 0.3, 0.4)):
        u, v, t = _fit._margins(k, np.array([lam]), gamma)
        du, dv, dt = _fit.margin_derivatives(k, np.array([lam]), gamma, u, v, t)
        point = {sym.K: k, sym.gamma: gamma, sym.u: u[0], sym.v: v[0], sym.t: t, sym.x: u[0] - v[0]}
        assert dt == pytest.approx(float(d8.same_class_sensitivity().subs(point)), rel=1e-13)
        if k == 2:
            dx = float(d8.binary_sensitivity().subs(point))
            assert (du[0], dv[0]) == pytest.approx((dx / 2, -dx / 2), rel=1e-13)
        else:
            assert du[0] == pytest.approx(float(sp.N(du_expr.subs(point))), rel=1e-12)
            assert dv[0] == pytest.approx(float(sp.N(dv_expr.subs(point))), rel=1e-12)


def test_exact_optimum_is_the_problem_optimum_for_an_etf():
    problem = ufm.MixupUFM(5, num_lambdas=4, weight_decay=0.07, dim=7, scale=1.6, embedding_seed=3)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    np.testing.assert_allclose(metrics.exact_optimum(problem.classifier, a, b, lam, 0.07), h, rtol=1e-13, atol=1e-15)


def test_repeated_fits_do_not_recompile_the_exact_margins():
    problem = ufm.MixupUFM(3, num_lambdas=3)
    h, a, b, lam = flat_samples(problem, ufm.optimal_features(problem))
    metrics.fit_weight_decay(h, problem.classifier, a, b, lam)
    before = dict(analytic.TRACES)
    for k, m, mu in ((4, 7, 0.3), (6, 20, 1e-3), (2, 50, 0.05)):
        other = ufm.MixupUFM(k, num_lambdas=m, weight_decay=mu, dim=k + 1)
        h, a, b, lam = flat_samples(other, ufm.optimal_features(other))
        assert abs(metrics.fit_weight_decay(h, other.classifier, a, b, lam).weight_decay / mu - 1) < 1e-6
    assert dict(analytic.TRACES) == before


# ----------------------------------------------------------------------------- bad input


BAD_INPUT = [
    (lambda: metrics.neural_collapse(np.zeros(3), np.zeros(3, int)), ValueError,
     "features must be a 2-D array (N, d), got shape (3,)"),
    (lambda: metrics.neural_collapse(np.full((2, 2), np.nan), np.array([0, 1])), ValueError,
     "features must be finite: it contains NaN or infinity"),
    (lambda: metrics.neural_collapse(np.ones((3, 2)), np.array([0, 1, 1.0])), TypeError,
     "labels must hold integers (class indices), got dtype float64"),
    (lambda: metrics.neural_collapse(np.ones((3, 2)), np.array([0, 1])), ValueError,
     "labels must have shape (3,) (one per sample), got (2,)"),
    (lambda: metrics.neural_collapse(np.ones((3, 2)), np.array([0, 2, 2])), ValueError,
     "every class needs at least one sample to define its mean: class 1 has none"),
    (lambda: metrics.neural_collapse(np.ones((3, 2)), np.array([0, 1, 3]), np.ones((3, 2))), ValueError,
     "labels must lie in 0..2 (one class per classifier row), got 3"),
    (lambda: metrics.neural_collapse(np.ones((3, 2)), np.array([0, 1, 1]), np.ones((2, 3))), ValueError,
     "classifier must have shape (K, d) with d = 2 (the features' dimension), got (2, 3)"),
    (lambda: metrics.mixup_geometry(np.ones((2, 2)), np.eye(2), [0, 1], [1, -1], [0.5, 0.5]), ValueError,
     "class_b must hold class indices >= 0, got -1"),
    (lambda: metrics.fit_weight_decay(np.ones((2, 2)), np.eye(2), [0, 1], [1, 0], [0.5, 1.5]), ValueError,
     "lambdas must lie in [0, 1], got 1.5 (mixing coefficients are probabilities)"),
    (lambda: metrics.etf_error(np.ones((1, 3))), ValueError,
     "rows must have at least 2 rows (K >= 2), got shape (1, 3)"),
    (lambda: metrics.exact_optimum(np.eye(2), [0], [1], [0.5], 0.0), ValueError,
     "weight_decay must be finite and > 0, got 0.0"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_INPUT, ids=[row[2][:40] for row in BAD_INPUT])
def test_bad_input_is_one_clear_line(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message
