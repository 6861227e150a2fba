"""The figures of the theory section, one module per figure.

Each ``figN_<name>`` module has ``compute(settings) -> (arrays, info)``, which solves (importing JAX
and ``ufm`` only when called), and ``draw(arrays, info) -> Figure``, which draws from the saved data
alone. :func:`compute_figure` and :func:`draw_figure` dispatch by figure number (``FIGURES``).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from .._figio import FIGURES, load_figure_data
from ._settings import FigureSettings, quick_settings

__all__ = ["FIGURES", "FigureSettings", "quick_settings", "compute_figure", "draw_figure"]


def _module(number: int):
    return importlib.import_module(f"{__name__}.{FIGURES[number]}")


def compute_figure(number: int, settings: FigureSettings) -> tuple[dict, dict]:
    """Solve what figure ``number`` needs; return its float64 arrays and a JSON-ready info dict."""
    import jax
    import numpy as np

    import ufm

    t0 = time.perf_counter()
    arrays, info = _module(number).compute(settings)
    info = {
        "figure": number,
        "name": FIGURES[number],
        **info,
        "settings": settings.to_dict(),
        "compute_seconds": time.perf_counter() - t0,
        "ufm_version": ufm.__version__,
        "jax_version": jax.__version__,
        "dtype": "float64",
        "exact_reference": "ufm.optimal_features / ufm.analytic.exact_margins; numeric solves checked by ufm.check",
        "numeric_solver": "ufm.minimize(method='lbfgs', tol) unless stated otherwise",
    }
    return {name: np.asarray(a, dtype=np.float64) for name, a in arrays.items()}, info


def draw_figure(number: int, data_dir: Path, out_dir: Path) -> list[Path]:
    """Draw figure ``number`` from ``data_dir`` into ``out_dir/png`` and ``out_dir/pdf``."""
    from .. import _style

    arrays, info = load_figure_data(data_dir, number)
    _style.apply_style()
    fig = _module(number).draw(arrays, info)
    return _style.save(fig, FIGURES[number], Path(out_dir) / "png", Path(out_dir) / "pdf")
