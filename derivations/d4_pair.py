r"""4. Different-class samples: the reduction to $(u, v)$, the strictly convex $F$, and the Lambert-W form."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    Block,
    K,
    Section,
    centering_matrix,
    etf_beta,
    etf_matrix,
    gamma,
    lam,
    per_sample_loss,
    q,
    run_standalone,
    s,
    stationarity_residual,
    target,
    typed_loss,
    typed_sqnorm_centred,
    typed_stationarity,
    typed_sum,
    u,
    v,
)


def pair_blocks(first=u, second=v, mix=lam, num_classes=K) -> list[Block]:
    r"""Centred logits of the ansatz: $z_o = -(u+v)/K$, $z_c = u + z_o$, $z_{c'} = v + z_o$."""
    other = -(first + second) / num_classes
    return [
        Block(logit=first + other, multiplicity=1, target=mix),
        Block(logit=second + other, multiplicity=1, target=1 - mix),
        Block(logit=other, multiplicity=num_classes - 2, target=0),
    ]


def pair_block_residuals() -> list[sp.Expr]:
    r"""$S_c, S_{c'}, S_o$: the stationarity residual $\gamma z - (y - p)$ on each block (symbolic $K$)."""
    return typed_stationarity(pair_blocks())


def pair_residuals() -> tuple[sp.Expr, sp.Expr]:
    r"""$(R_u, R_v) = (S_c - S_o,\ S_{c'} - S_o)$ as functions of $(u, v, K, \lambda, \gamma)$.

    Derived from the model's stationarity residual; :meth:`derive` asserts they equal
    $\gamma u - \lambda + (e^u - 1)q$ and $\gamma v - (1 - \lambda) + (e^v - 1)q$.
    """
    s_c, s_c2, s_o = pair_block_residuals()
    return sp.simplify(s_c - s_o), sp.simplify(s_c2 - s_o)


def pair_objective() -> sp.Expr:
    r"""$F(u, v) = \log(e^u + e^v + K - 2) - \lambda u - (1-\lambda)v + \frac{\gamma}{2}(u^2 + v^2 - (u+v)^2/K)$."""
    return (
        sp.log(sp.exp(u) + sp.exp(v) + K - 2)
        - lam * u
        - (1 - lam) * v
        + gamma / 2 * (u**2 + v**2 - (u + v) ** 2 / K)
    )


def q_of_uv(first=u, second=v, num_classes=K):
    return 1 / (sp.exp(first) + sp.exp(second) + num_classes - 2)


def stated_system(first=u, second=v, mix=lam, num_classes=K, rest=None):
    r"""$\gamma u - \lambda + (e^u-1)q$, $\gamma v - (1-\lambda) + (e^v-1)q$ with $q$ given or $q(u,v)$."""
    qq = q_of_uv(first, second, num_classes) if rest is None else rest
    return (
        gamma * first - mix + (sp.exp(first) - 1) * qq,
        gamma * second - (1 - mix) + (sp.exp(second) - 1) * qq,
    )


def derive() -> Section:
    sec = Section(4, "Different-class samples", "d4_pair")
    r_u_stated, r_v_stated = stated_system(rest=q)
    sec.result(
        r"Different-class optimum, $K \ge 3$",
        r"""
For $c \ne c'$ the optimal feature lies in $\operatorname{span}\{w_c, w_{c'}\}$: $h = (u\,w_c + v\,w_{c'})/\beta$
with $u = z_c - z_o$, $v = z_{c'} - z_o$ ($z_o$ the common logit of every other class), where
$(u, v)$ is the unique solution of the first system below, equivalently the unique minimiser of the
strictly convex $F$:
""",
        r"h = \frac{u\,w_c + v\,w_{c'}}{\beta},\qquad u = z_c - z_o,\quad v = z_{c'} - z_o",
        r",\qquad ".join(sp.latex(e) for e in (sp.Eq(r_u_stated, 0), sp.Eq(r_v_stated, 0), sp.Eq(q, q_of_uv()))),
        sp.Eq(sp.Symbol("F(u, v)"), pair_objective()),
    )

    sec.text(
        r"""
**Symmetry.** Permutations of the $K - 2$ classes other than $c, c'$ fix $y$, so (uniqueness, as in
Result 3.1) the minimiser has one common logit $z_o$ on them. With centring
$z_c + z_{c'} + (K-2)z_o = 0$:
"""
    )
    blocks = pair_blocks()
    sec.eq(
        sp.Eq(sp.Symbol("z_o"), blocks[2].logit),
        sp.Eq(sp.Symbol("z_c"), blocks[0].logit),
        sp.Eq(sp.Symbol("z_{c'}"), blocks[1].logit),
    )
    sec.check(sp.simplify(typed_sum(blocks)) == 0, r"the ansatz is centred, symbolic $K$")
    for k in (4, 5):
        zs = list(sp.symbols(f"z1:{k + 1}", real=True))
        y = target(k, 0, 1)
        pm = centering_matrix(k)

        def g_of(zv, y=y, pm=pm):
            return per_sample_loss(zv, y) + gamma / 2 * ((pm * sp.Matrix(zv)).T * (pm * sp.Matrix(zv)))[0]

        swapped = list(zs)
        swapped[2], swapped[3] = zs[3], zs[2]
        sec.check_zero(g_of(swapped) - g_of(zs), rf"$G$ is invariant under swapping two classes $\ne c, c'$ ($K = {k}$)", sp.expand)

    sec.text(
        r"""
**Reduction.** Write $S_c, S_{c'}, S_o$ for the stationarity residual $\gamma z - (y - p)$ on the
three blocks (Result 2.4), with $p_c = e^u q$, $p_{c'} = e^v q$, $p_o = q$ after dividing numerator
and denominator by $e^{z_o}$. Then $R_u = S_c - S_o$ and $R_v = S_{c'} - S_o$ are the stated
equations, and the third block is implied, since $KS_o = -(R_u + R_v)$ identically; so the
system is exactly $R_u = R_v = 0$ (symbolic $K$):
"""
    )
    r_u, r_v = pair_residuals()
    s_c, s_c2, s_o = pair_block_residuals()
    r_u_q, r_v_q = stated_system()
    sec.check_zero(r_u - r_u_q, r"$S_c - S_o = \gamma u - \lambda + (e^u-1)q$, symbolic $K$")
    sec.check_zero(r_v - r_v_q, r"$S_{c'} - S_o = \gamma v - (1-\lambda) + (e^v-1)q$, symbolic $K$")
    sec.check_zero(K * s_o + r_u + r_v, r"$K S_o + R_u + R_v = 0$ identically, symbolic $K$")
    sec.check_zero(sp.simplify(s_o - (-gamma * (u + v) / K + q_of_uv())), r"$S_o = q - \gamma(u+v)/K$: the third block is $\gamma(u+v) = Kq$")
    sec.text(r"and for each concrete $K$ the full $K$-vector residual has exactly these three values:")
    for k in (3, 4, 5, 6):
        z = [bl.logit.subs(K, k) for bl in blocks]
        z_full = [z[0], z[1]] + [z[2]] * (k - 2)
        res = stationarity_residual(z_full, target(k, 0, 1))
        ok = all(sp.simplify(res[j] - res[2]) == 0 for j in range(3, k))
        ok = ok and sp.simplify(res[0] - res[2] - r_u.subs(K, k)) == 0
        ok = ok and sp.simplify(res[1] - res[2] - r_v.subs(K, k)) == 0
        sec.check(ok, rf"full residual at the ansatz: $S_c - S_o = R_u$, $S_{{c'}} - S_o = R_v$, others equal ($K = {k}$)")

    sec.text(
        r"""
**The convex function $F$.** On the ansatz, $G$ (Result 2.3) equals $F(u, v)$ up to a constant
(use the shift invariance to put $z_o = 0$: $\operatorname{logsumexp} = \log(e^u + e^v + K - 2)$,
$y^\top z = \lambda u + (1-\lambda)v$, $\|Pz\|^2 = u^2 + v^2 - (u+v)^2/K$). Its gradient is the
stationarity system up to an invertible linear map:
"""
    )
    f = pair_objective()
    g_restricted = typed_loss(blocks) + gamma / 2 * typed_sqnorm_centred(blocks)
    for var in (u, v):
        sec.check_zero(sp.diff(g_restricted - f, var), rf"$\partial_{var}$ of $G$ on the ansatz equals $\partial_{var} F$, symbolic $K$")
    f_u, f_v = sp.diff(f, u), sp.diff(f, v)
    sec.eq(
        r"\begin{pmatrix} R_u \\ R_v \end{pmatrix} = \Bigl(I + \frac{1}{K-2}\mathbf{1}\mathbf{1}^\top\Bigr)\begin{pmatrix} \partial_u F \\ \partial_v F\end{pmatrix},"
        r"\qquad \det = \frac{K}{K-2} \ne 0"
    )
    sec.check_zero(r_u - (f_u + (f_u + f_v) / (K - 2)), r"$R_u = \partial_u F + (\partial_u F + \partial_v F)/(K-2)$, symbolic $K$")
    sec.check_zero(r_v - (f_v + (f_u + f_v) / (K - 2)), r"$R_v = \partial_v F + (\partial_u F + \partial_v F)/(K-2)$, symbolic $K$")
    m = sp.Matrix([[1, 0], [0, 1]]) + sp.ones(2, 2) / (K - 2)
    sec.check(sp.simplify(m.det() - K / (K - 2)) == 0, r"$\det(I + \mathbf{1}\mathbf{1}^\top/(K-2)) = K/(K-2)$")

    sec.text(
        r"""
**Strict convexity.** $\nabla^2 F = C + \gamma Q$ with $C$ the covariance matrix of the indicator
vector of $\{c, c'\}$ under $p$ ($p_u = e^uq$, $p_v = e^vq$, $p_r = (K-2)q$), and
$Q = \begin{pmatrix}1 - 1/K & -1/K\\ -1/K & 1 - 1/K\end{pmatrix}$ with eigenvalues $1$ and
$1 - 2/K > 0$ for $K \ge 3$. So $\nabla^2 F \succeq \gamma(1 - 2/K) I$: $F$ is strictly convex and
coercive, and its minimiser is unique.
"""
    )
    hess = sp.hessian(f, (u, v))
    quad = sp.Matrix([[1 - 1 / K, -1 / K], [-1 / K, 1 - 1 / K]])
    cov = sp.simplify(hess - gamma * quad)
    p_u, p_v = sp.exp(u) * q_of_uv(), sp.exp(v) * q_of_uv()
    p_r = (K - 2) * q_of_uv()
    sec.check(
        sp.simplify(cov - sp.Matrix([[p_u * (1 - p_u), -p_u * p_v], [-p_u * p_v, p_v * (1 - p_v)]])) == sp.zeros(2, 2),
        r"$\nabla^2 F - \gamma Q = \begin{pmatrix}p_u(1-p_u) & -p_up_v\\ -p_up_v & p_v(1-p_v)\end{pmatrix}$, symbolic $K$",
    )
    exp_u, exp_v = sp.symbols("E_u E_v", positive=True)  # e^u, e^v: the determinant is rational in them
    as_rational = {sp.exp(u): exp_u, sp.exp(v): exp_v}
    pu_r, pv_r, pr_r = (expr.subs(as_rational) for expr in (p_u, p_v, p_r))
    cov_r = sp.Matrix([[pu_r * (1 - pu_r), -pu_r * pv_r], [-pu_r * pv_r, pv_r * (1 - pv_r)]])
    det_gap = sp.cancel(cov_r.det() - pu_r * pv_r * pr_r)
    sec.check(det_gap == 0, r"$\det C = p_u p_v p_r \ge 0$ and $\operatorname{tr} C > 0$: $C \succeq 0$")
    eig = sorted(quad.eigenvals(), key=sp.default_sort_key)
    sec.check(
        {sp.simplify(e) for e in eig} == {sp.Integer(1), sp.simplify(1 - 2 / K)},
        r"eigenvalues of $Q$ are $1$ and $1 - 2/K$",
    )

    sec.text(
        r"""
**Feature.** $h = W^\top z/\beta = \bigl(z_cw_c + z_{c'}w_{c'} + z_o\sum_{k \ne c,c'}w_k\bigr)/\beta
= \bigl((z_c - z_o)w_c + (z_{c'} - z_o)w_{c'}\bigr)/\beta$, and conversely $u, v$ are read off the
logits $z = Wh$ (this is how `tests/test_derivations.py` recovers them from
`ufm.optimal_features`):
"""
    )
    for k in (3, 4, 5, 6):
        w = etf_matrix(k)
        z = sp.Matrix([bl.logit.subs(K, k) for bl in blocks[:2]] + [blocks[2].logit.subs(K, k)] * (k - 2))
        h = w.T * z / etf_beta(k)
        h_claim = (u * w[0, :].T + v * w[1, :].T) / etf_beta(k)
        zz = (w * h_claim).expand()
        ok = (h - h_claim).expand() == sp.zeros(k, 1)
        ok = ok and sp.expand(zz[0] - zz[2] - u) == 0 and sp.expand(zz[1] - zz[2] - v) == 0
        sec.check(ok, rf"$W^\top z/\beta = (u w_c + v w_{{c'}})/\beta$ and $z_c - z_o = u$, $z_{{c'}} - z_o = v$ for $z = Wh$ ($K = {k}$)")
    _ = s

    sec.text(r"**Symmetry in $\lambda$.** $F(u, v; \lambda) = F(v, u; 1 - \lambda)$, so $v(\lambda) = u(1 - \lambda)$:")
    swapped = f.subs({u: v, v: u, lam: 1 - lam}, simultaneous=True)
    sec.check_zero(swapped - f, r"$F(v, u; 1-\lambda) = F(u, v; \lambda)$, symbolic $K$", sp.expand)

    # --- Lambert W -----------------------------------------------------------------------------------
    big_a = (lam + q) / gamma
    big_x = q / gamma * sp.exp(big_a)
    sec.result(
        "Lambert-W form for fixed q",
        r"""
Given $q$, each equation is solved by the principal branch $W_0$ of the Lambert function:
""",
        r"u = A - W_0\!\Bigl(\frac{q}{\gamma}e^{A}\Bigr),\quad A = \frac{\lambda + q}{\gamma};\qquad "
        r"v = B - W_0\!\Bigl(\frac{q}{\gamma}e^{B}\Bigr),\quad B = \frac{1 - \lambda + q}{\gamma}",
    )
    sec.text(
        r"""
and $q$ is then the unique root of $\gamma\,(u(q) + v(q)) = Kq$ on $(0, 1/(K-2))$.
$R_u = 0$ reads $u + (q/\gamma)e^u = A$; put $\omega = A - u = (q/\gamma)e^{u} > 0$, so
$\omega e^{\omega} = (q/\gamma)e^{A}$, i.e. $\omega = W_0((q/\gamma)e^A)$ (the argument is positive,
where $W_0$ is the only real branch). Substituting $u = A - \omega$ and using only the defining
identity $e^{-\omega} = \omega/X$ of $\omega = W_0(X)$, the residual is symbolically zero:
"""
    )
    omega, xx = sp.symbols("omega X", positive=True)
    residual = sp.expand(r_u_stated.subs(u, big_a - omega), power_exp=True)
    residual = residual.subs(sp.exp(-omega), omega / xx).subs(xx, big_x)
    sec.check_zero(residual, r"$R_u\bigl(A - W_0(X)\bigr) = 0$ symbolically, with $X = (q/\gamma)e^A$ and $W_0(X)e^{W_0(X)} = X$")
    sample = [{xx: sp.Rational(1, 7)}, {xx: 3}, {xx: sp.Integer(10) ** 8}]
    ok = all(abs(sp.N((sp.LambertW(xx) * sp.exp(sp.LambertW(xx)) - xx).subs(pt), 60)) < 1e-50 for pt in sample)
    sec.check(ok, r"sympy's $W_0$ satisfies $W_0(X)e^{W_0(X)} = X$ (60 digits, $X \in \{1/7, 3, 10^8\}$)")
    sec.text(
        r"""
**The equation for $q$.** With $q$ free, $R_u + R_v = [\gamma(u+v) - Kq] - [1 - q(e^u + e^v + K - 2)]$
identically; so if both $R$'s vanish, $q = 1/(e^u+e^v+K-2)$ holds if and only if
$\gamma(u+v) = Kq$. Every root $q$ therefore gives a stationary point of the strictly convex $F$,
which is unique: the root is unique. It is bracketed: at $q \to 0$, $\gamma(u+v) - Kq \to 1 > 0$;
at $q = 1/(K-2)$, $u < A$ and $v < B$ give $\gamma(u + v) < 1 + 2q = K/(K-2) = Kq$.
"""
    )
    r_u_q, r_v_q = stated_system(rest=q)
    sec.check_zero(
        r_u_q + r_v_q - ((gamma * (u + v) - K * q) - (1 - q * (sp.exp(u) + sp.exp(v) + K - 2))),
        r"$R_u + R_v = [\gamma(u+v) - Kq] - [1 - q(e^u+e^v+K-2)]$ with $q$ free",
        sp.expand,
    )
    sec.check_zero((1 + 2 * q - K * q).subs(q, 1 / (K - 2)), r"$1 + 2q = Kq$ at $q = 1/(K-2)$")
    sec.check(
        sp.limit(gamma * (big_a + (1 - lam + q) / gamma) - K * q, q, 0) == 1,
        r"$\gamma(A + B) - Kq \to 1$ as $q \to 0$ (and $W_0(0) = 0$)",
    )
    # A high-precision instance: solve the 2-D system, then rebuild u from q through W_0.
    point = {K: 4, lam: sp.Rational(3, 10), gamma: sp.Rational(1, 20)}
    sys_num = [e.subs(point) for e in stated_system()]
    sol = sp.nsolve(sys_num, (u, v), (2, 2), prec=50)
    u_num, v_num = sol[0], sol[1]
    q_num = q_of_uv(u_num, v_num, 4)
    a_num = (point[lam] + q_num) / point[gamma]
    u_lw = a_num - sp.LambertW(q_num / point[gamma] * sp.exp(a_num))
    b_num = (1 - point[lam] + q_num) / point[gamma]
    v_lw = b_num - sp.LambertW(q_num / point[gamma] * sp.exp(b_num))
    sec.check(
        abs(sp.N(u_lw - u_num, 50)) < 1e-40 and abs(sp.N(v_lw - v_num, 50)) < 1e-40,
        r"at $K = 4$, $\lambda = 3/10$, $\gamma = 1/20$ (50 digits): the root of the 2-D system equals the Lambert-W form",
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
