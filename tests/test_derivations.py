"""The sympy derivations, and the link between them and ``ufm.analytic``.

The residuals of the derived equations (``derivations.residuals``: sympy expressions built from the
model, not retyped) are evaluated with mpmath at 50 digits at the values that
``ufm.analytic.same_class_margin``, ``pair_margins``, ``binary_margin`` and
``ufm.optimal_features`` return, over K in {2, 3, 5, 10, 100}, weight decay 1e-3..1 and lambda in
[0, 1] including 0, 1/2 and 1. A residual is mapped to the error in the margins it implies by one
Newton step with the derived Jacobian, and that error, relative to the size of the margins, must be
at most 1e-12: so a change to either side that is not made to the other fails here.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ufm  # noqa: E402
from derivations import residuals  # noqa: E402
from ufm import analytic  # noqa: E402

TOL = 1e-12
CLASSES = (2, 3, 5, 10, 100)
DECAYS = (1e-3, 1e-2, 1e-1, 1.0)
LAMBDAS = (0.0, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0 - 1e-3, 1.0)
DIGITS = 50

S = residuals.symbols()


@functools.cache
def _same_class_fns():
    r = residuals.same_class()
    args = (S["t"], S["K"], S["gamma"])
    return sp.lambdify(args, r, "mpmath"), sp.lambdify(args, sp.diff(r, S["t"]), "mpmath")


@functools.cache
def _pair_fns():
    r_u, r_v = residuals.pair()
    args = (S["u"], S["v"], S["K"], S["lam"], S["gamma"])
    jac = sp.Matrix([r_u, r_v]).jacobian([S["u"], S["v"]])
    return sp.lambdify(args, [r_u, r_v], "mpmath"), sp.lambdify(args, jac, "mpmath")


@functools.cache
def _binary_fns():
    r = residuals.binary()
    args = (S["x"], S["lam"], S["gamma"])
    return sp.lambdify(args, r, "mpmath"), sp.lambdify(args, sp.diff(r, S["x"]), "mpmath")


def _mp(value) -> mpmath.mpf:
    return mpmath.mpf(float(value))  # the exact binary value of the float64


def same_class_error(t, k, gamma) -> float:
    """|Newton correction| / t for the derived same-class equation at the float64 margin ``t``."""
    res, d_res = _same_class_fns()
    with mpmath.workdps(DIGITS):
        args = (_mp(t), _mp(k), _mp(gamma))
        return float(abs(res(*args) / d_res(*args)) / args[0])


def pair_error(u, v, k, lam, gamma) -> float:
    """|Newton correction| / max(|u|, |v|) for the derived (u, v) system (K >= 3)."""
    res, jac = _pair_fns()
    with mpmath.workdps(DIGITS):
        args = (_mp(u), _mp(v), _mp(k), _mp(lam), _mp(gamma))
        step = mpmath.lu_solve(mpmath.matrix(jac(*args)), mpmath.matrix(res(*args)))
        scale = max(abs(args[0]), abs(args[1]))
        return float(max(abs(step[0]), abs(step[1])) / scale)


def binary_error(x, lam, gamma) -> float:
    """|Newton correction| / |x| for the derived K = 2 equation (0 when x = 0 solves it exactly)."""
    res, d_res = _binary_fns()
    with mpmath.workdps(DIGITS):
        args = (_mp(x), _mp(lam), _mp(gamma))
        step = abs(res(*args) / d_res(*args))
        if args[0] == 0:
            return 0.0 if step == 0 else float("inf")
        return float(step / abs(args[0]))


# ----------------------------------------------------------------------------------------------
# ufm.analytic's margins solve the derived equations
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", CLASSES)
def test_same_class_margin_solves_derived_equation(k):
    gammas = np.asarray(DECAYS) / float(analytic.etf_beta(k))
    ts = np.asarray(analytic.same_class_margin(k, gammas))
    errors = [same_class_error(t, k, g) for t, g in zip(ts, gammas)]
    assert max(errors) <= TOL, errors


@pytest.mark.parametrize("k", [k for k in CLASSES if k >= 3])
def test_pair_margins_solve_derived_system(k):
    lam, gam = np.meshgrid(LAMBDAS, np.asarray(DECAYS) / float(analytic.etf_beta(k)), indexing="ij")
    us, vs = (np.asarray(a) for a in analytic.pair_margins(k, lam, gam))
    errors = [pair_error(u, v, k, lm, g) for u, v, lm, g in zip(us.ravel(), vs.ravel(), lam.ravel(), gam.ravel())]
    assert max(errors) <= TOL, max(errors)


def test_binary_margin_and_pair_margins_at_two_classes_solve_derived_equation():
    lam, gam = np.meshgrid(LAMBDAS, np.asarray(DECAYS) / float(analytic.etf_beta(2)), indexing="ij")
    xs = np.asarray(analytic.binary_margin(lam, gam))
    errors = [binary_error(x, lm, g) for x, lm, g in zip(xs.ravel(), lam.ravel(), gam.ravel())]
    assert max(errors) <= TOL, max(errors)
    us, vs = (np.asarray(a) for a in analytic.pair_margins(2, lam, gam))
    np.testing.assert_array_equal(us - vs, xs)  # reported as (x/2, -x/2)
    np.testing.assert_array_equal(us + vs, 0.0)


def test_link_check_can_fail():
    # The check must detect a relative perturbation far above TOL: it is not vacuous.
    k, g, lam = 5, 1e-2 / float(analytic.etf_beta(5)), 0.3
    t = float(analytic.same_class_margin(k, g))
    assert same_class_error(t, k, g) <= TOL
    assert same_class_error(t * (1 + 1e-10), k, g) > 10 * TOL
    u, v = (float(a) for a in analytic.pair_margins(k, lam, g))
    assert pair_error(u, v, k, lam, g) <= TOL
    assert pair_error(u * (1 + 1e-10), v, k, lam, g) > 10 * TOL
    assert pair_error(u, v, k, 1 - lam, g) > 1e-3  # the lambda <-> 1 - lambda swap is not a solution
    x = float(analytic.binary_margin(lam, g))
    assert binary_error(x * (1 + 1e-10), lam, g) > 10 * TOL


# ----------------------------------------------------------------------------------------------
# ufm.optimal_features: read t, u, v off the logits z = W h
# ----------------------------------------------------------------------------------------------
def _logits(problem):
    h = np.asarray(ufm.optimal_features(problem))
    w = np.asarray(problem.classifier, dtype=np.float64)
    return np.einsum("abmd,kd->abmk", h, w)  # (K, K, M, K)


@pytest.mark.parametrize("k", CLASSES)
@pytest.mark.parametrize("weight_decay", (1e-3, 1.0))
def test_optimal_features_solve_derived_equations(k, weight_decay):
    problem = ufm.MixupUFM(num_classes=k, weight_decay=weight_decay, lambdas=np.asarray(LAMBDAS))
    z = _logits(problem)
    g = problem.gamma
    scale = np.max(np.abs(z))
    eye = np.eye(k, dtype=bool)

    # Same class: every other logit equal (the symmetry reduction), t = z_c - z_k.
    same = z[eye]  # (K, M, K): same[c, m] are the logits of sample (c, c, m)
    idx = np.arange(k)
    z_c = same[idx, :, idx]  # (K, M)
    others = np.where(eye[:, None, :], np.nan, same)
    assert np.nanmax(others, axis=-1).max() - np.nanmin(others, axis=-1).min() <= 1e-13 * scale
    t_values = z_c - np.nanmean(others, axis=-1)
    assert np.ptp(t_values) <= 1e-13 * scale  # independent of c and of lambda
    assert same_class_error(t_values[0, 0], k, g) <= TOL

    pairs = [(0, 1), (1, 0), (k - 1, 0)]
    for c, c2 in pairs:
        for m, lam in enumerate(problem.lambdas):
            zz = z[c, c2, m]
            if k == 2:
                err = binary_error(zz[c] - zz[c2], lam, g)
            else:
                rest = np.delete(zz, [c, c2])
                assert np.ptp(rest) <= 1e-13 * scale  # nothing along other classes
                z_o = rest.mean()
                err = pair_error(zz[c] - z_o, zz[c2] - z_o, k, lam, g)
            # The float64 logits carry rounding of order 1e-16 * scale, amplified by at most the
            # condition of reading margins off z (a few units): well inside TOL.
            assert err <= TOL, (c, c2, lam, err)


@pytest.mark.parametrize("k", (3, 5))
def test_mse_optimal_features_match_derived_margins(k):
    weight_decay, scale = 0.3, 1.7
    problem = ufm.MixupUFM(num_classes=k, weight_decay=weight_decay, scale=scale, lambdas=np.asarray(LAMBDAS))
    h = np.asarray(analytic.mse_optimal_features(problem))
    w = np.asarray(problem.classifier, dtype=np.float64)
    z = np.einsum("md,kd->mk", h[0, 1], w)
    u_expr, v_expr = residuals.mse_pair(k)
    sym = {sp.Symbol("s", positive=True): scale, sp.Symbol("mu", positive=True): weight_decay}
    for m, lam in enumerate(problem.lambdas):
        point = {**sym, S["lam"]: sp.Float(lam, 30)}
        u_ref, v_ref = (float(sp.N(e.subs(point), 30)) for e in (u_expr, v_expr))
        np.testing.assert_allclose([z[m, 0] - z[m, 2], z[m, 1] - z[m, 2]], [u_ref, v_ref], rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# The derivations themselves
# ----------------------------------------------------------------------------------------------
def test_derivations_assert_everything_and_docs_are_up_to_date():
    from derivations import derive_all

    text, counts = derive_all.build()  # raises DerivationError if any identity fails
    assert all(n > 0 for n in counts.values()), counts
    committed = derive_all.OUTPUT.read_text(encoding="utf-8")
    version = re.search(r"Generated with sympy (\S+)\.\n", committed)
    assert version is not None, "docs/derivations.md lacks its generator line"
    if version.group(1) == sp.__version__:
        assert text == committed, "docs/derivations.md is out of date: run python derivations/derive_all.py"
    else:
        # Another sympy may typeset the same formulas differently: compare everything but the math
        # (statements, identity names and counts, tables of numbers, the text around them).
        assert _without_math(text) == _without_math(committed), (
            "docs/derivations.md is out of date: run python derivations/derive_all.py"
        )


def _without_math(markdown: str) -> str:
    """The text with display and inline math and the sympy version removed."""
    text = re.sub(r"\$\$.*?\$\$", "$$", markdown, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$", "$", text)
    return re.sub(r"Generated with sympy \S+\.", "Generated with sympy.", text)


def test_a_derivation_runs_on_its_own():
    out = subprocess.run(
        [sys.executable, str(ROOT / "derivations" / "d3_same_class.py")],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert re.search(r"d3_same_class: \d+ identities asserted", out)


def test_derivations_are_pure_sympy():
    for path in sorted((ROOT / "derivations").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(jax|numpy|ufm)\b", source, re.M), path.name
