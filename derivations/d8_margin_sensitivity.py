r"""8. How the margins move with the weight decay: $dt/d\gamma$, $(du/d\gamma, dv/d\gamma)$, $dx/d\gamma$.

These are the derivatives that ``ufm.metrics.fit_weight_decay`` uses to fit $\gamma$ to given
features (``docs/analyze.md``): each follows from the implicit function theorem applied to the
optimality equation of Results 3.1, 4.1 and 5.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import K, Section, gamma, lam, run_standalone, t, u, v, x
from derivations.d4_pair import pair_objective


def same_class_sensitivity(margin=t, num_classes=K):
    r"""$dt/d\gamma = -t(1 + (K-1)e^{-t}) / (\gamma(1 + t + (K-1)e^{-t}))$, as used by the fit."""
    rest = (num_classes - 1) * sp.exp(-margin)
    return -margin * (1 + rest) / (gamma * (1 + margin + rest))


def pair_sensitivity():
    r"""$(du/d\gamma, dv/d\gamma) = -H^{-1}\,\partial_\gamma\nabla F$ by Cramer's rule, as used by the fit."""
    p_u, p_v = (sp.exp(m) / (sp.exp(u) + sp.exp(v) + K - 2) for m in (u, v))
    h_uu = p_u * (1 - p_u) + gamma * (1 - 1 / K)
    h_vv = p_v * (1 - p_v) + gamma * (1 - 1 / K)
    h_uv = -p_u * p_v - gamma / K
    r_u, r_v = u - (u + v) / K, v - (u + v) / K
    det = h_uu * h_vv - h_uv**2
    return -(h_vv * r_u - h_uv * r_v) / det, -(h_uu * r_v - h_uv * r_u) / det, (h_uu, h_uv, h_vv), (r_u, r_v)


def binary_sensitivity(margin=x):
    r"""$dx/d\gamma = -(x/2)/(\gamma/2 + 1/(4\cosh^2(x/2)))$, as used by the fit."""
    return -(margin / 2) / (gamma / 2 + 1 / (4 * sp.cosh(margin / 2) ** 2))


