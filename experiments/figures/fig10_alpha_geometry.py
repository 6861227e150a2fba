"""Figure 10: mixup's alpha: expected feature norm and distance to the decision boundary at the optimum.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    from . import _numeric as num

    arrays, info = num.alpha_sweep(s)
    keep = ("feature_norm", "boundary_distance")
    arrays = {key: value for key, value in arrays.items()
              if key.startswith(keep) or not key.startswith(num.SWEEP_QUANTITIES)}
    info = dict(info, max_abs_z_score={q: info["max_abs_z_score"][q] for q in keep})
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.9, 1, 2)
    panels = (
        ("feature_norm", False, r"(a) norm of a different-class feature", r"$\mathbb{E}\,\|h\|$"),
        ("boundary_distance", True, r"(b) distance to the $c/c'$ decision boundary",
         r"$\mathbb{E}$ distance $|u - v|/\sqrt{2\beta}$"),
    )
    legend = None
    for ax, (quantity, log_y, title, label) in zip(axes, panels):
        colors, classes = dr.alpha_panel(ax, a, quantity, log_y=log_y)
        ax.set_title(title)
        ax.set_ylabel(label)
        legend = legend or (colors, classes)
    # The alpha -> infinity rate of a quantity with a kink at lambda = 1/2: E|lambda - 1/2| ~ 1/(2 sqrt(pi alpha)).
    ax = axes[1]
    guide = np.geomspace(a["alphas"][-1] / 8, a["alphas"][-1], 20)
    top = a["boundary_distance_exact"][:, -1].max()
    ax.plot(guide, 1.8 * top * np.sqrt(guide[-1] / guide), color="0.4", lw=0.8, ls=(0, (3, 2)))
    ax.annotate(r"$\propto \alpha^{-1/2}$", xy=(guide[4], 1.8 * top * np.sqrt(guide[-1] / guide[4])), xytext=(4, 2),
                textcoords="offset points", fontsize=6.5, color="0.3")
    dr.alpha_legend(fig, *legend)
    return fig
