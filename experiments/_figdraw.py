r"""Draw each figure of the theory section from its saved data (``.npz`` + ``.json``) only.

Conventions in every figure: exact (analytic) results are lines, numeric optima from
:func:`ufm.minimize` are markers drawn on top; $\lambda$ is coloured with ``viridis``; series are
Okabe-Ito colours (see :mod:`experiments._style`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from . import _style
from ._figio import FIGURES, load_figure_data

__all__ = ["draw_figure"]

_EXACT_LW = 1.2
_MARK = {"markersize": 3.6, "markeredgewidth": 0.6, "linestyle": "none"}
_NUMERIC_EDGE = "0.15"


def _mu_label(mu: float) -> str:
    exponent = np.log10(mu)
    if np.isclose(exponent, round(exponent)):
        e = int(round(exponent))
        return r"$\mu = 1$" if e == 0 else rf"$\mu = 10^{{{e}}}$"
    return rf"$\mu = {mu:g}$"


def _lambda_norm() -> mcolors.Normalize:
    return mcolors.Normalize(0.0, 1.0)


def _colored_curve(ax, xy: np.ndarray, values: np.ndarray, cmap, norm, lw=_EXACT_LW, zorder=2):
    """A polyline coloured by ``values`` at its points (segment colour: mean of its two ends)."""
    segments = np.stack([xy[:-1], xy[1:]], axis=1)
    lc = LineCollection(segments, cmap=cmap, norm=norm, linewidths=lw, zorder=zorder, capstyle="round")
    lc.set_array(0.5 * (values[:-1] + values[1:]))
    ax.add_collection(lc)
    return lc


def _arrow(ax, vec, color="k", label=None, lw=0.9):
    """An arrow from the origin to ``vec``, labelled just beyond its tip (fixed offset in points)."""
    ax.annotate(
        "", xy=vec, xytext=(0, 0),
        arrowprops={"arrowstyle": "-|>,head_length=0.35,head_width=0.18", "color": color, "lw": lw,
                    "shrinkA": 0, "shrinkB": 0},
        zorder=5,
    )
    if label is not None:
        unit = np.asarray(vec) / np.linalg.norm(vec)
        ax.annotate(label, xy=vec, xytext=tuple(7.0 * unit), textcoords="offset points", ha="center",
                    va="center", color=color, fontsize=7, zorder=6)


def _rays(ax, rays: np.ndarray, length: float):
    for r in rays:
        ax.plot([0, length * r[0]], [0, length * r[1]], ls=(0, (3, 2)), color="0.35", lw=0.7, zorder=1)


def _square_limits(ax, points: np.ndarray, pad: float = 0.12):
    lo, hi = points.min(axis=0), points.max(axis=0)
    center = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo).max() * (1 + 2 * pad)
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[1] - half, center[1] + half)
    ax.set_aspect("equal", adjustable="box")
    return half


# ----------------------------------------------------------------------------------------------


def _channel_panel(ax, exact, numeric, lam_f, lam_m, w_plane, rays, cmap, norm, title):
    """One K = 3 panel: exact curves of the pairs c < c' coloured by lambda, numeric markers of all
    ordered pairs, same-class optima, classifier arrows and decision boundaries."""
    k = w_plane.shape[0]
    pts = [w_plane * 1.25]
    for c in range(k):
        for c2 in range(c + 1, k):
            _colored_curve(ax, exact[c, c2], lam_f, cmap, norm)
            pts.append(exact[c, c2])
    half = _square_limits(ax, np.concatenate(pts))
    _rays(ax, rays, 3 * half)
    for c in range(k):
        for c2 in range(k):
            if c < c2:
                ax.scatter(*numeric[c, c2].T, c=lam_m, cmap=cmap, norm=norm, s=13, edgecolors=_NUMERIC_EDGE,
                           linewidths=0.5, zorder=3)
            elif c > c2:  # the reversed ordered pair, at 1 - lambda: the same points
                ax.plot(*numeric[c, c2].T, ".", color="k", markersize=1.6, zorder=4)
        ax.plot(*numeric[c, c].T, marker="*", color="white", markeredgecolor="k", markersize=7,
                markeredgewidth=0.6, linestyle="none", zorder=4)
    for c in range(k):
        _arrow(ax, w_plane[c], label=rf"$w_{c + 1}$")
    ax.set_title(title)
    ax.set_xlabel(r"$h^\top e_1$")
    ax.tick_params(labelsize=6)


def _draw_fig1(a, info):
    cmap, norm = _style.LAMBDA_CMAP, _lambda_norm()
    mus = a["weight_decays"]
    n = mus.size + 1
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.2, 1, n)
    axes = np.atleast_1d(axes)
    for i, mu in enumerate(mus):
        _channel_panel(axes[i], a["exact_plane"][i], a["numeric_plane"][i], a["lambdas_fine"], a["lambdas_markers"],
                       a["classifier_plane"], a["boundary_rays"], cmap, norm, f"cross-entropy, {_mu_label(mu)}")
    _channel_panel(axes[-1], a["mse_exact_plane"], a["mse_numeric_plane"], a["lambdas_fine"], a["lambdas_markers"],
                   a["classifier_plane"], a["boundary_rays"], cmap, norm,
                   f"MSE, {_mu_label(info['mse_weight_decay'])}")
    axes[0].set_ylabel(r"$h^\top e_2$")
    sm = axes[0].collections[0]
    cbar = fig.colorbar(sm, ax=axes.tolist(), shrink=0.8, pad=0.01, aspect=25)
    cbar.set_label(r"$\lambda$ (weight of class $c$, pair $c < c'$)", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    handles = [
        Line2D([], [], color=mcolors.to_hex(_cmap(cmap)(0.6)), lw=_EXACT_LW, label="exact optimum"),
        Line2D([], [], marker="o", color="w", markerfacecolor=mcolors.to_hex(_cmap(cmap)(0.6)),
               markeredgecolor=_NUMERIC_EDGE, markersize=4, label=r"numeric, pair $(c, c')$"),
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


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _draw_fig2(a, info):
    fig, ax = _style.figure(_style.ONE_COLUMN, 2.9)
    mus = a["weight_decays"]
    colors = _style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for i, (mu, col) in enumerate(zip(mus, colors)):
        ax.plot(lam_f, a["u_exact"][i], color=col, lw=_EXACT_LW)
        ax.plot(lam_f, a["v_exact"][i], color=col, lw=_EXACT_LW, ls="--")
        ax.axhline(a["t_exact"][i], color=col, lw=0.9, ls=":")
        ax.plot(lam_m, a["u_numeric"][i], marker="o", color=col, markeredgecolor=_NUMERIC_EDGE, **_MARK)
        ax.plot(lam_m, a["v_numeric"][i], marker="s", markerfacecolor="white", markeredgecolor=col, **_MARK)
        ax.plot(lam_m, a["t_numeric"][i], marker="^", markerfacecolor=col, markeredgecolor=_NUMERIC_EDGE,
                **(_MARK | {"markersize": 3.0}))
    ax.set_xlabel(r"mixing coefficient $\lambda$")
    ax.set_ylabel("logit margin")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=min(-0.2, float(a["u_exact"].min()) - 0.2))
    mu_handles = [Line2D([], [], color=c, lw=_EXACT_LW, label=_mu_label(m)) for m, c in zip(mus, colors)]
    style_handles = [
        Line2D([], [], color="0.3", lw=_EXACT_LW, marker="o", markersize=3.2, label=r"$u = z_c - z_o$"),
        Line2D([], [], color="0.3", lw=_EXACT_LW, ls="--", marker="s", markerfacecolor="white", markersize=3.2,
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


def _draw_fig3(a, info):
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.4, 1, 2)
    mus = a["weight_decays"]
    colors = _style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for i, (mu, col) in enumerate(zip(mus, colors)):
        for ax, name in zip(axes, ("distance", "along")):
            ax.plot(lam_f, a[f"{name}_exact"][i], color=col, lw=_EXACT_LW, label=_mu_label(mu))
            ax.plot(lam_m, a[f"{name}_numeric"][i], marker="o", color=col, markeredgecolor=_NUMERIC_EDGE, **_MARK)
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
    handles.append(Line2D([], [], marker="o", color="0.5", markeredgecolor=_NUMERIC_EDGE, **_MARK))
    labels.append("numeric optimum")
    axes[0].legend(handles, labels, loc="upper left")
    axes[0].set_title(rf"(a) across the boundary ($K = {info['num_classes']}$, pair $c, c'$)")
    axes[1].set_title("(b) along the boundary")
    return fig


def _draw_fig4(a, info):
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.5, 1, 2)
    mus = a["weight_decays"]
    colors = _style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for ax, name in zip(axes, ("confidence", "ratio")):
        ax.plot([0, 1], [0, 1], color="k", lw=0.7, ls=(0, (1, 1.5)), label=r"calibrated ($=\lambda$)", zorder=4)
        for i, (mu, col) in enumerate(zip(mus, colors)):
            ax.plot(lam_f, a[f"{name}_exact"][i], color=col, lw=_EXACT_LW, label=f"CE, {_mu_label(mu)}")
            ax.plot(lam_m, a[f"{name}_numeric"][i], marker="o", color=col, markeredgecolor=_NUMERIC_EDGE, **_MARK)
        ax.plot(lam_f, a[f"mse_{name}_exact"], color="k", lw=0.9, ls=(0, (5, 2, 1, 2)),
                label=f"MSE, {_mu_label(info['mse_weight_decay'])}")
        ax.plot(a["mse_lambdas_markers"], a[f"mse_{name}_numeric"], marker="D", color="k", markerfacecolor="white",
                **(_MARK | {"markersize": 3.0}))
        ax.set_xlabel(r"mixing coefficient $\lambda$")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal", adjustable="box")
    axes[0].set_ylabel(r"confidence $p_c$")
    axes[1].set_ylabel(r"pairwise ratio $p_c / (p_c + p_{c'})$")
    axes[0].set_title(rf"(a) confidence in class $c$ ($K = {info['num_classes']}$)")
    axes[1].set_title(r"(b) confidence between the two mixed classes")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="o", color="0.5", markeredgecolor=_NUMERIC_EDGE, **_MARK))
    labels.append("numeric optimum")
    fig.legend(handles, labels, loc="outside right center", fontsize=6.5)
    return fig


def _draw_fig5(a, info):
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.5, 1, 2)
    mu_f, mu_m = a["weight_decays_fine"], a["weight_decays_markers"]
    blue, verm, green = _style.color_cycle(3)
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
    ax.loglog(mu_m, a["same_norm_numeric"], marker="o", color=blue, markeredgecolor=_NUMERIC_EDGE, label="numeric",
              **_MARK)
    ax.set_ylim(a["same_norm_exact"].min() * 0.5, a["same_norm_exact"].max() * 2.5)
    ax.set_xlabel(r"weight decay $\mu$ (per feature)")
    ax.set_ylabel(r"same-class feature norm $\|h\|$")
    ax.legend(loc="lower left")
    ax.set_title(rf"(a) same class ($K = {info['num_classes']}$)")

    ax = axes[1]
    lam = a["lambdas"]
    colors = _style.color_cycle(lam.size)
    for i, (l, col) in enumerate(zip(lam, colors)):
        ax.loglog(mu_f, a["convex_rel_distance_exact"][i], color=col, lw=_EXACT_LW, label=rf"$\lambda = {l:g}$")
        ax.loglog(mu_m, a["convex_rel_distance_numeric"][i], marker="o", color=col, markeredgecolor=_NUMERIC_EDGE,
                  **_MARK)
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


def _draw_fig6(a, info):
    alphas = a["alphas"]
    n = alphas.size
    fig, axes = _style.figure(_style.TWO_COLUMN, 4.0, 2, n, squeeze=False)
    cmap, norm = _style.LAMBDA_CMAP, _lambda_norm()
    dist_f, along_f = a["distance_exact"], a["along_exact"]
    grid, dens = a["distance_density_grid"], a["distance_density_exact"]
    span = float(np.abs(dist_f).max())
    bins = np.linspace(-span, span, 41)
    blue = _style.color_cycle(1)[0]
    sc = None
    for j, alpha in enumerate(alphas):
        ax = axes[0, j]
        ax.plot(dist_f, along_f, color="0.25", lw=_EXACT_LW, zorder=2, label="exact, $\\lambda \\in [0, 1]$")
        sc = ax.scatter(a["distance_numeric"][j, 0], a["along_numeric"][j, 0], c=a["lambdas_sampled"][j],
                        cmap=cmap, norm=norm, s=6, linewidths=0.25, edgecolors=_NUMERIC_EDGE, zorder=3,
                        label="numeric samples")
        ax.axvline(0.0, color="0.35", lw=0.7, ls=(0, (3, 2)), zorder=0)
        ax.set_title(rf"$\alpha = {alpha:g}$")
        ax.set_xlabel(r"signed distance to $c/c'$ boundary")
        ax.set_xlim(-1.1 * span, 1.1 * span)
        if j == 0:
            ax.set_ylabel(r"coordinate along $w_c + w_{c'}$")
            handles = [
                Line2D([], [], color="0.25", lw=_EXACT_LW, label=r"exact, $\lambda \in [0, 1]$"),
                Line2D([], [], marker="o", color="w", markerfacecolor=mcolors.to_hex(_cmap(cmap)(0.6)),
                       markeredgecolor=_NUMERIC_EDGE, markersize=3.5, label="numeric samples"),
            ]
            ax.legend(handles=handles, loc="lower center", fontsize=6)
        ax = axes[1, j]
        # Pool every ordered different-class pair (each in its own boundary coordinates).
        samples = a["distance_numeric"][j].ravel()
        ax.hist(samples, bins=bins, density=True, color=blue, alpha=0.45, edgecolor="white", linewidth=0.3,
                label="numeric (histogram)")
        ax.plot(grid, dens[j], color="k", lw=_EXACT_LW, label="exact density")
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


def _draw_fig7(a, info):
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.5, 1, 2)
    names = {"gd": "gradient descent", "adam": "Adam", "lbfgs": "L-BFGS", "newton": "Newton"}
    colors = dict(zip(("gd", "adam", "lbfgs", "newton"), _style.color_cycle(4)))
    for method in info["methods"]:
        hist = a[f"history_{method}"]
        secs = a[f"seconds_{method}"]
        steps = np.arange(hist.size)
        label = f"{names[method]} ({info['runs'][method]['num_steps']} steps)"
        axes[0].loglog(steps[1:], hist[1:], color=colors[method], lw=_EXACT_LW, label=label)
        axes[1].loglog(secs[1:], hist[1:], color=colors[method], lw=_EXACT_LW, label=label)
    gd = a.get("history_gd")
    if gd is not None:
        longest = max(a[f"history_{m}"].size for m in info["methods"])
        k = np.arange(1, longest)
        bound = info["gd_contraction"] ** k
        keep = bound > 1e-12
        axes[0].loglog(k[keep], bound[keep], color=colors["gd"], lw=0.8, ls=(0, (3, 2)),
                       label=r"GD bound $(1 - \mu/L)^k$")
    for ax in axes:
        ax.set_ylabel(r"$\max_i \|h_i - h_i^\star\| / \|h_i^\star\|$")
        ax.set_ylim(1e-12, 3)
    axes[0].set_xlabel("iteration")
    axes[1].set_xlabel("wall time (s), uniform cost per step")
    # Below the panels: inside either one the legend would cover a curve.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=6.5)
    axes[0].set_title(rf"(a) per iteration ($K = {info['num_classes']}$, {_mu_label(info['weight_decay'])})")
    axes[1].set_title("(b) per second (compilation excluded)")
    return fig


def _draw_fig8(a, info):
    fig, axes = _style.figure(_style.TWO_COLUMN, 2.8, 1, 2, width_ratios=[1.0, 1.25])
    cmap, norm = _style.LAMBDA_CMAP, _lambda_norm()
    ax = axes[0]
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    lc = _colored_curve(ax, a["exact_plane"], lam_f, cmap, norm)
    w_plane = a["classifier_plane"]
    half = _square_limits(ax, np.concatenate([a["exact_plane"], w_plane * 1.3]))
    _rays(ax, a["boundary_rays"], 3 * half)
    ax.scatter(*a["numeric_plane"].T, c=lam_m, cmap=cmap, norm=norm, s=13, edgecolors=_NUMERIC_EDGE, linewidths=0.5,
               zorder=3)
    ax.plot(*a["same_class_plane"].T, marker="*", color="white", markeredgecolor="k", markersize=7,
            markeredgewidth=0.6, linestyle="none", zorder=4)
    _arrow(ax, w_plane[0], label=r"$w_c$")
    _arrow(ax, w_plane[1], label=r"$w_{c'}$")
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
                color=_style.color_cycle(1)[0], linestyle="none", markersize=2.5, markeredgewidth=0,
                label="numeric optimum")
    ax.axhline(info["error_bound"], color="k", lw=0.9, ls=(0, (3, 2)),
               label=r"bound $\max_i\|g_i\|/\mu$ (exact: 0)")
    ax.set_xlabel(r"mixing coefficient $\lambda$")
    ax.set_ylabel(r"norm outside span$\{w_c, w_{c'}\}$")
    ax.set_title(rf"(b) all {a['outside_init'].shape[0]} ordered pairs $c \neq c'$")
    ax.legend(loc="center right", fontsize=6)
    return fig


_DRAW = {1: _draw_fig1, 2: _draw_fig2, 3: _draw_fig3, 4: _draw_fig4, 5: _draw_fig5, 6: _draw_fig6, 7: _draw_fig7,
         8: _draw_fig8}


def draw_figure(number: int, data_dir: Path, out_dir: Path) -> list[Path]:
    """Draw figure ``number`` from ``data_dir`` into ``out_dir/png`` and ``out_dir/pdf``."""
    arrays, info = load_figure_data(data_dir, number)
    _style.apply_style()
    fig = _DRAW[number](arrays, info)
    return _style.save(fig, FIGURES[number], Path(out_dir) / "png", Path(out_dir) / "pdf")
