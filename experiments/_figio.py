"""Names and files of the figures' saved data: what the compute step writes and the draw step reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["FIGURES", "save_figure_data", "load_figure_data", "data_paths"]

FIGURES: dict[int, str] = {
    1: "fig1_channels",
    2: "fig2_margins",
    3: "fig3_boundary",
    4: "fig4_calibration",
    5: "fig5_weight_decay",
    6: "fig6_mixup_alpha",
    7: "fig7_solvers",
    8: "fig8_higher_k",
    9: "fig9_alpha_calibration",
    10: "fig10_alpha_geometry",
}


def data_paths(data_dir: str | Path, number: int) -> tuple[Path, Path]:
    """``(<stem>.npz, <stem>.json)`` of figure ``number`` inside ``data_dir``."""
    stem = FIGURES[number]
    return Path(data_dir) / f"{stem}.npz", Path(data_dir) / f"{stem}.json"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def save_figure_data(data_dir: str | Path, number: int, arrays: dict, info: dict) -> tuple[Path, Path]:
    """Write figure ``number``'s arrays (compressed ``.npz``) and info (``.json``)."""
    npz, js = data_paths(data_dir, number)
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npz, **{name: np.asarray(a, dtype=np.float64) for name, a in arrays.items()})
    js.write_text(json.dumps(_jsonable(info), indent=2, sort_keys=True) + "\n")
    return npz, js


def load_figure_data(data_dir: str | Path, number: int) -> tuple[dict[str, np.ndarray], dict]:
    """Read back what :func:`save_figure_data` wrote."""
    npz, js = data_paths(data_dir, number)
    if not npz.is_file() or not js.is_file():
        raise FileNotFoundError(f"no saved data for figure {number}: expected {npz} and {js}")
    with np.load(npz) as data:
        arrays = {name: data[name] for name in data.files}
    return arrays, json.loads(js.read_text())
