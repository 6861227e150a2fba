r"""7. What is closed form, what is an exact reduction, and the asymptotic closed forms (Lambert $W_0$)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import K, Section, gamma, lam, run_standalone, t, u, v
from derivations.d3_same_class import same_class_gamma
from derivations.d4_pair import stated_system

DIGITS = 40
GAMMAS = (sp.Rational(1, 10**2), sp.Rational(1, 10**3), sp.Rational(1, 10**4), sp.Rational(1, 10**5), sp.Rational(1, 10**6))


def _fmt(value, digits: int = 3) -> str:
    """A fixed rendering of a number (``digits`` significant digits) for the tables."""
    return f"{float(sp.N(value, 30)):.{digits - 1}e}"


def same_class_margin_numeric(k: int, g) -> sp.Float:
    """The root of $t(e^t + K - 1) = K/\\gamma$ to ``DIGITS`` digits (sympy/mpmath), from $W_0(K/\\gamma)$."""
    start = sp.N(sp.LambertW(sp.Integer(k) / g), DIGITS)
    return sp.nsolve(t * (sp.exp(t) + k - 1) - k / g, t, start, prec=DIGITS)


def pair_margins_numeric(k: int, mix, g):
    """The root $(u, v)$ of the stationarity system to ``DIGITS`` digits, from the asymptotic form."""
    a0, b0 = weak_decay_asymptotic(k, mix, g)
    r_u, r_v = stated_system(mix=mix, num_classes=k)
    system = [r_u.subs(gamma, g), r_v.subs(gamma, g)]
    sol = sp.nsolve(system, (u, v), (sp.N(a0 + b0, DIGITS), sp.N(a0 - b0, DIGITS)), prec=DIGITS)
    return sol[0], sol[1]


def weak_decay_asymptotic(k, mix, g):
    r"""$a_0 = W_0\bigl(K\sqrt{\lambda(1-\lambda)}/(2\gamma)\bigr)$, $b_0 = \tfrac12\log(\lambda/(1-\lambda))$."""
    return sp.LambertW(k * sp.sqrt(mix * (1 - mix)) / (2 * g)), sp.log(mix / (1 - mix)) / 2


def derive() -> Section:
    sec = Section(7, "Closed forms, exact reductions and asymptotics", "d7_closed_forms")
    sec.text(
        r"""
