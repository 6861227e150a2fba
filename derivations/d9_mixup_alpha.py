r"""8. Mixup's $\alpha$: expectations over $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ and their limits $\alpha \to 0$, $\alpha \to \infty$."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    K,
    Section,
    beta,
    etf_beta,
    gamma,
    lam,
    run_standalone,
    s,
    t,
    typed_loss,
    typed_sqnorm_centred,
    u,
    v,
)
from derivations.d3_same_class import same_class_blocks
from derivations.d4_pair import pair_objective

alpha = sp.Symbol("alpha", positive=True)
m = sp.Symbol("m", nonnegative=True)  # the lambda = 1/2 margin u = v (Result 5.3); 0 for K = 2
j = sp.Symbol("j", positive=True, integer=True)
n = sp.Symbol("n", nonnegative=True, integer=True)
p_t = sp.Symbol("p_t", positive=True)  # the same-class confidence e^t/(e^t + K - 1)
f_same = sp.Symbol(r"f_{\mathrm{same}}", real=True)  # the same-class objective at the optimum
HALF = sp.Rational(1, 2)
MOMENT_ORDERS = (1, 2, 3, 4, 5, 6)


def beta_moment(order) -> sp.Expr:
    r"""$\mathbb{E}[\lambda^n] = \prod_{j<n} (\alpha + j)/(2\alpha + j)$ for $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$."""
    return sp.rf(alpha, order) / sp.rf(2 * alpha, order)


def beta_function(a, b) -> sp.Expr:
    return sp.gamma(a) * sp.gamma(b) / sp.gamma(a + b)


def mean_abs_deviation() -> sp.Expr:
    r"""$\mathbb{E}|\lambda - 1/2| = 1/(\alpha\,4^\alpha B(\alpha, \alpha))$."""
    return 1 / (alpha * 4**alpha * beta_function(alpha, alpha))


def pair_quantities(first=u, second=v, mix=lam) -> dict[str, sp.Expr]:
    r"""The per-sample quantities of a different-class pair with margins $(u, v)$ at mixing coefficient $\lambda$.

    $p_c = e^u/(e^u + e^v + K - 2)$, $r = p_c/(p_c + p_{c'}) = e^u/(e^u + e^v)$,
    $\|h\|^2 = s^2(u^2 + v^2 - 2uv/(K-1))/\beta^2$ (Gram matrix of the ETF), signed distance to the
    $c/c'$ boundary $(u - v)/\sqrt{2\beta}$ (Result 6.2), objective $F(u, v)$ (Result 4.1). The
    absolute values of the calibration errors and of the distance are left to the caller (their
    sign is known at the points where they are used).
    """
    partition = sp.exp(first) + sp.exp(second) + K - 2
    return {
        "objective": pair_objective().subs({u: first, v: second, lam: mix}, simultaneous=True),
        "confidence": sp.exp(first) / partition,
        "confidence_gap": sp.exp(first) / partition - mix,
        "pairwise_gap": sp.exp(first) / (sp.exp(first) + sp.exp(second)) - mix,
        "norm_squared": s**2 * (first**2 + second**2 - 2 * first * second / (K - 1)) / beta**2,
        "signed_distance": (first - second) / sp.sqrt(2 * beta),
    }


def same_class_objective() -> sp.Expr:
    r"""$f_\text{same} = \log(e^t + K - 1) - t + \frac{\gamma}{2}(1 - 1/K)t^2$, from the model (Result 3.1's logits)."""
    blocks = same_class_blocks()
    return typed_loss(blocks) + gamma / 2 * typed_sqnorm_centred(blocks)


def limit_definitions() -> dict[sp.Symbol, sp.Expr]:
    r"""$p_t = e^t/(e^t + K - 1)$, $f_\text{same}$ and $\beta$ in terms of $t, K, \gamma, s$: substitute
    them into :func:`limits` to evaluate."""
    return {
        p_t: sp.exp(t) / (sp.exp(t) + K - 1),
        f_same: sp.log(sp.exp(t) + K - 1) - t + gamma / 2 * (1 - 1 / K) * t**2,
        beta: etf_beta(K),
    }


def limits() -> tuple[dict[str, sp.Expr], dict[str, sp.Expr]]:
    r"""The $\alpha \to 0$ and $\alpha \to \infty$ limits of the expectations, in terms of $t$ (the
    same-class margin, Result 3.1), $m$ (the $\lambda = 1/2$ margin, Result 5.3; $m = 0$ for $K = 2$),
    $p_t$, $f_\text{same}$ and $\beta$ (:func:`limit_definitions`).

    Keys: ``objective`` (full model: all $K^2$ ordered pairs), ``pair_objective``, ``confidence``,
    ``calibration_error``, ``pairwise_calibration_error``, ``feature_norm``, ``boundary_distance``.
    """
    small = {
        "objective": f_same,
        "pair_objective": f_same,
        "confidence": (p_t + (1 - p_t) / (K - 1)) / 2,
        "calibration_error": K * (1 - p_t) / (2 * (K - 1)),
        "pairwise_calibration_error": 1 / (1 + sp.exp(t)),
        "feature_norm": s * t / beta,
        "boundary_distance": t / sp.sqrt(2 * beta),
    }
    f_half = sp.log(2 * sp.exp(m) + K - 2) - m + gamma * (1 - 2 / K) * m**2
    large = {
        "objective": f_same / K + (1 - 1 / K) * f_half,
        "pair_objective": f_half,
        "confidence": sp.exp(m) / (2 * sp.exp(m) + K - 2),
        "calibration_error": (K - 2) / (2 * (2 * sp.exp(m) + K - 2)),
        "pairwise_calibration_error": sp.Integer(0),
        "feature_norm": s * m * sp.sqrt(2 * (K - 2) / (K - 1)) / beta,
        "boundary_distance": sp.Integer(0),
    }
    return small, large


def derive() -> Section:
    sec = Section(9, r"Mixup's $\alpha$: expectations over $\lambda$ and their limits", "d9_mixup_alpha")
    sec.text(
        r"""
Each sample's optimum depends on $\lambda$ and not on $\alpha$ (Result 1.4), so the influence of
mixup's $\alpha$ on the optimum is entirely through the distribution $\mathrm{Beta}(\alpha, \alpha)$
of $\lambda$: an expected quantity is $\mathbb{E}[f(\lambda)] = \int_0^1 f(\lambda)\,
\lambda^{\alpha-1}(1-\lambda)^{\alpha-1}\,d\lambda / B(\alpha, \alpha)$ of a function $f$ of the exact
margins. **Averaging convention** (as in `ufm.analytic.expected_optimum`): the objective is averaged
over all $K^2$ ordered pairs of the full model, same-class pairs included,
$\frac1K f_\text{same} + \frac{K-1}{K}\mathbb{E}[f_\text{pair}(\lambda)]$ (the weighted objective of
`MixupUFM(..., quadrature=M)` at its optimum); every other quantity is averaged over $\lambda$ for
one different-class pair $(c, c')$, with $c$ the class weighted by $\lambda$.
"""
    )

    # --- Result 8.1: Beta(alpha, alpha) and its limits ----------------------------------------------
    sec.result(
        r"$\mathrm{Beta}(\alpha, \alpha)$ as $\alpha \to 0$ and $\alpha \to \infty$",
        r"""
With $B$ the Beta function and $(x)_n$ the rising factorial,
""",
        r"\mathbb{E}[\lambda^n] = \frac{B(\alpha + n, \alpha)}{B(\alpha, \alpha)} = \frac{(\alpha)_n}{(2\alpha)_n} = \prod_{j=0}^{n-1}\frac{\alpha + j}{2\alpha + j},\qquad \operatorname{Var}\lambda = \frac{1}{4(2\alpha + 1)},\qquad \mathbb{E}\Bigl|\lambda - \tfrac12\Bigr| = \frac{1}{\alpha\,4^\alpha B(\alpha, \alpha)}",
        r"\alpha \to 0:\ \mathrm{Beta}(\alpha, \alpha) \to \tfrac12\delta_0 + \tfrac12\delta_1,\qquad \alpha \to \infty:\ \mathrm{Beta}(\alpha, \alpha) \to \delta_{1/2}",
    )
    sec.text(
        r"*Moments.* The Beta integral gives $\mathbb{E}[\lambda^n] = B(\alpha + n, \alpha)/B(\alpha, \alpha)$, "
        r"which is the product (asserted for symbolic $n$, and by direct integration for $\alpha = 1, 2, 3$)."
    )
    ratio = beta_function(alpha + n, alpha) / beta_function(alpha, alpha)
    sec.check_zero(
        sp.gammasimp(ratio - beta_moment(n).rewrite(sp.gamma)),
        r"$B(\alpha + n, \alpha)/B(\alpha, \alpha) = (\alpha)_n/(2\alpha)_n$, symbolic $n$",
    )
    for a_int in (1, 2, 3):
        density = (lam * (1 - lam)) ** (a_int - 1) / beta_function(a_int, a_int)
        ok = sp.integrate(density, (lam, 0, 1)) == 1
        for order in (1, 2, 3, 4):
            integral = sp.integrate(lam**order * density, (lam, 0, 1))
            ok = ok and sp.simplify(integral - sp.expand_func(beta_moment(order)).subs(alpha, a_int)) == 0
        sec.check(ok, rf"by integration at $\alpha = {a_int}$: the density integrates to 1 and $\mathbb{{E}}[\lambda^n] = (\alpha)_n/(2\alpha)_n$ for $n \le 4$")
    second = sp.expand_func(beta_moment(2))
    sec.check_zero(second - HALF**2 - 1 / (4 * (2 * alpha + 1)), r"$\mathbb{E}[\lambda^2] - 1/4 = 1/(4(2\alpha+1))$ (and $\mathbb{E}\lambda = 1/2$)")
    sec.check_zero(sp.expand_func(beta_moment(1)) - HALF, r"$\mathbb{E}\lambda = 1/2$")
    sec.text(
        r"""
*Limits of the moments.* In the product, the factor $j = 0$ is $\alpha/(2\alpha) = 1/2$ for every
$\alpha$, and each factor $j \ge 1$ tends to 1 as $\alpha \to 0$ and to $1/2$ as $\alpha \to \infty$:
"""
    )
    factor = (alpha + j) / (2 * alpha + j)
    sec.check(sp.limit(factor, alpha, 0) == 1, r"$(\alpha + j)/(2\alpha + j) \to 1$ as $\alpha \to 0$, symbolic $j \ge 1$")
    sec.check(sp.limit(factor, alpha, sp.oo) == HALF, r"$(\alpha + j)/(2\alpha + j) \to 1/2$ as $\alpha \to \infty$, symbolic $j \ge 1$")
    for order in MOMENT_ORDERS:
        moment = sp.expand_func(beta_moment(order))
        sec.check(sp.limit(moment, alpha, 0) == HALF, rf"$\mathbb{{E}}[\lambda^{{{order}}}] \to 1/2$ as $\alpha \to 0$")
        sec.check(sp.limit(moment, alpha, sp.oo) == HALF**order, rf"$\mathbb{{E}}[\lambda^{{{order}}}] \to 2^{{-{order}}}$ as $\alpha \to \infty$")
        if order > 4:
            continue
        slope = sp.limit(sp.diff(moment, alpha), alpha, 0)
        sec.check(sp.simplify(slope + sp.harmonic(order - 1) / 2) == 0, rf"$\mathbb{{E}}[\lambda^{{{order}}}] = 1/2 - (\alpha/2)H_{{{order - 1}}} + O(\alpha^2)$ ($H$: harmonic numbers)")
    sec.text(
        r"""
These are the moments of $\frac12\delta_0 + \frac12\delta_1$ (all equal to $1/2$ for $n \ge 1$) and of
$\delta_{1/2}$ ($2^{-n}$). On $[0, 1]$ polynomials are dense in the continuous functions
(Weierstrass), so convergence of all moments is weak convergence: for every continuous $f$,
$\mathbb{E}[f(\lambda)] \to \frac12(f(0) + f(1))$ as $\alpha \to 0$ and $\to f(1/2)$ as
$\alpha \to \infty$. Every quantity below is continuous in $\lambda$ on $[0, 1]$: the optimum of
the strictly convex per-sample problem depends continuously (indeed smoothly) on $\lambda$ by the
implicit function theorem. For $f$ smooth the approach is $O(\alpha)$, resp.
$f''(1/2)\operatorname{Var}\lambda/2 = O(1/\alpha)$.

*Mean absolute deviation.* Quantities with a kink at $\lambda = 1/2$ (the distance to the boundary,
the pairwise calibration error) approach their $\alpha \to \infty$ limit 0 more slowly, like
$\mathbb{E}|\lambda - 1/2| \sim 1/(2\sqrt{\pi\alpha})$. Indeed
$(\lambda - \frac12)\,(\lambda(1-\lambda))^{\alpha-1} = -\frac{1}{2\alpha}\frac{d}{d\lambda}(\lambda(1-\lambda))^\alpha$,
so $\int_{1/2}^1 (\lambda - \frac12)(\lambda(1-\lambda))^{\alpha-1}d\lambda = 4^{-\alpha}/(2\alpha)$ and, by
symmetry, $\mathbb{E}|\lambda - 1/2|$ is twice that over $B(\alpha, \alpha)$. With Legendre's
duplication formula $\Gamma(2\alpha) = 2^{2\alpha-1}\Gamma(\alpha)\Gamma(\alpha + \frac12)/\sqrt{\pi}$ it is
$\Gamma(\alpha + \frac12)/(2\sqrt{\pi}\,\Gamma(\alpha + 1))$, and Gautschi's inequality
$\sqrt{\alpha} < \Gamma(\alpha + 1)/\Gamma(\alpha + \frac12) < \sqrt{\alpha + 1}$ gives the rate
$\sqrt{\alpha}\,\mathbb{E}|\lambda - 1/2| \to 1/(2\sqrt{\pi})$:
"""
    )
    antiderivative = -(lam * (1 - lam)) ** alpha / (2 * alpha)
    sec.check_zero(
        sp.simplify(sp.diff(antiderivative, lam) / ((lam - HALF) * (lam * (1 - lam)) ** (alpha - 1)) - 1),
        r"$\frac{d}{d\lambda}\bigl[-(\lambda(1-\lambda))^\alpha/(2\alpha)\bigr] = (\lambda - \frac12)(\lambda(1-\lambda))^{\alpha-1}$",
    )
    sec.check_zero(
        sp.simplify(antiderivative.subs(lam, 1) - antiderivative.subs(lam, HALF) - 4 ** (-alpha) / (2 * alpha)),
        r"$\int_{1/2}^1 (\lambda - \frac12)(\lambda(1-\lambda))^{\alpha-1}d\lambda = 4^{-\alpha}/(2\alpha)$",
    )
    mad = mean_abs_deviation()
    sec.check(sp.limit(mad, alpha, 0) == HALF, r"$\mathbb{E}|\lambda - 1/2| \to 1/2$ as $\alpha \to 0$")
    duplicated = sp.gamma(alpha + HALF) / (2 * sp.sqrt(sp.pi) * sp.gamma(alpha + 1))
    sec.check(sp.simplify(sp.gammasimp(mad / duplicated)) == 1, r"$\mathbb{E}|\lambda - 1/2| = \Gamma(\alpha + \frac12)/(2\sqrt{\pi}\,\Gamma(\alpha + 1))$ (duplication formula)")
    inside = True
    for big in (10**2, 10**4, 10**8):
        # a Float argument: gamma of an exact large integer would be expanded as a factorial
        scaled = sp.N((sp.sqrt(alpha) * duplicated * 2 * sp.sqrt(sp.pi)).subs(alpha, sp.Float(big, 50)), 40)
        inside = inside and sp.sqrt(sp.Rational(big, big + 1)) < scaled < 1
    sec.check(inside, r"$2\sqrt{\pi\alpha}\,\mathbb{E}|\lambda - 1/2|$ lies between $\sqrt{\alpha/(\alpha+1)}$ and 1 (Gautschi) at $\alpha = 10^2, 10^4, 10^8$ (40 digits)")
    sec.check(sp.simplify(mad.subs(alpha, 1) - sp.Rational(1, 4)) == 0, r"$\alpha = 1$ (uniform $\lambda$): $\mathbb{E}|\lambda - 1/2| = 1/4$")

    # --- Result 8.2: limits of the expectations at the optimum ------------------------------------
    small, large = limits()
    definitions = limit_definitions()
    sec.result(
        r"The expectations at the optimum as $\alpha \to 0$ and $\alpha \to \infty$",
        r"""
With $t$ the same-class margin (Result 3.1), $p_t = e^t/(e^t + K - 1)$ the same-class confidence,
$m$ the $\lambda = 1/2$ margin ($m(2e^m + K - 2) = K/(2\gamma)$ for $K \ge 3$, Result 5.3; $m = 0$
for $K = 2$, where $h = 0$, Result 5.2), $\beta = s^2K/(K-1)$ and
$f_\text{same} = \log(e^t + K - 1) - t + \frac{\gamma}{2}(1 - \frac1K)t^2$:

| expectation | $\alpha \to 0$ ($\lambda \in \{0, 1\}$: ordinary cross-entropy) | $\alpha \to \infty$ ($\lambda = 1/2$) |
|---|---|---|
"""
        + "\n".join(
            f"| {label} | ${sp.latex(small[key])}$ | ${sp.latex(large[key])}$ |"
            for key, label in (
                ("objective", "objective (full model)"),
                ("pair_objective", r"$\mathbb{E}[f_\text{pair}]$"),
                ("confidence", r"$\mathbb{E}[p_c]$"),
                ("calibration_error", r"$\mathbb{E}\lvert p_c - \lambda\rvert$"),
                ("pairwise_calibration_error", r"$\mathbb{E}\lvert p_c/(p_c + p_{c'}) - \lambda\rvert$"),
                ("feature_norm", r"$\mathbb{E}\lVert h\rVert$"),
                ("boundary_distance", r"$\mathbb{E}$ distance to the $c/c'$ boundary"),
            )
        ),
    )
    sec.text(
        r"""
By Result 8.1 each limit is the value of the quantity at $\lambda \in \{0, 1\}$ (averaged) or at
$\lambda = 1/2$. By Result 5.4 the different-class optimum at $\lambda = 1$ is the same-class
optimum $(u, v) = (t, 0)$, at $\lambda = 0$ it is $(0, t)$; by Result 5.3 at $\lambda = 1/2$ it is
$u = v = m$. At $\lambda \in \{0, 1\}$ the target is one-hot, so the mixup loss is the ordinary
cross-entropy: as $\alpha \to 0$ mixup training becomes ordinary training, and its optimum
objective is that of the unmixed model.
"""
    )
    q = {key: e.subs(beta, etf_beta(K)) for key, e in pair_quantities().items()}
    at_one = {key: e.subs({u: t, v: 0, lam: 1}, simultaneous=True) for key, e in q.items()}
    at_zero = {key: e.subs({u: 0, v: t, lam: 0}, simultaneous=True) for key, e in q.items()}
    at_half = {key: e.subs({u: m, v: m, lam: HALF}, simultaneous=True) for key, e in q.items()}
    small = {key: e.subs(definitions) for key, e in small.items()}
    large = {key: e.subs(definitions) for key, e in large.items()}
    p_t_value, f_same_value = definitions[p_t], same_class_objective()
    sec.check_zero(
        f_same_value - small["objective"],
        r"same-class objective from the model's logits: $f_\text{same} = \log(e^t + K - 1) - t + \frac{\gamma}{2}(1 - \frac1K)t^2$, symbolic $K$",
        lambda e: sp.simplify(sp.expand_log(sp.powsimp(sp.factor_terms(sp.expand(e))), force=True)),
    )
    sec.check_zero(sp.expand_log(at_one["objective"] - f_same_value, force=True), r"$F(t, 0; \lambda = 1) = f_\text{same}$, symbolic $K$", sp.simplify)
    sec.check_zero(sp.expand_log(at_zero["objective"] - f_same_value, force=True), r"$F(0, t; \lambda = 0) = f_\text{same}$, symbolic $K$", sp.simplify)
    sec.check_zero((f_same_value / K + (1 - 1 / K) * (at_one["objective"] + at_zero["objective"]) / 2) - small["objective"], r"$\alpha \to 0$: full-model objective $= \frac1K f_\text{same} + \frac{K-1}{K}f_\text{same} = f_\text{same}$", lambda e: sp.simplify(sp.expand_log(e, force=True)))
    sec.check_zero(at_one["confidence"] - p_t_value, r"$p_c(\lambda = 1) = p_t$")
    sec.check_zero(at_zero["confidence"] - (1 - p_t_value) / (K - 1), r"$p_c(\lambda = 0) = (1 - p_t)/(K-1)$")
    sec.check_zero((at_one["confidence"] + at_zero["confidence"]) / 2 - small["confidence"], r"$\alpha \to 0$: $\mathbb{E}[p_c] \to (p_t + (1 - p_t)/(K-1))/2$")
    # Signs at the ends: p_c(1) - 1 = p_t - 1 < 0, p_c(0) - 0 > 0; r(1) - 1 < 0, r(0) > 0.
    sec.check_zero((-at_one["confidence_gap"] + at_zero["confidence_gap"]) / 2 - small["calibration_error"], r"$\alpha \to 0$: $\mathbb{E}|p_c - \lambda| \to \frac12\bigl((1 - p_t) + (1 - p_t)/(K-1)\bigr) = K(1-p_t)/(2(K-1))$")
    sec.check_zero((-at_one["pairwise_gap"] + at_zero["pairwise_gap"]) / 2 - small["pairwise_calibration_error"], r"$\alpha \to 0$: $\mathbb{E}|r - \lambda| \to 1/(1 + e^t)$ (the same at both ends)")
    sec.check_zero(at_one["norm_squared"] - small["feature_norm"] ** 2, r"$\|h\| = st/\beta$ at $\lambda \in \{0, 1\}$")
    sec.check_zero(at_zero["norm_squared"] - small["feature_norm"] ** 2, r"$\|h\|^2$ is the same at $\lambda = 0$")
    sec.check_zero(at_one["signed_distance"] - small["boundary_distance"], r"distance $t/\sqrt{2\beta}$ at $\lambda = 1$")
    sec.check_zero(at_zero["signed_distance"] + small["boundary_distance"], r"signed distance $-t/\sqrt{2\beta}$ at $\lambda = 0$")
    sec.check_zero(sp.expand_log(at_half["objective"] - large["pair_objective"], force=True), r"$F(m, m; 1/2) = \log(2e^m + K - 2) - m + \gamma(1 - 2/K)m^2$", sp.simplify)
    sec.check_zero(at_half["confidence"] - large["confidence"], r"$p_c(1/2) = e^m/(2e^m + K - 2)$")
    sec.check_zero(-at_half["confidence_gap"] - large["calibration_error"], r"$\frac12 - p_c(1/2) = (K-2)/(2(2e^m + K - 2)) \ge 0$")
    sec.check_zero(at_half["pairwise_gap"], r"$r(1/2) = 1/2$: pairwise calibration error 0")
    sec.check_zero(at_half["norm_squared"] - large["feature_norm"] ** 2, r"$\|h\| = sm\sqrt{2(K-2)/(K-1)}/\beta$ at $\lambda = 1/2$")
    sec.check_zero(at_half["signed_distance"], r"distance 0 at $\lambda = 1/2$ (on the boundary)")
    sec.check_zero(large["objective"] - (f_same_value / K + (1 - 1 / K) * at_half["objective"]), r"$\alpha \to \infty$: full-model objective $= \frac1K f_\text{same} + \frac{K-1}{K}F(m, m; 1/2)$", lambda e: sp.simplify(sp.expand_log(e, force=True)))
    for key in ("confidence", "calibration_error", "pairwise_calibration_error", "feature_norm", "boundary_distance"):
        sec.check(sp.simplify(large[key].subs({K: 2, m: 0}) - {"confidence": HALF}.get(key, 0)) == 0, rf"$K = 2$ ($m = 0$): the $\alpha \to \infty$ limit of `{key}` is {'1/2' if key == 'confidence' else '0'}")
    sec.check_zero(sp.expand_log(large["pair_objective"].subs({K: 2, m: 0}) - sp.log(2), force=True), r"$K = 2$: $\alpha \to \infty$ pair objective $\log 2$ ($h = 0$)")
    sec.text(
        r"""
The signs used for the absolute values: $p_t < 1$, $p_c(0) > 0$, $r(1) = \sigma(t) < 1$,
$r(0) = \sigma(-t) > 0$, and $p_c(1/2) \le 1/2$. Between the limits `ufm.analytic.expected_optimum`
integrates against $\mathrm{Beta}(\alpha, \alpha)$; `tests/test_expectations.py` checks it against
these limits at $\alpha = 10^{-6}$ and $10^{6}$ and against adaptive quadrature in between.
"""
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
