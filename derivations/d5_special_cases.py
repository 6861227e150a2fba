r"""5. Special cases: $K = 2$, $\lambda = 1/2$, and the endpoints $\lambda \in \{0, 1\}$."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    K,
    Section,
    etf_beta,
    etf_matrix,
    gamma,
    lam,
    run_standalone,
    stationarity_residual,
    t,
    target,
    u,
    v,
    x,
)
from derivations.d3_same_class import same_class_gamma
from derivations.d4_pair import pair_objective, pair_residuals

HALF = sp.Rational(1, 2)


def sigmoid(arg):
    return 1 / (1 + sp.exp(-arg))


def binary_residual() -> sp.Expr:
    r"""$K = 2$, $c \ne c'$: coordinate $c$ of $\gamma z - (y - p)$ at the centred $z = (x/2, -x/2)$.

    Derived from the model's stationarity residual; :meth:`derive` asserts it equals
    $\gamma x/2 - \lambda + \sigma(x)$.
    """
    residual = stationarity_residual([x / 2, -x / 2], target(2, 0, 1))
    return sp.simplify(residual[0])


def symmetric_pair_gamma() -> sp.Expr:
    r"""$\lambda = 1/2$, $u = v$: the $\gamma(u)$ that makes $R_u$ vanish (then $R_v$ vanishes too)."""
    r_u, _ = pair_residuals()
    (sol,) = sp.solve(r_u.subs({v: u, lam: HALF}), gamma)
    return sp.simplify(sol)


def derive() -> Section:
    sec = Section(5, "Special cases", "d5_special_cases")

    # --- K = 2 ---------------------------------------------------------------------------------------
    sec.result(
        r"Two classes",
        r"For $K = 2$, $c \ne c'$: $w_{c'} = -w_c$, there is no third class, and",
        r"h = \frac{x}{\beta}\,w_c,\qquad \frac{\gamma x}{2} = \lambda - \sigma(x),\qquad x = z_c - z_{c'},\quad \sigma(x) = \frac{1}{1+e^{-x}}",
    )
    sec.text(
        r"""
Centred logits are $z = (x/2, -x/2)$ and $p_c = \sigma(x)$; coordinate $c$ of Result 2.4 is the
equation, and coordinate $c'$ is its negative. The reduced function $F$ of Result 4.1 at $K = 2$
depends on $x = u - v$ only (it is flat along $u = v$, which is why $K = 2$ is separate):
"""
    )
    r_bin = binary_residual()
    sec.check_zero(r_bin - (gamma * x / 2 - lam + sigmoid(x)), r"coordinate $c$ of $\gamma z - (y-p)$ at $z = (x/2, -x/2)$ is $\gamma x/2 - \lambda + \sigma(x)$")
    res = stationarity_residual([x / 2, -x / 2], target(2, 0, 1))
    sec.check_zero(res[0] + res[1], r"coordinate $c'$ is minus coordinate $c$")
    f2 = pair_objective().subs(K, 2).subs(u, v + x)
    f2_claim = sp.log(1 + sp.exp(x)) - lam * x + gamma * x**2 / 4
    sec.eq(sp.Eq(sp.Symbol("F(u, v)|_{K=2}"), f2_claim))
    sec.check_zero(sp.diff(f2 - f2_claim, v), r"$F|_{K=2}$ does not depend on $u + v$")
    sec.check_zero(sp.diff(f2 - f2_claim, x), r"$F|_{K=2} = \log(1+e^x) - \lambda x + \gamma x^2/4$ up to a constant")
    sec.check_zero(sp.diff(f2_claim, x) - r_bin, r"$\frac{d}{dx}F|_{K=2}$ is the two-class equation")
    sec.check_zero(sp.diff(r_bin, x) - (gamma / 2 + sigmoid(x) * (1 - sigmoid(x))), r"its derivative $\gamma/2 + \sigma(1-\sigma) > 0$: one root")
    w = etf_matrix(2)
    h = w.T * sp.Matrix([x / 2, -x / 2]) / etf_beta(2)
    sec.check(
        (h - x * w[0, :].T / etf_beta(2)).expand() == sp.zeros(2, 1)
        and (h - (x / 2 * w[0, :].T - x / 2 * w[1, :].T) / etf_beta(2)).expand() == sp.zeros(2, 1),
        r"$W^\top z/\beta = x\,w_c/\beta = (u w_c + v w_{c'})/\beta$ with $(u, v) = (x/2, -x/2)$",
    )
    sec.text(
        r"""
