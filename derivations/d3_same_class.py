r"""3. Same-class samples: the symmetry reduction to $t(e^t + K - 1) = K/\gamma$."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import (
    CONCRETE_K,
    Block,
    K,
    Section,
    centering_matrix,
    etf_beta,
    etf_matrix,
    gamma,
    per_sample_loss,
    run_standalone,
    stationarity_residual,
    t,
    target,
    typed_loss,
    typed_sqnorm_centred,
    typed_stationarity,
    typed_sum,
)


def same_class_blocks(margin=t, num_classes=K) -> list[Block]:
    r"""Centred logits $z_c = (K-1)t/K$, $z_k = -t/K$ ($k \ne c$), target $e_c$."""
    return [
        Block(logit=(num_classes - 1) * margin / num_classes, multiplicity=1, target=1),
        Block(logit=-margin / num_classes, multiplicity=num_classes - 1, target=0),
    ]


def same_class_gammas() -> list[sp.Expr]:
    r"""For each block of the ansatz, the $\gamma(t)$ that makes its stationarity residual vanish."""
    solutions = []
    for residual in typed_stationarity(same_class_blocks()):
        (sol,) = sp.solve(residual, gamma)  # each residual is linear in gamma
        solutions.append(sp.simplify(sol))
    return solutions


def same_class_gamma() -> sp.Expr:
    r"""$\gamma$ as the function of $t$ that makes every coordinate of $\gamma z - (y - p)$ vanish.

    Derived, not typed in: each block's stationarity residual is solved for $\gamma$, and the blocks
    must agree.
    """
    first, second = same_class_gammas()
    if sp.simplify(first - second) != 0:
        raise AssertionError("the same-class ansatz is not consistent")
    return first


def same_class_residual() -> sp.Expr:
    r"""$\gamma/\gamma(t) - 1$: zero exactly at the same-class margin; relative, so scale-free."""
    return sp.simplify(gamma / same_class_gamma() - 1)


def derive() -> Section:
    sec = Section(3, "Same-class samples", "d3_same_class")
    equation = sp.Eq(t * (sp.exp(t) + K - 1), K / gamma)
    sec.result(
        "Same-class optimum",
        r"""
For $c = c'$ the target is $e_c$ whatever $\lambda$ is, and the optimal feature is aligned with
$w_c$:
""",
        r"h = \frac{t}{\beta}\,w_c,\qquad " + sp.latex(equation) + r",\qquad t > 0",
    )
    sec.text(r"$t = z_c - z_k$ ($k \ne c$) is the logit margin, the unique positive root.")
    for k in CONCRETE_K:
        sec.check(
            target(k, 1, 1) == [sp.Integer(1) if j == 1 else sp.Integer(0) for j in range(k)],
            rf"$\lambda e_c + (1-\lambda)e_c = e_c$ ($K = {k}$)",
        )

    sec.text(
        r"""
**Symmetry.** Any permutation of the classes other than $c$ leaves $y = e_c$, $\operatorname{logsumexp}$
and $\|Pz\|$ unchanged, so it maps the minimiser of $G$ (Result 2.3) to a minimiser; the minimiser is
unique, hence fixed by all these permutations: $z_k = z_o$ for every $k \ne c$. Centring,
$z_c + (K-1)z_o = 0$, and $t = z_c - z_o$ give
"""
    )
    blocks = same_class_blocks()
    sec.eq(sp.Eq(sp.Symbol("z_c"), blocks[0].logit), sp.Eq(sp.Symbol("z_o"), blocks[1].logit))
    sec.check(sp.simplify(typed_sum(blocks)) == 0, r"the ansatz is centred, symbolic $K$")
    sec.check(sp.simplify(blocks[0].logit - blocks[1].logit - t) == 0, r"$z_c - z_o = t$")
    for k in (3, 4, 5):
        zs = list(sp.symbols(f"z1:{k + 1}", real=True))
        y = target(k, 0, 0)
        pm = centering_matrix(k)

        def g_of(zv, y=y, pm=pm):
            return per_sample_loss(zv, y) + gamma / 2 * ((pm * sp.Matrix(zv)).T * (pm * sp.Matrix(zv)))[0]

        swapped = list(zs)
        swapped[1], swapped[2] = zs[2], zs[1]
        sec.check_zero(g_of(swapped) - g_of(zs), rf"$G$ is invariant under swapping two classes $\ne c$ ($K = {k}$)", sp.expand)

    sec.text(
        r"""
