"""Figure 7: the solvers: distance to the exact optimum per iteration and per second.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    import jax.numpy as jnp

    import ufm

    from . import _numeric as num

    k = s.solver_classes
    lam = np.linspace(0.0, 1.0, s.solver_lambdas)
    problem = ufm.MixupUFM(k, lambdas=lam, weight_decay=s.solver_decay)
    exact = jnp.asarray(num.exact(k, s.solver_decay, lam))
    exact_norm = jnp.linalg.norm(exact, axis=-1)

    def max_rel_distance(h):
        return jnp.max(jnp.linalg.norm(h - exact, axis=-1) / exact_norm)

    steps = dict(s.solver_steps)
    methods = [m for m in ("gd", "adam", "lbfgs", "newton") if m in ufm.METHODS]
    arrays = {"lambdas": lam}
    runs = {}
    for method in methods:
        sol = ufm.minimize(problem, method=method, tol=s.tol, max_steps=steps[method], record=max_rel_distance)
        history = np.asarray(sol.history, dtype=np.float64)
        arrays[f"history_{method}"] = history
        arrays[f"seconds_{method}"] = np.arange(history.size) * sol.solve_seconds / max(sol.num_steps, 1)
        final = ufm.check(problem, sol).comparison.max_rel_error
        runs[method] = sol.summary() | {"max_rel_error": final, "max_steps": steps[method]}
    beta = problem.beta
    smooth = 0.5 * beta + problem.weight_decay  # per-sample smoothness bound L
    info = {
        "num_classes": k,
        "weight_decay": s.solver_decay,
        "methods": methods,
        "runs": runs,
        "gd_contraction": 1.0 - problem.weight_decay / smooth,
        "gd_learning_rate": 1.0 / smooth,
        "time_axis": "step index x solve_seconds / num_steps (uniform cost per step)",
        "max_rel_error": runs["lbfgs"]["max_rel_error"],
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.5, 1, 2)
    names = {"gd": "gradient descent", "adam": "Adam", "lbfgs": "L-BFGS", "newton": "Newton"}
    colors = dict(zip(("gd", "adam", "lbfgs", "newton"), dr.style.color_cycle(4)))
    for method in info["methods"]:
        hist = a[f"history_{method}"]
        secs = a[f"seconds_{method}"]
        steps = np.arange(hist.size)
        label = f"{names[method]} ({info['runs'][method]['num_steps']} steps)"
        axes[0].loglog(steps[1:], hist[1:], color=colors[method], lw=dr.EXACT_LW, label=label)
        axes[1].loglog(secs[1:], hist[1:], color=colors[method], lw=dr.EXACT_LW, label=label)
    gd = a.get("history_gd")
    if gd is not None:
        longest = max(a[f"history_{m}"].size for m in info["methods"])
        k = np.arange(1, longest)
        bound = info["gd_contraction"] ** k
        keep = bound > 1e-12
        axes[0].loglog(k[keep], bound[keep], color=colors["gd"], lw=0.8, ls=(0, (3, 2)),
                       label=r"GD bound $(1 - \mu/L)^k$")
    for ax in axes:
        ax.set_ylabel(r"$\max_i \|h_i - h_i^\star\| / \|h_i^\star\|$")
        ax.set_ylim(1e-12, 3)
    axes[0].set_xlabel("iteration")
    axes[1].set_xlabel("wall time (s), uniform cost per step")
    # Below the panels: inside either one the legend would cover a curve.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=6.5)
    axes[0].set_title(rf"(a) per iteration ($K = {info['num_classes']}$, {dr.mu_label(info['weight_decay'])})")
    axes[1].set_title("(b) per second (compilation excluded)")
    return fig
