"""Figure 3: distance to the c/c' decision boundary and position along it against lambda.

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
    import ufm

    from . import _numeric as num

    k = s.margin_classes
    lam_f, lam_m = num.lambda_grids(s)
    w = num.classifier(k)
    dist_f, along_f, dist_n, along_n, solves = [], [], [], [], []
    for solved, mu in zip(num.margin_solves(s), s.margin_decays, strict=True):
        d, a = ufm.boundary_coordinates(num.exact(k, mu, lam_f)[0, 1], w[0], w[1])
        dist_f.append(d)
        along_f.append(a)
        d, a = ufm.boundary_coordinates(np.asarray(solved.solution.features)[0, 1], w[0], w[1])
        dist_n.append(d)
        along_n.append(a)
        solves.append(solved.summary())
    dist_f = np.stack(dist_f)
    half = int(np.argmin(np.abs(lam_f - 0.5)))
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.margin_decays),
        "distance_exact": dist_f,
        "along_exact": np.stack(along_f),
        "distance_numeric": np.stack(dist_n),
        "along_numeric": np.stack(along_n),
    }
    others = np.delete(np.abs(dist_f), half, axis=1)
    info = {
        "num_classes": k,
        "pair_plotted": [0, 1],
        "solves": solves,
        "exact_distance_at_half": float(np.abs(dist_f[:, half]).max()),
        "min_exact_abs_distance_away_from_half": float(others.min()),
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.4, 1, 2)
    mus = a["weight_decays"]
    colors = dr.style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for i, (mu, col) in enumerate(zip(mus, colors)):
        for ax, name in zip(axes, ("distance", "along")):
            ax.plot(lam_f, a[f"{name}_exact"][i], color=col, lw=dr.EXACT_LW, label=dr.mu_label(mu))
            ax.plot(lam_m, a[f"{name}_numeric"][i], marker="o", color=col, markeredgecolor=dr.NUMERIC_EDGE, **dr.MARK)
    axes[0].axhline(0.0, color="0.35", lw=0.7, ls=(0, (3, 2)), zorder=0)
    for ax in axes:
        ax.axvline(0.5, color="0.6", lw=0.6, ls=":", zorder=0)
        ax.set_xlabel(r"mixing coefficient $\lambda$")
        ax.set_xlim(-0.02, 1.02)
    axes[0].set_ylabel(r"signed distance to the $c/c'$ boundary")
    axes[1].set_ylabel(r"coordinate along $w_c + w_{c'}$")
    axes[0].text(0.52, 0.03, r"boundary crossed only at $\lambda = \frac{1}{2}$", transform=axes[0].transAxes,
                 fontsize=6, color="0.3", ha="left", va="bottom")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="o", color="0.5", markeredgecolor=dr.NUMERIC_EDGE, **dr.MARK))
    labels.append("numeric optimum")
    axes[0].legend(handles, labels, loc="upper left")
    axes[0].set_title(rf"(a) across the boundary ($K = {info['num_classes']}$, pair $c, c'$)")
    axes[1].set_title("(b) along the boundary")
    return fig
