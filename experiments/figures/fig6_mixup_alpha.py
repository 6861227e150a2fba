"""Figure 6: mixup's alpha: where Beta(alpha, alpha) puts the features, and the density of their
distance to the boundary.

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
    import scipy.stats

    import ufm

    from . import _numeric as num

    k = 3
    w = num.classifier(k)
    mu = s.mixup_decay
    # Exact curve on a grid clustered at lambda = 0 and 1, where Beta(alpha, alpha) densities peak.
    tau = np.linspace(0.0, 1.0, 10 * s.fine_lambdas + 1)
    lam_f = 0.5 - 0.5 * np.cos(np.pi * tau)
    dist_f, along_f = ufm.boundary_coordinates(num.exact(k, mu, lam_f)[0, 1], w[0], w[1])
    slope = np.gradient(dist_f, lam_f)
    inner = slice(1, -1)  # the Beta density is infinite at the end points for alpha < 1
    lambdas, dist_n, along_n, density, solves = [], [], [], [], []
    for alpha in s.mixup_alphas:
        problem = ufm.MixupUFM(k, alpha=alpha, num_lambdas=s.mixup_samples, seed=s.seed, weight_decay=mu)
        solved = num.solve(problem, s.tol)
        h = np.asarray(solved.solution.features)
        lambdas.append(problem.lambdas)
        # Every ordered different-class pair, in its own boundary coordinates (positive: class c side).
        d_all, a_all = [], []
        for c in range(k):
            for c2 in range(k):
                if c != c2:
                    d, a = ufm.boundary_coordinates(h[c, c2], w[c], w[c2])
                    d_all.append(d)
                    a_all.append(a)
        dist_n.append(np.stack(d_all))
        along_n.append(np.stack(a_all))
        # Density of the signed distance: change of variables through the monotone lambda -> distance.
        density.append(scipy.stats.beta.pdf(lam_f[inner], alpha, alpha) / slope[inner])
        solves.append(solved.summary())
    half = int(np.argmin(np.abs(lam_f - 0.5)))
    arrays = {
        "alphas": np.array(s.mixup_alphas),
        "lambdas_fine": lam_f,
        "distance_exact": dist_f,
        "along_exact": along_f,
        "distance_density_grid": dist_f[inner],
        "distance_density_exact": np.stack(density),  # (A, F-2)
        "density_at_boundary": np.array([scipy.stats.beta.pdf(0.5, a, a) / slope[half] for a in s.mixup_alphas]),
        "lambdas_sampled": np.stack(lambdas),  # (A, M)
        "distance_numeric": np.stack(dist_n),  # (A, K(K-1), M)
        "along_numeric": np.stack(along_n),
    }
    info = {
        "num_classes": k,
        "weight_decay": mu,
        "samples_per_alpha": s.mixup_samples,
        "lambda_distribution": "Beta(alpha, alpha), numpy default_rng(seed)",
        "distance_monotone_in_lambda": bool(np.all(np.diff(dist_f) > 0)),
        "solves": solves,
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def draw(a: dict, info: dict):
    alphas = a["alphas"]
    n = alphas.size
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 4.0, 2, n, squeeze=False)
    cmap, norm = dr.style.LAMBDA_CMAP, dr.lambda_norm()
    dist_f, along_f = a["distance_exact"], a["along_exact"]
    grid, dens = a["distance_density_grid"], a["distance_density_exact"]
    span = float(np.abs(dist_f).max())
    bins = np.linspace(-span, span, 41)
    blue = dr.style.color_cycle(1)[0]
    sc = None
    for j, alpha in enumerate(alphas):
        ax = axes[0, j]
        ax.plot(dist_f, along_f, color="0.25", lw=dr.EXACT_LW, zorder=2, label="exact, $\\lambda \\in [0, 1]$")
        sc = ax.scatter(a["distance_numeric"][j, 0], a["along_numeric"][j, 0], c=a["lambdas_sampled"][j],
                        cmap=cmap, norm=norm, s=6, linewidths=0.25, edgecolors=dr.NUMERIC_EDGE, zorder=3,
                        label="numeric samples")
        ax.axvline(0.0, color="0.35", lw=0.7, ls=(0, (3, 2)), zorder=0)
        ax.set_title(rf"$\alpha = {alpha:g}$")
        ax.set_xlabel(r"signed distance to $c/c'$ boundary")
        ax.set_xlim(-1.1 * span, 1.1 * span)
        if j == 0:
            ax.set_ylabel(r"coordinate along $w_c + w_{c'}$")
            handles = [
                Line2D([], [], color="0.25", lw=dr.EXACT_LW, label=r"exact, $\lambda \in [0, 1]$"),
                Line2D([], [], marker="o", color="w", markerfacecolor=mcolors.to_hex(dr.cmap(cmap)(0.6)),
                       markeredgecolor=dr.NUMERIC_EDGE, markersize=3.5, label="numeric samples"),
            ]
            ax.legend(handles=handles, loc="lower center", fontsize=6)
        ax = axes[1, j]
        # Pool every ordered different-class pair (each in its own boundary coordinates).
        samples = a["distance_numeric"][j].ravel()
        ax.hist(samples, bins=bins, density=True, color=blue, alpha=0.45, edgecolor="white", linewidth=0.3,
                label="numeric (histogram)")
        ax.plot(grid, dens[j], color="k", lw=dr.EXACT_LW, label="exact density")
        ax.plot([0.0], [a["density_at_boundary"][j]], marker="o", color="k", markerfacecolor="white",
                markersize=4, linestyle="none", zorder=5, label=r"at $\lambda = \frac{1}{2}$ (boundary)")
        ax.set_yscale("log")
        ax.set_xlim(-1.1 * span, 1.1 * span)
        ax.set_ylim(1e-2, 1e2)
        ax.set_xlabel(r"signed distance to $c/c'$ boundary")
        if j == 0:
            ax.set_ylabel("density")
            ax.legend(loc="upper center", fontsize=6)
    cbar = fig.colorbar(sc, ax=axes[0, :].tolist(), shrink=0.9, pad=0.01, aspect=20)
    cbar.set_label(r"$\lambda$ (weight of class $c$)", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    return fig
