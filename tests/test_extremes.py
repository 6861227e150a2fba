r"""The exact optimum at extreme parameters, against an independent 50-digit mpmath reference.

The reference is written from the optimality equations alone (docs/theory.md, Sec. 2), with none of
the reformulations, brackets or iterations used by :mod:`ufm.analytic`:

* same class: $t(e^t + K - 1) = K/\gamma$, solved for $\log t$ by bisection + Anderson-Bjoerck;
* $K = 2$: $\gamma x/2 = \lambda - \sigma(x)$, bracketed by doubling, same root finder;
* $K \ge 3$: the Lambert-W reduction of the stationarity system: for fixed $q$,
  $u = A - W_0\bigl((q/\gamma)e^{A}\bigr)$ with $A = (\lambda + q)/\gamma$ (and $v$ with
  $1-\lambda$), then $q$ is the root of $\gamma(u + v) = Kq$; the solution is accepted only if it
  satisfies the original system $\gamma u = \lambda - (e^u - 1)q$, $\gamma v = 1-\lambda-(e^v-1)q$,
  $q = 1/(e^u + e^v + K - 2)$ to 35 digits.

Errors are measured on the FEATURE, $\|\Delta h\|/\|h\|$: for $h = (u\,w_c + v\,w_{c'})/\beta$ the
Gram matrix of $(w_c, w_{c'})$ is $s^2\bigl(\begin{smallmatrix}1 & -1/(K-1)\\ -1/(K-1) & 1
\end{smallmatrix}\bigr)$, so $\|\Delta h\|/\|h\|$ needs only $(u, v)$ and $K$ (the scale cancels).

Ranges: $K \in [2, 10^5]$, weight decay $\mu \in [10^{-8}, 10^4]$, scale $s \in [0.1, 10]$ (so
$\gamma = \mu(K-1)/(s^2K)$ spans $5\cdot10^{-11}$ to $2\cdot10^{6}$), and $\lambda \in [0, 1]$ including
$0, 1, 10^{-12}, 1 - 10^{-12}, 1/2, 1/2 \pm 10^{-9}$. Requirement: relative error $\le 10^{-12}$ in
float64 (the solver reaches about $2\cdot10^{-15}$).
"""

import itertools

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ufm
from ufm import analytic

REL_TOL = 1e-12
DIGITS = 50

SPECIAL_LAMBDAS = (0.0, 1e-12, 1e-6, 0.3, 0.5 - 1e-9, 0.5, 0.5 + 1e-9, 0.7, 1.0 - 1e-12, 1.0)
CLASSES = (2, 3, 10, 1000, 100_000)
# (weight decay, scale) pairs reaching both ends of gamma = mu (K-1) / (s^2 K), and the middle.
DECAY_SCALE = ((1e-8, 10.0), (1e-8, 0.1), (1e-2, 1.0), (1e4, 10.0), (1e4, 0.1))

# Compiled once per input shape and reused by every case (the root finders are while-loops).
_same_class_margin = jax.jit(analytic.same_class_margin)
_pair_margins = jax.jit(analytic.pair_margins)


def relative_decay(num_classes, weight_decay, scale):
    """gamma = mu / beta with beta = s^2 K / (K - 1), written out here rather than imported."""
    return weight_decay * (num_classes - 1) / (scale * scale * num_classes)


# ----------------------------------------------------------------------------- mpmath reference


def _bisect_then_anderson(f, lo, hi):
    """Root of an increasing f with f(lo) < 0 < f(hi): 30 bisections, then Anderson-Bjoerck."""
    if f(lo) == 0:
        return lo
    if f(hi) == 0:
        return hi
    for _ in range(30):
        mid = (lo + hi) / 2
        f_mid = f(mid)
        if f_mid == 0:
            return mid
        lo, hi = (mid, hi) if f_mid < 0 else (lo, mid)
    return mpmath.findroot(f, (lo, hi), solver="anderson")


