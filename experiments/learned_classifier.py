r"""Beyond the fixed ETF: learn the classifier too, with balanced and imbalanced classes.

Usage::

    python experiments/learned_classifier.py --out DIR            # solve, save DIR/data, draw DIR/png + DIR/pdf
    python experiments/learned_classifier.py --from DIR           # redraw from DIR/data only
    python experiments/learned_classifier.py --out DIR --quick    # tiny configuration (for tests)

Three computations, each saved as ``data/<name>.npz`` + ``data/<name>.json`` (float64 arrays,
settings, timings and the largest error of every solve against its certified reference):

* ``balanced``: over $K$, $\alpha$, $(\mu, \lambda_W)$ and random starts, the learned optimum
  (:func:`ufm.minimize`, joint L-BFGS from seeded random starts and Newton) against the *profile*
  optimum $\min_s\,[\text{exact fixed-ETF optimum at row norm } s] + \frac{\lambda_W}{2}Ks^2$, and the
  ETF error of the learned classifier.
* ``imbalance``: class weights $\pi \propto (\rho, \dots, \rho, 1, \dots, 1)$ (majority classes
  first): the learned classifier's ETF error, the angles and norms of the minority classifiers, the
  rank of the optimum and the imbalance ratio $\rho_c$ at which the minority classifiers collapse
  exactly (Fang et al., PNAS 2021), with mixup and without ($\lambda \in \{1\}$).
* ``channels``: $K = 3$ ($d = 2$): the learned optimum in the plane next to the fixed-ETF optimum at
  the profile norm, balanced and imbalanced.

Figures (``png/`` at 200 dpi and ``pdf/``): ``learned_etf_error``, ``learned_channels``,
``learned_profile_gap``. Every solve is checked by :func:`ufm.check` against the certified optimum
of the convex reformulation (:func:`ufm.learned_optimum`). Conventions: weight decay $\mu$ per
feature, $\lambda_W$ on the classifier, pair $(c, c')$ weighted $\pi_c\pi_{c'}$, float64
(``docs/learned.md``). The output folder is written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["Settings", "quick_settings", "profile_optimum", "compute", "draw", "main"]

DATA = ("balanced", "imbalance", "channels")
FIGURE_NAMES = ("learned_etf_error", "learned_channels", "learned_profile_gap")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What is computed (full run: a few minutes on two CPU cores)."""

    # balanced sweep
    balanced_classes: tuple[int, ...] = (3, 5, 10)
    balanced_alphas: tuple[float, ...] = (0.3, 1.0, 4.0)
    balanced_decays: tuple[tuple[float, float], ...] = ((1e-2, 1e-3), (1e-3, 1e-4), (5e-2, 1e-2))
    balanced_seeds: tuple[int, ...] = (0, 1, 2)  # random starts of L-BFGS (Newton: the first)
    balanced_methods: tuple[str, ...] = ("lbfgs", "newton")
    balanced_lambdas: int = 16
    # imbalance sweep
    imbalance_classes: int = 10
    imbalance_majority: int = 5
    imbalance_ratios: tuple[float, ...] = tuple(float(x) for x in np.geomspace(1.0, 1e4, 17))
    imbalance_decays: tuple[tuple[float, float], ...] = ((5e-2, 1e-2), (1e-2, 1e-3))
    imbalance_alpha: float = 1.0
    imbalance_lambdas: int = 16
    collapse_bracket: tuple[float, float] = (1.0, 1e6)
    collapse_bisections: int = 14
    # channel picture
    channel_lambdas: int = 17
    channel_ratios: tuple[float, ...] = (1.0, 10.0, 100.0)
    channel_decay: tuple[float, float] = (1e-2, 1e-3)
    channel_dim: int = 2  # any d >= 2: the picture is the plane of the learned classifier
    tol: float = 1e-10

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def quick_settings() -> Settings:
    """A tiny configuration with the same code paths (for tests): K = 3, one mixing coefficient."""
    return Settings(
        balanced_classes=(3,),
        balanced_alphas=(1.0,),
        balanced_decays=((5e-2, 1e-2),),
        balanced_seeds=(0,),
        balanced_methods=("newton",),
        balanced_lambdas=1,
        imbalance_classes=3,
        imbalance_majority=1,
        imbalance_ratios=(1.0, 1000.0),
        imbalance_decays=((5e-2, 1e-2),),
        imbalance_lambdas=1,
        collapse_bisections=2,
        channel_lambdas=1,
        channel_ratios=(100.0,),
        channel_dim=3,
    )


