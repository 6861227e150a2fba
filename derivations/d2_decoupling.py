r"""2. Row-space reduction $h = W^\top z/\beta$, the centred-norm identity and $z = (y - p)/\gamma$."""

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
    centering_matrix,
    etf_beta,
    etf_factor,
    etf_matrix,
    gamma,
    mu,
    per_sample_loss,
    run_standalone,
    softmax,
    stationarity_residual,
    target,
)


def derive() -> Section:
    sec = Section(2, "Decoupling and stationarity", "d2_decoupling")

    # --- 2.1 row space --------------------------------------------------------------------------
    sec.result(
        "The optimum lies in the row space of W",
        r"""
$\Pi = W^\top W/\beta$ is the orthogonal projector onto the row space of $W$, and every optimal
feature satisfies $h = \Pi h$, i.e.
""",
        r"h = \frac{1}{\beta}\,W^\top z,\qquad z = Wh",
    )
    sec.text(
        r"""
With $W = cPU^\top$: $\Pi = UPU^\top$ is symmetric, $\Pi^2 = UP^2U^\top = \Pi$ and $W\Pi = W$.
Hence $\ell(h) = \ell(\Pi h)$ (the loss sees $h$ only through $Wh = W\Pi h$) while
$\|h\|^2 = \|\Pi h\|^2 + \|(I-\Pi)h\|^2$: any component outside the row space only adds decay,
so the minimiser has none, and then $h = \Pi h = W^\top Wh/\beta = W^\top z/\beta$.
"""
    )
    c2 = etf_factor() ** 2
    proj = CENTERING * (c2 / etf_beta(K))
    sec.check((proj * proj - proj).is_zero(), r"$\Pi^2 = \Pi$ for symbolic $K$ (in the $aI + bJ$ algebra, $U = I$)")
    for k in CONCRETE_K:
        w = etf_matrix(k)
        pi = w.T * w / etf_beta(k)
        ok = (pi * pi - pi).expand() == sp.zeros(k, k) and (w * pi - w).expand() == sp.zeros(k, k)
        sec.check(ok, rf"$\Pi^2 = \Pi$, $W\Pi = W$ for the explicit $K = {k}$ ETF")

    # --- 2.2 centred norm -----------------------------------------------------------------------
    sec.result(
        "Centred-norm identity",
        r"For $h = W^\top z/\beta$, the decay is a function of the centred logits:",
        r"\frac{\mu}{2}\|h\|^2 = \frac{\gamma}{2}\,\|Pz\|^2 = \frac{\gamma}{2}\Bigl(\|z\|^2 - \frac{(\mathbf{1}^\top z)^2}{K}\Bigr)",
    )
    sec.text(
        r"""
$\|h\|^2 = z^\top WW^\top z/\beta^2 = z^\top P z/\beta = \|Pz\|^2/\beta$ (by Result 1.1 and
$P = P^\top = P^2$), and $\mu/\beta = \gamma$.
"""
    )
    for k in CONCRETE_K:
        z = sp.Matrix(sp.symbols(f"z1:{k + 1}", real=True))
        w = etf_matrix(k)
        h = w.T * z / etf_beta(k)
        pz = centering_matrix(k) * z
        lhs = mu / 2 * (h.T * h)[0]
        rhs = (mu / etf_beta(k)) / 2 * (pz.T * pz)[0]
        sec.check_zero(lhs - rhs, rf"$\tfrac{{\mu}}{{2}}\|W^\top z/\beta\|^2 = \tfrac{{\gamma}}{{2}}\|Pz\|^2$ for $K = {k}$, symbolic $z$, $s$, $\mu$", sp.expand)

    # --- 2.3 reduced problem ----------------------------------------------------------------------
    sec.result(
        "The problem in logit coordinates",
        r"""
Minimising $f$ over $h$ is minimising, over $z \in \mathbb{R}^K$,
""",
        r"G(z) = \operatorname{logsumexp}(z) - y^\top z + \frac{\gamma}{2}\,\|Pz\|^2,\qquad \nabla G(z) = p - y + \gamma P z",
    )
    sec.text(
        r"""
$G$ is invariant under $z \mapsto z + a\mathbf{1}$ ($\operatorname{logsumexp}$ shifts by $a$,
$y^\top z$ by $a\,\mathbf{1}^\top y = a$, and $P\mathbf{1} = 0$), so one may fix
$\mathbf{1}^\top z = 0$, which every $z = Wh$ satisfies; on that subspace $z \mapsto h = W^\top z/\beta$
is a bijection onto the row space and $f(h) = G(z)$ by Results 1.2 and 2.2.
"""
    )
    k = 3
    z = list(sp.symbols("z1:4", real=True))
    a = sp.Symbol("a", real=True)
    y = target(k, 0, 1)
    pm = centering_matrix(k)

    def g_of(zs):
        zv = sp.Matrix(zs)
        return per_sample_loss(zs, y) + gamma / 2 * ((pm * zv).T * (pm * zv))[0]

    shifted = g_of([zk + a for zk in z]) - g_of(z)
    # log(sum e^{z+a}) - log(sum e^z) = a: combine the logs first.
    shifted = sp.simplify(sp.expand_log(sp.factor(sp.logcombine(shifted, force=True)), force=True))
    sec.check(shifted == 0, r"$G(z + a\mathbf{1}) = G(z)$ for $K = 3$, symbolic $z$, $a$, $\lambda$")
    grad_claim = sp.Matrix(softmax(z)) - sp.Matrix(y) + gamma * pm * sp.Matrix(z)
    grad_auto = sp.Matrix([sp.diff(g_of(z), zk) for zk in z])
    sec.check(sp.simplify(grad_auto - grad_claim) == sp.zeros(k, 1), r"$\nabla G = p - y + \gamma Pz$ for $K = 3$")

    # --- 2.4 stationarity -----------------------------------------------------------------------
    sec.result(
        "Stationarity",
        r"The optimum is the unique centred solution of",
        r"z = \frac{y - p}{\gamma},\qquad p = \operatorname{softmax}(z),\qquad h = \frac{W^\top z}{\beta} = \frac{W^\top(y-p)}{\mu}",
    )
    sec.text(
        r"""
$\nabla f = 0$ gives $h = W^\top(y - p)/\mu$, hence $z = Wh = WW^\top(y-p)/\mu = \beta P(y-p)/\mu
= (y - p)/\gamma$, because $\mathbf{1}^\top(y - p) = 1 - 1 = 0$ makes $P(y - p) = y - p$. Conversely
a centred $z$ with $\gamma z = y - p$ makes $\nabla G = 0$. Checked with the explicit ETF, symbolic
$p$ (with $\sum_k p_k = 1$) and symbolic $y$ (with $\sum_k y_k = 1$):
"""
    )
    for k in CONCRETE_K:
        w = etf_matrix(k)
        ps = list(sp.symbols(f"p1:{k}", real=True))
        ps.append(1 - sp.Add(*ps))
        ys = list(sp.symbols(f"y1:{k}", real=True))
        ys.append(1 - sp.Add(*ys))
        r = sp.Matrix(ys) - sp.Matrix(ps)
        h = w.T * r / mu
        z = w * h
        beta_k = etf_beta(k)
        ok = (z - r / (mu / beta_k)).expand() == sp.zeros(k, 1)
        ok = ok and (sp.ones(1, k) * z).expand()[0] == 0
        ok = ok and (h - w.T * z / beta_k).expand() == sp.zeros(k, 1)
        sec.check(ok, rf"$W\,W^\top(y-p)/\mu = (y-p)/\gamma$, centred, and $h = W^\top z/\beta$, for $K = {k}$")
    k = 3
    z = list(sp.symbols("z1:4", real=True))
    res = stationarity_residual(z, target(k, 0, 1))
    grad = sp.Matrix(softmax(z)) - sp.Matrix(target(k, 0, 1)) + gamma * centering_matrix(k) * sp.Matrix(z)
    centred = {z[2]: -z[0] - z[1]}
    sec.check(
        sp.simplify((grad - sp.Matrix(res)).subs(centred)) == sp.zeros(k, 1),
        r"on centred $z$, $\nabla G$ equals the stationarity residual $\gamma z - (y - p)$ ($K = 3$)",
    )
    sec.text(r"In what follows $\beta$ and $\gamma$ enter only through $\gamma = \mu/\beta$ and $h = W^\top z/\beta$.")
    return sec


if __name__ == "__main__":
    run_standalone(derive)
