r"""A real network trained with mixup, held against the mixup UFM's theory.

    python experiments/mixup_network.py --out DIR            # train, measure, save, draw (minutes)
    python experiments/mixup_network.py --out DIR --quick    # a short run (under 5 minutes on 2 cores)
    python experiments/mixup_network.py --from DIR           # redraw the figures from DIR's saved data

Data: scikit-learn's bundled handwritten digits (10 classes, 8x8 images; the optional
``experiments`` extra). Model: an MLP whose linear penultimate layer gives the features $h$ and a
linear head without bias gives the logits $Wh$; trained with input mixup
($\lambda \sim \mathrm{Beta}(\alpha, \alpha)$) and weight decay, twice with the same seed: once with
a **fixed simplex-ETF head** (``ufm.simplex_etf``) and once with a **learned head**.

Then, per head: test accuracy; neural-collapse metrics of the clean training features over the
epochs (``ufm.metrics.neural_collapse``); the features of mixed training inputs
$x = \lambda x_i + (1-\lambda)x_j$ over a $\lambda$ grid, for same-class and different-class pairs,
saved as ``mixed_<head>.npz`` in the format of ``python -m ufm.analyze``; the theory's geometry
measured on them (``ufm.metrics.mixup_geometry``) and the UFM weight decay that explains them
best (``ufm.metrics.fit_weight_decay``). Figures compare the network with the UFM optimum at the
fitted weight decay (Fisher, Meng & Papyan, ICLR 2024, Sec. 3). See ``docs/network.md``.

Output folder (written atomically): ``results.json``, ``mixed_fixed.npz``, ``mixed_learned.npz``,
``data/figures.npz`` (everything the figures draw), ``png/*.png`` and ``pdf/*.pdf``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["main", "run", "RunSettings"]

HEADS = ("fixed", "learned")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run does besides training (the training's own numbers are in ``TrainSettings``)."""

    test_fraction: float = 0.2
    pairs_per_class_pair: int = 6
    lambda_grid: int = 21
    plotted_pair: tuple[int, int] = (3, 8)


def _settings(quick: bool, epochs: int | None, alpha: float, seed: int):
    from experiments.network.train import TrainSettings

    if quick:
        train = TrainSettings(epochs=60, record_every=10, alpha=alpha, seed=seed)
        run = RunSettings(pairs_per_class_pair=2, lambda_grid=11)
    else:
        train = TrainSettings(epochs=2000, record_every=50, alpha=alpha, seed=seed)
        run = RunSettings()
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs, record_every=max(1, min(train.record_every, epochs)))
    return train, run


def _accuracy(params, head, x, y) -> float:
    import jax.numpy as jnp
    import numpy as np

    from experiments.network import model

    z = np.asarray(model.features(params, jnp.asarray(x)) @ jnp.asarray(head).T)
    return float(np.mean(np.argmax(z, axis=-1) == y))


