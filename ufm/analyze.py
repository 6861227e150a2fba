r"""Command line: neural collapse and the mixup UFM's geometry, measured on saved features.

    python -m ufm.analyze FILE.npz [--json] [--out DIR [--force]]
    python -m ufm.analyze --from DIR        # redraw the figure of a saved analysis

``FILE.npz`` holds mixed samples, flat: ``features`` (N, d), ``classifier`` (K, d), ``class_a``,
``class_b`` (N,) integers and ``lambdas`` (N,) in [0, 1] (sample i has target
``lambdas[i] e_{class_a[i]} + (1 - lambdas[i]) e_{class_b[i]}``), or the ``arrays.npz`` that
``python -m ufm.solve --out`` writes (``features`` (K, K, M, d) or (P, M, d), ``pair_index``,
``lambdas`` (M,), ``classifier``), which is expanded to the flat form. The report: the mixup UFM
weight decay that best explains the features (fitted in logit space) and its residual, the
neural-collapse metrics of the same-class samples, and the theory's geometry of the mixed ones,
measured and at the fitted optimum. A thin layer over :mod:`ufm.metrics`; see ``docs/analyze.md``.

Exit status: 0 done; 2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import zipfile
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT = 0, 2

FLAT_KEYS = ("features", "classifier", "class_a", "class_b", "lambdas")
SOLVE_KEYS = ("features", "classifier", "pair_index", "lambdas")
REPORT_FILES = ("analysis.json", "analysis.txt")
FIGURE_STEM = "pair_projection"
MAX_PLOTTED = 20_000  # samples drawn per group in the figure (a fixed random subset beyond that)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is exactly one line on stderr (no usage block), exit status 2."""

    def error(self, message: str):
        message = message.replace("\n", " ")
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m ufm.analyze",
        description=(
            "Measure neural collapse and the mixup UFM's geometry on saved last-layer features, and "
            "fit the UFM weight decay that best explains them (in logit space). FILE.npz holds "
            "features (N, d), classifier (K, d), class_a, class_b (N,) integer classes and lambdas "
            "(N,) in [0, 1] (target lambda e_a + (1 - lambda) e_b; class_a == class_b marks a "
            "same-class sample), or is the arrays.npz of python -m ufm.solve --out. See docs/analyze.md."
        ),
        epilog="Exit status: 0 done; 2 bad input (one line on stderr, nothing written).",
    )
    p.add_argument("file", nargs="?", metavar="FILE.npz", help="the samples to analyse")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout instead of the report")
    p.add_argument(
        "--out",
        metavar="DIR",
        help=f"write {', '.join(REPORT_FILES)} and the figure {FIGURE_STEM}.png/.pdf (features of the "
        f"most-populated class pair projected on span{{w_c, w_c2}}, fitted UFM optimum drawn over it) with "
        f"its data {FIGURE_STEM}.npz into DIR, atomically",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        help=f"redraw {FIGURE_STEM}.png/.pdf in DIR from its saved {FIGURE_STEM}.npz (no FILE needed)",
    )
    return p


# ----------------------------------------------------------------------------- input