# ------------------------------------------------------------------------------------ measures


def mean_cosine(rows, index) -> float:
    """Mean cosine between distinct rows ``index`` of ``rows`` (1: all parallel; NaN for one row)."""
    if len(index) < 2:
        return float("nan")
    r = np.asarray(rows, dtype=np.float64)[list(index)]
    unit = r / np.linalg.norm(r, axis=-1, keepdims=True)
    cos = unit @ unit.T
    return float(cos[np.triu_indices(len(index), 1)].mean())


def class_means(problem, features) -> np.ndarray:
    """Mean feature of the same-class samples of each class, ``(K, d)``."""
    pairs = np.asarray(problem.pair_index)
    samples = np.asarray(problem.as_samples(features))
    same = pairs[:, 0] == pairs[:, 1]
    means = samples[same].mean(axis=1)
    return means[np.argsort(pairs[same, 0])]


def profile_optimum(problem) -> tuple[float, float]:
    r"""The profile optimum of a learned-classifier problem: $\min_s E(s)$ with $E(s)$ the objective at
    the exact optimum for the fixed simplex ETF of row norm $s$ (same $\lambda$'s, weights and $\mu$)
    plus $\frac{\lambda_W}{2}Ks^2$, the decay of that classifier. Brent's method in $\log s$.

    Returns ``(objective, s)``.
    """
    import scipy.optimize

    import ufm

    k, decay = problem.num_classes, problem.classifier_decay
    spec = problem.spec()
    spec.update(classifier_decay=None, lambdas=list(problem.lambdas), num_lambdas=None)

    def energy(log_s):
        fixed = ufm.MixupUFM(**{**spec, "scale": float(np.exp(log_s))})
        value = float(fixed.objective(ufm.optimal_features(fixed)))
        return value + 0.5 * decay * k * float(np.exp(2 * log_s))

    result = scipy.optimize.minimize_scalar(energy, bounds=(np.log(1e-3), np.log(1e3)), method="bounded",
                                            options={"xatol": 1e-10})
    return float(result.fun), float(np.exp(result.x))


def _weights(k: int, majority: int, ratio: float) -> list[float]:
    pi = np.array([ratio] * majority + [1.0] * (k - majority))
    return list(pi / pi.sum())


def _solve_and_check(problem, method: str, init: int, tol: float):
    import ufm

    solution = ufm.minimize(problem, method, init=init, tol=tol)
    return solution, ufm.check(problem, solution)


def _record(solution, report) -> dict:
    return {
        "status": str(solution.status),
        "steps": solution.num_steps,
        "grad_norm": solution.grad_norm,
        "solve_seconds": solution.solve_seconds,
        "objective": solution.objective,
        "reference_objective": report.reference.objective,
        "duality_gap": report.reference.duality_gap,
        "rank": report.reference.rank,
        "max_rel_error": report.comparison.max_rel_error,
        "classifier_rel_error": report.classifier_rel_error,
        "check_ok": report.ok,
    }


# ------------------------------------------------------------------------------------ computing


