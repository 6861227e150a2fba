r"""The network experiment's figures, drawn from its saved data alone (``data/figures.npz`` and
``data/figures.json``): matplotlib only, no JAX, no ``ufm``.

* ``network_channels``: features of mixed inputs of one class pair in the plane of its two
  classifier rows, the network next to the UFM optimum at the fitted weight decay, for both heads;
* ``network_collapse``: neural-collapse metrics of the clean training features over the epochs;
* ``network_calibration``: where $z_c - z_{c'}$ changes sign along the mixing path, and the
  confidence $p_c(\lambda)$, network against the UFM optimum.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from .. import _style as style

__all__ = ["draw_all"]

HEADS = ("fixed", "learned")
HEAD_LABEL = {"fixed": "fixed simplex-ETF head", "learned": "learned head"}


def _load(data_dir: Path) -> tuple[dict, dict]:
    with np.load(Path(data_dir) / "figures.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads((Path(data_dir) / "figures.json").read_text())


def _boundary(ax, w_plane, c_index, c2_index, reach):
    """The c/c' decision boundary inside the plane (where the two logits are equal)."""
    normal = w_plane[c_index] - w_plane[c2_index]
    direction = np.array([-normal[1], normal[0]]) / np.linalg.norm(normal)
    ax.plot([-reach * direction[0], reach * direction[0]], [-reach * direction[1], reach * direction[1]],
            ls=(0, (3, 2)), color="0.35", lw=0.7, zorder=1)


def _arrow(ax, vec, label):
    ax.annotate("", xy=vec, xytext=(0, 0), zorder=5,
                arrowprops={"arrowstyle": "-|>,head_length=0.35,head_width=0.18", "color": "k", "lw": 0.9,
                            "shrinkA": 0, "shrinkB": 0})
    unit = vec / np.linalg.norm(vec)
    ax.annotate(label, xy=vec, xytext=tuple(8.0 * unit), textcoords="offset points", ha="center", va="center",
                fontsize=7, zorder=6)


def _colored(ax, xy, values, norm, lw=1.2):
    segments = np.stack([xy[:-1], xy[1:]], axis=1)
    lc = LineCollection(segments, cmap=style.LAMBDA_CMAP, norm=norm, linewidths=lw, zorder=3)
    lc.set_array(0.5 * (values[:-1] + values[1:]))
    ax.add_collection(lc)
    return lc


def _channels(a: dict, info: dict):
    c, c2 = info["plotted_pair"]
    fig, axes = style.figure(style.TWO_COLUMN, 5.6, 2, 2, squeeze=False)
    norm = mcolors.Normalize(0.0, 1.0)
    grid, fine = a["lambda_grid"], a["lambda_fine"]
    mappable = None
    for row, kind in enumerate(HEADS):
        w_plane = a[f"{kind}_plane_classifier"]
        net, same = a[f"{kind}_plane_network"], a[f"{kind}_plane_same"]
        ufm_curve, ufm_same = a[f"{kind}_plane_ufm"], a[f"{kind}_plane_ufm_same"]
        points = np.concatenate([net.reshape(-1, 2), same.reshape(-1, 2), ufm_curve, 1.2 * w_plane[[c, c2]]])
        lo, hi = points.min(axis=0), points.max(axis=0)
        center, half = 0.5 * (lo + hi), 0.55 * (hi - lo).max()
        scale = 0.8 * half / np.linalg.norm(w_plane[[c, c2]], axis=1).max()
        for ax in axes[row]:
            _boundary(ax, w_plane, c, c2, 3 * half)
            _arrow(ax, scale * w_plane[c], rf"$w_{{{c}}}$")
            _arrow(ax, scale * w_plane[c2], rf"$w_{{{c2}}}$")
            ax.set_xlim(center[0] - half, center[0] + half)
            ax.set_ylim(center[1] - half, center[1] + half)
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=6)
        ax = axes[row, 0]
        for path in net:  # one mixing path x_i -> x_j per example pair
            mappable = _colored(ax, path[::-1], grid[::-1], norm, lw=0.9)
            ax.scatter(*path.T, c=grid, cmap=style.LAMBDA_CMAP, norm=norm, s=5, zorder=4, linewidths=0)
        for k, marker in enumerate(("*", "P")):
            ax.plot(*same[k].reshape(-1, 2).T, marker=marker, color="white", markeredgecolor="k", markersize=4.5,
                    markeredgewidth=0.5, linestyle="none", zorder=4)
        ax.set_title(f"network, {HEAD_LABEL[kind]} (test acc. {info['test_accuracy'][kind]:.3f})", fontsize=7.5)
        ax = axes[row, 1]
        _colored(ax, ufm_curve, fine, norm, lw=1.6)
        for k, marker in enumerate(("*", "P")):
            ax.plot(*ufm_same[k], marker=marker, color="white", markeredgecolor="k", markersize=6,
                    markeredgewidth=0.6, linestyle="none", zorder=4)
        mu = info["fitted_weight_decay"][kind]
        ax.set_title(rf"UFM optimum, fitted $\hat\mu = {mu:.3g}$ (residual {info['fit_rel_residual'][kind]:.2f})",
                     fontsize=7.5)
        axes[row, 0].set_ylabel(r"in span$\{w_c, w_{c'}\}$, orthogonal to $w_c - w_{c'}$")
    for ax in axes[1]:
        ax.set_xlabel(r"along $w_c - w_{c'}$")
    cbar = fig.colorbar(mappable, ax=axes.ravel().tolist(), location="bottom", shrink=0.5, pad=0.02, aspect=40)
    cbar.set_label(rf"$\lambda$ (weight of class $c = {c}$; $c' = {c2}$)", fontsize=7)
    handles = [
        Line2D([], [], marker="*", color="w", markeredgecolor="k", markersize=6, label=rf"same class {c}"),
        Line2D([], [], marker="P", color="w", markeredgecolor="k", markersize=5, label=rf"same class {c2}"),
        Line2D([], [], color="0.35", lw=0.7, ls=(0, (3, 2)), label=r"$c/c'$ decision boundary"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=6.5)
    return fig


_METRICS = [
    ("nc1", r"NC1: tr$(\Sigma_W\Sigma_B^\dagger)/K$"),
    ("cdnv", "CDNV"),
    ("etf_error", "NC2: class means' ETF error"),
    ("self_duality", "NC3: self-duality"),
    ("equinorm", "equinorm (std/mean)"),
    ("equiangle", "equiangle"),
    ("ncc_mismatch", "NC4: NCC mismatch"),
    ("test_accuracy", "test accuracy"),
]


def _collapse(a: dict, info: dict):
    # Linear axes from zero: over a training run these metrics move within one decade, where a log
    # axis would leave most ticks unlabelled; zero is where each collapses.
    fig, axes = style.figure(style.TWO_COLUMN, 3.8, 2, 4)
    colors = dict(zip(HEADS, style.color_cycle(2)))
    for ax, (name, title) in zip(axes.ravel(), _METRICS):
        for kind in HEADS:
            epochs = a[f"{kind}_history_epoch"]
            values = a[f"{kind}_history_{name}"]
            ax.plot(epochs, values, color=colors[kind], marker="o", markersize=2.2, lw=1.0, label=HEAD_LABEL[kind])
        ax.set_ylim(bottom=0.0, top=1.05 * max(a[f"{kind}_history_{name}"].max() for kind in HEADS))
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("epoch")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=6.5)
    return fig


