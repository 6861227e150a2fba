"""Figure 8: K = 10: a pair's optimum in its plane, and the component outside it from a random start.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    import ufm

    from . import _numeric as num

    k = s.leak_classes
    c, c2 = 0, 1
    w = num.classifier(k)
    mu = s.leak_decay
    lam_f, lam_m = num.lambda_grids(s, edges=True)
    problem = ufm.MixupUFM(k, lambdas=lam_m, weight_decay=mu)
    init = np.random.default_rng(s.seed).normal(size=problem.feature_shape) / np.sqrt(problem.dim)
    solved = num.solve(problem, s.tol, init=init)
    h = np.asarray(solved.solution.features)
    basis = num.pair_plane(w, c, c2)
    # In the plane every other class has the same projection, -(w_c + w_c2)/(K - 2).
    w_plane = np.stack([w[c] @ basis, w[c2] @ basis, w[2] @ basis])

    def outside(x):  # norm of the component of each sample outside its own pair's plane
        out = np.zeros(x.shape[:3])
        for a in range(k):
            for b in range(k):
                if a != b:
                    p = num.pair_plane(w, a, b)
                    out[a, b] = np.linalg.norm(x[a, b] - (x[a, b] @ p) @ p.T, axis=-1)
        return out

    mask = ~np.eye(k, dtype=bool)
    exact_f = num.exact(k, mu, lam_f)
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "classifier_plane": w_plane,  # rows: w_c, w_c2, any other class (projected)
        "boundary_rays": num.boundary_rays(w_plane),
        "exact_plane": exact_f[c, c2] @ basis,  # (F, 2)
        "same_class_plane": np.stack([exact_f[c, c, 0] @ basis, exact_f[c2, c2, 0] @ basis]),
        "numeric_plane": h[c, c2] @ basis,  # (M, 2)
        "outside_init": outside(init)[mask].reshape(k * (k - 1), -1),
        "outside_numeric": outside(h)[mask].reshape(k * (k - 1), -1),
    }
    info = {
        "num_classes": k,
        "weight_decay": mu,
        "pair_plotted": [c, c2],
        "init": "standard normal / sqrt(d) in every coordinate, seed " + str(s.seed),
        "solve": solved.summary(),
        "error_bound": solved.solution.grad_norm / mu,
        "error_bound_why": (
            "strong convexity: ||h - h*|| <= (per-sample gradient norm) / mu, and h* is in the pair plane"
        ),
        "max_outside_numeric": float(arrays["outside_numeric"].max()),
        "max_rel_error": solved.max_rel_error,
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.8, 1, 2, width_ratios=[1.0, 1.25])
    cmap, norm = dr.style.LAMBDA_CMAP, dr.lambda_norm()
    ax = axes[0]
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    lc = dr.colored_curve(ax, a["exact_plane"], lam_f, cmap, norm)
    w_plane = a["classifier_plane"]
    half = dr.square_limits(ax, np.concatenate([a["exact_plane"], w_plane * 1.3]))
    dr.rays(ax, a["boundary_rays"], 3 * half)
    ax.scatter(*a["numeric_plane"].T, c=lam_m, cmap=cmap, norm=norm, s=13, edgecolors=dr.NUMERIC_EDGE, linewidths=0.5,
               zorder=3)
    ax.plot(*a["same_class_plane"].T, marker="*", color="white", markeredgecolor="k", markersize=7,
            markeredgewidth=0.6, linestyle="none", zorder=4)
    dr.arrow(ax, w_plane[0], label=r"$w_c$")
    dr.arrow(ax, w_plane[1], label=r"$w_{c'}$")
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for text, direction in ((r"class $c$", w_plane[0]), (r"class $c'$", w_plane[1]), ("other classes", w_plane[2])):
        unit = direction / np.linalg.norm(direction)
        # Distance from the origin to the frame along this direction; label at 60 % of it.
        reach = min((x1 if unit[0] > 0 else x0) / unit[0] if abs(unit[0]) > 1e-12 else np.inf,
                    (y1 if unit[1] > 0 else y0) / unit[1] if abs(unit[1]) > 1e-12 else np.inf)
        ax.text(*(0.6 * reach * unit), text, ha="center", va="center", fontsize=6.5, color="0.3")
    ax.set_xlabel(r"along $w_c - w_{c'}$")
    ax.set_ylabel(r"along $w_c + w_{c'}$")
    ax.set_title(rf"(a) pair $(c, c')$ in span$\{{w_c, w_{{c'}}\}}$, $K = {info['num_classes']}$")
    cbar = fig.colorbar(lc, ax=ax, shrink=0.85, pad=0.02, aspect=20)
    cbar.set_label(r"$\lambda$", fontsize=7)
    cbar.ax.tick_params(labelsize=6)

    ax = axes[1]
    lam_rep = np.broadcast_to(lam_m, a["outside_init"].shape)
    ax.semilogy(lam_rep.ravel(), a["outside_init"].ravel(), marker="o", color="0.6", markerfacecolor="none",
                linestyle="none", markersize=2.5, markeredgewidth=0.4, label="random start")
    ax.semilogy(lam_rep.ravel(), np.maximum(a["outside_numeric"].ravel(), 1e-300), marker="o",
                color=dr.style.color_cycle(1)[0], linestyle="none", markersize=2.5, markeredgewidth=0,
                label="numeric optimum")
    ax.axhline(info["error_bound"], color="k", lw=0.9, ls=(0, (3, 2)),
               label=r"bound $\max_i\|g_i\|/\mu$ (exact: 0)")
    ax.set_xlabel(r"mixing coefficient $\lambda$")
    ax.set_ylabel(r"norm outside span$\{w_c, w_{c'}\}$")
    ax.set_title(rf"(b) all {a['outside_init'].shape[0]} ordered pairs $c \neq c'$")
    ax.legend(loc="center right", fontsize=6)
    return fig