def load_samples(path: str | os.PathLike) -> dict:
    """The samples of an ``.npz`` file in the flat form, with what was read.

    Returns a dict with ``features`` (N, d), ``classifier`` (K, d), ``class_a``, ``class_b``,
    ``lambdas`` (N,) (checked by :func:`ufm.metrics.check_samples`) and ``format`` (``"flat"`` or
    ``"ufm.solve"``). A file with a ``pair_index`` array is read as ``python -m ufm.solve``'s
    ``arrays.npz``. Raises ``ValueError``/``TypeError`` with a one-line message on anything else.
    """
    import numpy as np

    from ufm import metrics

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{str(path)!r}: no such file")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not an .npz file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{str(path)!r} is not an .npz file ({_first_line(err)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{str(path)!r} is not an .npz file (it holds a single .npy array)")
    with archive:
        solve_format = "pair_index" in archive.files
        keys = SOLVE_KEYS if solve_format else FLAT_KEYS
        missing = [key for key in keys if key not in archive.files]
        if missing:
            kind = "an arrays.npz of python -m ufm.solve" if solve_format else "a flat file"
            raise ValueError(
                f"{str(path)!r} has no array {missing[0]!r} ({kind} holds {', '.join(keys)}; see docs/analyze.md)"
            )
        arrays = {}
        for key in keys:
            try:
                arrays[key] = archive[key]
            except ValueError as err:  # object arrays need pickle, which is never used
                raise ValueError(f"{str(path)!r}: array {key!r} cannot be read ({_first_line(err)})") from None
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise ValueError(f"{str(path)!r}: array {key!r} is damaged ({_first_line(err)})") from None
    if solve_format:
        arrays = _expand_solve_arrays(arrays)
    checked = metrics.check_samples(*(arrays[key] for key in FLAT_KEYS))
    return dict(zip(FLAT_KEYS, checked)) | {"format": "ufm.solve" if solve_format else "flat"}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _expand_solve_arrays(arrays: dict) -> dict:
    """``(K, K, M, d)`` or ``(P, M, d)`` features of ``pair_index`` at ``lambdas`` -> one row per sample."""
    import numpy as np

    pairs, lam, features = arrays["pair_index"], arrays["lambdas"], arrays["features"]
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] < 1:
        raise ValueError(f"pair_index must have shape (P, 2), got {pairs.shape}")
    if not np.issubdtype(pairs.dtype, np.integer):
        raise TypeError(f"pair_index must hold integers (class indices), got dtype {pairs.dtype}")
    if lam.ndim != 1 or lam.size < 1:
        raise ValueError(f"lambdas of a ufm.solve file must have shape (M,), got {lam.shape}")
    num_pairs, num_lambdas = pairs.shape[0], lam.shape[0]
    if features.ndim == 4 and features.shape[0] * features.shape[1] == num_pairs:
        features = features.reshape(num_pairs, *features.shape[2:])
    if features.ndim != 3 or features.shape[:2] != (num_pairs, num_lambdas):
        raise ValueError(
            f"features of a ufm.solve file must have shape (K, K, M, d) or (P, M, d) with P = {num_pairs} "
            f"pairs and M = {num_lambdas} lambdas, got {features.shape}"
        )
    return {
        "features": features.reshape(num_pairs * num_lambdas, features.shape[2]),
        "classifier": arrays["classifier"],
        "class_a": np.repeat(pairs[:, 0], num_lambdas),
        "class_b": np.repeat(pairs[:, 1], num_lambdas),
        "lambdas": np.tile(lam, num_pairs),
    }


# ----------------------------------------------------------------------------- analysis


def analyze(samples: dict) -> tuple[dict, dict]:
    """Run :mod:`ufm.metrics` on checked samples (as :func:`load_samples` returns them).

    Returns ``(record, figure_data)``: the JSON-ready results (``fitted_weight_decay``,
    ``fit_rel_residual``, ``nc1``, ``etf_error``, ``self_duality`` at the top level, and every
    result object's fields) and the arrays of the figure (``None`` without different-class samples).
    """
    import numpy as np

    import ufm
    from ufm import metrics

    h, w = samples["features"], samples["classifier"]
    a, b, lam = samples["class_a"], samples["class_b"], samples["lambdas"]
    k = w.shape[0]
    fit = metrics.fit_weight_decay(h, w, a, b, lam)
    geometry = metrics.mixup_geometry(h, w, a, b, lam)
    optimum = metrics.exact_optimum(w, a, b, lam, fit.weight_decay)
    at_optimum = metrics.mixup_geometry(optimum, w, a, b, lam)
    same = a == b
    present = np.bincount(a[same], minlength=k) > 0
    if present.all():
        collapse = metrics.neural_collapse(h[same], a[same], w)
        collapse_note = f"measured on the {int(same.sum())} same-class samples"
    else:
        collapse = None
        collapse_note = (
            f"not measured: class {int(np.argmin(present))} has no same-class sample (class_a == class_b); "
            "the metrics need one per class"
        )
    record = {
        "fitted_weight_decay": fit.weight_decay,
        "fit_rel_residual": fit.rel_residual,
        "nc1": None if collapse is None else collapse.nc1,
        "etf_error": None if collapse is None else collapse.etf_error,
        "self_duality": None if collapse is None else collapse.self_duality,
        "input": {
            "format": samples["format"],
            "num_samples": int(h.shape[0]),
            "num_same_class": int(same.sum()),
            "num_classes": int(k),
            "dim": int(h.shape[1]),
            "features_dtype": str(h.dtype),
        },
        "convention": ufm.CONVENTION,
        "fit": fit.to_dict(),
        "neural_collapse": None if collapse is None else collapse.to_dict(),
        "neural_collapse_note": collapse_note,
        "mixup_geometry": geometry.to_dict(),
        "mixup_geometry_at_fitted_optimum": at_optimum.to_dict(),
        "ufm_version": ufm.__version__,
    }
    figure = None if geometry.pairs.shape[0] == 0 else _figure_data(samples, geometry, fit)
    if figure is not None:
        record["figure_pair"] = [int(figure["pair"][0]), int(figure["pair"][1])]
    return record, figure


