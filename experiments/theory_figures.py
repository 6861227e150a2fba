r"""Make every figure of the theory section: solve, save the results, draw from the saved results.

Usage::

    python experiments/theory_figures.py --out DIR            # solve, save DIR/data, draw DIR/png + DIR/pdf
    python experiments/theory_figures.py --from DIR           # redraw DIR/png + DIR/pdf from DIR/data only
    python experiments/theory_figures.py --out DIR --quick    # tiny configuration (for tests)
    python experiments/theory_figures.py --out DIR --only 1,4 # a subset of the figures

The output folder holds ``data/<stem>.npz`` + ``data/<stem>.json`` per figure (exact curves,
numeric optima, settings, and the largest relative error numeric vs exact), ``png/<stem>.png``
(200 dpi) and ``pdf/<stem>.pdf`` (vector), and ``run.json`` (timings and the file list). The folder
is written atomically: it appears complete or not at all. Conventions: weight decay $\mu$ per
feature, float64 throughout (Fisher, Meng & Papyan, ICLR 2024, Sec. 3; see ``docs/figures.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments.figures import FIGURES  # noqa: E402

__all__ = ["main", "make_figures", "redraw"]


def _parse_only(text: str | None) -> list[int]:
    if text is None:
        return sorted(FIGURES)
    try:
        numbers = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--only takes figure numbers like 1,4 (got {text!r})") from None
    bad = [n for n in numbers if n not in FIGURES]
    if bad or not numbers:
        raise argparse.ArgumentTypeError(f"--only: figures are numbered {min(FIGURES)}-{max(FIGURES)} (got {text!r})")
    return numbers


def _draw_all(numbers: list[int], data_dir: Path, out_dir: Path) -> tuple[list[Path], float]:
    from experiments.figures import draw_figure

    t0 = time.perf_counter()
    paths = [p for n in numbers for p in draw_figure(n, data_dir, out_dir)]
    return paths, time.perf_counter() - t0


def _enable_compile_cache(cache_dir: Path) -> None:
    """Reuse compiled solver loops between solves of the same shape (most figures sweep one
    parameter at a fixed shape), through JAX's persistent compilation cache in a private folder."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _check_out(out: Path, force: bool) -> Path:
    """Refuse, before any solving, an output folder that exists and is not empty (unless ``force``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"--out {str(out)!r} already exists and is not empty (use --force to replace it)")
    return out


def make_figures(out: Path, numbers: list[int], quick: bool, force: bool, log=print) -> dict:
    """Solve, save and draw the figures ``numbers`` into ``out``; return the run record.

    Everything is written into a hidden temporary sibling folder that is renamed to ``out`` at the
    end, so an interrupted run never leaves a half-written results folder.
    """
    out = _check_out(out, force)
    import ufm  # here: redrawing must not start JAX
    from experiments._figio import save_figure_data
    from experiments.figures import FigureSettings, compute_figure, quick_settings

    settings = quick_settings() if quick else FigureSettings()
    record: dict = {"quick": quick, "settings": settings.to_dict(), "figures": {}}
    t0 = time.perf_counter()
    # Written into a temporary sibling, renamed into place at the end (never half-written).
    with ufm.io.staged_dir(out) as tmp:
        with tempfile.TemporaryDirectory(prefix="ufm-jax-cache-") as cache:
            _enable_compile_cache(Path(cache))
            for n in numbers:
                arrays, info = compute_figure(n, settings)
                save_figure_data(tmp / "data", n, arrays, info)
                record["figures"][FIGURES[n]] = {
                    "compute_seconds": info["compute_seconds"],
                    "max_rel_error": info["max_rel_error"],
                }
                log(f"figure {n} ({FIGURES[n]}): solved in {info['compute_seconds']:.1f} s, "
                    f"max relative error numeric vs exact {info['max_rel_error']:.1e}")
        record["solve_seconds"] = time.perf_counter() - t0
        paths, record["draw_seconds"] = _draw_all(numbers, tmp / "data", tmp)
        log(f"drew {len(paths)} files in {record['draw_seconds']:.1f} s")
        record["files"] = sorted(str(p.relative_to(tmp)) for p in paths)
        record["total_seconds"] = time.perf_counter() - t0
        (tmp / "run.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def redraw(source: Path, out: Path | None, numbers: list[int], log=print) -> list[Path]:
    """Redraw figures from ``source/data`` (no solving) into ``out`` (default: ``source``)."""
    data_dir = Path(source) / "data"
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--from {str(source)!r} has no data/ folder (make one with --out)")
    present = [n for n in numbers if (data_dir / f"{FIGURES[n]}.npz").is_file()]
    if not present:
        raise FileNotFoundError(f"--from {str(source)!r}: no saved figure data in {data_dir}")
    target = Path(out) if out is not None else Path(source)
    paths, seconds = _draw_all(present, data_dir, target)
    log(f"redrew {len(present)} figures ({len(paths)} files) from {data_dir} in {seconds:.1f} s")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python experiments/theory_figures.py",
        description="Figures of the theory section of the mixup UFM: numeric optima over exact curves.",
    )
    parser.add_argument("--out", type=Path, help="output folder (solve, save data, draw)")
    parser.add_argument("--from", dest="source", type=Path,
                        help="redraw from the saved data in this folder without solving")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quick", action="store_true", help="tiny configuration (few lambdas, small K)")
    parser.add_argument("--only", type=str, default=None, help="comma-separated figure numbers (default: all)")
    args = parser.parse_args(argv)
    try:
        numbers = _parse_only(args.only)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    if args.source is None and args.out is None:
        parser.error("give --out DIR (solve and draw) or --from DIR (redraw)")
    try:
        if args.source is not None:
            if args.quick:
                parser.error("--quick applies to solving, not to --from")
            redraw(args.source, args.out, numbers)
        else:
            record = make_figures(args.out, numbers, args.quick, args.force)
            print(f"wrote {args.out} in {record['total_seconds']:.1f} s")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
