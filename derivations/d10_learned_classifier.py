r"""9. A learned classifier without mixup: the optimum of Zhu et al. (NeurIPS 2021) in closed form."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    CENTERING,
    CONCRETE_K,
    IJ,
    K,
    Section,
    etf_beta,
    etf_matrix,
    mu,
    numerically_zero,
    per_sample_loss,
    run_standalone,
    s,
    softmax,
    t,
    target,
    typed_loss,
)
from derivations.d3_same_class import same_class_blocks

lam_w = sp.Symbol("lambda_W", positive=True)  # decay of the learned classifier
lam_h = sp.Symbol("lambda_H", positive=True)  # Zhu et al.'s decay on H (mean loss + lambda_H/2 ||H||^2)
n = sp.Symbol("n", positive=True, integer=True)  # samples per class in Zhu et al.'s convention
c = sp.Symbol("c", positive=True)  # sqrt(mu lambda_W / K)
a, b = sp.symbols("a b", positive=True)  # the two decays of the factorisation lemma

# Points (s, t, mu, lambda_W) where identities too tangled for simplify are checked to 60 digits.
_POINTS = [
    {s: sp.Rational(3, 2), t: sp.Rational(7, 3), mu: sp.Rational(1, 100), lam_w: sp.Rational(1, 1000)},
    {s: sp.Rational(1, 3), t: sp.Rational(1, 5), mu: sp.Rational(2, 3), lam_w: sp.Rational(5, 7)},
    {s: 5, t: 11, mu: sp.Rational(1, 10**4), lam_w: 3},
]

__all__ = ["derive", "closed_forms", "symbols", "objective_in_s_and_t", "reduced_objective"]


def symbols() -> dict[str, sp.Symbol]:
    """The symbols of :func:`closed_forms`: ``K``, ``mu`` (per feature) and ``lambda_W``."""
    return {"K": K, "mu": mu, "lambda_W": lam_w}


def _c_value():
    return sp.sqrt(mu * lam_w / K)


def objective_in_s_and_t() -> sp.Expr:
    r"""$F(s, t)$: the objective at a simplex ETF of row norm $s$ with features $h = (t/\beta)\,w_c$,
    built from the model (loss of the same-class logits, $\|h\|^2 = t^2s^2/\beta^2$, $\|W\|_F^2 = Ks^2$)."""
    loss = sp.simplify(typed_loss(same_class_blocks()))
    beta = etf_beta(K)
    return loss + mu / 2 * t**2 * s**2 / beta**2 + lam_w / 2 * K * s**2


def reduced_objective() -> sp.Expr:
    r"""$f(t) = \log(1 + (K-1)e^{-t}) + (K-1)\,c\,t$ with $c = \sqrt{\mu\lambda_W/K}$ ($t > 0$)."""
    return sp.log(1 + (K - 1) * sp.exp(-t)) + (K - 1) * c * t


def closed_forms() -> dict[str, sp.Expr]:
    r"""The no-mixup learned optimum for $\mu\lambda_W < 1/K$, in $(K, \mu, \lambda_W)$ (module text):
    ``margin`` $t^\star$, ``confidence`` $p_c^\star$, ``row_norm_sq`` $\|w_k\|^2$, ``feature_norm_sq``
    $\|h\|^2$ and ``objective`` $F^\star$."""
    cv = _c_value()
    margin = sp.log(1 / cv - K + 1)
    return {
        "margin": margin,
        "confidence": 1 - (K - 1) * cv,
        "row_norm_sq": (K - 1) * margin / K * sp.sqrt(mu / (lam_w * K)),
        "feature_norm_sq": (K - 1) * margin / K * sp.sqrt(lam_w * K / mu),
        "objective": -sp.log(1 - (K - 1) * cv) + (K - 1) * cv * margin,
    }


def derive() -> Section:
    sec = Section(10, "A learned classifier without mixup (Zhu et al., NeurIPS 2021)", "d10_learned_classifier")
    sec.text(
        r"""