def _figure_data(samples: dict, geometry, fit) -> dict:
    """The most-populated class pair's samples in the coordinates of :func:`ufm.boundary_coordinates`,
    with the fitted optimum's curve over lambda and the two classes' same-class samples."""
    import numpy as np

    import ufm
    from ufm import metrics

    h, w = samples["features"], samples["classifier"]
    a, b, lam = samples["class_a"], samples["class_b"], samples["lambdas"]
    k = w.shape[0]
    c, c2 = (int(x) for x in geometry.pairs[int(np.argmax(geometry.pair_counts))])
    forward = (a == c) & (b == c2)
    backward = (a == c2) & (b == c)
    rows = np.flatnonzero(forward | backward)
    weight_on_c = np.where(forward[rows], lam[rows], 1.0 - lam[rows])
    same_rows = np.flatnonzero((a == b) & ((a == c) | (a == c2)))
    rng = np.random.default_rng(0)
    total, total_same = rows.size, same_rows.size
    if rows.size > MAX_PLOTTED:
        keep = np.sort(rng.choice(rows.size, MAX_PLOTTED, replace=False))
        rows, weight_on_c = rows[keep], weight_on_c[keep]
    if same_rows.size > MAX_PLOTTED:
        same_rows = np.sort(rng.choice(same_rows, MAX_PLOTTED, replace=False))
    distance, along = ufm.boundary_coordinates(np.asarray(h[rows], dtype=np.float64), w[c], w[c2])
    same_distance, same_along = ufm.boundary_coordinates(np.asarray(h[same_rows], dtype=np.float64), w[c], w[c2])
    curve_lambda = np.linspace(0.0, 1.0, 201)
    ends = np.full(curve_lambda.size, c), np.full(curve_lambda.size, c2)
    curve = metrics.exact_optimum(w, *ends, curve_lambda, fit.weight_decay)
    curve_distance, curve_along = ufm.boundary_coordinates(curve, w[c], w[c2])
    return {
        "pair": np.array([c, c2]),
        "distance": distance,
        "along": along,
        "lambda_on_c": weight_on_c,
        "num_pair_samples": np.array(total),
        "same_distance": same_distance,
        "same_along": same_along,
        "same_is_c2": (a[same_rows] == c2),
        "num_same_samples": np.array(total_same),
        "curve_lambda": curve_lambda,
        "curve_distance": curve_distance,
        "curve_along": curve_along,
        "num_classes": np.array(k),
        "weight_decay": np.array(fit.weight_decay),
        "rel_residual": np.array(fit.rel_residual),
    }


# ----------------------------------------------------------------------------- report