def _train_head(kind: str, data, train_settings, log) -> dict:
    """Train one head, recording NC metrics of the clean training features along the way."""
    import jax.numpy as jnp
    import numpy as np

    import ufm
    from experiments.network import model, train

    fixed = None
    if kind == "fixed":
        fixed = np.asarray(ufm.simplex_etf(data.num_classes, train_settings.feature_dim, train_settings.head_scale))
    history: dict[str, list] = {"epoch": [], "nc1": [], "cdnv": [], "etf_error": [], "equinorm": [],
                                "equiangle": [], "self_duality": [], "ncc_mismatch": [], "test_accuracy": []}

    def record(epoch, params):
        head = fixed if fixed is not None else np.asarray(params["head"])
        h = np.asarray(model.features(params, jnp.asarray(data.x_train)))
        nc = ufm.metrics.neural_collapse(h, data.y_train, classifier=head)
        history["epoch"].append(epoch)
        for name in ("nc1", "cdnv", "etf_error", "equinorm", "equiangle", "self_duality", "ncc_mismatch"):
            history[name].append(getattr(nc, name))
        history["test_accuracy"].append(_accuracy(params, head, data.x_test, data.y_test))

    t0 = time.perf_counter()
    out = train.train(data, train_settings, fixed, on_record=record)
    seconds = time.perf_counter() - t0
    log(f"{kind} head: {train_settings.epochs} epochs in {seconds:.0f} s, "
        f"test accuracy {history['test_accuracy'][-1]:.3f}, NC1 {history['nc1'][-1]:.3g}")
    return {"params": out["params"], "head": np.asarray(out["head"], dtype=np.float64),
            "losses": out["losses"], "history": {k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
            "train_seconds": seconds}


def _measure(kind: str, trained: dict, data, run_settings: RunSettings, seed: int) -> tuple[dict, dict, dict]:
    """Mixed-input features (the ``ufm.analyze`` arrays), metrics, fit, and the arrays the figures need."""
    import jax.numpy as jnp
    import numpy as np

    import ufm
    from experiments.network import model, probe

    head = trained["head"]
    params = trained["params"]
    k = data.num_classes
    lambdas = np.linspace(0.0, 1.0, run_settings.lambda_grid)
    pairs = probe.mixed_pairs(data.y_train, k, run_settings.pairs_per_class_pair, seed)
    mixed = probe.mixed_features(params, data.x_train, data.y_train, pairs, lambdas)
    mixed["classifier"] = head
    args = (mixed["features"], head, mixed["class_a"], mixed["class_b"], mixed["lambdas"])
    geometry = ufm.metrics.mixup_geometry(*args)
    fit = ufm.metrics.fit_weight_decay(*args)
    clean = np.asarray(model.features(params, jnp.asarray(data.x_train)))
    nc = ufm.metrics.neural_collapse(clean, data.y_train, classifier=head)

    # The figures: the plotted pair in its plane, the network next to the UFM optimum at the
    # fitted weight decay (for this head's rows), and calibration p_c(lambda).
    c, c2 = run_settings.plotted_pair
    basis = _pair_plane(head, c, c2)
    pick = (mixed["class_a"] == c) & (mixed["class_b"] == c2)
    fine = np.linspace(0.0, 1.0, 201)
    curve = ufm.metrics.exact_optimum(head, np.full(fine.size, c), np.full(fine.size, c2), fine, fit.weight_decay)
    same = ufm.metrics.exact_optimum(head, np.array([c, c2]), np.array([c, c2]), np.array([1.0, 1.0]), fit.weight_decay)
    p_net = _softmax(mixed["features"][pick] @ head.T)[:, c].reshape(-1, lambdas.size)
    p_ufm = _softmax(curve @ head.T)[:, c]
    figures = {
        f"{kind}_plane_network": mixed["features"][pick].reshape(-1, lambdas.size, head.shape[1]) @ basis,
        f"{kind}_plane_same": np.stack([
            mixed["features"][(mixed["class_a"] == cc) & (mixed["class_b"] == cc)] @ basis for cc in (c, c2)
        ]),
        f"{kind}_plane_ufm": curve @ basis,
        f"{kind}_plane_ufm_same": same @ basis,
        f"{kind}_plane_classifier": head @ basis,
        f"{kind}_calibration_network": p_net,
        f"{kind}_calibration_ufm": p_ufm,
        f"{kind}_crossing_lambdas": np.asarray(geometry.crossing_lambdas, dtype=np.float64),
    }
    results = {
        "test_accuracy": _accuracy(params, head, data.x_test, data.y_test),
        "train_accuracy": _accuracy(params, head, data.x_train, data.y_train),
        "neural_collapse": nc.to_dict(),
        "classifier_etf_error": ufm.metrics.etf_error(head - head.mean(axis=0)),
        "classifier_row_norms": np.linalg.norm(head, axis=1).tolist(),
        "mixup_geometry": geometry.to_dict(),
        "fitted_weight_decay": fit.weight_decay,
        "fit_rel_residual": fit.rel_residual,
        "fit": fit.to_dict(),
        "train_seconds": trained["train_seconds"],
        "final_training_loss": float(trained["losses"][-1]),
    }
    return mixed, results, figures


def _pair_plane(w, c: int, c2: int):
    r"""Orthonormal basis ``(d, 2)`` of $\mathrm{span}\{w_c, w_{c'}\}$: first axis along $w_c - w_{c'}$
    (the normal of the $c/c'$ boundary for an equinorm head), second orthogonal to it in the plane."""
    import numpy as np

    first = w[c] - w[c2]
    first = first / np.linalg.norm(first)
    second = w[c] + w[c2] - (w[c] + w[c2]) @ first * first
    return np.stack([first, second / np.linalg.norm(second)], axis=1)


def _softmax(z):
    import numpy as np

    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("ufm", "jax", "jaxlib", "optax", "numpy", "scikit-learn", "matplotlib"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def run(out: Path, quick: bool, epochs: int | None, alpha: float, seed: int, force: bool, log=print) -> dict:
    """Train both heads, measure, save and draw into ``out`` (atomically); return ``results.json``."""
    import numpy as np

    import ufm
    from experiments.network import data as data_module
    from experiments.network import draw

    out = _check_out(Path(out), force)
    train_settings, run_settings = _settings(quick, epochs, alpha, seed)
    data = data_module.load_digits_split(run_settings.test_fraction, seed)
    t0 = time.perf_counter()
    results = {
        "settings": {"train": dataclasses.asdict(train_settings), "run": dataclasses.asdict(run_settings),
                     "quick": quick, "num_train": int(data.y_train.size), "num_test": int(data.y_test.size),
                     "num_classes": data.num_classes, "dtype": "float64"},
        "heads": {},
        "versions": _versions(),
    }
    figure_arrays: dict = {}
    mixed_by_head = {}
    for kind in HEADS:
        trained = _train_head(kind, data, train_settings, log)
        mixed, head_results, arrays = _measure(kind, trained, data, run_settings, seed)
        results["heads"][kind] = head_results
        mixed_by_head[kind] = mixed
        figure_arrays.update(arrays)
        for name, values in trained["history"].items():
            figure_arrays[f"{kind}_history_{name}"] = values
        figure_arrays[f"{kind}_losses"] = trained["losses"]
        log(f"{kind} head: fitted weight decay {head_results['fitted_weight_decay']:.4g}, "
            f"relative residual {head_results['fit_rel_residual']:.3g}")
    figure_arrays["lambda_grid"] = np.linspace(0.0, 1.0, run_settings.lambda_grid)
    figure_arrays["lambda_fine"] = np.linspace(0.0, 1.0, 201)
    results["seconds"] = time.perf_counter() - t0

    info = {"plotted_pair": list(run_settings.plotted_pair), "alpha": train_settings.alpha,
            "epochs": train_settings.epochs, "quick": quick,
            "fitted_weight_decay": {k: results["heads"][k]["fitted_weight_decay"] for k in HEADS},
            "fit_rel_residual": {k: results["heads"][k]["fit_rel_residual"] for k in HEADS},
            "test_accuracy": {k: results["heads"][k]["test_accuracy"] for k in HEADS}}
    # Written into a temporary sibling, renamed into place at the end (never half-written).
    with ufm.io.staged_dir(out) as tmp:
        for kind, mixed in mixed_by_head.items():
            np.savez(tmp / f"mixed_{kind}.npz", **mixed)
        (tmp / "data").mkdir()
        np.savez(tmp / "data" / "figures.npz", **figure_arrays)
        (tmp / "data" / "figures.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        paths = draw.draw_all(tmp / "data", tmp)
        results["files"] = sorted(str(p.relative_to(tmp)) for p in [*paths, *tmp.glob("*.npz")])
        (tmp / "results.json").write_text(
            json.dumps(ufm.io.to_jsonable(results), indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
    log(f"wrote {out} in {time.perf_counter() - t0:.0f} s")
    return results


def _check_out(out: Path, force: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"--out {str(out)!r} already exists and is not empty (use --force to replace it)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python experiments/mixup_network.py",
        description="Train an MLP on scikit-learn's digits with input mixup (fixed simplex-ETF head and "
        "learned head), measure neural collapse and the mixup UFM's geometry on its features, fit the UFM "
        "weight decay, and draw the comparison with the UFM optimum.",
    )
    parser.add_argument("--out", type=Path, help="output folder (train, measure, save, draw)")
    parser.add_argument("--from", dest="source", type=Path, help="redraw the figures from this folder's saved data")
    parser.add_argument("--quick", action="store_true", help="a short run: 60 epochs, fewer mixed pairs (< 5 min)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 2000, 60 with --quick)")
    parser.add_argument("--alpha", type=float, default=1.0, help="mixup alpha > 0: lambda ~ Beta(alpha, alpha)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the initialisation and the mixing")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.source is None):
        parser.error("give exactly one of --out DIR (run) or --from DIR (redraw)")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if not (args.alpha > 0 and args.alpha != float("inf")):
        parser.error(f"--alpha must be finite and > 0, got {args.alpha}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    try:
        if args.source is not None:
            from experiments.network import draw

            data_dir = args.source / "data"
            if not (data_dir / "figures.npz").is_file():
                raise FileNotFoundError(f"--from {str(args.source)!r} has no data/figures.npz (make one with --out)")
            paths = draw.draw_all(data_dir, args.source)
            print(f"redrew {len(paths)} files from {data_dir}")
        else:
            run(args.out, args.quick, args.epochs, args.alpha, args.seed, args.force)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
