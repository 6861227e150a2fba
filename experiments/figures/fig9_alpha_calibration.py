"""Figure 9: mixup's alpha: expected objective, confidence and calibration error at the optimum.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    from . import _numeric as num

    arrays, info = num.alpha_sweep(s)
    keep = ("objective", "confidence", "calibration_error", "pairwise_calibration_error")
    arrays = {key: value for key, value in arrays.items()
              if key.startswith(keep) or not key.startswith(num.SWEEP_QUANTITIES)}
    info = dict(info, max_abs_z_score={q: info["max_abs_z_score"][q] for q in keep})
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 4.9, 2, 2)
    panels = (
        ("objective", False, r"(a) objective at the optimum (all $K^2$ pairs)", r"$\mathbb{E}_\lambda[\mathcal{L}]$"),
        ("confidence", False, r"(b) confidence of the class weighted by $\lambda$", r"$\mathbb{E}[p_c]$"),
        ("calibration_error", True, r"(c) calibration error", r"$\mathbb{E}\,|p_c - \lambda|$"),
        ("pairwise_calibration_error", True, r"(d) pairwise calibration error",
         r"$\mathbb{E}\,|p_c/(p_c + p_{c'}) - \lambda|$"),
    )
    legend = None
    for ax, (quantity, log_y, title, label) in zip(axes.ravel(), panels):
        colors, classes = dr.alpha_panel(ax, a, quantity, log_y=log_y)
        ax.set_title(title)
        ax.set_ylabel(label)
        legend = legend or (colors, classes)
    dr.alpha_legend(fig, *legend)
    return fig
