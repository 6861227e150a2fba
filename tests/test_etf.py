"""The fixed classifier: simplex-ETF properties for several (K, d, scale, seed)."""

import numpy as np
import pytest

import ufm

CASES = [
    (2, None, 1.0, None),
    (3, None, 1.0, None),
    (3, 2, 1.0, None),  # d = K - 1
    (5, 4, 2.5, 7),  # d = K - 1, random rotation
    (5, 12, 0.3, 1),  # d > K, random embedding
    (10, None, 1.0, None),
    (10, 10, 3.0, 0),
    (17, 40, 1.0, None),
]


@pytest.mark.parametrize("k, d, scale, seed", CASES)
def test_simplex_etf_structure(k, d, scale, seed):
    w = np.asarray(ufm.simplex_etf(k, dim=d, scale=scale, seed=seed))
    assert w.dtype == np.float64
    assert w.shape == (k, k if d is None else d)
    gram = w @ w.T
    beta = scale**2 * k / (k - 1)
    # Row norms s, pairwise inner products -s^2/(K-1), rows summing to zero, W W^T = beta (I - 11^T/K).
    np.testing.assert_allclose(np.diag(gram), scale**2, rtol=1e-14)
    off = gram[~np.eye(k, dtype=bool)]
    np.testing.assert_allclose(off, -(scale**2) / (k - 1), rtol=1e-13, atol=1e-15 * scale**2)
    np.testing.assert_allclose(w.sum(axis=0), 0.0, atol=1e-13 * scale)
    np.testing.assert_allclose(gram, beta * (np.eye(k) - 1.0 / k), atol=1e-13 * beta)
    np.testing.assert_allclose(float(ufm.analytic.etf_beta(k, scale)), beta, rtol=1e-15, atol=0)


def test_seed_changes_embedding_not_geometry():
    a = np.asarray(ufm.simplex_etf(6, dim=9, seed=1))
    b = np.asarray(ufm.simplex_etf(6, dim=9, seed=2))
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a @ a.T, b @ b.T, atol=1e-14)
    np.testing.assert_array_equal(a, np.asarray(ufm.simplex_etf(6, dim=9, seed=1)))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(num_classes=1), ValueError),
        (dict(num_classes=2.5), TypeError),
        (dict(num_classes=5, dim=3), ValueError),
        (dict(num_classes=5, scale=0.0), ValueError),
        (dict(num_classes=5, scale=float("nan")), ValueError),
    ],
)
def test_simplex_etf_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        ufm.simplex_etf(**kwargs)
