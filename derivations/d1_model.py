r"""1. The model: the simplex-ETF Gram structure, the per-sample loss, its gradient and Hessian."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    CENTERING,
    CONCRETE_K,
    IDENTITY,
    K,
    Section,
    etf_beta,
    etf_factor,
    etf_matrix,
    lam,
    logsumexp,
    mu,
    per_sample_loss,
    run_standalone,
    s,
    softmax,
    target,
)


def derive() -> Section:
    sec = Section(1, "The model", "d1_model")
    sec.text(
        r"""
$K \ge 2$ classes; the classifier $W \in \mathbb{R}^{K\times d}$ ($d \ge K-1$), rows $w_k$, is fixed
to a simplex equiangular tight frame (ETF) of row norm $s$:
$W = s\sqrt{K/(K-1)}\,(I_K - \mathbf{1}\mathbf{1}^\top/K)\,U^\top$ with $U \in \mathbb{R}^{d\times K}$,
$U^\top U = I_K$ (for $d = K-1$, $U$ is an orthonormal basis of the centred subspace instead).
A sample is an ordered class pair $(c, c')$ (same-class pairs included) and a mixing coefficient
$\lambda \in [0,1]$, with target $y = \lambda e_c + (1-\lambda)e_{c'}$ and its own free feature
$h \in \mathbb{R}^d$. The objective is the mean over the $N$ samples of
$\ell(h) + \tfrac{\mu}{2}\|h\|^2$ ($\mu$: weight decay per feature). Throughout,
$P = I - \mathbf{1}\mathbf{1}^\top/K$, $z = Wh$ (logits), $p = \operatorname{softmax}(z)$,
$\beta = s^2K/(K-1)$ and $\gamma = \mu/\beta$.
"""
    )

    # --- 1.1 Gram structure -------------------------------------------------------------------
    sec.result(
        "Gram structure of the simplex ETF",
        r"With $\beta = s^2K/(K-1)$:",
        r"W W^\top = \beta\Bigl(I - \tfrac{1}{K}\mathbf{1}\mathbf{1}^\top\Bigr),\qquad \|w_k\| = s,"
        r"\qquad \langle w_k, w_l\rangle = -\frac{s^2}{K-1}\ (k \ne l),\qquad \sum_k w_k = 0",
    )
    sec.text(
        r"""
$WW^\top = c^2 P U^\top U P = c^2 P^2$ with $c = s\sqrt{K/(K-1)}$, and $P^2 = P$ because
$J^2 = KJ$ for $J = \mathbf{1}\mathbf{1}^\top$. So $WW^\top = c^2 P$, and $c^2 = \beta$. Its diagonal
$\beta(1 - 1/K) = s^2$ is the squared row norm, its off-diagonal $-\beta/K = -s^2/(K-1)$ the inner
products, and $\mathbf{1}^\top W = c\,(P\mathbf{1})^\top U^\top = 0$ the sum of the rows. For symbolic
$K$ this is computed in the algebra of matrices $aI + bJ$:
"""
    )
    c = etf_factor()
    gram = CENTERING * CENTERING * (c**2)
    sec.eq(r"P^2 = P", r"c^2 = " + sp.latex(sp.simplify(c**2)) + r" = \beta")
    sec.check((CENTERING * CENTERING - CENTERING).is_zero(), r"$P^2 = P$ for symbolic $K$ (using $J^2 = KJ$)")
    sec.check((gram - CENTERING * etf_beta(K)).is_zero(), r"$WW^\top = \beta P$ for symbolic $K$")
    sec.check(sp.simplify(gram.diagonal() - s**2) == 0, r"$\|w_k\|^2 = s^2$ for symbolic $K$")
    sec.check(
        sp.simplify(gram.off_diagonal() + s**2 / (K - 1)) == 0,
        r"$\langle w_k, w_l\rangle = -s^2/(K-1)$ for symbolic $K$",
    )
    sec.check(sp.simplify(CENTERING.times_ones()) == 0, r"$P\mathbf{1} = 0$, hence $\sum_k w_k = 0$, for symbolic $K$")
    sec.check(sp.simplify((IDENTITY * CENTERING - CENTERING).a) == 0, r"$IP = P$ (sanity of the $aI+bJ$ algebra)")
    for k in CONCRETE_K:
        w = etf_matrix(k)
        ok = (w * w.T - etf_beta(k) * (sp.eye(k) - sp.ones(k, k) / k)).expand() == sp.zeros(k, k)
        ok = ok and (sp.ones(1, k) * w).expand() == sp.zeros(1, k)
        sec.check(ok, rf"$WW^\top = \beta P$ and $\mathbf{{1}}^\top W = 0$ for the explicit {k}×{k} ETF matrix, symbolic $s$")

    # --- 1.2 per-sample loss ------------------------------------------------------------------
    z = sp.symbols("z1:5", real=True)
    sec.result(
        "Per-sample loss",
        r"The mixup cross-entropy of a sample is a function of its logits $z = Wh$ only:",
        r"\ell(h) = \operatorname{logsumexp}(Wh) - y^\top W h = \lambda\,\mathrm{CE}(Wh, c) + (1-\lambda)\,\mathrm{CE}(Wh, c')",
    )
    sec.text(r"with $\mathrm{CE}(z, k) = \operatorname{logsumexp}(z) - z_k$; linear in $y$ because $\mathbf{1}^\top y = 1$.")
    for k in (3, 4):
        zk = list(z[:k])
        y = target(k, 0, 1)
        ce = lambda j, zk=zk: logsumexp(zk) - zk[j]  # noqa: E731
        sec.check_zero(
            per_sample_loss(zk, y) - (lam * ce(0) + (1 - lam) * ce(1)),
            rf"$\ell = \lambda\,\mathrm{{CE}}(z, c) + (1-\lambda)\,\mathrm{{CE}}(z, c')$ for $K = {k}$, symbolic $z$, $\lambda$",
            sp.expand,
        )

    # --- 1.3 gradient and Hessian ---------------------------------------------------------------
    sec.result(
        "Gradient and Hessian",
        r"For any $W$, with $f(h) = \ell(h) + \tfrac{\mu}{2}\|h\|^2$:",
        r"\nabla f(h) = W^\top(p - y) + \mu h,\qquad \nabla^2 f(h) = W^\top\bigl(\operatorname{diag}p - pp^\top\bigr)W + \mu I",
    )
    sec.text(
        r"""
Differentiate $\operatorname{logsumexp}(Wh)$: $\partial_h = W^\top p$, and $\partial_h p =
(\operatorname{diag}p - pp^\top)W$. Checked by differentiating the loss with a generic symbolic
$W$ (every entry its own symbol), $K = 3$, $d = 2$:
"""
    )
    kk, dd = 3, 2
    wg = sp.Matrix(kk, dd, lambda i, j: sp.Symbol(f"W_{i + 1}{j + 1}", real=True))
    hv = sp.Matrix(sp.symbols(f"h1:{dd + 1}", real=True))
    zz = list(wg * hv)
    y = target(kk, 0, 1)
    f = per_sample_loss(zz, y) + mu / 2 * (hv.T * hv)[0]
    p = sp.Matrix(softmax(zz))
    grad_claim = wg.T * (p - sp.Matrix(y)) + mu * hv
    grad_auto = sp.Matrix([sp.diff(f, hj) for hj in hv])
    # Both sides are rational in e^{z_k}: name those and cancel (much faster than simplify).
    exps = {sp.exp(zk): sp.Symbol(f"E_{k + 1}", positive=True) for k, zk in enumerate(zz)}

    def rational_zero(m):
        return m.subs(exps).applyfunc(sp.cancel) == sp.zeros(*m.shape)

    sec.check(
        rational_zero(grad_auto - grad_claim),
        r"$\nabla f = W^\top(p-y) + \mu h$ (generic $W$, $K=3$, $d=2$)",
    )
    hess_claim = wg.T * (sp.diag(*p) - p * p.T) * wg + mu * sp.eye(dd)
    hess_auto = sp.hessian(f, list(hv))
    sec.check(
        sp.simplify(hess_auto - hess_claim) == sp.zeros(dd, dd),
        r"$\nabla^2 f = W^\top(\operatorname{diag}p - pp^\top)W + \mu I$ (generic $W$, $K=3$, $d=2$)",
    )

    # --- 1.4 strict convexity -------------------------------------------------------------------
    sec.result(
        "Strong convexity and decoupling",
        r"""
$\operatorname{diag}p - pp^\top$ is a covariance matrix, so $\nabla^2 f \succeq \mu I$: each
per-sample problem is $\mu$-strongly convex and has a unique minimiser. The objective
$\frac1N\sum_i f_i(h_i)$ is a sum of terms in disjoint variables, so its minimiser is the
collection of per-sample minimisers: it does not depend on $N$, on the mixup $\alpha$ or on how
the samples are weighted, provided the decay of a sample is weighted like its loss.
""",
        r"\xi^\top\bigl(\operatorname{diag}p - pp^\top\bigr)\xi = \sum_k p_k\Bigl(\xi_k - \sum_j p_j\xi_j\Bigr)^2 \ \ge 0\qquad(\textstyle\sum_k p_k = 1)",
    )
    sec.text(r"The identity is the variance of $\xi$ under $p$; checked with $p_K = 1 - \sum_{k<K} p_k$:")
    for k in (2, 3, 4, 5):
        ps = list(sp.symbols(f"p1:{k}", real=True))
        ps.append(1 - sp.Add(*ps))
        xi = sp.Matrix(sp.symbols(f"xi1:{k + 1}", real=True))
        pv = sp.Matrix(ps)
        lhs = (xi.T * (sp.diag(*ps) - pv * pv.T) * xi)[0]
        mean = (pv.T * xi)[0]
        rhs = sp.Add(*[ps[j] * (xi[j] - mean) ** 2 for j in range(k)])
        sec.check_zero(lhs - rhs, rf"variance identity for $K = {k}$", sp.expand)
    return sec


if __name__ == "__main__":
    run_standalone(derive)