def report_text(record: dict, source: str = "") -> str:
    """The human-readable report of :func:`analyze`'s record."""
    info, fit = record["input"], record["fit"]
    geo, ref = record["mixup_geometry"], record["mixup_geometry_at_fitted_optimum"]
    num_diff = info["num_samples"] - info["num_same_class"]
    lines = [
        "mixup UFM analysis" + (f" of {source}" if source else "")
        + " (Fisher, Meng & Papyan, ICLR 2024; NC: Papyan, Han & Donoho, PNAS 2020)",
        f"  N = {info['num_samples']} samples ({info['num_same_class']} same-class, {num_diff} different-class), "
        f"K = {info['num_classes']} classes, d = {info['dim']}, {info['features_dtype']}"
        + (" (python -m ufm.solve arrays, expanded)" if info["format"] == "ufm.solve" else ""),
        f"  classifier: mean row norm {fit['classifier_scale']:.6g}, beta = s^2 K/(K-1) = {fit['beta']:.6g}",
        "",
        "fitted mixup UFM (centred logits W h against the exact optimum's):",
        f"  weight decay mu = {fit['weight_decay']:.10g}   (gamma = mu/beta = {fit['gamma']:.6g})",
        f"  ({record['convention']})",
    ]
    if fit["at_bound"]:
        lines.append("  AT THE END OF THE SEARCH RANGE: mu is a bound, not a fit (the features are far from any UFM "
                     "optimum)")
    lines += [
        f"  relative residual {_num(fit['rel_residual'])} (same-class {_num(fit['rel_residual_same'])}, "
        f"different-class {_num(fit['rel_residual_different'])})",
        f"  largest deviation: sample {fit['worst_index']} (c = {fit['worst_class_a']}, c2 = {fit['worst_class_b']}, "
        f"lambda = {fit['worst_lambda']:.4f}): |z - z*| = {_num(fit['worst_error'])} with |z*| = "
        f"{_num(fit['worst_optimum_norm'])}",
    ]
    by_lambda = fit["rel_residual_by_lambda"]
    finite = [(i, x) for i, x in enumerate(by_lambda) if isinstance(x, float) and math.isfinite(x)]
    if finite:
        i, x = max(finite, key=lambda item: item[1])
        edges = fit["residual_edges"]
        lines.append(f"  worst lambda bin [{edges[i]:.1f}, {edges[i + 1]:.1f}]: relative residual {_num(x)}")
    lines += ["", "neural collapse (theory: all 0), " + record["neural_collapse_note"] + ":"]
    nc = record["neural_collapse"]
    if nc is not None:
        lines += [
            f"  NC1 tr(Sw Sb^+)/K {_num(nc['nc1'])}   CDNV {_num(nc['cdnv'])}   ETF error {_num(nc['etf_error'])}",
            f"  equinorm {_num(nc['equinorm'])}   equiangle {_num(nc['equiangle'])}   self-duality "
            f"{_num(nc['self_duality'])}   NCC mismatch {100 * nc['ncc_mismatch']:.2f} %",
        ]
    lines += [
        "",
        "mixup geometry: measured [fitted UFM optimum at the same samples]",
        f"  same-class: cos(h, w_c) mean {_num(geo['same_alignment_mean'], 6)} "
        f"[{_num(ref['same_alignment_mean'], 6)}], min {_num(geo['same_alignment_min'], 6)}; "
        f"spread over lambda {_num(geo['same_spread'])} [{_num(ref['same_spread'])}]",
        f"  different-class: share of |h| outside span{{w_c, w_c2}} mean {_num(geo['outside_span_mean'])} "
        f"[{_num(ref['outside_span_mean'])}], max {_num(geo['outside_span_max'])} [{_num(ref['outside_span_max'])}]",
        f"  z_c - z_c2 changes sign at lambda*: |lambda* - 1/2| mean {_num(geo['crossing_offset_mean'])} "
        f"[{_num(ref['crossing_offset_mean'])}], max {_num(geo['crossing_offset_max'])} "
        f"[{_num(ref['crossing_offset_max'])}] over {geo['num_pairs'] - geo['pairs_without_crossing']} of "
        f"{geo['num_pairs']} class pairs (interpolated between neighbouring samples)",
        f"  pairwise confidence p_c/(p_c + p_c2) vs lambda: mean |gap| {_num(geo['confidence_gap_mean'])} "
        f"[{_num(ref['confidence_gap_mean'])}] (0 only as the weight decay vanishes)",
    ]
    return "\n".join(lines)


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):  # "nan", "inf" from strict JSON
        return value
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}e}" if digits == 2 else f"{value:.{digits}f}"


# ----------------------------------------------------------------------------- figure

_STYLE = {  # the project's figure style (experiments/_style.py), in small
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "pdf.fonttype": 42,
    "savefig.dpi": 200,
}