def compute_balanced(s: Settings, log=print) -> tuple[dict, dict]:
    import ufm

    rows, runs = [], []
    for k in s.balanced_classes:
        for alpha in s.balanced_alphas:
            for mu, decay in s.balanced_decays:
                problem = ufm.MixupUFM(k, alpha=alpha, num_lambdas=s.balanced_lambdas, weight_decay=mu,
                                       classifier_decay=decay)
                profile, scale = profile_optimum(problem)
                for method in s.balanced_methods:
                    for seed in s.balanced_seeds if method == "lbfgs" else s.balanced_seeds[:1]:
                        solution, report = _solve_and_check(problem, method, seed, s.tol)
                        w = np.asarray(solution.classifier)
                        rows.append([k, alpha, mu, decay, seed, method == "newton", solution.objective, profile,
                                     scale, np.linalg.norm(w, axis=-1).mean(), ufm.metrics.etf_error(w),
                                     report.comparison.max_rel_error])
                        runs.append({"K": k, "alpha": alpha, "mu": mu, "lambda_W": decay, "method": method,
                                     "seed": seed, **_record(solution, report)})
                gaps = [abs(r[6] - r[7]) for r in rows if r[:4] == [k, alpha, mu, decay]]
                log(f"balanced K = {k}, alpha = {alpha:g}, mu = {mu:g}, lambda_W = {decay:g}: "
                    f"max |learned - profile| {max(gaps):.1e}")
    columns = ["K", "alpha", "mu", "lambda_W", "seed", "newton", "objective", "profile_objective", "profile_scale",
               "row_norm", "etf_error", "max_rel_error"]
    return {"table": np.array(rows, dtype=np.float64)}, {"columns": columns, "runs": runs}


def compute_imbalance(s: Settings, log=print) -> tuple[dict, dict]:
    import ufm

    k, majority = s.imbalance_classes, s.imbalance_majority
    minority = range(majority, k)
    ratios = np.array(s.imbalance_ratios)
    shape = (len(s.imbalance_decays), 2, ratios.size)  # (decay setting, [mixup, none], ratio)
    names = ("etf_error", "minority_cosine", "majority_cosine", "norm_ratio", "rank", "profile_gap",
             "feature_etf_error", "max_rel_error", "objective")
    out = {name: np.full(shape, np.nan) for name in names}
    thresholds = np.full(shape[:2], np.nan)
    runs = []
    for i, (mu, decay) in enumerate(s.imbalance_decays):
        for j, mixup in enumerate((True, False)):
            def problem_at(ratio, mu=mu, decay=decay, mixup=mixup):
                lam = {"alpha": s.imbalance_alpha, "num_lambdas": s.imbalance_lambdas} if mixup else {"lambdas": [1.0]}
                return ufm.MixupUFM(k, weight_decay=mu, classifier_decay=decay,
                                    class_weights=_weights(k, majority, ratio), **lam)

            for n, ratio in enumerate(ratios):
                problem = problem_at(ratio)
                solution, report = _solve_and_check(problem, "newton", 0, s.tol)
                w = np.asarray(solution.classifier)
                norms = np.linalg.norm(w, axis=-1)
                profile, _ = profile_optimum(problem)
                values = (ufm.metrics.etf_error(w), mean_cosine(w, minority), mean_cosine(w, range(majority)),
                          norms[majority:].mean() / norms[:majority].mean(), report.reference.rank,
                          profile - solution.objective, ufm.metrics.etf_error(class_means(problem, solution.features)),
                          report.comparison.max_rel_error, solution.objective)
                for name, value in zip(names, values):
                    out[name][i, j, n] = value
                runs.append({"mu": mu, "lambda_W": decay, "mixup": mixup, "ratio": ratio, **_record(solution, report)})
            thresholds[i, j] = _collapse_threshold(problem_at, k - 1, s.collapse_bracket, s.collapse_bisections)
            log(f"imbalance mu = {mu:g}, lambda_W = {decay:g}, {'mixup' if mixup else 'no mixup'}: "
                f"minority collapse at rho = {thresholds[i, j]:.4g}")
    arrays = {"ratios": ratios, "decays": np.array(s.imbalance_decays), "collapse_ratio": thresholds, **out}
    info = {"num_classes": k, "majority": majority, "axes": ["decay setting", "mixup (0) / no mixup (1)", "ratio"],
            "runs": runs}
    return arrays, info


