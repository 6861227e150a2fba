r"""The one matplotlib style shared by every figure of the theory section.

Sizes are chosen for a two-column paper: a one-column figure is 3.3 in wide, a two-column figure
6.9 in, and text is 7-8 pt at that size, so figures are included at 100 % width without scaling.
Categorical colours are the Okabe-Ito palette (distinguishable under the common colour-vision
deficiencies); a continuous quantity such as the mixing coefficient $\lambda$ uses ``viridis``
(perceptually uniform, monotone in lightness, readable in greyscale). PDFs embed TrueType fonts
(``pdf.fonttype = 42``) so text stays editable and searchable; PNGs are written at 200 dpi.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

# PDF font subsetting logs a harmless note about the font file's old timestamp; keep output clean.
logging.getLogger("fontTools").setLevel(logging.ERROR)
matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    "ONE_COLUMN",
    "TWO_COLUMN",
    "OKABE_ITO",
    "LAMBDA_CMAP",
    "color_cycle",
    "apply_style",
    "figure",
    "save",
]

ONE_COLUMN = 3.3  # inches
TWO_COLUMN = 6.9  # inches
PNG_DPI = 200

# Okabe & Ito (2008), "Color universal design"; black first for references and classifier vectors.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
# Categorical order for series (yellow last: weak contrast on white).
_CYCLE = ["blue", "vermillion", "green", "orange", "purple", "sky_blue", "yellow"]

LAMBDA_CMAP = "viridis"

_RC = {
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=[OKABE_ITO[c] for c in _CYCLE]),
    "mathtext.fontset": "dejavusans",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": PNG_DPI,
    # Constrained layout already fits every label inside the figure; "tight" would redraw it.
    "savefig.bbox": None,
    "figure.dpi": 100,
}


def color_cycle(n: int) -> list[str]:
    """The first ``n`` categorical colours (Okabe-Ito order used for series)."""
    if n > len(_CYCLE):
        raise ValueError(f"at most {len(_CYCLE)} categorical colours, asked for {n}")
    return [OKABE_ITO[c] for c in _CYCLE[:n]]


def apply_style() -> None:
    """Set the shared rcParams (idempotent)."""
    plt.rcParams.update(_RC)


def figure(width: float = ONE_COLUMN, height: float | None = None, nrows: int = 1, ncols: int = 1, **kwargs):
    """A figure of the paper's widths with constrained layout (no overlapping labels)."""
    apply_style()
    if height is None:
        height = 0.75 * width if width <= ONE_COLUMN else 0.36 * width
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


def save(fig, stem: str, png_dir: str | Path, pdf_dir: str | Path | None = None) -> list[Path]:
    """Write ``png_dir/stem.png`` (200 dpi) and ``pdf_dir/stem.pdf`` (vector); close the figure."""
    png_dir = Path(png_dir)
    pdf_dir = png_dir if pdf_dir is None else Path(pdf_dir)
    paths = [png_dir / f"{stem}.png", pdf_dir / f"{stem}.pdf"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(paths[0], dpi=PNG_DPI)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # reproducible bytes: no timestamp
    plt.close(fig)
    return paths