def derive() -> Section:
    sec = Section(8, "Sensitivity of the margins to the weight decay", "d8_margin_sensitivity")

    # -- same class ------------------------------------------------------------------------------
    sec.result(
        "Same-class margin",
        r"""
Along the root $t(\gamma)$ of $t(e^t + K - 1) = K/\gamma$ (Result 3.1):
""",
        sp.Eq(sp.Symbol(r"\frac{dt}{d\gamma}"), same_class_sensitivity()),
    )
    sec.text(
        r"""
Differentiating $\phi(t(\gamma)) = K/\gamma$ gives $\phi'(t)\,t' = -K/\gamma^2 = -\phi(t)/\gamma$ with
$\phi'(t) = (1 + t)e^t + K - 1 > 0$ (Result 3.1), so $t' = -\phi(t)/(\gamma\phi'(t))$; dividing
numerator and denominator by $e^t$ gives the form above, which does not overflow.
"""
    )
    tg = sp.Function("t")(gamma)
    (implicit,) = sp.solve(sp.diff(tg * (sp.exp(tg) + K - 1) - K / gamma, gamma), sp.Derivative(tg, gamma))
    phi = t * (sp.exp(t) + K - 1)
    sec.check_zero(
        implicit.subs(tg, t) * sp.diff(phi, t) + K / gamma**2,
        r"implicit differentiation of $t(e^t + K - 1) = K/\gamma$: $\phi'(t)\,t' = -K/\gamma^2$, symbolic $K$",
    )
    sec.check_zero(
        same_class_sensitivity() * gamma * sp.diff(phi, t) + phi,
        r"the stated $dt/d\gamma$ is $-\phi(t)/(\gamma\,\phi'(t))$, i.e. $-K/(\gamma^2\phi'(t))$ on the root "
        r"$\phi(t) = K/\gamma$, symbolic $K$",
    )

    # -- different classes, K >= 3 ---------------------------------------------------------------
    du, dv, (h_uu, h_uv, h_vv), (r_u, r_v) = pair_sensitivity()
    sec.result(
        r"Different-class margins, $K \ge 3$",
        r"""
Along the minimiser $(u(\gamma), v(\gamma))$ of $F$ (Result 4.1), with
$p = (e^u, e^v)/(e^u + e^v + K - 2)$:
""",
        r"H\begin{pmatrix} du/d\gamma \\ dv/d\gamma \end{pmatrix} = -\begin{pmatrix} u - \frac{u+v}{K} \\ "
        r"v - \frac{u+v}{K}\end{pmatrix},\qquad H = \nabla^2 F = \operatorname{diag}(p) - pp^\top"
        r" + \gamma\Bigl(I - \frac{\mathbf 1\mathbf 1^\top}{K}\Bigr)",
    )
    sec.text(
        r"""
$\nabla F(u(\gamma), v(\gamma); \gamma) = 0$ for every $\gamma$; differentiating in $\gamma$ gives
$H\,(u', v')^\top + \partial_\gamma\nabla F = 0$, and $H$ is positive definite (Result 4.1), so the
system has one solution, written by Cramer's rule in the fit.
"""
    )
    f = pair_objective()
    grad = [sp.diff(f, m) for m in (u, v)]
    hessian = [[sp.diff(g, m) for m in (u, v)] for g in grad]
    sec.check_zero(hessian[0][0] - h_uu, r"$\partial^2F/\partial u^2 = p_u(1 - p_u) + \gamma(1 - 1/K)$, symbolic $K$")
    sec.check_zero(hessian[1][1] - h_vv, r"$\partial^2F/\partial v^2 = p_v(1 - p_v) + \gamma(1 - 1/K)$, symbolic $K$")
    sec.check_zero(hessian[0][1] - h_uv, r"$\partial^2F/\partial u\,\partial v = -p_up_v - \gamma/K$, symbolic $K$")
    sec.check_zero(sp.diff(grad[0], gamma) - r_u, r"$\partial_\gamma\,\partial F/\partial u = u - (u+v)/K$, symbolic $K$")
    sec.check_zero(sp.diff(grad[1], gamma) - r_v, r"$\partial_\gamma\,\partial F/\partial v = v - (u+v)/K$, symbolic $K$")
    sec.check_zero(h_uu * du + h_uv * dv + r_u, r"Cramer's rule solves the first row, symbolic $K$")
    sec.check_zero(h_uv * du + h_vv * dv + r_v, r"Cramer's rule solves the second row, symbolic $K$")
    sec.check(lam not in (du + dv).free_symbols, r"the derivatives depend on $\lambda$ only through $(u, v)$")

    # -- K = 2 -----------------------------------------------------------------------------------
    sec.result(
        r"Two classes",
        r"""
Along the root $x(\gamma)$ of $\gamma x/2 = \lambda - \sigma(x)$ (Result 5.1), with $u = -v = x/2$:
""",
        sp.Eq(sp.Symbol(r"\frac{dx}{d\gamma}"), binary_sensitivity()),
    )
    xg = sp.Function("x")(gamma)
    sigma = 1 / (1 + sp.exp(-xg))
    (implicit_x,) = sp.solve(sp.diff(gamma * xg / 2 - lam + sigma, gamma), sp.Derivative(xg, gamma))
    sec.check_zero(
        sp.simplify((implicit_x.subs(xg, x) - binary_sensitivity()).rewrite(sp.exp)),
        r"implicit differentiation of $\gamma x/2 = \lambda - \sigma(x)$ gives the stated $dx/d\gamma$",
    )
    sig = 1 / (1 + sp.exp(-x))
    sec.check_zero(
        sp.simplify((sig * (1 - sig) - 1 / (4 * sp.cosh(x / 2) ** 2)).rewrite(sp.exp)),
        r"$\sigma(x)\sigma(-x) = 1/(4\cosh^2(x/2))$",
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