def _calibration(a: dict, info: dict):
    c, c2 = info["plotted_pair"]
    fig, axes = style.figure(style.TWO_COLUMN, 2.6, 1, 2)
    colors = dict(zip(HEADS, style.color_cycle(2)))
    ax = axes[0]
    bins = np.linspace(0.25, 0.75, 41)
    for kind in HEADS:
        crossings = a[f"{kind}_crossing_lambdas"]
        crossings = crossings[np.isfinite(crossings)]
        ax.hist(crossings, bins=bins, histtype="step", color=colors[kind], lw=1.2,
                label=f"{HEAD_LABEL[kind]} (median {np.median(crossings):.3f})")
    ax.axvline(0.5, color="k", lw=0.9, ls=(0, (3, 2)), label=r"UFM: $\lambda = \frac{1}{2}$")
    ax.set_xlim(0.25, 0.75)
    ax.set_xlabel(r"$\lambda$ where $z_c - z_{c'}$ changes sign")
    ax.set_ylabel("class pairs")
    ax.set_title("(a) crossing of the decision boundary, all class pairs", fontsize=7.5)
    ax.legend(loc="upper left", fontsize=6)
    ax = axes[1]
    grid, fine = a["lambda_grid"], a["lambda_fine"]
    ax.plot([0, 1], [0, 1], color="k", lw=0.7, ls=(0, (1, 1.5)), label=r"$p_c = \lambda$")
    for kind in HEADS:
        net = a[f"{kind}_calibration_network"]
        ax.fill_between(grid, net.min(axis=0), net.max(axis=0), color=colors[kind], alpha=0.18, lw=0)
        ax.plot(grid, net.mean(axis=0), color=colors[kind], marker="o", markersize=2.5, lw=0.9,
                label=f"network, {HEAD_LABEL[kind]}")
        ax.plot(fine, a[f"{kind}_calibration_ufm"], color=colors[kind], lw=1.4, ls="--",
                label=rf"UFM at $\hat\mu$, {kind} head")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(r"mixing coefficient $\lambda$")
    ax.set_ylabel(rf"confidence $p_c$, $c = {c}$ ($c' = {c2}$)")
    ax.set_title("(b) confidence along the mixing path", fontsize=7.5)
    ax.legend(loc="upper left", fontsize=5.8)
    ax.text(0.98, 0.03, "bands: range over image pairs", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=5.8, color="0.35")
    return fig


FIGURES = {"network_channels": _channels, "network_collapse": _collapse, "network_calibration": _calibration}


def draw_all(data_dir: Path, out_dir: Path) -> list[Path]:
    """Draw every figure from ``data_dir`` into ``out_dir/png`` and ``out_dir/pdf``."""
    arrays, info = _load(data_dir)
    paths = []
    for stem, draw in FIGURES.items():
        style.apply_style()
        paths += style.save(draw(arrays, info), stem, Path(out_dir) / "png", Path(out_dir) / "pdf")
    return paths