Here the classifier is a variable too, with decay $\lambda_W$, and there is no mixup: every sample
has $\lambda = 1$, so a sample of pair $(c, c')$ has target $e_c$ (`MixupUFM(K, lambdas=[1.0],
classifier_decay=lambda_W)`: $K$ samples per class, uniform weights). The objective is
$$F(W, H) = \frac1N\sum_i\Bigl[\mathrm{CE}(Wh_i, c_i) + \frac{\mu}{2}\|h_i\|^2\Bigr] + \frac{\lambda_W}{2}\|W\|_F^2 .$$
This is the unconstrained-features model of Zhu et al., "A Geometric Analysis of Neural Collapse
with Unconstrained Features" (NeurIPS 2021), without the bias. The derivation below reduces it to
one scalar given the ETF structure (Result 10.1), solves that scalar in closed form (Result 10.2),
and proves the ETF structure globally optimal through the convex reformulation of the learned
problem (Result 10.3).
"""
    )

    # --- 10.1 -------------------------------------------------------------------------------------
    f_st = objective_in_s_and_t()
    sec.result(
        "Reduction to one scalar given the ETF structure",
        r"""
Let $W$ be a simplex ETF of row norm $s$ and every feature of class $c$ be $h = (t/\beta)\,w_c$
($\beta = s^2K/(K-1)$; the structure of the fixed-ETF same-class optimum, Result 3.1). Then
""",
        sp.Eq(sp.Symbol("F(s, t)"), sp.log(1 + (K - 1) * sp.exp(-t)) + mu * t**2 * (K - 1) ** 2 / (2 * K**2 * s**2)
              + lam_w * K * s**2 / 2),
        r"\min_{s > 0} F(s, t) = f(t) = \log\bigl(1 + (K-1)e^{-t}\bigr) + (K-1)\,c\,t,\qquad c = \sqrt{\mu\lambda_W/K}\quad(t > 0)",
    )
    sec.text(
        r"""
The logits are $z = (t/\beta)Ww_c = (t/\beta)\,\beta(e_c - \mathbf{1}/K) = t(e_c - \mathbf{1}/K)$ (Result 1.1), the
loss is that of the same-class logits of Result 3.1, $\|h\|^2 = t^2s^2/\beta^2$ and $\|W\|_F^2 = Ks^2$:
"""
    )
    stated = sp.log(1 + (K - 1) * sp.exp(-t)) + mu * t**2 * (K - 1) ** 2 / (2 * K**2 * s**2) + lam_w * K * s**2 / 2
    sec.check_zero(sp.expand_log(sp.simplify(f_st - stated), force=True),
                   r"$F(s, t)$ from the model equals the stated form, symbolic $K$")
    logits = (IJ(sp.Integer(1), sp.Integer(0)) * etf_beta(K)) * CENTERING  # W W^T = beta P
    sec.check(sp.simplify(logits.a - etf_beta(K)) == 0 and sp.simplify(logits.b + etf_beta(K) / K) == 0,
              r"$WW^\top = \beta P$, so $Ww_c = \beta(e_c - \mathbf 1/K)$, symbolic $K$")
    for k in CONCRETE_K:
        w = etf_matrix(k)
        h = t / etf_beta(k) * w[0, :].T
        z = list(w * h)
        value = per_sample_loss(z, target(k, 0, 0)) + mu / 2 * (h.T * h)[0] + lam_w / 2 * sum(w.applyfunc(lambda e: e**2))
        sec.check(numerically_zero(value - stated.subs(K, k), _POINTS),
                  rf"explicit $K = {k}$ ETF: loss, feature norm and $\|W\|_F^2$ give $F(s, t)$ (60 digits, 3 points)")
    sec.text(
        r"""
**Minimising over $s$.** $F$ depends on $s$ through $\frac{\mu}{2}\frac{A}{s^2} + \frac{\lambda_W K}{2}s^2$ with
$A = t^2(K-1)^2/K^2$; by the AM-GM inequality the minimum is at $s^4 = \mu A/(\lambda_W K)$ and equals
$\sqrt{\mu\lambda_W K A} = (K-1)\,c\,t$:
"""
    )
    s4 = mu * t**2 * (K - 1) ** 2 / (lam_w * K**3)
    d_s = sp.diff(stated, s)
    sec.check_zero(sp.simplify(d_s.subs(s, s4 ** sp.Rational(1, 4))), r"$\partial F/\partial s = 0$ at $s^4 = \mu t^2(K-1)^2/(\lambda_W K^3)$")
    sec.check(sp.simplify(sp.diff(stated, s, 2).subs(s, s4 ** sp.Rational(1, 4))).is_positive is not False,
              r"$\partial^2 F/\partial s^2 > 0$ there (the only stationary point in $s > 0$)")
    reduced = stated.subs(s, s4 ** sp.Rational(1, 4))
    t_pos = sp.Symbol("t", positive=True)
    difference = (reduced - reduced_objective().subs(c, _c_value())).subs(t, t_pos)
    sec.check_zero(sp.simplify(sp.expand_log(difference, force=True)), r"$\min_s F(s, t) = f(t)$ for $t > 0$, symbolic $K$")

    # --- 10.2 -------------------------------------------------------------------------------------
    forms = closed_forms()
    sec.result(
        "Closed form of the optimum (no mixup)",
        r"""
For $\mu\lambda_W < 1/K$ (i.e. $c < 1/K$) the optimum is unique up to rotations: $W$ a simplex ETF,
every feature of class $c$ equal to $(t^\star/\beta)\,w_c$, with
""",
        r"t^\star = \log\Bigl(\sqrt{\tfrac{K}{\mu\lambda_W}} - K + 1\Bigr),\qquad p_c^\star = 1 - (K-1)\sqrt{\mu\lambda_W/K}",
        r"\|w_k\|^2 = \frac{K-1}{K}\,t^\star\sqrt{\frac{\mu}{\lambda_W K}},\qquad \|h\|^2 = \frac{K-1}{K}\,t^\star\sqrt{\frac{\lambda_W K}{\mu}},\qquad \frac{\|h\|}{\|w_c\|} = \sqrt{\frac{\lambda_W K}{\mu}}",
        r"F^\star = -\log\bigl(1 - (K-1)c\bigr) + (K-1)\,c\,t^\star",
    )
    f = reduced_objective()
    d_f = sp.diff(f, t)
    sec.check_zero(d_f - (K - 1) * (c - 1 / (sp.exp(t) + K - 1)), r"$f'(t) = (K-1)\bigl(c - 1/(e^t + K - 1)\bigr)$")
    sec.check_zero(sp.diff(f, t, 2) - (K - 1) * sp.exp(t) / (sp.exp(t) + K - 1) ** 2,
                   r"$f''(t) = (K-1)e^t/(e^t+K-1)^2 > 0$: $f$ is strictly convex")
    t_star = sp.log(1 / c - K + 1)
    sec.check_zero(sp.simplify(d_f.subs(t, t_star)), r"$f'(t^\star) = 0$ at $t^\star = \log(1/c - K + 1)$ (positive iff $c < 1/K$)")
    cv = _c_value()
    sec.check_zero(sp.simplify(forms["margin"] - t_star.subs(c, cv)), r"$t^\star$ in $(K, \mu, \lambda_W)$")
    p_c = sp.exp(t * (K - 1) / K) / (sp.exp(t * (K - 1) / K) + (K - 1) * sp.exp(-t / K))
    sec.check_zero(sp.simplify(p_c.subs(t, t_star) - (1 - (K - 1) * c)), r"$p_c^\star = 1 - (K-1)c$: the confidence on the true class")
    argument = 1 + (K - 1) / (1 / c - K + 1)  # 1 + (K-1)e^{-t*}
    sec.check_zero(sp.simplify(argument * (1 - (K - 1) * c) - 1), r"$1 + (K-1)e^{-t^\star} = 1/(1 - (K-1)c)$")
    sec.check_zero(sp.expand(f.subs(sp.log(1 + (K - 1) * sp.exp(-t)), -sp.log(1 - (K - 1) * c)).subs(t, t_star).subs(c, cv)
                             - forms["objective"]), r"hence $F^\star = f(t^\star) = -\log(1 - (K-1)c) + (K-1)ct^\star$")
    row = sp.simplify(sp.sqrt(s4.subs(t, t_pos))).subs(t_pos, forms["margin"])  # t* > 0
    sec.check_zero(sp.simplify(forms["row_norm_sq"] - row), r"$\|w_k\|^2 = s^2 = \sqrt{s^4}$ at $t^\star$")
    beta = etf_beta(K, sp.sqrt(forms["row_norm_sq"]))
    feature = (forms["margin"] / beta) ** 2 * forms["row_norm_sq"]
    sec.check_zero(sp.simplify(forms["feature_norm_sq"] - feature), r"$\|h\|^2 = (t^\star/\beta)^2s^2$")
    sec.check_zero(sp.simplify(forms["feature_norm_sq"] / forms["row_norm_sq"] - lam_w * K / mu),
                   r"$\|h\|^2/\|w_c\|^2 = \lambda_W K/\mu$")
    sec.check_zero(sp.simplify(lam_w * K * forms["row_norm_sq"] - mu * forms["feature_norm_sq"]),
                   r"balance $\lambda_W\|W\|_F^2 = \mu\cdot\frac1N\sum_i\|h_i\|^2$")
    sec.text(
        r"""
For $c \ge 1/K$, $f'(t) \ge (K-1)(c - 1/K) \ge 0$ for $t \ge 0$: the optimum is $W = 0$, $H = 0$, with
$F^\star = \log K$ (Result 10.3 shows it is global).
"""
    )

    # --- 10.3 -------------------------------------------------------------------------------------
    sec.result(
        "Global optimality through the convex reformulation",
        r"""
With $\tilde h_i = \sqrt{\omega_i}h_i$ and $\tilde Z = W\tilde H^\top$, the learned problem has the optimal value of the
convex problem $\min_{\tilde Z} f(\tilde Z) + \tau\|\tilde Z\|_*$, $f(\tilde Z) = \sum_i\omega_i\,\ell(\tilde z_i/\sqrt{\omega_i})$,
$\tau = \sqrt{\lambda_W\mu}$. At the point of Result 10.2 the optimality condition
$-\nabla f(\tilde Z) \in \tau\,\partial\|\tilde Z\|_*$ holds, so it is the global optimum.
""",
    )
    sec.text(
        r"""
**The factorisation lemma** (Srebro, Rennie & Jaakkola, NeurIPS 2005): for $a, b > 0$,
$\min\{\frac a2\|W\|_F^2 + \frac b2\|\tilde H\|_F^2 : W\tilde H^\top = \tilde Z\} = \sqrt{ab}\,\|\tilde Z\|_*$, attained by the
balanced factors of the SVD. With the SVD it separates over singular values, each the scalar problem
$\min_{xy = \sigma}\frac a2x^2 + \frac b2y^2$:
"""
    )
    x_, sig = sp.symbols("x sigma", positive=True)
    scalar = a / 2 * x_**2 + b / 2 * (sig / x_) ** 2
    x_opt = (b / a) ** sp.Rational(1, 4) * sp.sqrt(sig)
    sec.check_zero(sp.simplify(sp.diff(scalar, x_).subs(x_, x_opt)), r"stationary at $x^2 = \sqrt{b/a}\,\sigma$")
    sec.check_zero(sp.simplify(scalar.subs(x_, x_opt) - sp.sqrt(a * b) * sig), r"minimum $\sqrt{ab}\,\sigma$")
    sec.text(
        r"""
**The optimality condition.** The optimum of the convex problem is unique ($f$ is strictly convex on
centred logits) and the problem is symmetric under permutations of the classes, so all samples of a
class share one column; with $N/K$ samples of weight $1/N$ per class it suffices to take one column
per class of weight $1/K$: $\tilde Z = \sqrt{1/K}\,t\,P$ ($P = I - \mathbf 1\mathbf 1^\top/K$). Then
$\tilde Z\tilde Z^\top = (t^2/K)P$, and with $(\tilde Z\tilde Z^\top)^{+1/2} = (\sqrt K/t)P$ the subgradient
$UV^\top = (\tilde Z\tilde Z^\top)^{+1/2}\tilde Z = P$ of the nuclear norm (rank $K - 1$, spanning the centred
subspace, in which every column of $\nabla f$ lies). The condition
$\sqrt{1/K}\,(e_c - p) = \tau(e_c - \mathbf 1/K)$ is, coordinate by coordinate,
$p_o = \tau/\sqrt K = c$ and $1 - p_c = (K-1)c$: exactly Result 10.2.
"""
    )
    z_tilde = CENTERING * (t / sp.sqrt(K))
    gram = z_tilde * z_tilde
    sec.check((gram - CENTERING * (t**2 / K)).is_zero(), r"$\tilde Z\tilde Z^\top = (t^2/K)P$, symbolic $K$")
    root_inv = CENTERING * (sp.sqrt(K) / t)
    sec.check((root_inv * root_inv * gram - CENTERING).is_zero(), r"$((\sqrt K/t)P)^2\,(t^2/K)P = P$: the pseudo-inverse square root")
    sec.check((root_inv * z_tilde - CENTERING).is_zero(), r"$UV^\top = (\tilde Z\tilde Z^\top)^{+1/2}\tilde Z = P$")
    tau = sp.sqrt(lam_w * mu)
    p_other = 1 / (sp.exp(forms["margin"]) + K - 1)
    sec.check_zero(sp.simplify(p_other - tau / sp.sqrt(K)), r"other classes: $p_o^\star = \tau/\sqrt K$")
    sec.check_zero(sp.simplify(1 - (K - 1) * p_other - (1 - tau * sp.sqrt(K) * (K - 1) / K)),
                   r"true class: $1 - p_c^\star = \tau\sqrt K\,(K-1)/K$")
    for k in (3, 4, 5):
        at_optimum = sp.log(sp.sqrt(k / (mu * lam_w)) - k + 1)
        residual = []
        for col in range(k):  # class col: logits t (e_col - 1/K), gradient sqrt(1/K) (p - e_col)
            p = softmax([at_optimum * ((1 if j == col else 0) - sp.Rational(1, k)) for j in range(k)])
            residual += [-sp.sqrt(sp.Rational(1, k)) * (p[j] - (1 if j == col else 0))
                         - tau * ((1 if j == col else 0) - sp.Rational(1, k)) for j in range(k)]
        sec.check(all(sp.simplify(r) == 0 for r in residual),
                  rf"explicit $K = {k}$: $-\nabla f(\tilde Z^\star) = \tau UV^\top$, every entry")
    sec.text(
        r"""
For $c \ge 1/K$: at $\tilde Z = 0$, $\nabla f(0)$ has columns $\sqrt{1/K}(\mathbf 1/K - e_c)$, so
$\nabla f\nabla f^\top = P/K$ and $\|\nabla f(0)\|_2 = 1/\sqrt K \le \tau$ exactly when $\mu\lambda_W \ge 1/K$: then
$0 \in \nabla f(0) + \tau\,\partial\|0\|_*$ (the operator-norm ball) and $W = 0$, $H = 0$ is optimal.
"""
    )
    grad0 = CENTERING * (-1 / sp.sqrt(K))
    sec.check((grad0 * grad0 - CENTERING * (1 / K)).is_zero(), r"$\nabla f(0)\nabla f(0)^\top = P/K$, symbolic $K$")

    # --- 10.4 -------------------------------------------------------------------------------------
    sec.result(
        "In the convention of Zhu et al.",
        r"""
With $n$ samples per class ($N = Kn$), mean loss $+\frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2}\|H\|_F^2$ is
our objective with $\mu = N\lambda_H$. Then $c = \sqrt{n\lambda_W\lambda_H}$ and
""",
        r"t^\star = \log\Bigl(\frac{1}{\sqrt{n\lambda_W\lambda_H}} - K + 1\Bigr)\quad(K\sqrt{n\lambda_W\lambda_H} < 1),\qquad h = \sqrt{\frac{\lambda_W}{n\lambda_H}}\;w_c",
    )
    zhu = {mu: K * n * lam_h}
    sec.check_zero(sp.simplify(_c_value().subs(zhu) - sp.sqrt(n * lam_w * lam_h)), r"$c = \sqrt{n\lambda_W\lambda_H}$")
    sec.check_zero(sp.simplify(forms["margin"].subs(zhu) - sp.log(1 / sp.sqrt(n * lam_w * lam_h) - K + 1)),
                   r"$t^\star$ in Zhu et al.'s convention")
    sec.check_zero(sp.simplify((forms["feature_norm_sq"] / forms["row_norm_sq"]).subs(zhu) - lam_w / (n * lam_h)),
                   r"$\|h\|^2/\|w_c\|^2 = \lambda_W/(n\lambda_H)$; $h$ and $w_c$ are parallel (Result 10.2)")
    sec.text(
        r"""
Zhu et al. also learn a bias; without it nothing above changes (the optimal bias with a decay on it
is zero by symmetry). Tested against `ufm.minimize` in `tests/test_learned.py` (objective to
$10^{-8}$, $\|w_k\|^2$ to $10^{-6}$ relative) and against the certified convex reference.
"""
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