**Closed form** (exact, in elementary functions): the structure of every optimum (row space,
alignment with $w_c$, the span of $w_c, w_{c'}$, the common logit of the other classes; Results 2-4);
$h = 0$ for $K = 2$, $\lambda = 1/2$ (Result 5.2); the endpoints $\lambda \in \{0, 1\}$ in terms of
the same-class margin (Result 5.4); the MSE optimum (Result 6.3); the limits and their leading
coefficients (Results 6.1, 6.2).

**Exact reduction, not closed form**: the same-class margin $t$ (a 1-D equation), the $K = 2$
margin $x$ (1-D), the $\lambda = 1/2$ margin (1-D, the same-class equation with $K/2$ and $2\gamma$),
and the general different-class margins $(u, v)$ (2-D, or 1-D in $q$ after the Lambert-W form of
Result 4.2). The same-class equation $te^t + (K-1)t = K/\gamma$ is a Lambert equation with an
extra linear term (an "$r$-Lambert" equation, $r = K - 1 \neq 0$); it has no solution in terms of
$W$ or other standard functions, and sympy's `solve` returns none. These equations are solved
numerically: by `ufm.analytic` in float64 to machine precision, and here with sympy's `nsolve`
at 40 digits. What can be given in closed form is the asymptotic behaviour, with explicit or
verified error terms:
"""
    )

    # --- 7.1 same-class bounds --------------------------------------------------------------------------
    sec.result(
        "Same-class margin: exact fixed point and two-sided bound",
        r"For all $K \ge 2$ and $\gamma > 0$,",
        r"t = W_0\!\Bigl(\frac{K}{\gamma} - (K-1)\,t\Bigr),\qquad 0 < W_0\!\Bigl(\frac{K}{\gamma}\Bigr) - t \le \frac{(K-1)\,t\,e^{-t}}{1 + t} < (K-1)e^{-t}",
    )
    sec.text(
        r"""
so $t = W_0(K/\gamma) + O(\gamma\log(1/\gamma))$ as $\gamma \to 0$ (there $e^{-t} = \gamma t/(K - (K-1)\gamma t)$
and $t \sim \log(1/\gamma)$), while $t = 1/\gamma - 1/(K\gamma^2) + O(\gamma^{-3})$ as $\gamma \to \infty$
(Result 6.1). *Proof.* $x' = te^t$ and $x = K/\gamma$ differ by $x - x' = (K-1)t > 0$ (the equation), and
$t = W_0(x')$. $W_0$ is increasing and concave on $(0, \infty)$, so
$0 < W_0(x) - W_0(x') \le W_0'(x')(x - x')$ with $W_0'(x') = e^{-t}/(1+t)$.
"""
    )
    g_t = same_class_gamma()
    sec.check_zero(K / g_t - t * sp.exp(t) - (K - 1) * t, r"$K/\gamma - te^t = (K-1)t$ on the same-class equation, symbolic $K$", sp.expand)
    xx = sp.Symbol("X", positive=True)
    w = sp.LambertW(xx)
    w_sym = sp.Symbol("omega", positive=True)
    d1 = sp.diff(w, xx)
    d2 = sp.diff(w, xx, 2)
    sec.check_zero(d1 - w / (xx * (1 + w)), r"$W_0'(X) = W_0/(X(1 + W_0)) > 0$")
    sec.check_zero(d2 + w**2 * (w + 2) / (xx**2 * (1 + w) ** 3), r"$W_0''(X) = -W_0^2(W_0 + 2)/(X^2(1+W_0)^3) < 0$: concave")
    at_t = (w / (xx * (1 + w))).subs(w, w_sym).subs({w_sym: t, xx: t * sp.exp(t)})
    sec.check_zero(at_t - sp.exp(-t) / (1 + t), r"$W_0'(te^t) = e^{-t}/(1+t)$ (using $W_0(te^t) = t$, $t > 0$)")
    rows = []
    for k in (2, 3, 10):
        for g in (sp.Integer(1), sp.Rational(1, 100), sp.Rational(1, 10**4), sp.Rational(1, 10**6)):
            tt = same_class_margin_numeric(k, g)
            gap = sp.N(sp.LambertW(sp.Integer(k) / g), DIGITS) - tt
            bound = (k - 1) * tt * sp.exp(-tt) / (1 + tt)
            sec_ok = 0 < gap <= bound * (1 + sp.Float(10) ** (-30))
            sec.check(bool(sec_ok), rf"$0 < W_0(K/\gamma) - t \le (K-1)te^{{-t}}/(1+t)$ at $K = {k}$, $\gamma = {sp.latex(g)}$ (40 digits)")
            rows.append((k, g, tt, gap, bound))
    sec.text("| $K$ | $\\gamma$ | $t$ | $W_0(K/\\gamma) - t$ | bound $(K-1)te^{-t}/(1+t)$ |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {k} | ${sp.latex(g)}$ | {_fmt(tt, 6)} | {_fmt(gap)} | {_fmt(bound)} |" for k, g, tt, gap, bound in rows
    ))

    # --- 7.2 lambda = 1/2 ---------------------------------------------------------------------------------
    sec.result(
        r"Equal-mixing margin",
        r"By Result 5.3 ($K' = K/2$, $\gamma' = 2\gamma$), for $K \ge 3$ at $\lambda = 1/2$:",
        r"0 < W_0\!\Bigl(\frac{K}{4\gamma}\Bigr) - u \le \frac{(K-2)\,u\,e^{-u}}{2(1 + u)}",
    )
    sec.check_zero((sp.Symbol("Kp") - 1).subs(sp.Symbol("Kp"), K / 2) - (K - 2) / 2, r"$K' - 1 = (K-2)/2$ and $K'/\gamma' = K/(4\gamma)$")

    # --- 7.3 weak decay, general pair ---------------------------------------------------------------------
    a, b = sp.symbols("a b", real=True)
    sec.result(
        r"Different-class margins as $\gamma \to 0$",
        r"""
For $K \ge 3$ and fixed $\lambda \in (0, 1)$, with $a = (u+v)/2$ and $b = (u-v)/2$, exactly
$a\,(2e^a\cosh b + K - 2) = K/(2\gamma)$ (the equation $\gamma(u+v) = Kq$), and as $\gamma \to 0$
""",
        r"u = a_0 + b_0 + (C_a + C_b)\,\gamma a_0 + O(\gamma),\qquad v = a_0 - b_0 + (C_a - C_b)\,\gamma a_0 + O(\gamma)",
        r"a_0 = W_0\!\Bigl(\frac{K\sqrt{\lambda(1-\lambda)}}{2\gamma}\Bigr),\quad b_0 = \frac12\log\frac{\lambda}{1-\lambda},\quad "
        r"C_b = \frac{(2/K - 1)(1 - 2\lambda)}{2\lambda(1-\lambda)},\quad C_a = -\frac{2(K-2)}{K} - (2\lambda - 1)\,C_b",
    )
    sec.text(
        r"""
In particular $u, v = a_0 \pm b_0 + O(\gamma\log(1/\gamma))$ with $a_0 \sim \log(1/\gamma)$.
Write $\eta = \gamma a$; the margins are $a + O(1)$, so $q = \gamma(u+v)/K = 2\eta/K$ and
$\gamma u, \gamma v = \eta + O(\gamma)$. By the exact identity of Result 6.2,
$2b = \log\frac{\lambda + q - \gamma u}{1 - \lambda + q - \gamma v}$, so $b = b_0 + C_b\,\eta + O(\gamma + \eta^2)$.
The $a$-equation is $a = W_0(X)$ with $X = \bigl(K/(2\gamma) - (K-2)a\bigr)/(2\cosh b)$, so
$\log X = \log\frac{K}{4\gamma\cosh b_0} + \bigl(-\frac{2(K-2)}{K} - \tanh(b_0)\,C_b\bigr)\eta + O(\eta^2 + \gamma)$,
$\cosh b_0 = 1/(2\sqrt{\lambda(1-\lambda)})$, $\tanh b_0 = 2\lambda - 1$, and
$W_0(Xe^{\delta}) = W_0(X) + \delta\,W_0/(1 + W_0) + O(\delta^2) = W_0(X) + \delta + O(\delta/\log X)$.
The $O(\gamma)$ remainder is confirmed at 40 digits below ($K \in \{3, 10\}$,
$\lambda \in \{1/10, 3/10, 1/2\}$, $\gamma = 10^{-2}, \dots, 10^{-6}$).
"""
    )
    q_expr = 1 / (sp.exp(a + b) + sp.exp(a - b) + K - 2)
    lhs = (gamma * (2 * a) - K * q_expr) * (sp.exp(a + b) + sp.exp(a - b) + K - 2)
    rhs = 2 * gamma * (a * (2 * sp.exp(a) * sp.cosh(b) + K - 2) - K / (2 * gamma))
    sec.check_zero(sp.expand(sp.simplify(lhs - rhs).rewrite(sp.exp)), r"$[\gamma(u+v) - Kq]/q = 2\gamma\,[a(2e^a\cosh b + K - 2) - K/(2\gamma)]$", sp.simplify)
    ell = sp.Symbol("ell", positive=True)  # lambda/(1 - lambda) > 0
    sec.check_zero(
        sp.simplify(sp.cosh(sp.log(ell) / 2).rewrite(sp.exp) - (1 + ell) / (2 * sp.sqrt(ell))),
        r"$\cosh b_0 = (1+\ell)/(2\sqrt\ell) = 1/(2\sqrt{\lambda(1-\lambda)})$ with $\ell = \lambda/(1-\lambda)$",
    )
    sec.check_zero(
        sp.simplify(sp.tanh(sp.log(ell) / 2).rewrite(sp.exp) - (ell - 1) / (ell + 1)) + sp.simplify(((ell - 1) / (ell + 1)).subs(ell, lam / (1 - lam)) - (2 * lam - 1)),
        r"$\tanh b_0 = (\ell - 1)/(\ell + 1) = 2\lambda - 1$",
    )
    eta = sp.Symbol("eta", positive=True)
    c_b = (2 / K - 1) * (1 - 2 * lam) / (2 * lam * (1 - lam))
    c_a = -2 * (K - 2) / K - (2 * lam - 1) * c_b
    two_b = sp.log((lam + 2 * eta / K - eta) / (1 - lam + 2 * eta / K - eta))
    sec.check_zero(sp.diff(two_b / 2, eta).subs(eta, 0) - c_b, r"$\partial_\eta b|_{\eta=0} = C_b$ (from $2b = \log\frac{\lambda + q - \gamma u}{1-\lambda+q-\gamma v}$, $q = 2\eta/K$, $\gamma u = \gamma v = \eta$)")
    b_of_eta = sp.log(lam / (1 - lam)) / 2 + c_b * eta
    log_x = sp.log(1 - (K - 2) * 2 * eta / K) - sp.log(sp.cosh(b_of_eta))
    slope = sp.diff(log_x, eta).subs(eta, 0)
    slope = sp.simplify(slope.rewrite(sp.exp))
    sec.check_zero(slope - c_a, r"$\partial_\eta \log X|_{\eta=0} = -2(K-2)/K - \tanh(b_0)\,C_b = C_a$")
    table = []
    for k in (3, 10):
        for mix in (sp.Rational(1, 10), sp.Rational(3, 10), sp.Rational(1, 2)):
            cb = c_b.subs({K: k, lam: mix})
            ca = c_a.subs({K: k, lam: mix})
            scaled = []
            for g in GAMMAS:
                uu, vv = pair_margins_numeric(k, mix, g)
                a0, b0 = weak_decay_asymptotic(k, mix, g)
                lead = max(abs(sp.N(uu - (a0 + b0), DIGITS)), abs(sp.N(vv - (a0 - b0), DIGITS)))
                rem = max(
                    abs(sp.N(uu - (a0 + b0 + (ca + cb) * g * a0), DIGITS)),
                    abs(sp.N(vv - (a0 - b0 + (ca - cb) * g * a0), DIGITS)),
                )
                scaled.append(rem / (g * sp.log(1 / g)))
                table.append((k, mix, g, uu, vv, lead / (g * sp.log(1 / g)), rem / g))
            rows = table[-len(GAMMAS):]
            ok = all(r[-1] < 20 for r in rows) and all(s1 > s2 for s1, s2 in zip(scaled, scaled[1:]))
            sec.check(
                bool(ok),
                rf"$K = {k}$, $\lambda = {sp.latex(mix)}$: remainder$/\gamma < 20$ and remainder$/(\gamma\log(1/\gamma))$ strictly decreasing over $\gamma = 10^{{-2}}, \dots, 10^{{-6}}$ (40 digits)",
            )
    sec.text(
        "| $K$ | $\\lambda$ | $\\gamma$ | $u$ | $v$ | leading error$/(\\gamma\\log\\frac1\\gamma)$ | remainder$/\\gamma$ |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {k} | ${sp.latex(mix)}$ | ${sp.latex(g)}$ | {_fmt(uu, 6)} | {_fmt(vv, 6)} | {_fmt(lead)} | {_fmt(rem)} |"
            for k, mix, g, uu, vv, lead, rem in table
        )
    )
    sec.text(
        r"""
So the norm of a different-class feature grows like $\log(1/\gamma)$
($\|h\|^2 = s^2(u^2 + v^2 - 2uv/(K-1))/\beta^2$), its direction tends to that of $w_c + w_{c'}$
(for $K \ge 3$), and $u - v \to \log(\lambda/(1-\lambda))$: the calibrated "channel" of Result 6.2.
"""
    )
    _ = lam
    return sec


if __name__ == "__main__":
    run_standalone(derive)