def _bracket_increasing(f, start):
    """(lo, hi) with f(lo) <= 0 <= f(hi), by steps 1, 2, 4, ... away from ``start``."""
    lo = hi = mpmath.mpf(start)
    step = mpmath.mpf(1)
    if f(start) > 0:
        while f(lo) > 0:
            hi, lo, step = lo, lo - step, 2 * step
    else:
        while f(hi) < 0:
            lo, hi, step = hi, hi + step, 2 * step
    return lo, hi


def reference_same_class_margin(num_classes, gamma):
    """t > 0 with t (e^t + K - 1) = K / gamma, solved for log t."""
    with mpmath.workdps(DIGITS):
        k, g = mpmath.mpf(num_classes), mpmath.mpf(gamma)

        def f(log_t):
            return log_t + mpmath.log(mpmath.exp(mpmath.exp(log_t)) + k - 1) - mpmath.log(k / g)

        t = mpmath.exp(_bisect_then_anderson(f, *_bracket_increasing(f, 0)))
        assert abs(t * (mpmath.exp(t) + k - 1) * g / k - 1) < mpmath.mpf(10) ** -40
        return t


def reference_binary_margin(lam, gamma):
    """x with gamma x / 2 = lambda - sigma(x) (K = 2, different classes)."""
    with mpmath.workdps(DIGITS):
        lam, g = mpmath.mpf(lam), mpmath.mpf(gamma)

        def f(x):
            return g * x / 2 - lam + 1 / (1 + mpmath.exp(-x))

        x = _bisect_then_anderson(f, *_bracket_increasing(f, 0))
        assert abs(f(x)) < mpmath.mpf(10) ** -40
        return x


def reference_pair_margins(num_classes, lam, gamma):
    """(u, v) solving the K >= 3 stationarity system, via its Lambert-W reduction in q."""
    if num_classes == 2:
        x = reference_binary_margin(lam, gamma)
        return x / 2, -x / 2
    with mpmath.workdps(DIGITS):
        k, lam, g = mpmath.mpf(num_classes), mpmath.mpf(lam), mpmath.mpf(gamma)
        lam_c = 1 - lam

        def margin(target, q):
            a = (target + q) / g
            return a - mpmath.lambertw(q / g * mpmath.exp(a)).real

        def excess(log_q):  # K q - gamma (u + v): -1 as q -> 0, increasing in log q
            q = mpmath.exp(log_q)
            return k * q - g * (margin(lam, q) + margin(lam_c, q))

        hi = -mpmath.log(k - 2)  # q < 1 / (K - 2)
        assert excess(hi) > 0
        lo = hi - 1
        while excess(lo) > 0:
            lo -= 2 * (hi - lo)
        q = mpmath.exp(_bisect_then_anderson(excess, lo, hi))
        u, v = margin(lam, q), margin(lam_c, q)
        # Accept only a solution of the original system, to 35 digits.
        q = 1 / (mpmath.exp(u) + mpmath.exp(v) + k - 2)
        tiny = mpmath.mpf(10) ** -35
        assert abs(g * u - lam + (mpmath.exp(u) - 1) * q) <= tiny * (1 + abs(g * u))
        assert abs(g * v - lam_c + (mpmath.exp(v) - 1) * q) <= tiny * (1 + abs(g * v))
        return u, v


def pair_feature_error(num_classes, u, v, u_ref, v_ref):
    r"""$\|\Delta u\,w_c + \Delta v\,w_{c'}\| / \|u\,w_c + v\,w_{c'}\|$ from the Gram matrix.

    Where the exact feature is zero ($K = 2$, $\lambda = 1/2$) the absolute error is returned, and
    it must be exactly zero.
    """
    with mpmath.workdps(DIGITS):
        cos = mpmath.mpf(-1) / (num_classes - 1)
        du, dv = mpmath.mpf(float(u)) - u_ref, mpmath.mpf(float(v)) - v_ref
        err2 = du * du + dv * dv + 2 * cos * du * dv
        ref2 = u_ref * u_ref + v_ref * v_ref + 2 * cos * u_ref * v_ref
        return float(mpmath.sqrt(err2 / ref2)) if ref2 > 0 else float(mpmath.sqrt(err2))


