r"""Drawing helpers shared by the figures (matplotlib only: no JAX, no ``ufm``).

Conventions in every figure: exact (analytic) results are lines, numeric optima from
:func:`ufm.minimize` are markers drawn on top; $\lambda$ is coloured with ``viridis``; series are
Okabe-Ito colours (see :mod:`experiments._style`).
"""

from __future__ import annotations

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.collections import LineCollection

from .. import _style as style

__all__ = ["style", "EXACT_LW", "MARK", "NUMERIC_EDGE"]

EXACT_LW = 1.2
MARK = {"markersize": 3.6, "markeredgewidth": 0.6, "linestyle": "none"}
NUMERIC_EDGE = "0.15"


def mu_label(mu: float) -> str:
    exponent = np.log10(mu)
    if np.isclose(exponent, round(exponent)):
        e = int(round(exponent))
        return r"$\mu = 1$" if e == 0 else rf"$\mu = 10^{{{e}}}$"
    return rf"$\mu = {mu:g}$"


def lambda_norm() -> mcolors.Normalize:
    return mcolors.Normalize(0.0, 1.0)


def colored_curve(ax, xy: np.ndarray, values: np.ndarray, cmap, norm, lw=EXACT_LW, zorder=2):
    """A polyline coloured by ``values`` at its points (segment colour: mean of its two ends)."""
    segments = np.stack([xy[:-1], xy[1:]], axis=1)
    lc = LineCollection(segments, cmap=cmap, norm=norm, linewidths=lw, zorder=zorder, capstyle="round")
    lc.set_array(0.5 * (values[:-1] + values[1:]))
    ax.add_collection(lc)
    return lc


def arrow(ax, vec, color="k", label=None, lw=0.9):
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


def rays(ax, rays: np.ndarray, length: float):
    for r in rays:
        ax.plot([0, length * r[0]], [0, length * r[1]], ls=(0, (3, 2)), color="0.35", lw=0.7, zorder=1)


def square_limits(ax, points: np.ndarray, pad: float = 0.12):
    lo, hi = points.min(axis=0), points.max(axis=0)
    center = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo).max() * (1 + 2 * pad)
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[1] - half, center[1] + half)
    ax.set_aspect("equal", adjustable="box")
    return half


def cmap(name):
    return matplotlib.colormaps[name]


# Figures 9 and 10: expectations over lambda ~ Beta(alpha, alpha) versus alpha.
CLASS_STYLES = ("-", (0, (4, 1.6)), (0, (1, 1.2)))
LIMIT_SPREAD = 2.5  # the limit markers sit this factor beyond the ends of the alpha range
DODGE = 0.05  # markers of the different curves are shifted by exp(+-DODGE * i) so error bars do not overlap


def alpha_panel(ax, a: dict, quantity: str, log_y: bool = False):
    """One expectation versus alpha (log axis): exact curves per (K, mu), Monte-Carlo markers with
    95 % error bars (shifted slightly in alpha, curve by curve, so that they do not hide each other),
    and the derived limits alpha -> 0 and alpha -> inf as markers beyond the range, joined to the
    curves' ends by dotted lines. A limit of 0 on a log axis is an arrow to the bottom edge."""
    alphas, markers = a["alphas"], a["alphas_markers"]
    classes, mus = a["classes"], a["weight_decays"]
    unique_mu = sorted(set(mus.tolist()))
    unique_k = sorted(set(classes.tolist()))
    colors = dict(zip(unique_mu, style.color_cycle(len(unique_mu))))
    left, right = alphas[0] / LIMIT_SPREAD, alphas[-1] * LIMIT_SPREAD
    exact = a[f"{quantity}_exact"]
    zero_limit = False
    for c in range(classes.size):
        color = colors[mus[c]]
        ls = CLASS_STYLES[unique_k.index(classes[c])]
        ax.plot(alphas, exact[c], color=color, lw=EXACT_LW, ls=ls, zorder=2)
        shift = np.exp(DODGE * (c - 0.5 * (classes.size - 1)))
        mean, err = a[f"{quantity}_monte_carlo"][c], 1.96 * a[f"{quantity}_monte_carlo_stderr"][c]
        ax.errorbar(markers * shift, mean, yerr=err, fmt="o", color=color, markeredgecolor=NUMERIC_EDGE,
                    markersize=3.0, markeredgewidth=0.5, elinewidth=0.7, capsize=1.5, zorder=3)
        for x_end, y_end, x_lim, key, marker in (
            (alphas[0], exact[c][0], left, "alpha_to_0", "<"),
            (alphas[-1], exact[c][-1], right, "alpha_to_inf", ">"),
        ):
            limit = a[f"{quantity}_{key}"][c]
            if log_y and limit <= 0:
                zero_limit = True
                continue
            ax.plot([x_end, x_lim], [y_end, limit], color=color, lw=0.7, ls=(0, (1, 1.5)), zorder=1)
            ax.plot([x_lim], [limit], marker=marker, color=color, markeredgecolor=NUMERIC_EDGE,
                    markeredgewidth=0.4, markersize=4.2, linestyle="none", zorder=4, clip_on=False)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if zero_limit:  # every curve tends to 0: one arrow down to the bottom edge, labelled
        ax.annotate("0", xy=(right, 0.0), xycoords=("data", "axes fraction"), xytext=(right, 0.2),
                    textcoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=6.5, color="0.25",
                    arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 0.8, "shrinkA": 1, "shrinkB": 0})
    ax.set_xlim(left / 1.3, right * 1.3)
    for x in (alphas[0], alphas[-1]):
        ax.axvline(x, color="0.85", lw=0.6, zorder=0)
    ticks = [t for t in (0.1, 1.0, 10.0) if alphas[0] <= t <= alphas[-1]]
    ax.set_xticks([left, *ticks, right])
    ax.set_xticklabels(["0", *[f"{t:g}" for t in ticks], r"$\infty$"])
    ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax.set_xlabel(r"mixup $\alpha$ ($\lambda \sim \mathrm{Beta}(\alpha, \alpha)$)")
    return colors, unique_k


def alpha_legend(fig, colors: dict, classes: list):
    """The figure legend of the alpha figures, below the panels: colour = mu, line style = K, and
    the marks."""
    from matplotlib.lines import Line2D

    def mark(symbol, size, label):
        return Line2D([], [], color="0.3", marker=symbol, markeredgecolor=NUMERIC_EDGE, markersize=size,
                      linestyle="none", label=label)

    # Two rows: the weight decays and the alpha -> 0 limit; the class counts, the numeric markers and
    # the alpha -> infinity limit.
    top = [Line2D([], [], color=col, lw=EXACT_LW, label=mu_label(mu)) for mu, col in colors.items()]
    top.append(mark("<", 4.2, r"limit $\alpha \to 0$"))
    bottom = [Line2D([], [], color="0.3", lw=EXACT_LW, ls=CLASS_STYLES[i], label=rf"$K = {int(k)}$")
              for i, k in enumerate(classes)]
    bottom += [mark("o", 3.2, r"numeric, drawn $\lambda$: mean $\pm$ 1.96 s.e."),
               mark(">", 4.2, r"limit $\alpha \to \infty$")]
    ncols = max(len(top), len(bottom))
    blank = Line2D([], [], linestyle="none", label=" ")
    top = top[:-1] + [blank] * (ncols - len(top)) + top[-1:]
    bottom = bottom[:-1] + [blank] * (ncols - len(bottom)) + bottom[-1:]
    handles = [h for pair in zip(top, bottom) for h in pair]  # legends fill column by column
    return fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