def _collapse_threshold(problem_at, full_rank: int, bracket, steps: int) -> float:
    r"""The smallest ratio $\rho$ at which the certified optimum loses rank (minority classifiers
    coincide), by bisection in $\log\rho$ on :func:`ufm.learned_optimum`'s rank; ``inf`` if none
    within the bracket."""
    import ufm

    lo, hi = np.log(bracket[0]), np.log(bracket[1])
    if ufm.learned_optimum(problem_at(float(np.exp(hi)))).rank >= full_rank:
        return float("inf")
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if ufm.learned_optimum(problem_at(float(np.exp(mid)))).rank < full_rank:
            hi = mid
        else:
            lo = mid
    return float(np.exp(0.5 * (lo + hi)))


def compute_channels(s: Settings, log=print) -> tuple[dict, dict]:
    import ufm

    k, d = 3, s.channel_dim
    lambdas = np.linspace(0.0, 1.0, s.channel_lambdas) if s.channel_lambdas > 1 else np.array([0.3])
    mu, decay = s.channel_decay
    learned_h, learned_w, fixed_h, fixed_w, runs = [], [], [], [], []
    for ratio in s.channel_ratios:
        problem = ufm.MixupUFM(k, dim=d, lambdas=lambdas, weight_decay=mu, classifier_decay=decay,
                               class_weights=_weights(k, 1, ratio))
        solution, report = _solve_and_check(problem, "newton", 0, s.tol)
        _, scale = profile_optimum(problem)
        fixed = ufm.MixupUFM(k, dim=d, lambdas=lambdas, weight_decay=mu, scale=scale)
        w = np.asarray(solution.classifier)
        w_fixed = np.asarray(fixed.classifier)
        u, _, vt = np.linalg.svd(w_fixed.T @ w)  # rotate the fixed ETF onto the learned classifier
        rotation = u @ vt
        # Coordinates in the plane of the learned classifier's rows (the optimal features lie in it).
        plane = np.linalg.svd(w, full_matrices=False)[2][:2].T  # (d, 2), orthonormal
        learned_h.append(np.asarray(solution.features) @ plane)
        learned_w.append(w @ plane)
        fixed_h.append(np.asarray(ufm.optimal_features(fixed)) @ rotation @ plane)
        fixed_w.append(w_fixed @ rotation @ plane)
        runs.append(
            {"ratio": ratio, "profile_scale": scale, "etf_error": ufm.metrics.etf_error(w), **_record(solution, report)}
        )
        log(f"channels rho = {ratio:g}: ETF error of W {ufm.metrics.etf_error(w):.2e}, check {report.ok}")
    arrays = {"lambdas": lambdas, "ratios": np.array(s.channel_ratios), "learned_features": np.stack(learned_h),
              "learned_classifier": np.stack(learned_w), "fixed_features": np.stack(fixed_h),
              "fixed_classifier": np.stack(fixed_w)}
    return arrays, {"num_classes": k, "dim": d, "weight_decay": mu, "classifier_decay": decay, "runs": runs}


COMPUTE = {"balanced": compute_balanced, "imbalance": compute_imbalance, "channels": compute_channels}