`ufm.analytic.pair_margins` reports $K = 2$ as $(u, v) = (x/2, -x/2)$: the same $h$, with
$u - v = x$ and $v(\lambda) = u(1-\lambda)$ kept.
"""
    )

    sec.result(
        r"Two classes, $\lambda = 1/2$",
        r"For $K = 2$, $\lambda = 1/2$ the optimum is exactly $h = 0$; for $\lambda \ne 1/2$, $x \ne 0$ with the sign of $\lambda - 1/2$.",
    )
    sec.check(sp.simplify(r_bin.subs({x: 0, lam: HALF})) == 0, r"$x = 0$ solves the two-class equation at $\lambda = 1/2$")
    sec.check_zero(r_bin.subs(x, 0) - (HALF - lam), r"at $x = 0$ the residual is $1/2 - \lambda$: zero only at $\lambda = 1/2$")
    sec.text(r"Since the residual increases in $x$, $x > 0$ exactly when $\lambda > 1/2$.")

    # --- lambda = 1/2, K >= 3 ----------------------------------------------------------------------
    sec.result(
        r"Equal mixing, $K \ge 3$",
        r"""
At $\lambda = 1/2$, $u = v$, the feature lies exactly on the $c/c'$ decision boundary
$\{h : \langle w_c - w_{c'}, h\rangle = 0\}$, and $\lambda = 1/2$ is the only mixing coefficient
for which it does:
""",
        r"u = v,\qquad u\,(2e^u + K - 2) = \frac{K}{2\gamma},\qquad h = \frac{u}{\beta}\,(w_c + w_{c'})",
    )
    sec.text(
        r"""
$F(u, v; 1/2)$ is symmetric in $(u, v)$ and strictly convex, so its unique minimiser has $u = v$.
Solving $R_u(u, u; 1/2) = 0$ for $\gamma$:
"""
    )
    g_half = symmetric_pair_gamma()
    sec.eq(sp.Eq(gamma, g_half))
    r_u, r_v = pair_residuals()
    sec.check_zero(K / (2 * g_half) - u * (2 * sp.exp(u) + K - 2), r"$R_u(u, u; 1/2) = 0 \iff u(2e^u + K - 2) = K/(2\gamma)$, symbolic $K$")
    sec.check_zero((r_u - r_v).subs({v: u, lam: HALF}), r"$R_v = R_u$ on $u = v$ at $\lambda = 1/2$")
    sec.check_zero((r_u - r_v).subs(v, u) - (1 - 2 * lam), r"on $u = v$, $R_u - R_v = 1 - 2\lambda$: $u = v$ forces $\lambda = 1/2$")
    sec.text(
        r"""
$\langle w_c - w_{c'}, h\rangle = z_c - z_{c'} = u - v$, so "on the boundary" is "$u = v$". The
equation is the same-class equation of Result 3.1 with $K' = K/2$ and $\gamma' = 2\gamma$, so
everything said there about $t$ (uniqueness, bounds, asymptotics) carries over:
"""
    )
    k_half = K / 2
    same_eq = t * (sp.exp(t) + k_half - 1) - k_half / (2 * gamma)
    sec.check_zero(
        2 * same_eq.subs(t, u) - (u * (2 * sp.exp(u) + K - 2) - K / (2 * gamma)),
        r"$u(2e^u + K - 2) - K/(2\gamma) = 2\,[\,t(e^t + K' - 1) - K'/\gamma'\,]_{t = u}$ with $K' = K/2$, $\gamma' = 2\gamma$",
        sp.expand,
    )

    # --- lambda in {0, 1} -----------------------------------------------------------------------------
    sec.result(
        r"Endpoints $\lambda \in \{0, 1\}$",
        r"""
At $\lambda = 1$ a different-class sample has the target $e_c$ of a same-class sample, and the
same optimum: $(u, v) = (t, 0)$, $h = (t/\beta)w_c$; at $\lambda = 0$, $(u, v) = (0, t)$,
$h = (t/\beta)w_{c'}$ ($K = 2$: $x = \pm t$).
""",
    )
    g_same = same_class_gamma()
    sec.check_zero(r_v.subs({u: t, v: 0, lam: 1}), r"$R_v(t, 0; 1) = 0$ identically, symbolic $K$")
    sec.check_zero(r_u.subs({u: t, v: 0, lam: 1}).subs(gamma, g_same), r"$R_u(t, 0; 1) = 0$ when $t(e^t + K - 1) = K/\gamma$, symbolic $K$")
    sec.check_zero(r_u.subs({u: 0, v: t, lam: 0}), r"$R_u(0, t; 0) = 0$ identically, symbolic $K$")
    sec.check_zero(r_v.subs({u: 0, v: t, lam: 0}).subs(gamma, g_same), r"$R_v(0, t; 0) = 0$ when $t(e^t + K - 1) = K/\gamma$, symbolic $K$")
    sec.check_zero(r_bin.subs({x: t, lam: 1}).subs(gamma, g_same.subs(K, 2)), r"$K = 2$, $\lambda = 1$: $x = t$ solves the two-class equation")
    sec.check_zero(r_bin.subs({x: -t, lam: 0}).subs(gamma, g_same.subs(K, 2)), r"$K = 2$, $\lambda = 0$: $x = -t$ solves the two-class equation")
    sec.text(r"By uniqueness these are the optima.")
    return sec


if __name__ == "__main__":
    run_standalone(derive)
