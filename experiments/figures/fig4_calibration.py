"""Figure 4: calibration: confidence p_c and the pairwise ratio against lambda, cross-entropy vs MSE.

``compute`` solves and returns the arrays and info that are saved; ``draw`` makes the figure from
them alone (it imports neither JAX nor ``ufm``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from . import _drawing as dr
from ._settings import FigureSettings

__all__ = ["compute", "draw"]


def compute(s: FigureSettings) -> tuple[dict, dict]:
    import ufm

    from . import _numeric as num

    k = s.margin_classes
    lam_f, lam_m = num.lambda_grids(s)
    w = num.classifier(k)
    pc_f, ratio_f, pc_n, ratio_n, solves = [], [], [], [], []
    err = 0.0

    def conf(h):
        p = num.softmax_logits(h, w)
        return p[..., 0], p[..., 0] / (p[..., 0] + p[..., 1])

    for solved, mu in zip(num.margin_solves(s), s.margin_decays, strict=True):
        a, b = conf(num.exact(k, mu, lam_f)[0, 1])
        pc_f.append(a)
        ratio_f.append(b)
        a, b = conf(np.asarray(solved.solution.features)[0, 1])
        pc_n.append(a)
        ratio_n.append(b)
        ea, eb = conf(solved.exact[0, 1])
        err = max(err, num.max_rel(a, ea), num.max_rel(b, eb))
        solves.append(solved.summary())
    # MSE markers between the CE markers, so that neither hides the other where the curves meet.
    lam_mid = 0.5 * (lam_m[:-1] + lam_m[1:])
    mse_num, mse_info = num.mse_solve(k, s.mse_decay, lam_mid, s.tol)
    mse_err = ufm.compare_features(mse_num, num.mse_exact(k, s.mse_decay, lam_mid), lam_mid).max_rel_error
    mse_pc_f, mse_ratio_f = conf(num.mse_exact(k, s.mse_decay, lam_f)[0, 1])
    mse_pc_n, mse_ratio_n = conf(mse_num[0, 1])
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.margin_decays),
        "confidence_exact": np.stack(pc_f),
        "ratio_exact": np.stack(ratio_f),
        "confidence_numeric": np.stack(pc_n),
        "ratio_numeric": np.stack(ratio_n),
        "mse_confidence_exact": mse_pc_f,
        "mse_ratio_exact": mse_ratio_f,
        "mse_lambdas_markers": lam_mid,
        "mse_confidence_numeric": mse_pc_n,
        "mse_ratio_numeric": mse_ratio_n,
    }
    info = {
        "num_classes": k,
        "pair_plotted": [0, 1],
        "mse_weight_decay": s.mse_decay,
        "probabilities": "softmax(W h) for both losses",
        "solves": solves,
        "mse_solve": mse_info | {"max_rel_error": mse_err},
        "max_rel_error_probabilities": err,
        "max_rel_error": max([x["max_rel_error"] for x in solves] + [mse_err, err]),
    }
    return arrays, info


def draw(a: dict, info: dict):
    fig, axes = dr.style.figure(dr.style.TWO_COLUMN, 2.5, 1, 2)
    mus = a["weight_decays"]
    colors = dr.style.color_cycle(mus.size)
    lam_f, lam_m = a["lambdas_fine"], a["lambdas_markers"]
    for ax, name in zip(axes, ("confidence", "ratio")):
        ax.plot([0, 1], [0, 1], color="k", lw=0.7, ls=(0, (1, 1.5)), label=r"calibrated ($=\lambda$)", zorder=4)
        for i, (mu, col) in enumerate(zip(mus, colors)):
            ax.plot(lam_f, a[f"{name}_exact"][i], color=col, lw=dr.EXACT_LW, label=f"CE, {dr.mu_label(mu)}")
            ax.plot(lam_m, a[f"{name}_numeric"][i], marker="o", color=col, markeredgecolor=dr.NUMERIC_EDGE, **dr.MARK)
        ax.plot(lam_f, a[f"mse_{name}_exact"], color="k", lw=0.9, ls=(0, (5, 2, 1, 2)),
                label=f"MSE, {dr.mu_label(info['mse_weight_decay'])}")
        ax.plot(a["mse_lambdas_markers"], a[f"mse_{name}_numeric"], marker="D", color="k", markerfacecolor="white",
                **(dr.MARK | {"markersize": 3.0}))
        ax.set_xlabel(r"mixing coefficient $\lambda$")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal", adjustable="box")
    axes[0].set_ylabel(r"confidence $p_c$")
    axes[1].set_ylabel(r"pairwise ratio $p_c / (p_c + p_{c'})$")
    axes[0].set_title(rf"(a) confidence in class $c$ ($K = {info['num_classes']}$)")
    axes[1].set_title(r"(b) confidence between the two mixed classes")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="o", color="0.5", markeredgecolor=dr.NUMERIC_EDGE, **dr.MARK))
    labels.append("numeric optimum")
    fig.legend(handles, labels, loc="outside right center", fontsize=6.5)
    return fig
