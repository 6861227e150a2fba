"""Figure 5: weight decay: the same-class norm and the distance to the convex combination, with both limits.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    import scipy.special

    import ufm

    from . import _numeric as num

    k = s.decay_classes
    w = num.classifier(k)
    beta = float(ufm.analytic.etf_beta(k))
    scale = 1.0
    lam = np.array(s.decay_lambdas)
    lo, hi = np.log10(min(s.decay_markers)), np.log10(max(s.decay_markers))
    mu_f = np.logspace(lo, hi, 241)
    gamma_f = mu_f / beta
    t_f = np.empty(mu_f.size)

    def convex(mu):
        # (lambda w_c + (1 - lambda) w_c2) / (mu + beta/K), the strong-decay limit; (L, d)
        return (lam[:, None] * w[0] + (1 - lam[:, None]) * w[1]) / (mu + beta / k)

    def rel_to_convex(h, mu):  # h: (L, d)
        ref = convex(mu)
        return np.linalg.norm(h - ref, axis=-1) / np.linalg.norm(ref, axis=-1)

    rel_f = np.empty((lam.size, mu_f.size))
    for j, mu in enumerate(mu_f):
        h = num.exact(k, mu, lam)
        rel_f[:, j] = rel_to_convex(h[0, 1], mu)
        t_f[j] = num.exact_margins(k, mu, lam)[2]
    norm_n, rel_n, solves = [], [], []
    for mu in s.decay_markers:
        solved = num.solve(ufm.MixupUFM(k, lambdas=lam, weight_decay=mu), s.tol)
        h = np.asarray(solved.solution.features)
        norm_n.append(np.linalg.norm(h[0, 0], axis=-1).mean())
        rel_n.append(rel_to_convex(h[0, 1], mu))
        solves.append(solved.summary())
    norm_n = np.array(norm_n)
    t_m = np.array([num.exact_margins(k, mu, lam)[2] for mu in s.decay_markers])
    arrays = {
        "weight_decays_fine": mu_f,
        "weight_decays_markers": np.array(s.decay_markers),
        "lambdas": lam,
        "same_norm_exact": scale * t_f / beta,
        "same_norm_weak_limit": scale * np.real(scipy.special.lambertw(k / gamma_f)) / beta,
        "same_norm_strong_limit": scale / (mu_f + beta / k),
        "same_norm_numeric": norm_n,
        "convex_rel_distance_exact": rel_f,  # (L, F)
        "convex_rel_distance_numeric": np.stack(rel_n, axis=1),  # (L, D)
    }
    info = {
        "num_classes": k,
        "beta": beta,
        "same_class_norm": "||h|| = s t / beta, t(e^t + K - 1) = K/gamma",
        "weak_decay_limit": "s W0(K/gamma) / beta",
        "strong_decay_limit": "s / (mu + beta/K); different class: (mu + beta/K) h -> lambda w_c + (1 - lambda) w_c2",
        "solves": solves,
        "max_rel_error_same_norm": num.max_rel(norm_n, scale * t_m / beta),
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.5, 1, 2)
    mu_f, mu_m = a["weight_decays_fine"], a["weight_decays_markers"]
    blue, verm, green = dr.style.color_cycle(3)
    ax = axes[0]
    # The exact curve wide and light, the limits thin on top, so both stay visible where they agree.
    ax.loglog(mu_f, a["same_norm_exact"], color=blue, lw=2.6, alpha=0.45, solid_capstyle="butt",
              label=r"exact $s\,t/\beta$")
    weak = mu_f <= 10.0  # each limit drawn where it applies and a decade beyond, to show it part
    strong = mu_f >= 1e-2
    ax.loglog(mu_f[weak], a["same_norm_weak_limit"][weak], color=verm, lw=1.0, ls="--",
              label=r"weak decay: $s\,W_0(K/\gamma)/\beta$")
    ax.loglog(mu_f[strong], a["same_norm_strong_limit"][strong], color=green, lw=1.0, ls=(0, (1, 1.3)),
              label=r"strong decay: $s/(\mu + \beta/K)$")
    ax.loglog(mu_m, a["same_norm_numeric"], marker="o", color=blue, markeredgecolor=dr.NUMERIC_EDGE, label="numeric",
              **dr.MARK)
    ax.set_ylim(a["same_norm_exact"].min() * 0.5, a["same_norm_exact"].max() * 2.5)
    ax.set_xlabel(r"weight decay $\mu$ (per feature)")
    ax.set_ylabel(r"same-class feature norm $\|h\|$")
    ax.legend(loc="lower left")
    ax.set_title(rf"(a) same class ($K = {info['num_classes']}$)")

    ax = axes[1]
    lam = a["lambdas"]
    colors = dr.style.color_cycle(lam.size)
    for i, (lam_i, col) in enumerate(zip(lam, colors)):
        ax.loglog(mu_f, a["convex_rel_distance_exact"][i], color=col, lw=dr.EXACT_LW, label=rf"$\lambda = {lam_i:g}$")
        ax.loglog(mu_m, a["convex_rel_distance_numeric"][i], marker="o", color=col, markeredgecolor=dr.NUMERIC_EDGE,
                  **dr.MARK)
    # Reference slope -2 over the last decade, offset above the largest curve.
    sel = mu_f >= mu_f[-1] / 10
    top = a["convex_rel_distance_exact"][:, -1].max()
    ax.loglog(mu_f[sel], 3.0 * top * (mu_f[-1] / mu_f[sel]) ** 2, color="0.4", lw=0.8, ls=(0, (3, 2)),
              label=r"$\propto 1/\mu^2$")
    ax.set_xlabel(r"weight decay $\mu$ (per feature)")
    ax.set_ylabel("relative distance to convex combination")
    ax.legend(loc="lower left")
    ax.set_title(r"(b) different classes: $\|h - h_{\mathrm{cvx}}\| / \|h_{\mathrm{cvx}}\|$")
    return fig