# ----------------------------------------------------------------------------- tests


def test_reference_reproduces_closed_forms():
    # The reference itself, on cases with closed forms (docs/theory.md Sec. 2.4):
    # K = 2, lambda = 1/2 -> x = 0; lambda in {0, 1} -> the same-class margin of the dominant class;
    # lambda = 1/2 (K >= 3) -> u = v solving u (2 e^u + K - 2) = K / (2 gamma).
    assert reference_binary_margin(0.5, 0.3) == 0
    for k, g in ((3, 0.1), (10, 1e-6), (1000, 50.0)):
        t = reference_same_class_margin(k, g)
        u, v = reference_pair_margins(k, 1.0, g)
        with mpmath.workdps(DIGITS):
            assert abs(u / t - 1) < 1e-40 and abs(v) < 1e-40 * t
            u, v = reference_pair_margins(k, 0.5, g)
            assert abs(u - v) < 1e-40 * abs(u)
            assert abs(u * (2 * mpmath.exp(u) + k - 2) * 2 * g / k - 1) < 1e-40


def test_relative_decay_matches_definition():
    for k, (mu, s) in itertools.product(CLASSES, DECAY_SCALE):
        gamma = float(analytic.relative_decay(k, mu, s))
        assert gamma == pytest.approx(relative_decay(k, mu, s), rel=4e-16)


def test_same_class_margin_grid():
    cases = [(k, relative_decay(k, mu, s)) for k, (mu, s) in itertools.product(CLASSES, DECAY_SCALE)]
    k, gamma = (np.array(c, dtype=np.float64) for c in zip(*cases))
    t = np.asarray(_same_class_margin(k, gamma))
    assert np.all(np.isfinite(t))
    errors = [
        float(abs(mpmath.mpf(float(ti)) / reference_same_class_margin(ki, gi) - 1)) for ki, gi, ti in zip(k, gamma, t)
    ]
    worst = int(np.argmax(errors))
    assert errors[worst] <= REL_TOL, f"K={k[worst]:g}, gamma={gamma[worst]:g}: relative error {errors[worst]:.2e}"


def test_pair_margins_grid():
    cases = [
        (k, lam, relative_decay(k, mu, s))
        for k, (mu, s), lam in itertools.product(CLASSES, DECAY_SCALE, SPECIAL_LAMBDAS)
    ]
    k, lam, gamma = (np.array(c, dtype=np.float64) for c in zip(*cases))
    u, v = (np.asarray(x) for x in _pair_margins(k, lam, gamma))
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(v))
    errors = []
    for i in range(len(cases)):
        u_ref, v_ref = reference_pair_margins(int(k[i]), lam[i], gamma[i])
        errors.append(pair_feature_error(k[i], u[i], v[i], u_ref, v_ref))
    worst = int(np.argmax(errors))
    assert errors[worst] <= REL_TOL, (
        f"K={k[worst]:g}, lambda={lam[worst]!r}, gamma={gamma[worst]:g}: relative feature error {errors[worst]:.2e}"
    )


def test_binary_margin_near_half_keeps_relative_accuracy():
    # x ~ 4(lambda - 1/2)/(1 + 2 gamma) is tiny here: a form that subtracts two numbers near log 2
    # would lose all but ~7 digits at lambda = 1/2 +- 1e-9.
    lam = np.array([0.5 - 1e-9, 0.5 + 1e-9, 0.5 + 2.0**-40, 0.5 - 1e-15, 0.25, 0.25 - 1e-12, 0.75 + 1e-12])
    for gamma in (5e-11, 1e-3, 1.0, 2e6):
        x = np.asarray(jax.jit(analytic.binary_margin)(lam, jnp.full_like(lam, gamma)))
        for li, xi in zip(lam, x):
            x_ref = reference_binary_margin(li, gamma)
            assert abs(mpmath.mpf(float(xi)) / x_ref - 1) <= REL_TOL, (li, gamma)
    assert float(analytic.binary_margin(0.5, 0.1)) == 0.0