def draw_pair_projection(
    data_path: str | os.PathLike, png_path: str | os.PathLike, pdf_path: str | os.PathLike
) -> None:
    """Draw the figure from its saved data (``pair_projection.npz``) into a PNG and a PDF."""
    import logging

    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # PDF font subsetting notes
    with np.load(data_path, allow_pickle=False) as saved:
        d = {key: saved[key] for key in saved.files}
    c, c2 = (int(x) for x in d["pair"])
    k = int(d["num_classes"])
    planar = k > 2  # for K = 2, w_c + w_c2 = 0: no along-boundary direction
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(6.9, 3.3) if planar else (3.6, 3.5), layout="constrained")
        axes = fig.subplots(1, 2 if planar else 1, squeeze=False)[0]
        title = (
            f"classes c = {c}, c2 = {c2}: {int(d['num_pair_samples'])} mixed samples;"
            + (" " if planar else "\n")  # one panel is too narrow for one line
            + f"fitted UFM mu = {float(d['weight_decay']):.3g}, logit residual {float(d['rel_residual']):.1e}"
        )
        fig.suptitle(title, fontsize=7.5)
        scatter = dict(c=d["lambda_on_c"], cmap="viridis", vmin=0.0, vmax=1.0, s=9, linewidths=0, alpha=0.85,
                       rasterized=True, zorder=2, label=r"mixed samples of c, c2 (colour: $\lambda$)")
        mid = d["curve_lambda"].size // 2
        ends = [0, mid, d["curve_lambda"].size - 1]
        curve = dict(color="black", lw=0.9, marker="o", ms=3, markevery=ends, zorder=3,
                     label=r"fitted UFM optimum (dots: $\lambda$ = 0, 1/2, 1)")
        if planar:
            ax = axes[0]
            ax.axvline(0.0, color="0.6", lw=0.8, ls="--", zorder=0)
            if d["same_distance"].size:
                ax.scatter(d["same_distance"], d["same_along"], s=3, color="0.65", alpha=0.5, linewidths=0,
                           zorder=1, label="same-class samples of c, c2", rasterized=True)
            points = ax.scatter(d["distance"], d["along"], **scatter)
            ax.plot(d["curve_distance"], d["curve_along"], **curve)
            ax.set_xlabel(r"signed distance to the c/c2 boundary along $w_c - w_{c2}$")
            ax.set_ylabel(r"coordinate along $w_c + w_{c2}$")
            ax.set_title(r"features projected on span$\{w_c, w_{c2}\}$")
        ax = axes[-1]
        ax.axhline(0.0, color="0.6", lw=0.8, ls="--", zorder=0, label="c/c2 decision boundary")
        ax.axvline(0.5, color="0.6", lw=0.8, ls=":", zorder=0)
        points = ax.scatter(d["lambda_on_c"], d["distance"], **scatter)
        ax.plot(d["curve_lambda"], d["curve_distance"], **curve)
        ax.set_xlabel(r"$\lambda$ (weight on class c)")
        ax.set_ylabel("signed distance to the c/c2 boundary")
        ax.set_title(r"the boundary is crossed at $\lambda = 1/2$ in theory")
        fig.colorbar(points, ax=axes[-1], label=r"$\lambda$ (weight on class c)", shrink=0.9)
        handles, labels = [], []
        for axis in axes:
            for handle, label in zip(*axis.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
        fig.legend(handles, labels, loc="outside lower center", ncol=2 if planar else 1, markerscale=1.5)
        fig.savefig(png_path, dpi=200)
        fig.savefig(pdf_path, metadata={"CreationDate": None})


def _redraw(folder: Path) -> list[Path]:
    """Redraw ``folder``'s figure from its saved data; each file replaced atomically."""
    data = folder / f"{FIGURE_STEM}.npz"
    if not data.is_file():
        raise ValueError(f"--from {str(folder)!r}: no {FIGURE_STEM}.npz there (run with --out first)")
    targets = [folder / f"{FIGURE_STEM}.png", folder / f"{FIGURE_STEM}.pdf"]
    tmp = Path(tempfile.mkdtemp(prefix=".redraw.tmp", dir=folder))
    try:
        draw_pair_projection(data, tmp / targets[0].name, tmp / targets[1].name)
        for target in targets:
            os.replace(tmp / target.name, target)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    return targets


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_dir is not None:
        if args.file is not None or args.out is not None or args.json:
            parser.error("--from redraws a saved figure; give it alone (no FILE, --out or --json)")
        folder = Path(args.from_dir)
        if not folder.is_dir():
            parser.error(f"--from {str(folder)!r}: no such folder")
        try:
            paths = _redraw(folder)
        except (OSError, ValueError) as err:
            parser.error(_first_line(err))
        print("wrote " + ", ".join(str(p) for p in paths))
        return EXIT_OK
    if args.file is None:
        parser.error("the following arguments are required: FILE.npz")

    import ufm

    try:
        out = None if args.out is None else ufm.io.check_output_dir(args.out, args.force)
        samples = load_samples(args.file)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    try:
        record, figure = analyze(samples)
    except ValueError as err:  # data the metrics cannot measure (e.g. all logits zero)
        parser.error(str(err))
    record["input"]["file"] = str(args.file)
    text = report_text(record, str(args.file))

    if out is not None:
        writers = {
            "analysis.json": ufm.io.write_json(record),
            "analysis.txt": lambda p: p.write_text(text + "\n"),
        }
        if figure is not None:
            writers[f"{FIGURE_STEM}.npz"] = ufm.io.write_npz(figure)

            def write_figure(p: Path) -> None:
                draw_pair_projection(p.parent / f"{FIGURE_STEM}.npz", p, p.with_suffix(".pdf"))

            writers[f"{FIGURE_STEM}.png"] = write_figure  # also writes the .pdf next to it
        try:
            ufm.io.write_results_dir(out, writers, force=args.force)
        except (OSError, ValueError) as err:
            parser.error(f"--out {str(out)!r} could not be written, nothing was saved: {_first_line(err)}")
        names = [*REPORT_FILES] + ([f"{FIGURE_STEM}.npz", f"{FIGURE_STEM}.png", f"{FIGURE_STEM}.pdf"] if figure else [])
        text += f"\n\nwrote {out}/" + ", ".join(names)

    if args.json:
        print(json.dumps(ufm.io.to_jsonable(record), sort_keys=True, allow_nan=False))
    else:
        print(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