**Reduction.** The stationarity residual $\gamma z - (y - p)$ (Result 2.4) has one value on
coordinate $c$ and one on the others. Each is linear in $\gamma$; solving each for $\gamma$ gives the
same function of $t$ (symbolic $K$):
"""
    )
    gamma_c, gamma_o = same_class_gammas()
    sec.check_zero(gamma_c - gamma_o, r"both coordinates of $\gamma z - (y-p)$ vanish for the same $\gamma(t)$, symbolic $K$")
    gamma_of_t = same_class_gamma()
    sec.eq(sp.Eq(gamma, gamma_of_t))
    sec.check_zero(K / gamma_of_t - t * (sp.exp(t) + K - 1), r"$\gamma(t)$ is $t(e^t + K - 1) = K/\gamma$, symbolic $K$")
    sec.text(r"Without the symmetry argument: for each concrete $K$ the full $K$-vector residual vanishes at the ansatz:")
    for k in CONCRETE_K:
        z = [(k - 1) * t / k] + [-t / sp.Integer(k)] * (k - 1)
        res = stationarity_residual(z, target(k, 0, 0), relative_decay=k / (t * (sp.exp(t) + k - 1)))
        sec.check(all(sp.simplify(r) == 0 for r in res), rf"all {k} coordinates of $\gamma z - (y-p)$ vanish ($K = {k}$)")

    sec.text(
        r"""
**Feature.** $h = W^\top z/\beta = \bigl(z_c w_c + z_o\sum_{k\ne c}w_k\bigr)/\beta = (z_c - z_o)\,w_c/\beta$
since $\sum_{k \ne c} w_k = -w_c$. Checked with the explicit ETF:
"""
    )
    for k in CONCRETE_K:
        w = etf_matrix(k)
        z = sp.Matrix([(k - 1) * t / k] + [-t / sp.Integer(k)] * (k - 1))
        h = w.T * z / etf_beta(k)
        sec.check((h - t * w[0, :].T / etf_beta(k)).expand() == sp.zeros(k, 1), rf"$W^\top z/\beta = t\,w_c/\beta$ ($K = {k}$)")

    sec.text(
        r"""
**Uniqueness.** $\phi(t) = t(e^t + K - 1)$ is negative for $t < 0$, $\phi(0) = 0$, and
$\phi'(t) = (1 + t)e^t + K - 1 > 0$ for $t \ge 0$, $\phi \to \infty$: exactly one root, and it is
positive. Equivalently the 1-D restriction of $G$ is strictly convex, and its derivative is a
positive multiple of the equation:
"""
    )
    phi = t * (sp.exp(t) + K - 1)
    sec.check_zero(sp.diff(phi, t) - ((1 + t) * sp.exp(t) + K - 1), r"$\phi'(t) = (1+t)e^t + K - 1$")
    g1 = typed_loss(blocks) + gamma / 2 * typed_sqnorm_centred(blocks)
    g1_simplified = sp.log(sp.exp(t) + K - 1) - t + gamma * (K - 1) * t**2 / (2 * K)
    sec.eq(sp.Eq(sp.Symbol("G(t)"), g1_simplified))
    sec.check_zero(
        sp.expand_log(sp.simplify(sp.diff(g1 - g1_simplified, t)), force=True),
        r"the restriction of $G$ to the ansatz is $\log(e^t + K-1) - t + \gamma(K-1)t^2/(2K)$ up to a constant",
    )
    d_g1 = sp.diff(g1_simplified, t)
    sec.eq(r"G'(t) = \frac{K-1}{K}\,\frac{\gamma\,t\,(e^t + K - 1) - K}{e^t + K - 1}")
    sec.check_zero(d_g1 - (K - 1) / K * (gamma * phi - K) / (sp.exp(t) + K - 1), r"$G'(t) = \frac{K-1}{K}\,\frac{\gamma t(e^t+K-1) - K}{e^t + K - 1}$")
    sec.check_zero(
        sp.diff(g1_simplified, t, 2) - ((K - 1) * sp.exp(t) / (sp.exp(t) + K - 1) ** 2 + gamma * (K - 1) / K),
        r"$G''(t) = (K-1)e^t/(e^t+K-1)^2 + \gamma(K-1)/K > 0$",
    )
    sec.text(
        r"""
**Recovering $t$ from a feature.** $z = Wh$, and $t = z_c - z_k$ for any $k \ne c$; this is how the
test suite reads $t$ off `ufm.optimal_features` (`tests/test_derivations.py`).
"""
    )
    return sec


if __name__ == "__main__":
    run_standalone(derive)
