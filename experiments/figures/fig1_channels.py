"""Figure 1: the channels: optimal features of every pair of K = 3 classes in the class plane, cross-entropy vs MSE.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.lines import Line2D

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    import ufm

    from . import _numeric as num

    k = 3
    lam_f, lam_m = num.lambda_grids(s, edges=True)
    w = num.classifier(k)
    # Orthonormal basis of the class plane: first axis along w_0.
    basis, _ = np.linalg.qr(w[:2].T)
    basis *= np.sign(basis[:, 0] @ w[0])
    w_plane = w @ basis
    curves, marks, solves, outside = [], [], [], []
    for mu in s.channel_decays:
        solved = num.solve(ufm.MixupUFM(k, lambdas=lam_m, weight_decay=mu), s.tol)
        h = np.asarray(solved.solution.features)
        curves.append(num.exact(k, mu, lam_f) @ basis)
        marks.append(h @ basis)
        outside.append(float(np.linalg.norm(h - (h @ basis) @ basis.T, axis=-1).max()))
        solves.append(solved.summary())
    mse_num, mse_info = num.mse_solve(k, s.mse_decay, lam_m, s.tol)
    mse_exact_m = num.mse_exact(k, s.mse_decay, lam_m)
    mse_err = ufm.compare_features(mse_num, mse_exact_m, lam_m).max_rel_error
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.channel_decays),
        "classifier_plane": w_plane,
        "boundary_rays": num.boundary_rays(w_plane),
        "exact_plane": np.stack(curves),  # (D, K, K, F, 2)
        "numeric_plane": np.stack(marks),  # (D, K, K, M, 2)
        "mse_exact_plane": num.mse_exact(k, s.mse_decay, lam_f) @ basis,
        "mse_numeric_plane": mse_num @ basis,
    }
    info = {
        "num_classes": k,
        "dim": k,
        "mse_weight_decay": s.mse_decay,
        "solves": solves,
        "mse_solve": mse_info | {"max_rel_error": mse_err},
        "max_norm_outside_class_plane": max(outside),
        "max_rel_error": max([x["max_rel_error"] for x in solves] + [mse_err]),
    }
    return arrays, info


def _channel_panel(ax, exact, numeric, lam_f, lam_m, w_plane, rays, cmap, norm, title):
    """One K = 3 panel: exact curves of the pairs c < c' coloured by lambda, numeric markers of all
    ordered pairs, same-class optima, classifier arrows and decision boundaries."""
    k = w_plane.shape[0]
    pts = [w_plane * 1.25]
    for c in range(k):
        for c2 in range(c + 1, k):
            dr.colored_curve(ax, exact[c, c2], lam_f, cmap, norm)
            pts.append(exact[c, c2])
    half = dr.square_limits(ax, np.concatenate(pts))
    dr.rays(ax, rays, 3 * half)
    for c in range(k):
        for c2 in range(k):
            if c < c2:
                ax.scatter(*numeric[c, c2].T, c=lam_m, cmap=cmap, norm=norm, s=13, edgecolors=dr.NUMERIC_EDGE,
                           linewidths=0.5, zorder=3)
            elif c > c2:  # the reversed ordered pair, at 1 - lambda: the same points
                ax.plot(*numeric[c, c2].T, ".", color="k", markersize=1.6, zorder=4)
        ax.plot(*numeric[c, c].T, marker="*", color="white", markeredgecolor="k", markersize=7,
                markeredgewidth=0.6, linestyle="none", zorder=4)
    for c in range(k):
        dr.arrow(ax, w_plane[c], label=rf"$w_{c + 1}$")
    ax.set_title(title)
    ax.set_xlabel(r"$h^\top e_1$")
    ax.tick_params(labelsize=6)


def draw(a: dict, info: dict):
    cmap, norm = dr.style.LAMBDA_CMAP, dr.lambda_norm()
    mus = a["weight_decays"]
    n = mus.size + 1
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.2, 1, n)
    axes = np.atleast_1d(axes)
    for i, mu in enumerate(mus):
        _channel_panel(axes[i], a["exact_plane"][i], a["numeric_plane"][i], a["lambdas_fine"], a["lambdas_markers"],
                       a["classifier_plane"], a["boundary_rays"], cmap, norm, f"cross-entropy, {dr.mu_label(mu)}")
    _channel_panel(axes[-1], a["mse_exact_plane"], a["mse_numeric_plane"], a["lambdas_fine"], a["lambdas_markers"],
                   a["classifier_plane"], a["boundary_rays"], cmap, norm,
                   f"MSE, {dr.mu_label(info['mse_weight_decay'])}")
    axes[0].set_ylabel(r"$h^\top e_2$")
    sm = axes[0].collections[0]
    cbar = fig.colorbar(sm, ax=axes.tolist(), shrink=0.8, pad=0.01, aspect=25)
    cbar.set_label(r"$\lambda$ (weight of class $c$, pair $c < c'$)", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    handles = [
        Line2D([], [], color=mcolors.to_hex(dr.cmap(cmap)(0.6)), lw=dr.EXACT_LW, label="exact optimum"),
        Line2D([], [], marker="o", color="w", markerfacecolor=mcolors.to_hex(dr.cmap(cmap)(0.6)),
               markeredgecolor=dr.NUMERIC_EDGE, markersize=4, label=r"numeric, pair $(c, c')$"),
        Line2D([], [], marker=".", color="k", linestyle="none", markersize=3,
               label=r"numeric, pair $(c', c)$ at $1-\lambda$"),
        Line2D([], [], marker="*", color="w", markeredgecolor="k", markersize=7,
               label=r"numeric, same class (all $\lambda$)"),
        Line2D([], [], color="k", lw=0.9, label=r"classifier $w_k$"),
        Line2D([], [], color="0.35", lw=0.7, ls=(0, (3, 2)), label="decision boundary"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=6, columnspacing=1.2,
               handlelength=1.6)
    return fig
