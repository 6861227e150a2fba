r"""Drawing helpers shared by the figures (matplotlib only: no JAX, no ``ufm``).

Conventions in every figure: exact (analytic) results are lines, numeric optima from
:func:`ufm.minimize` are markers drawn on top; $\lambda$ is coloured with ``viridis``; series are
Okabe-Ito colours (see :mod:`experiments._style`).
"""

from __future__ import annotations

import matplotlib
import matplotlib.colors as mcolors
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