def compute(s: Settings, data_dir: Path, log=print) -> dict:
    """Run the three computations and save them into ``data_dir``; return timings and errors."""
    import jax

    import ufm

    record = {}
    for name in DATA:
        t0 = time.perf_counter()
        arrays, info = COMPUTE[name](s, log)
        runs = info.get("runs", [])
        info.update(settings=s.to_dict(), compute_seconds=time.perf_counter() - t0, ufm_version=ufm.__version__,
                    jax_version=jax.__version__, dtype="float64",
                    reference="ufm.learned_optimum (convex reformulation, duality-gap certificate) via ufm.check",
                    max_rel_error=max([r["max_rel_error"] for r in runs], default=float("nan")),
                    max_duality_gap=max([r["duality_gap"] for r in runs], default=float("nan")),
                    all_checks_ok=all(r["check_ok"] for r in runs))
        _save(data_dir, name, arrays, info)
        record[name] = {k: info[k] for k in ("compute_seconds", "max_rel_error", "max_duality_gap", "all_checks_ok")}
    return record


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def _save(data_dir: Path, name: str, arrays: dict, info: dict) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(data_dir / f"{name}.npz", **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    (data_dir / f"{name}.json").write_text(json.dumps(_jsonable(info), indent=2, sort_keys=True) + "\n")


def _load(data_dir: Path, name: str) -> tuple[dict, dict]:
    npz, js = data_dir / f"{name}.npz", data_dir / f"{name}.json"
    if not npz.is_file() or not js.is_file():
        raise FileNotFoundError(f"no saved data {name!r}: expected {npz} and {js}")
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads(js.read_text())


# ------------------------------------------------------------------------------------ drawing


def draw_etf_error(imb: dict, info: dict):
    from experiments import _style as style

    ratios, decays = imb["ratios"], imb["decays"]
    colors = style.color_cycle(len(decays))
    fig, axes = style.figure(style.TWO_COLUMN, 2.35, 1, 3)
    panels = (("etf_error", "(a) ETF error of the learned $W$"),
              ("minority_cosine", "(b) mean cosine between minority $w_k$"),
              ("norm_ratio", r"(c) mean $\|w_k\|$: minority / majority"))
    for ax, (name, title) in zip(axes, panels):
        for i, (mu, decay) in enumerate(decays):
            for j, ls in enumerate(("-", "--")):
                rho_c = imb["collapse_ratio"][i, j]
                label = rf"$\mu = {mu:g}$, $\lambda_W = {decay:g}$, " + ("mixup" if j == 0 else "no mixup") + \
                    (rf" ($\rho_c = {rho_c:.0f}$)" if np.isfinite(rho_c) else r" (no collapse)")
                ax.plot(ratios, imb[name][i, j], ls=ls, marker="o" if j == 0 else "s", markersize=2.6,
                        color=colors[i], label=label)
                if np.isfinite(rho_c) and ratios[0] <= rho_c <= ratios[-1]:
                    ax.axvline(rho_c, color=colors[i], ls=ls, lw=0.6, alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlabel(r"imbalance ratio $\rho = \pi_{\max}/\pi_{\min}$")
        ax.set_title(title)
        ax.grid(alpha=0.25, lw=0.4)
    axes[1].set_ylim(top=1.05)
    axes[1].axhline(1.0, color="0.4", lw=0.6, ls=":")
    k, maj = info["num_classes"], info["majority"]
    fig.suptitle(f"K = {k} ({maj} majority, {k - maj} minority classes); thin vertical lines: exact minority "
                 r"collapse $\rho_c$ (rank of the certified optimum drops)", fontsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=6, columnspacing=1.5)
    return fig


def _channel_panel(ax, features, w, fixed, w_fixed, lambdas, title, cmap, norm):
    from experiments.figures import _drawing as dr

    k = w.shape[0]
    pts = [w * 1.2, w_fixed * 1.2]
    for c in range(k):
        for c2 in range(c + 1, k):
            ax.plot(*fixed[c, c2].T, color="0.55", lw=0.9, ls=(0, (3, 1.5)), zorder=1)
            if len(lambdas) > 1:
                dr.colored_curve(ax, features[c, c2], lambdas, cmap, norm, lw=1.0)
            ax.scatter(*features[c, c2].T, c=lambdas, cmap=cmap, norm=norm, s=9, edgecolors=dr.NUMERIC_EDGE,
                       linewidths=0.4, zorder=3)
            pts += [features[c, c2], fixed[c, c2]]
        ax.plot(*features[c, c, :1].T, marker="*", color="white", markeredgecolor="k", markersize=7,
                markeredgewidth=0.6, linestyle="none", zorder=4)
        ax.plot(*fixed[c, c, :1].T, marker="*", color="0.7", markeredgecolor="0.4", markersize=5,
                markeredgewidth=0.5, linestyle="none", zorder=3)
    dr.square_limits(ax, np.concatenate([p.reshape(-1, 2) for p in pts]))
    for c in range(k):
        dr.arrow(ax, w_fixed[c], color="0.55", lw=0.8)
        dr.arrow(ax, w[c], label=rf"$w_{c + 1}$")
    ax.set_title(title)
    ax.tick_params(labelsize=6)


def draw_channels(ch: dict, info: dict):
    from matplotlib.lines import Line2D

    from experiments.figures import _drawing as dr

    cmap, norm = dr.style.LAMBDA_CMAP, dr.lambda_norm()
    ratios = ch["ratios"]
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.85, 1, ratios.size)
    axes = np.atleast_1d(axes)
    for i, ratio in enumerate(ratios):
        title = "balanced (learned = fixed ETF)" if ratio == 1 else rf"$\pi_1 : \pi_2 : \pi_3 = {ratio:g} : 1 : 1$"
        _channel_panel(axes[i], ch["learned_features"][i], ch["learned_classifier"][i], ch["fixed_features"][i],
                       ch["fixed_classifier"][i], ch["lambdas"], title, cmap, norm)
        axes[i].set_xlabel(r"$h^\top v_1$")
    axes[0].set_ylabel(r"$h^\top v_2$")
    sm = axes[0].collections[-1]
    cbar = fig.colorbar(sm, ax=axes.tolist(), shrink=0.8, pad=0.01, aspect=25)
    cbar.set_label(r"$\lambda$ (weight of class $c$, pair $c < c'$)", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    handles = [
        Line2D([], [], marker="o", color="w", markerfacecolor="C2", markeredgecolor=dr.NUMERIC_EDGE, markersize=4,
               label=r"learned $W$: optimal features of pair $(c, c')$"),
        Line2D([], [], marker="*", color="w", markeredgecolor="k", markersize=7, label="learned: same class"),
        Line2D([], [], color="0.55", lw=0.9, ls=(0, (3, 1.5)), label="fixed ETF at the profile norm"),
        Line2D([], [], color="k", lw=0.9, label=r"learned $w_k$"),
        Line2D([], [], color="0.55", lw=0.8, label=r"fixed ETF $w_k$ (rotated onto the learned)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=6, columnspacing=1.2,
               title=r"$K = 3$; $v_1, v_2$: orthonormal axes of the plane of the learned classifier's rows",
               title_fontsize=6)
    return fig


def draw_profile_gap(bal: dict, bal_info: dict, imb: dict, imb_info: dict):
    from matplotlib.lines import Line2D

    from experiments import _style as style

    table = bal["table"]
    col = {name: i for i, name in enumerate(bal_info["columns"])}
    fig, axes = style.figure(style.TWO_COLUMN, 2.6, 1, 3)
    ks = sorted(set(table[:, col["K"]].astype(int)))
    colors = style.color_cycle(max(len(ks), 2))
    floor = 1e-17  # an exact zero is drawn at the floor
    for ax, name, title in ((axes[0], "gap", r"(a) balanced: $|F_{\mathrm{learned}} - F_{\mathrm{profile}}|$"),
                            (axes[1], "etf_error", r"(b) balanced: ETF error of the learned $W$")):
        for i, k in enumerate(ks):
            sel = table[:, col["K"]] == k
            rows = table[sel]
            x = np.flatnonzero(sel)
            y = np.abs(rows[:, col["objective"]] - rows[:, col["profile_objective"]]) if name == "gap" \
                else rows[:, col["etf_error"]]
            newton = rows[:, col["newton"]] > 0
            ax.plot(x[~newton], np.maximum(y[~newton], floor), "o", color=colors[i], markersize=2.6)
            ax.plot(x[newton], np.maximum(y[newton], floor), "x", color=colors[i], markersize=3.5)
        ax.set_yscale("log")
        ax.set_xlabel(r"configuration ($K$, $\alpha$, $\mu$, $\lambda_W$, start)")
        ax.set_title(title)
        ax.grid(alpha=0.25, lw=0.4)
    axes[0].axhline(2.2e-16, color="0.4", lw=0.6, ls=":")
    axes[0].annotate("float64 rounding", xy=(0.02, 2.2e-16), xycoords=("axes fraction", "data"),
                     xytext=(0, 3), textcoords="offset points", fontsize=5.5, color="0.3")
    ratios, decays = imb["ratios"], imb["decays"]
    dcolors = style.color_cycle(len(decays))
    shown = ratios > 1  # at rho = 1 the classes are balanced and the gap is zero (panel a)
    for i, (mu, decay) in enumerate(decays):
        for j, ls in enumerate(("-", "--")):
            axes[2].plot(ratios[shown], imb["profile_gap"][i, j][shown], ls=ls, marker="o" if j == 0 else "s",
                         markersize=2.6, color=dcolors[i],
                         label=rf"$\mu = {mu:g}$, $\lambda_W = {decay:g}$, " + ("mixup" if j == 0 else "no mixup"))
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel(r"imbalance ratio $\rho$")
    axes[2].set_title(r"(c) imbalanced: $F_{\mathrm{profile}} - F_{\mathrm{learned}}$")
    axes[2].grid(alpha=0.25, lw=0.4)
    axes[2].legend(fontsize=5.5, loc="lower right")
    handles = [Line2D([], [], marker="s", color=colors[i], linestyle="none", markersize=4, label=f"K = {k}")
               for i, k in enumerate(ks)]
    handles += [Line2D([], [], marker="o", color="0.3", linestyle="none", markersize=3,
                       label="L-BFGS from random starts"),
                Line2D([], [], marker="x", color="0.3", linestyle="none", markersize=4, label="Newton")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=6,
               title="(a), (b): every configuration of the balanced sweep", title_fontsize=6)
    return fig


def draw(data_dir: Path, out_dir: Path) -> list[Path]:
    """Draw the three figures from ``data_dir`` into ``out_dir/png`` and ``out_dir/pdf``."""
    from experiments import _style as style

    bal, bal_info = _load(data_dir, "balanced")
    imb, imb_info = _load(data_dir, "imbalance")
    ch, ch_info = _load(data_dir, "channels")
    style.apply_style()
    figures = {
        "learned_etf_error": draw_etf_error(imb, imb_info),
        "learned_channels": draw_channels(ch, ch_info),
        "learned_profile_gap": draw_profile_gap(bal, bal_info, imb, imb_info),
    }
    paths = []
    for name, fig in figures.items():
        paths += style.save(fig, name, Path(out_dir) / "png", Path(out_dir) / "pdf")
    return paths


# ------------------------------------------------------------------------------------ the script


def _check_out(out: Path, force: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"--out {str(out)!r} already exists and is not empty (use --force to replace it)")
    return out


def run(out: Path, quick: bool, force: bool, log=print) -> dict:
    """Compute, save and draw into ``out`` (written into a temporary sibling, then renamed)."""
    import ufm

    out = _check_out(out, force)
    settings = quick_settings() if quick else Settings()
    t0 = time.perf_counter()
    # Written into a temporary sibling, renamed into place at the end (never half-written).
    with ufm.io.staged_dir(out) as tmp:
        record = {"quick": quick, "settings": settings.to_dict(), "data": compute(settings, tmp / "data", log)}
        record["solve_seconds"] = time.perf_counter() - t0
        paths = draw(tmp / "data", tmp)
        record["files"] = sorted(str(p.relative_to(tmp)) for p in paths)
        record["total_seconds"] = time.perf_counter() - t0
        (tmp / "run.json").write_text(json.dumps(_jsonable(record), indent=2, sort_keys=True) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python experiments/learned_classifier.py",
        description="A learned classifier with balanced and imbalanced classes: compute, save, draw.",
    )
    parser.add_argument("--out", type=Path, help="output folder (compute, save data, draw)")
    parser.add_argument("--from", dest="source", type=Path, help="redraw from the saved data in this folder")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quick", action="store_true", help="tiny configuration (K = 3, one lambda)")
    args = parser.parse_args(argv)
    if args.source is None and args.out is None:
        parser.error("give --out DIR (compute and draw) or --from DIR (redraw)")
    try:
        if args.source is not None:
            if args.quick:
                parser.error("--quick applies to computing, not to --from")
            data_dir = Path(args.source) / "data"
            if not data_dir.is_dir():
                raise FileNotFoundError(f"--from {str(args.source)!r} has no data/ folder (make one with --out)")
            paths = draw(data_dir, args.out if args.out is not None else args.source)
            print(f"redrew {len(paths)} files from {data_dir}")
        else:
            record = run(args.out, args.quick, args.force)
            print(f"wrote {args.out} in {record['total_seconds']:.1f} s")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