lambda_strategy = st.one_of(
    st.sampled_from(SPECIAL_LAMBDAS),
    st.floats(0.0, 1.0),
    st.floats(0.5 - 1e-6, 0.5 + 1e-6),
    st.floats(-15.0, -1.0).map(lambda e: 10.0**e),
    st.floats(-15.0, -1.0).map(lambda e: 1.0 - 10.0**e),
)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    num_classes=st.one_of(st.integers(2, 20), st.integers(21, 100_000)),
    weight_decay=st.floats(-8.0, 4.0).map(lambda e: 10.0**e),
    scale=st.floats(-1.0, 1.0).map(lambda e: 10.0**e),
    lam=lambda_strategy,
)
def test_optimum_matches_reference_hypothesis(num_classes, weight_decay, scale, lam):
    gamma = relative_decay(num_classes, weight_decay, scale)
    k, lam_, gamma_ = np.float64(num_classes), np.float64(lam), np.float64(gamma)
    t = float(_same_class_margin(k, gamma_))
    t_ref = reference_same_class_margin(num_classes, gamma)
    assert np.isfinite(t) and abs(mpmath.mpf(t) / t_ref - 1) <= REL_TOL
    u, v = _pair_margins(k, lam_, gamma_)
    assert np.isfinite(float(u)) and np.isfinite(float(v))
    u_ref, v_ref = reference_pair_margins(num_classes, lam, gamma)
    assert pair_feature_error(num_classes, u, v, u_ref, v_ref) <= REL_TOL


@pytest.mark.parametrize("num_classes", [2, 3, 20])
def test_optimal_features_extremes(num_classes):
    # The assembled (K, K, M, d) optimum, compared with features built from the reference margins.
    lambdas = SPECIAL_LAMBDAS
    for mu, s in ((1e-8, 10.0), (1e4, 0.1), (1e-2, 1.0)):
        problem = ufm.MixupUFM(num_classes, weight_decay=mu, scale=s, lambdas=lambdas)
        exact = np.asarray(ufm.optimal_features(problem))
        assert exact.dtype == np.float64 and np.all(np.isfinite(exact))
        w = np.asarray(problem.classifier)
        beta = s * s * num_classes / (num_classes - 1)
        gamma = relative_decay(num_classes, mu, s)
        t = float(reference_same_class_margin(num_classes, gamma))
        pairs = [tuple(map(float, reference_pair_margins(num_classes, lam, gamma))) for lam in lambdas]
        ref = np.empty_like(exact)
        for c, c2 in itertools.product(range(num_classes), repeat=2):
            for m, (u, v) in enumerate(pairs):
                ref[c, c2, m] = t * w[c] / beta if c == c2 else (u * w[c] + v * w[c2]) / beta
        comparison = ufm.compare_features(exact, ref, problem.lambdas)
        # 1e-12 bounds the margins' error; assembling h adds a few ulps of float64 rounding.
        assert comparison.max_rel_error <= REL_TOL, (mu, s, comparison.summary())


@pytest.mark.parametrize(
    ("method", "num_classes", "weight_decay", "scale"),
    [
        ("lbfgs", 20, 1e-8, 10.0),
        ("lbfgs", 20, 1e4, 0.1),
        ("adam", 2, 1e-8, 10.0),
        ("gd", 20, 1e-8, 0.1),
        ("gd", 2, 1e4, 10.0),
    ],
)
def test_numeric_solvers_stay_finite(method, num_classes, weight_decay, scale):
    # Finiteness, not convergence, is the point at the tiny-decay end: the optimum exists but is
    # far out (||h|| ~ log(1/gamma)), so a few dozen steps do not reach it. The objective is built
    # from logsumexp, whose gradient softmax never overflows.
    problem = ufm.MixupUFM(num_classes, weight_decay=weight_decay, scale=scale, lambdas=(0.0, 0.5, 1 - 1e-12))
    solution = ufm.minimize(problem, method=method, max_steps=60)
    assert solution.status != "nonfinite"
    assert np.all(np.isfinite(np.asarray(solution.features)))
    assert np.isfinite(solution.objective) and np.isfinite(solution.grad_norm)
