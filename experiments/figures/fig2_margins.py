"""Figure 2: the logit margins u, v (different classes) and t (same class) against lambda.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:

    from . import _numeric as num

    k = s.margin_classes
    lam_f, lam_m = num.lambda_grids(s)
    w = num.classifier(k)
    u_f, v_f, t, u_n, v_n, t_n = [], [], [], [], [], []
    margin_err = 0.0
    solves = []
    for solved, mu in zip(num.margin_solves(s), s.margin_decays, strict=True):
        u, v, t_exact = num.exact_margins(k, mu, lam_f)
        u_f.append(u)
        v_f.append(v)
        t.append(t_exact)
        h = np.asarray(solved.solution.features)
        un, vn = num.margins(h[0, 1], w, 0, 1)
        u_n.append(un)
        v_n.append(vn)
        z_same = h[0, 0] @ w.T
        t_n.append(z_same[:, 0] - z_same[:, 1:].mean(axis=-1))
        # Every ordered pair's margins against the exact ones at the marker lambdas, relative to t
        # (u vanishes at lambda = 0, so an elementwise relative error would be meaningless there).
        ue, ve, _ = num.exact_margins(k, mu, lam_m)
        for c in range(k):
            for c2 in range(k):
                if c != c2:
                    a, b = num.margins(h[c, c2], w, c, c2)
                    err = max(np.abs(a - ue).max(), np.abs(b - ve).max())
                else:
                    z = h[c, c] @ w.T
                    err = np.abs(z[:, c] - np.delete(z, c, -1).mean(-1) - t_exact).max()
                margin_err = max(margin_err, float(err) / t_exact)
        solves.append(solved.summary())
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.margin_decays),
        "u_exact": np.stack(u_f),
        "v_exact": np.stack(v_f),
        "t_exact": np.array(t),
        "u_numeric": np.stack(u_n),
        "v_numeric": np.stack(v_n),
        "t_numeric": np.stack(t_n),
    }
    info = {
        "num_classes": k,
        "pair_plotted": [0, 1],
        "solves": solves,
        "max_error_margins_relative_to_t": margin_err,
        "max_rel_error": max([x["max_rel_error"] for x in solves] + [margin_err]),
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, ax = dr.style.figure(dr.style.ONE_COLUMN, 2.9)
    mus = a["weight_decays"]
    colors = dr.style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for i, col in enumerate(colors):
        ax.plot(lam_f, a["u_exact"][i], color=col, lw=dr.EXACT_LW)
        ax.plot(lam_f, a["v_exact"][i], color=col, lw=dr.EXACT_LW, ls="--")
        ax.axhline(a["t_exact"][i], color=col, lw=0.9, ls=":")
        ax.plot(lam_m, a["u_numeric"][i], marker="o", color=col, markeredgecolor=dr.NUMERIC_EDGE, **dr.MARK)
        ax.plot(lam_m, a["v_numeric"][i], marker="s", markerfacecolor="white", markeredgecolor=col, **dr.MARK)
        ax.plot(lam_m, a["t_numeric"][i], marker="^", markerfacecolor=col, markeredgecolor=dr.NUMERIC_EDGE,
                **(dr.MARK | {"markersize": 3.0}))
    ax.set_xlabel(r"mixing coefficient $\lambda$")
    ax.set_ylabel("logit margin")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=min(-0.2, float(a["u_exact"].min()) - 0.2))
    mu_handles = [Line2D([], [], color=c, lw=dr.EXACT_LW, label=dr.mu_label(m)) for m, c in zip(mus, colors)]
    style_handles = [
        Line2D([], [], color="0.3", lw=dr.EXACT_LW, marker="o", markersize=3.2, label=r"$u = z_c - z_o$"),
        Line2D([], [], color="0.3", lw=dr.EXACT_LW, ls="--", marker="s", markerfacecolor="white", markersize=3.2,
               label=r"$v = z_{c'} - z_o$"),
        Line2D([], [], color="0.3", lw=0.9, ls=":", marker="^", markersize=3.2, label=r"$t$ (same class)"),
    ]
    leg = ax.legend(handles=mu_handles, loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=6, ncol=1)
    ax.add_artist(leg)
    ax.legend(handles=style_handles, loc="upper center", bbox_to_anchor=(0.52, 1.0), fontsize=6)
    ax.set_title(rf"$K = {info['num_classes']}$: lines exact, markers numeric", fontsize=7.5)
    top = float(max(a["t_exact"].max(), a["u_exact"].max()))
    ax.set_ylim(top=top * 1.45)
    return fig
