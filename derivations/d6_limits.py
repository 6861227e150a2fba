r"""6. Limits: strong decay, weak decay (calibration), and the MSE contrast."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    CENTERING,
    CONCRETE_K,
    K,
    Section,
    eps,
    etf_beta,
    etf_factor,
    etf_matrix,
    gamma,
    lam,
    mu,
    run_standalone,
    s,
    t,
    target,
    u,
    v,
    x,
)
from derivations.d3_same_class import same_class_residual
from derivations.d4_pair import pair_objective, pair_residuals
from derivations.d5_special_cases import binary_residual

ORDER = 3  # margins expanded to eps^3, i.e. (mu + beta/K) h to O(mu^-2)


def _solve_order_by_order(residuals, unknowns, order=ORDER):
    """Series solution in eps = 1/gamma: ``unknowns`` is a list of tuples of coefficient symbols."""
    expansions = [sp.series(r, eps, 0, order).removeO() for r in residuals]
    solution: dict = {}
    for k in range(order):
        eqs = [sp.expand(sp.expand(e).coeff(eps, k).subs(solution)) for e in expansions]
        (sol,) = sp.solve(eqs, list(unknowns[k]), dict=True)
        solution.update({key: sp.factor(val) for key, val in sol.items()})
    return solution


def strong_decay_pair():
    r"""Coefficients of $u = \sum_i u_i\varepsilon^i$, $v = \sum_i v_i\varepsilon^i$, $\varepsilon = 1/\gamma$ ($K \ge 3$)."""
    us = sp.symbols(f"u1:{ORDER + 1}")
    vs = sp.symbols(f"v1:{ORDER + 1}")
    u_ser = sp.Add(*[c * eps ** (i + 1) for i, c in enumerate(us)])
    v_ser = sp.Add(*[c * eps ** (i + 1) for i, c in enumerate(vs)])
    r_u, r_v = pair_residuals()
    residuals = [r.subs(gamma, 1 / eps).subs({u: u_ser, v: v_ser}, simultaneous=True) for r in (r_u, r_v)]
    sol = _solve_order_by_order(residuals, list(zip(us, vs)))
    return u_ser.subs(sol), v_ser.subs(sol)


def strong_decay_same_class():
    ts = sp.symbols(f"t1:{ORDER + 1}")
    t_ser = sp.Add(*[c * eps ** (i + 1) for i, c in enumerate(ts)])
    # same_class_residual() is gamma/gamma(t) - 1 = gamma t (e^t + K - 1)/K - 1, regular in eps.
    residual = same_class_residual().subs(gamma, 1 / eps).subs(t, t_ser)
    sol = _solve_order_by_order([residual], [(c,) for c in ts])
    return t_ser.subs(sol)


def strong_decay_binary():
    xs = sp.symbols(f"x1:{ORDER + 1}")
    x_ser = sp.Add(*[c * eps ** (i + 1) for i, c in enumerate(xs)])
    residual = binary_residual().subs(gamma, 1 / eps).subs(x, x_ser)
    sol = _solve_order_by_order([residual], [(c,) for c in xs])
    return x_ser.subs(sol)


def mse_margins(k: int):
    r"""MSE variant, $K = k \ge 3$: the logit margins $(z_c - z_o, z_{c'} - z_o)$ of the optimum.

    Solved from the MSE stationarity $W^\top(Wh - y) + \mu h = 0$ with the explicit ETF (symbolic
    $s$, $\mu$, $\lambda$) in the ansatz $h = a\,w_c + b\,w_{c'}$ (Result 2.1 and the symmetry of
    Result 4.1 hold for the MSE loss too); the solution is checked to zero every coordinate.
    :func:`derive` asserts the margins are $\beta\lambda/(\beta+\mu)$ and $\beta(1-\lambda)/(\beta+\mu)$.
    """
    w = etf_matrix(k)
    y = sp.Matrix(target(k, 0, 1))
    a, b = sp.symbols("a b")
    h = a * w[0, :].T + b * w[1, :].T
    grad = (w.T * (w * h - y) + mu * h).expand()
    solution = sp.solve(list(grad), [a, b], dict=True)
    if len(solution) != 1:
        raise AssertionError("the MSE stationarity system has no unique solution in the ansatz")
    z = (w * h.subs(solution[0])).expand()
    return sp.factor(z[0] - z[2]), sp.factor(z[1] - z[2])


def derive() -> Section:
    sec = Section(6, "Limits", "d6_limits")

    # --- strong decay ------------------------------------------------------------------------------
    c_u = lam * (2 - K * lam) / (2 * K**2)
    c_v = (1 - lam) * (2 - K * (1 - lam)) / (2 * K**2)
    sec.result(
        r"Strong decay $\mu \to \infty$",
        r"""
The optimum tends to the convex combination of the class vectors, scaled by $1/\mu$, with an
$O(1/\mu)$ correction that the shift $\beta/K$ absorbs exactly; the coefficients $c_u, c_v$ below
hold for every $K \ge 2$, and for same-class samples with $\lambda = 1$:
""",
        r"\mu h = \lambda w_c + (1-\lambda)w_{c'} - \frac{\beta}{K\mu}\bigl(\lambda w_c + (1-\lambda)w_{c'}\bigr) + O(\mu^{-2})",
        r"\Bigl(\mu + \frac{\beta}{K}\Bigr)h = \lambda w_c + (1-\lambda)w_{c'} + \frac{\beta^2}{\mu^2}\bigl(c_u\,w_c + c_v\,w_{c'}\bigr) + O(\mu^{-3})",
        sp.Eq(sp.Symbol("c_u"), c_u),
        sp.Eq(sp.Symbol("c_v"), c_v),
    )
    sec.text(
        r"""
Heuristically $\mu h = W^\top(y - p)$ and $p = \mathbf{1}/K + z/K + O(|z|^2)$ for small centred $z$, so
$\mu h = W^\top y - W^\top z/K + O(|z|^2) = W^\top y - (\beta/K)h + O(\mu^{-2})$. Exactly: expand the margins
in $\varepsilon = 1/\gamma = \beta/\mu$ and solve the stationarity system order by order. Since
$h = (u w_c + v w_{c'})/\beta$, $(\mu + \beta/K)h = (\gamma + 1/K)(u w_c + v w_{c'})$. For $K \ge 3$
(symbolic $K$):
"""
    )
    u_ser, v_ser = strong_decay_pair()
    sec.eq(sp.Eq(u, u_ser + sp.Order(eps**4)))
    coef_u = sp.expand(sp.series((1 / eps + 1 / K) * u_ser, eps, 0, 3).removeO())
    coef_v = sp.expand(sp.series((1 / eps + 1 / K) * v_ser, eps, 0, 3).removeO())
    sec.check_zero(sp.expand(u_ser).coeff(eps, 1) - lam, r"$u = \lambda/\gamma + O(\gamma^{-2})$")
    sec.check_zero(sp.expand(u_ser).coeff(eps, 2) + lam / K, r"$u = \lambda/\gamma - \lambda/(K\gamma^2) + O(\gamma^{-3})$: the $O(1/\mu)$ coefficient of $\mu h$ is $-\beta/K$ times the limit")
    sec.check_zero(coef_u - (lam + c_u * eps**2), r"$(\gamma + 1/K)\,u = \lambda + c_u/\gamma^2 + O(\gamma^{-3})$, symbolic $K$", sp.expand)
    sec.check_zero(coef_v - (1 - lam + c_v * eps**2), r"$(\gamma + 1/K)\,v = 1 - \lambda + c_v/\gamma^2 + O(\gamma^{-3})$, symbolic $K$", sp.expand)
    t_ser = strong_decay_same_class()
    coef_t = sp.expand(sp.series((1 / eps + 1 / K) * t_ser, eps, 0, 3).removeO())
    sec.check_zero(coef_t - (1 + c_u.subs(lam, 1) * eps**2), r"same class: $(\gamma + 1/K)\,t = 1 + c_u|_{\lambda=1}/\gamma^2 + O(\gamma^{-3})$, symbolic $K$", sp.expand)
    x_ser = strong_decay_binary()
    coef_x = sp.expand(sp.series((1 / eps + sp.Rational(1, 2)) * x_ser, eps, 0, 3).removeO())
    sec.check_zero(
        coef_x - (2 * lam - 1 + (c_u - c_v).subs(K, 2) * eps**2),
        r"$K = 2$: $(\gamma + 1/2)\,x = 2\lambda - 1 + O(\gamma^{-3})$ (and $c_u - c_v = 0$ at $K = 2$), i.e. the formula with $w_{c'} = -w_c$",
        sp.expand,
    )
    sec.text(r"and $\varepsilon^2 = \beta^2/\mu^2$ turns these into the stated expansion of $(\mu + \beta/K)h$.")

    # --- weak decay --------------------------------------------------------------------------------
    sec.result(
        r"Weak decay $\gamma \to 0$: calibration",
        r"""
For $K \ge 3$ and $0 < \lambda < 1$, as $\gamma \to 0$ the pairwise confidence is calibrated to the
mixing ratio while the margins grow without bound:
""",
        r"u - v \to \log\frac{\lambda}{1-\lambda},\qquad \frac{p_c}{p_{c'}} \to \frac{\lambda}{1-\lambda},\qquad p_c + p_{c'} \to 1,\qquad \gamma u,\ \gamma v,\ q \to 0",
    )
    sec.text(
        r"""
*Bounded decay term.* $F(u,v) \le F(0,0) = \log K$ at the minimiser; the loss part of $F$ is
nonnegative, because $\log(e^u + e^v + K - 2) \ge \max(u, v) \ge \lambda u + (1-\lambda)v$; and
$u^2 + v^2 - (u+v)^2/K = (1 - 2/K)(u^2 + v^2) + (u - v)^2/K$. Hence
$u^2 + v^2 \le 2\log K/(\gamma(1 - 2/K))$: $\gamma u$, $\gamma v$ and $q = \gamma(u+v)/K$ are
$O(\sqrt{\gamma}) \to 0$.
"""
    )
    f = pair_objective()
    sec.check_zero(f.subs({u: 0, v: 0}) - sp.log(K), r"$F(0, 0) = \log K$")
    sec.check_zero(
        (u**2 + v**2 - (u + v) ** 2 / K) - ((1 - 2 / K) * (u**2 + v**2) + (u - v) ** 2 / K),
        r"$u^2 + v^2 - (u+v)^2/K = (1 - 2/K)(u^2+v^2) + (u-v)^2/K$",
        sp.expand,
    )
    sec.text(
        r"""
*Calibration.* $R_u = 0$ is $p_c = e^u q = \lambda + q - \gamma u$, and likewise
$p_{c'} = 1 - \lambda + q - \gamma v$. So, exactly,
"""
    )
    sec.eq(r"u - v = \log\frac{p_c}{p_{c'}} = \log\frac{\lambda + q - \gamma u}{1 - \lambda + q - \gamma v}")
    r_u, r_v = pair_residuals()
    qq = 1 / (sp.exp(u) + sp.exp(v) + K - 2)
    sec.check_zero(r_u - (sp.exp(u) * qq - (lam + qq - gamma * u)), r"$R_u = p_c - (\lambda + q - \gamma u)$ with $p_c = e^u q$")
    sec.check_zero(r_v - (sp.exp(v) * qq - (1 - lam + qq - gamma * v)), r"$R_v = p_{c'} - (1 - \lambda + q - \gamma v)$ with $p_{c'} = e^v q$")
    sec.check_zero(sp.expand_log(sp.log(sp.exp(u) * qq / (sp.exp(v) * qq)), force=True) - (u - v), r"$\log(p_c/p_{c'}) = u - v$")
    sec.text(
        r"""
and the right-hand side tends to $\log(\lambda/(1-\lambda))$ as $q, \gamma u, \gamma v \to 0$; then
$p_c + p_{c'} = 1 + 2q - \gamma(u+v) \to 1$. The margins themselves grow like $\log(1/\gamma)$
(Result 7.3), so the feature runs off along $w_c + w_{c'}$ while its signed distance to the $c/c'$
decision boundary, $\langle h, w_c - w_{c'}\rangle/\|w_c - w_{c'}\| = (u - v)/\sqrt{2\beta}$,
tends to $\log(\lambda/(1-\lambda))/\sqrt{2\beta}$: a band ("channel") around the boundary.
"""
    )
    gram_diff = 2 * s**2 + 2 * s**2 / (K - 1)
    sec.check_zero(gram_diff - 2 * etf_beta(K), r"$\|w_c - w_{c'}\|^2 = 2s^2 + 2s^2/(K-1) = 2\beta$, symbolic $K$")
    for k in (3, 4, 5):
        w = etf_matrix(k)
        h = (u * w[0, :].T + v * w[1, :].T) / etf_beta(k)
        d = w[0, :].T - w[1, :].T
        dist = (h.T * d)[0] / sp.sqrt((d.T * d)[0])
        sec.check_zero(dist - (u - v) / sp.sqrt(2 * etf_beta(k)), rf"signed distance to the boundary $= (u-v)/\sqrt{{2\beta}}$ ($K = {k}$)")
    sec.text(
        r"""
For $K = 2$ there is no direction $w_c + w_{c'}$ ($= 0$): the feature stays bounded and converges,
with a closed-form first correction ($L = \log(\lambda/(1-\lambda))$, $\sigma(L) = \lambda$,
$\sigma'(L) = \lambda(1-\lambda)$):
"""
    )
    big_l = sp.Symbol("L", real=True)
    x1 = sp.Symbol("x_1")
    sec.eq(r"x = L - \frac{L}{2\lambda(1-\lambda)}\,\gamma + O(\gamma^2)")
    r_bin = binary_residual().subs(x, big_l + x1 * gamma)
    ser = sp.series(r_bin, gamma, 0, 2).removeO()
    ser = sp.expand(ser).subs(sp.exp(-big_l), (1 - lam) / lam).subs(sp.exp(big_l), lam / (1 - lam))
    order0 = sp.simplify(ser.coeff(gamma, 0))
    (x1_sol,) = sp.solve(sp.simplify(ser.coeff(gamma, 1)), x1)
    sec.check(order0 == 0, r"$K = 2$: $x = L$ solves the equation at $\gamma = 0$")
    sec.check_zero(x1_sol + big_l / (2 * lam * (1 - lam)), r"$K = 2$: first-order coefficient $-L/(2\lambda(1-\lambda))$")

    # --- MSE contrast -----------------------------------------------------------------------------
    sec.result(
        "MSE contrast",
        r"""
With $\tfrac12\|Wh - y\|^2$ in place of the cross-entropy, the optimum is exactly linear in
$\lambda$, a scaled convex combination:
""",
        r"h = \frac{\lambda w_c + (1-\lambda)w_{c'}}{\beta + \mu}\qquad\Bigl(u = \frac{\beta\lambda}{\beta + \mu},\ v = \frac{\beta(1-\lambda)}{\beta + \mu}\Bigr)",
    )
    sec.text(
        r"""
Stationarity is $(W^\top W + \mu I)h = W^\top y$; $W^\top y$ lies in the row space, on which
$W^\top W = \beta\,\Pi$ acts as $\beta$, and $W^\top W + \mu I \succ 0$. Under cross-entropy, by
contrast, $u/v \to 1$ as $\gamma \to 0$ (both margins grow like $\log(1/\gamma)$, Result 7.3) for
every $\lambda \in (0, 1)$: the optima are not convex combinations.
"""
    )
    for k in CONCRETE_K:
        w = etf_matrix(k)
        y = sp.Matrix(target(k, 0, 1))
        hv = sp.Matrix(sp.symbols(f"h1:{k + 1}", real=True))
        objective = ((w * hv - y).T * (w * hv - y))[0] / 2 + mu / 2 * (hv.T * hv)[0]
        r = sp.Symbol("r", positive=True)  # h = r W^T y; the claim is r = 1/(beta + mu)
        grad = sp.Matrix([sp.diff(objective, hj) for hj in hv]).subs(dict(zip(hv, r * w.T * y))).expand()
        slope, offset = grad.diff(r), grad.subs(r, 0)  # the gradient is slope * r + offset
        sec.check((slope + (etf_beta(k) + mu) * offset).expand() == sp.zeros(k, 1), rf"the MSE gradient vanishes at $W^\top y/(\beta + \mu)$ ($K = {k}$)")
    for k in (3, 4, 5):
        mu_u, mu_v = mse_margins(k)
        ok = sp.cancel(mu_u - etf_beta(k) * lam / (etf_beta(k) + mu)) == 0
        ok = ok and sp.cancel(mu_v - etf_beta(k) * (1 - lam) / (etf_beta(k) + mu)) == 0
        sec.check(ok, rf"solving $(W^\top W + \mu I)h = W^\top y$: $z_c - z_o = \beta\lambda/(\beta+\mu)$, $z_{{c'}} - z_o = \beta(1-\lambda)/(\beta+\mu)$ ($K = {k}$)")
    sec.check(
        (CENTERING * (etf_factor() ** 2) - CENTERING * etf_beta(K)).is_zero(),
        r"$WW^\top = \beta P$ (so $W^\top W$ acts as $\beta$ on $W^\top y$), symbolic $K$",
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
