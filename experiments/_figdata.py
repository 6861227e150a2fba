r"""Compute the data behind each figure of the theory section and save it.

Every figure gets two files in the data folder: ``<stem>.npz`` (the arrays the figure draws: exact
curves on a fine grid and numeric optima at coarser marker positions) and ``<stem>.json`` (settings,
solver summaries, and the largest relative error of the numeric optimum against the exact one).
The drawing step (:mod:`experiments._figdraw`) reads nothing else.

Numeric optima come from :func:`ufm.minimize` (L-BFGS, ``tol=1e-10`` on the largest per-sample
gradient norm, float64) on problems with explicit mixing coefficients; exact curves from
:mod:`ufm.analytic`. Conventions as in ``docs/theory.md``: weight decay $\mu$ per feature,
$\beta = s^2K/(K-1)$, $\gamma = \mu/\beta$ (Fisher, Meng & Papyan, ICLR 2024, Sec. 3).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats

import ufm
from ufm import analytic

from ._figio import FIGURES

__all__ = ["FigureSettings", "quick_settings", "compute_figure"]



@dataclasses.dataclass(frozen=True)
class FigureSettings:
    r"""Every number the figures depend on (the defaults make the paper's figures).

    Attributes:
        fine_lambdas: points of the exact curves on $[0, 1]$.
        marker_lambdas: mixing coefficients solved numerically (markers), uniform on $[0, 1]$.
        edge_logits: extra markers at $\lambda = \sigma(\pm x)$ in figures 1 and 8, near 0 and 1
            where the optimum moves fastest.
        tol: solver tolerance on the largest per-sample gradient 2-norm.
        channel_decays: weight decays $\mu$ of the $K = 3$ channel panels (figure 1).
        mse_decay: $\mu$ of the MSE contrast (figures 1 and 4).
        margin_classes: $K$ of figures 2-4.
        margin_decays: the $\mu$ of figures 2-4.
        decay_classes: $K$ of figure 5.
        decay_markers: the $\mu$ solved numerically in figure 5.
        decay_lambdas: the different-class $\lambda$ of figure 5.
        mixup_decay: $\mu$ of figure 6 ($K = 3$).
        mixup_alphas: mixup's $\alpha$ values of figure 6.
        mixup_samples: $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ draws per $\alpha$.
        solver_classes, solver_decay, solver_lambdas, solver_steps: figure 7.
        leak_classes, leak_decay: figure 8.
        seed: seed of every random draw.
    """

    fine_lambdas: int = 401
    marker_lambdas: int = 21
    edge_logits: tuple[float, ...] = (3.0, 5.0, 7.0)
    tol: float = 1e-10
    channel_decays: tuple[float, ...] = (1.0, 1e-1, 1e-3)
    mse_decay: float = 1e-2
    margin_classes: int = 10
    margin_decays: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    decay_classes: int = 10
    decay_markers: tuple[float, ...] = tuple(float(10.0**e) for e in np.arange(-4.0, 2.01, 0.5))
    decay_lambdas: tuple[float, ...] = (0.5, 0.7, 0.9)
    mixup_decay: float = 1e-2
    mixup_alphas: tuple[float, ...] = (0.2, 1.0, 5.0)
    mixup_samples: int = 1000
    solver_classes: int = 10
    solver_decay: float = 1e-2
    solver_lambdas: int = 11
    solver_steps: tuple[tuple[str, int], ...] = (("gd", 3000), ("adam", 3000), ("lbfgs", 500), ("newton", 100))
    leak_classes: int = 10
    leak_decay: float = 1e-2
    seed: int = 0

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["solver_steps"] = dict(self.solver_steps)
        return out


def quick_settings() -> FigureSettings:
    """A tiny configuration (few $\\lambda$, small $K$) that runs every figure in seconds, for tests.

    Most solves share one problem shape (5 mixing coefficients) so compiled loops are reused.
    """
    return FigureSettings(
        fine_lambdas=41,
        marker_lambdas=5,
        edge_logits=(),
        channel_decays=(1e-1,),
        margin_classes=3,
        margin_decays=(1e-2, 1.0),
        decay_classes=3,
        decay_markers=(1e-2, 1.0),
        decay_lambdas=(0.5, 0.6, 0.7, 0.8, 0.9),
        mixup_alphas=(1.0,),
        mixup_samples=5,
        solver_classes=3,
        solver_lambdas=5,
        solver_steps=(("gd", 50), ("adam", 50), ("lbfgs", 50), ("newton", 20)),
        leak_classes=3,
    )


# ----------------------------------------------------------------------------------------------
# Shared numerics


@dataclasses.dataclass(frozen=True)
class _Solved:
    problem: ufm.MixupUFM
    solution: ufm.Solution
    exact: np.ndarray  # (K, K, M, d) float64
    max_rel_error: float

    def summary(self) -> dict:
        out = self.solution.summary()
        out.update(
            num_classes=self.problem.num_classes,
            weight_decay=self.problem.weight_decay,
            num_lambdas=self.problem.num_lambdas,
            max_rel_error=self.max_rel_error,
        )
        return out


def _solve(problem: ufm.MixupUFM, tol: float, init=None) -> _Solved:
    solution = ufm.minimize(problem, method="lbfgs", tol=tol, init=init)
    exact = _exact(problem.num_classes, problem.weight_decay, problem.lambdas)
    err = ufm.compare_features(solution.features, exact, problem.lambdas).max_rel_error
    return _Solved(problem, solution, exact, err)


@functools.lru_cache(maxsize=32)
def _solve_lambdas(num_classes: int, weight_decay: float, lambdas: tuple[float, ...], tol: float) -> _Solved:
    """Cached: figures 2-4 share their solves."""
    return _solve(ufm.MixupUFM(num_classes, lambdas=np.array(lambdas), weight_decay=weight_decay), tol)


@jax.jit
def _margins_kernel(num_classes, lambdas, gamma):
    u, v = analytic.pair_margins(num_classes, lambdas, gamma)
    return u, v, analytic.same_class_margin(num_classes, gamma)


def _exact_margins(num_classes: int, weight_decay: float, lambdas) -> tuple[np.ndarray, np.ndarray, float]:
    r"""$(u(\lambda), v(\lambda))$ and $t$ from :mod:`ufm.analytic`, in one compiled call.

    The analytic kernels run Newton loops whose compilation dominates their cost, so the class count
    and $\gamma$ are traced and $\lambda$ is padded to a few fixed lengths: every figure then reuses
    one or two compiled programs instead of compiling one per grid.
    """
    lam = np.atleast_1d(np.asarray(lambdas, dtype=np.float64))
    size = max(512, 1 << (lam.size - 1).bit_length())
    padded = np.full(size, 0.5)
    padded[: lam.size] = lam
    gamma = weight_decay / float(analytic.etf_beta(num_classes))
    u, v, t = _margins_kernel(np.float64(num_classes), padded, np.float64(gamma))
    return np.asarray(u)[: lam.size], np.asarray(v)[: lam.size], float(t)


def _exact(num_classes: int, weight_decay: float, lambdas) -> np.ndarray:
    r"""The exact optimum ``(K, K, M, d)``: $h = (t/\beta)w_c$ for $c = c'$ and
    $h = (u\,w_c + v\,w_{c'})/\beta$ otherwise (the layout of :func:`ufm.optimal_features`)."""
    k = num_classes
    w = _classifier(k)
    beta = float(analytic.etf_beta(k))
    u, v, t = _exact_margins(k, weight_decay, lambdas)
    same = np.eye(k, dtype=bool)[:, :, None]
    coef_c = np.where(same, t, u[None, None, :])
    coef_c2 = np.where(same, 0.0, v[None, None, :])
    return (np.einsum("ijm,id->ijmd", coef_c, w) + np.einsum("ijm,jd->ijmd", coef_c2, w)) / beta


def _classifier(num_classes: int) -> np.ndarray:
    return np.asarray(ufm.simplex_etf(num_classes), dtype=np.float64)


def _pair_plane(w: np.ndarray, c: int, c2: int) -> np.ndarray:
    r"""Orthonormal basis ``(d, 2)`` of $\mathrm{span}\{w_c, w_{c'}\}$: first axis along
    $w_c - w_{c'}$ (the normal of the $c/c'$ boundary), second along $w_c + w_{c'}$."""
    diff = w[c] - w[c2]
    summ = w[c] + w[c2]
    return np.stack([diff / np.linalg.norm(diff), summ / np.linalg.norm(summ)], axis=1)


def _boundary_rays(w_plane: np.ndarray) -> np.ndarray:
    r"""Unit directions ``(R, 2)`` of the decision boundaries inside a plane through the origin.

    ``w_plane`` is ``(C, 2)``: the distinct classifier rows projected on the plane. For features in
    the plane the logits are $z = W_\text{plane}\,x$; the boundary of classes $a$ and $b$ is the
    ray $\{x : z_a = z_b \ge z_k\ \forall k\}$, kept when it is nonempty.
    """
    rays = []
    n = w_plane.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            normal = w_plane[a] - w_plane[b]
            direction = np.array([-normal[1], normal[0]]) / np.linalg.norm(normal)
            for sign in (1.0, -1.0):
                z = w_plane @ (sign * direction)
                if z[a] >= z.max() - 1e-12:
                    rays.append(sign * direction)
    return np.array(rays)


def _softmax_logits(features: np.ndarray, w: np.ndarray) -> np.ndarray:
    return scipy.special.softmax(features @ w.T, axis=-1)


def _margins(features: np.ndarray, w: np.ndarray, c: int, c2: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Logit margins $(z_c - \bar z_o,\ z_{c'} - \bar z_o)$ with $\bar z_o$ the mean logit of the
    other classes (all equal at the optimum)."""
    z = features @ w.T
    others = [k for k in range(w.shape[0]) if k not in (c, c2)]
    z_o = z[..., others].mean(axis=-1)
    return z[..., c] - z_o, z[..., c2] - z_o


def _mse_solve(num_classes: int, weight_decay: float, lambdas: np.ndarray, tol: float) -> tuple[np.ndarray, dict]:
    r"""Numeric optimum of the MSE variant $\tfrac12\|Wh - y\|^2 + \tfrac{\mu}{2}\|h\|^2$ (summed over
    samples) by SciPy's L-BFGS-B with a jitted float64 gradient, from zero features."""
    w = jnp.asarray(_classifier(num_classes))
    k = num_classes
    eye = jnp.eye(k)
    lam = jnp.asarray(lambdas)
    targets = lam[None, None, :, None] * eye[:, None, None, :] + (1 - lam)[None, None, :, None] * eye[None, :, None, :]
    shape = (k, k, lam.size, w.shape[1])

    @jax.jit
    def value_and_grad(x):
        def f(x):
            h = x.reshape(shape)
            r = h @ w.T - targets
            return 0.5 * jnp.sum(r * r) + 0.5 * weight_decay * jnp.sum(h * h)

        return jax.value_and_grad(f)(x)

    def fun(x):
        v, g = value_and_grad(jnp.asarray(x))
        return float(v), np.asarray(g, dtype=np.float64)

    t0 = time.perf_counter()
    res = scipy.optimize.minimize(
        fun, np.zeros(int(np.prod(shape))), jac=True, method="L-BFGS-B",
        options={"gtol": tol, "ftol": 0.0, "maxiter": 1000},
    )
    seconds = time.perf_counter() - t0
    h = res.x.reshape(shape)
    grad = np.asarray(value_and_grad(jnp.asarray(res.x))[1]).reshape(shape)
    info = {
        "method": "scipy L-BFGS-B",
        "num_steps": int(res.nit),
        "grad_norm": float(np.sqrt((grad**2).sum(-1)).max()),
        "seconds": seconds,
        "message": str(res.message),
    }
    return h, info


def _mse_exact(num_classes: int, weight_decay: float, lambdas: np.ndarray) -> np.ndarray:
    return np.asarray(
        analytic.mse_optimal_features(ufm.MixupUFM(num_classes, lambdas=lambdas, weight_decay=weight_decay))
    )


def _max_rel(numeric: np.ndarray, exact: np.ndarray) -> float:
    """Largest elementwise relative error of ``numeric`` against ``exact`` (broadcast)."""
    numeric = np.asarray(numeric, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    scale = np.maximum(np.abs(exact), np.finfo(np.float64).tiny)
    return float((np.abs(numeric - exact) / scale).max())


def _lambda_grids(s: FigureSettings, edges: bool = False) -> tuple[np.ndarray, np.ndarray]:
    r"""Fine grid of the exact curves and the marker coefficients.

    The fine grid is a uniform grid joined with one uniform in $\operatorname{logit}\lambda$ on
    $[-30, 30]$: at weak decay the optimum moves most for $\lambda$ within $\sim\gamma$ of 0 and 1
    ($u - v \approx \log(\lambda/(1-\lambda))$), which a uniform grid does not resolve. With ``edges``,
    markers at $\lambda = \sigma(\pm x)$ for $x$ in ``s.edge_logits`` are added to the uniform ones.
    """
    logit_grid = scipy.special.expit(np.linspace(-30.0, 30.0, s.fine_lambdas))
    fine = np.unique(np.concatenate([np.linspace(0.0, 1.0, s.fine_lambdas), logit_grid]))
    markers = np.linspace(0.0, 1.0, s.marker_lambdas)
    if edges and s.edge_logits:
        x = np.array(s.edge_logits, dtype=np.float64)
        markers = np.unique(np.concatenate([markers, scipy.special.expit(x), scipy.special.expit(-x)]))
    return fine, markers


# ----------------------------------------------------------------------------------------------
# Figures. Each returns (arrays, info); info["max_rel_error"] is the figure's headline check.


def _fig1_channels(s: FigureSettings):
    k = 3
    lam_f, lam_m = _lambda_grids(s, edges=True)
    w = _classifier(k)
    # Orthonormal basis of the class plane: first axis along w_0.
    basis, _ = np.linalg.qr(w[:2].T)
    basis *= np.sign(basis[:, 0] @ w[0])
    w_plane = w @ basis
    curves, marks, solves, outside = [], [], [], []
    for mu in s.channel_decays:
        solved = _solve(ufm.MixupUFM(k, lambdas=lam_m, weight_decay=mu), s.tol)
        h = np.asarray(solved.solution.features)
        curves.append(_exact(k, mu, lam_f) @ basis)
        marks.append(h @ basis)
        outside.append(float(np.linalg.norm(h - (h @ basis) @ basis.T, axis=-1).max()))
        solves.append(solved.summary())
    mse_num, mse_info = _mse_solve(k, s.mse_decay, lam_m, s.tol)
    mse_exact_m = _mse_exact(k, s.mse_decay, lam_m)
    mse_err = ufm.compare_features(mse_num, mse_exact_m, lam_m).max_rel_error
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.channel_decays),
        "classifier_plane": w_plane,
        "boundary_rays": _boundary_rays(w_plane),
        "exact_plane": np.stack(curves),  # (D, K, K, F, 2)
        "numeric_plane": np.stack(marks),  # (D, K, K, M, 2)
        "mse_exact_plane": _mse_exact(k, s.mse_decay, lam_f) @ basis,
        "mse_numeric_plane": mse_num @ basis,
    }
    info = {
        "num_classes": k,
        "dim": k,
        "mse_weight_decay": s.mse_decay,
        "solves": solves,
        "mse_solve": mse_info | {"max_rel_error": mse_err},
        "max_norm_outside_class_plane": max(outside),
        "max_rel_error": max([x["max_rel_error"] for x in solves] + [mse_err]),
    }
    return arrays, info


def _margin_solves(s: FigureSettings) -> list[_Solved]:
    _, lam_m = _lambda_grids(s)
    return [_solve_lambdas(s.margin_classes, float(mu), tuple(lam_m), s.tol) for mu in s.margin_decays]


def _fig2_margins(s: FigureSettings):
    k = s.margin_classes
    lam_f, lam_m = _lambda_grids(s)
    w = _classifier(k)
    u_f, v_f, t, u_n, v_n, t_n = [], [], [], [], [], []
    margin_err = 0.0
    solves = []
    for solved, mu in zip(_margin_solves(s), s.margin_decays, strict=True):
        u, v, t_exact = _exact_margins(k, mu, lam_f)
        u_f.append(u)
        v_f.append(v)
        t.append(t_exact)
        h = np.asarray(solved.solution.features)
        un, vn = _margins(h[0, 1], w, 0, 1)
        u_n.append(un)
        v_n.append(vn)
        z_same = h[0, 0] @ w.T
        t_n.append(z_same[:, 0] - z_same[:, 1:].mean(axis=-1))
        # Every ordered pair's margins against the exact ones at the marker lambdas, relative to t
        # (u vanishes at lambda = 0, so an elementwise relative error would be meaningless there).
        ue, ve, _ = _exact_margins(k, mu, lam_m)
        for c in range(k):
            for c2 in range(k):
                if c != c2:
                    a, b = _margins(h[c, c2], w, c, c2)
                    err = max(np.abs(a - ue).max(), np.abs(b - ve).max())
                else:
                    z = h[c, c] @ w.T
                    err = np.abs(z[:, c] - np.delete(z, c, -1).mean(-1) - t_exact).max()
                margin_err = max(margin_err, float(err) / t_exact)
        solves.append(solved.summary())
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.margin_decays),
        "u_exact": np.stack(u_f),
        "v_exact": np.stack(v_f),
        "t_exact": np.array(t),
        "u_numeric": np.stack(u_n),
        "v_numeric": np.stack(v_n),
        "t_numeric": np.stack(t_n),
    }
    info = {
        "num_classes": k,
        "pair_plotted": [0, 1],
        "solves": solves,
        "max_error_margins_relative_to_t": margin_err,
        "max_rel_error": max([x["max_rel_error"] for x in solves] + [margin_err]),
    }
    return arrays, info


def _fig3_boundary(s: FigureSettings):
    k = s.margin_classes
    lam_f, lam_m = _lambda_grids(s)
    w = _classifier(k)
    dist_f, along_f, dist_n, along_n, solves = [], [], [], [], []
    for solved, mu in zip(_margin_solves(s), s.margin_decays, strict=True):
        d, a = ufm.boundary_coordinates(_exact(k, mu, lam_f)[0, 1], w[0], w[1])
        dist_f.append(d)
        along_f.append(a)
        d, a = ufm.boundary_coordinates(np.asarray(solved.solution.features)[0, 1], w[0], w[1])
        dist_n.append(d)
        along_n.append(a)
        solves.append(solved.summary())
    dist_f = np.stack(dist_f)
    half = int(np.argmin(np.abs(lam_f - 0.5)))
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "weight_decays": np.array(s.margin_decays),
        "distance_exact": dist_f,
        "along_exact": np.stack(along_f),
        "distance_numeric": np.stack(dist_n),
        "along_numeric": np.stack(along_n),
    }
    others = np.delete(np.abs(dist_f), half, axis=1)
    info = {
        "num_classes": k,
        "pair_plotted": [0, 1],
        "solves": solves,
        "exact_distance_at_half": float(np.abs(dist_f[:, half]).max()),
        "min_exact_abs_distance_away_from_half": float(others.min()),
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def _fig4_calibration(s: FigureSettings):
    k = s.margin_classes
    lam_f, lam_m = _lambda_grids(s)
    w = _classifier(k)
    pc_f, ratio_f, pc_n, ratio_n, solves = [], [], [], [], []
    err = 0.0

    def conf(h):
        p = _softmax_logits(h, w)
        return p[..., 0], p[..., 0] / (p[..., 0] + p[..., 1])

    for solved, mu in zip(_margin_solves(s), s.margin_decays, strict=True):
        a, b = conf(_exact(k, mu, lam_f)[0, 1])
        pc_f.append(a)
        ratio_f.append(b)
        a, b = conf(np.asarray(solved.solution.features)[0, 1])
        pc_n.append(a)
        ratio_n.append(b)
        ea, eb = conf(solved.exact[0, 1])
        err = max(err, _max_rel(a, ea), _max_rel(b, eb))
        solves.append(solved.summary())
    # MSE markers between the CE markers, so that neither hides the other where the curves meet.
    lam_mid = 0.5 * (lam_m[:-1] + lam_m[1:])
    mse_num, mse_info = _mse_solve(k, s.mse_decay, lam_mid, s.tol)
    mse_err = ufm.compare_features(mse_num, _mse_exact(k, s.mse_decay, lam_mid), lam_mid).max_rel_error
    mse_pc_f, mse_ratio_f = conf(_mse_exact(k, s.mse_decay, lam_f)[0, 1])
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


def _fig5_weight_decay(s: FigureSettings):
    k = s.decay_classes
    w = _classifier(k)
    beta = float(analytic.etf_beta(k))
    scale = 1.0
    lam = np.array(s.decay_lambdas)
    lo, hi = np.log10(min(s.decay_markers)), np.log10(max(s.decay_markers))
    mu_f = np.logspace(lo, hi, 241)
    gamma_f = mu_f / beta
    t_f = np.empty(mu_f.size)

    def convex(mu):
        # (lambda w_c + (1 - lambda) w_c2) / (mu + beta/K), the strong-decay limit; (L, d)
        return (lam[:, None] * w[0] + (1 - lam[:, None]) * w[1]) / (mu + beta / k)

    def rel_to_convex(h, mu):  # h: (L, d)
        ref = convex(mu)
        return np.linalg.norm(h - ref, axis=-1) / np.linalg.norm(ref, axis=-1)

    rel_f = np.empty((lam.size, mu_f.size))
    for j, mu in enumerate(mu_f):
        h = _exact(k, mu, lam)
        rel_f[:, j] = rel_to_convex(h[0, 1], mu)
        t_f[j] = _exact_margins(k, mu, lam)[2]
    norm_n, rel_n, solves = [], [], []
    for mu in s.decay_markers:
        solved = _solve(ufm.MixupUFM(k, lambdas=lam, weight_decay=mu), s.tol)
        h = np.asarray(solved.solution.features)
        norm_n.append(np.linalg.norm(h[0, 0], axis=-1).mean())
        rel_n.append(rel_to_convex(h[0, 1], mu))
        solves.append(solved.summary())
    norm_n = np.array(norm_n)
    t_m = np.array([_exact_margins(k, mu, lam)[2] for mu in s.decay_markers])
    arrays = {
        "weight_decays_fine": mu_f,
        "weight_decays_markers": np.array(s.decay_markers),
        "lambdas": lam,
        "same_norm_exact": scale * t_f / beta,
        "same_norm_weak_limit": scale * np.real(scipy.special.lambertw(k / gamma_f)) / beta,
        "same_norm_strong_limit": scale / (mu_f + beta / k),
        "same_norm_numeric": norm_n,
        "convex_rel_distance_exact": rel_f,  # (L, F)
        "convex_rel_distance_numeric": np.stack(rel_n, axis=1),  # (L, D)
    }
    info = {
        "num_classes": k,
        "beta": beta,
        "same_class_norm": "||h|| = s t / beta, t(e^t + K - 1) = K/gamma",
        "weak_decay_limit": "s W0(K/gamma) / beta",
        "strong_decay_limit": "s / (mu + beta/K); different class: (mu + beta/K) h -> lambda w_c + (1 - lambda) w_c2",
        "solves": solves,
        "max_rel_error_same_norm": _max_rel(norm_n, scale * t_m / beta),
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def _fig6_mixup_alpha(s: FigureSettings):
    k = 3
    w = _classifier(k)
    mu = s.mixup_decay
    # Exact curve on a grid clustered at lambda = 0 and 1, where Beta(alpha, alpha) densities peak.
    tau = np.linspace(0.0, 1.0, 10 * s.fine_lambdas + 1)
    lam_f = 0.5 - 0.5 * np.cos(np.pi * tau)
    dist_f, along_f = ufm.boundary_coordinates(_exact(k, mu, lam_f)[0, 1], w[0], w[1])
    slope = np.gradient(dist_f, lam_f)
    inner = slice(1, -1)  # the Beta density is infinite at the end points for alpha < 1
    lambdas, dist_n, along_n, density, solves = [], [], [], [], []
    for alpha in s.mixup_alphas:
        problem = ufm.MixupUFM(k, alpha=alpha, num_lambdas=s.mixup_samples, seed=s.seed, weight_decay=mu)
        solved = _solve(problem, s.tol)
        h = np.asarray(solved.solution.features)
        lambdas.append(problem.lambdas)
        # Every ordered different-class pair, in its own boundary coordinates (positive: class c side).
        d_all, a_all = [], []
        for c in range(k):
            for c2 in range(k):
                if c != c2:
                    d, a = ufm.boundary_coordinates(h[c, c2], w[c], w[c2])
                    d_all.append(d)
                    a_all.append(a)
        dist_n.append(np.stack(d_all))
        along_n.append(np.stack(a_all))
        # Density of the signed distance: change of variables through the monotone lambda -> distance.
        density.append(scipy.stats.beta.pdf(lam_f[inner], alpha, alpha) / slope[inner])
        solves.append(solved.summary())
    half = int(np.argmin(np.abs(lam_f - 0.5)))
    arrays = {
        "alphas": np.array(s.mixup_alphas),
        "lambdas_fine": lam_f,
        "distance_exact": dist_f,
        "along_exact": along_f,
        "distance_density_grid": dist_f[inner],
        "distance_density_exact": np.stack(density),  # (A, F-2)
        "density_at_boundary": np.array([scipy.stats.beta.pdf(0.5, a, a) / slope[half] for a in s.mixup_alphas]),
        "lambdas_sampled": np.stack(lambdas),  # (A, M)
        "distance_numeric": np.stack(dist_n),  # (A, K(K-1), M)
        "along_numeric": np.stack(along_n),
    }
    info = {
        "num_classes": k,
        "weight_decay": mu,
        "samples_per_alpha": s.mixup_samples,
        "lambda_distribution": "Beta(alpha, alpha), numpy default_rng(seed)",
        "distance_monotone_in_lambda": bool(np.all(np.diff(dist_f) > 0)),
        "solves": solves,
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info


def _fig7_solvers(s: FigureSettings):
    k = s.solver_classes
    lam = np.linspace(0.0, 1.0, s.solver_lambdas)
    problem = ufm.MixupUFM(k, lambdas=lam, weight_decay=s.solver_decay)
    exact = jnp.asarray(_exact(k, s.solver_decay, lam))
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
        final = ufm.compare_features(sol.features, exact, lam).max_rel_error
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


def _fig8_higher_k(s: FigureSettings):
    k = s.leak_classes
    c, c2 = 0, 1
    w = _classifier(k)
    mu = s.leak_decay
    lam_f, lam_m = _lambda_grids(s, edges=True)
    problem = ufm.MixupUFM(k, lambdas=lam_m, weight_decay=mu)
    init = np.random.default_rng(s.seed).normal(size=problem.feature_shape) / np.sqrt(problem.dim)
    solved = _solve(problem, s.tol, init=init)
    h = np.asarray(solved.solution.features)
    basis = _pair_plane(w, c, c2)
    # In the plane every other class has the same projection, -(w_c + w_c2)/(K - 2).
    w_plane = np.stack([w[c] @ basis, w[c2] @ basis, w[2] @ basis])

    def outside(x):  # norm of the component of each sample outside its own pair's plane
        out = np.zeros(x.shape[:3])
        for a in range(k):
            for b in range(k):
                if a != b:
                    p = _pair_plane(w, a, b)
                    out[a, b] = np.linalg.norm(x[a, b] - (x[a, b] @ p) @ p.T, axis=-1)
        return out

    mask = ~np.eye(k, dtype=bool)
    exact_f = _exact(k, mu, lam_f)
    arrays = {
        "lambdas_fine": lam_f,
        "lambdas_markers": lam_m,
        "classifier_plane": w_plane,  # rows: w_c, w_c2, any other class (projected)
        "boundary_rays": _boundary_rays(w_plane),
        "exact_plane": exact_f[c, c2] @ basis,  # (F, 2)
        "same_class_plane": np.stack([exact_f[c, c, 0] @ basis, exact_f[c2, c2, 0] @ basis]),
        "numeric_plane": h[c, c2] @ basis,  # (M, 2)
        "outside_init": outside(init)[mask].reshape(k * (k - 1), -1),
        "outside_numeric": outside(h)[mask].reshape(k * (k - 1), -1),
    }
    info = {
        "num_classes": k,
        "weight_decay": mu,
        "pair_plotted": [c, c2],
        "init": "standard normal / sqrt(d) in every coordinate, seed " + str(s.seed),
        "solve": solved.summary(),
        "error_bound": solved.solution.grad_norm / mu,
        "error_bound_why": (
            "strong convexity: ||h - h*|| <= (per-sample gradient norm) / mu, and h* is in the pair plane"
        ),
        "max_outside_numeric": float(arrays["outside_numeric"].max()),
        "max_rel_error": solved.max_rel_error,
    }
    return arrays, info


_COMPUTE: dict[int, Callable[[FigureSettings], tuple[dict, dict]]] = {
    1: _fig1_channels,
    2: _fig2_margins,
    3: _fig3_boundary,
    4: _fig4_calibration,
    5: _fig5_weight_decay,
    6: _fig6_mixup_alpha,
    7: _fig7_solvers,
    8: _fig8_higher_k,
}


def compute_figure(number: int, settings: FigureSettings) -> tuple[dict[str, np.ndarray], dict]:
    """Solve what figure ``number`` needs; return its arrays and a JSON-ready info dict."""
    t0 = time.perf_counter()
    arrays, info = _COMPUTE[number](settings)
    info = {
        "figure": number,
        "name": FIGURES[number],
        **info,
        "settings": settings.to_dict(),
        "compute_seconds": time.perf_counter() - t0,
        "ufm_version": ufm.__version__,
        "jax_version": jax.__version__,
        "dtype": "float64",
        "exact_reference": "ufm.analytic.pair_margins and same_class_margin, assembled as ufm.optimal_features",
        "numeric_solver": "ufm.minimize(method='lbfgs', tol) unless stated otherwise",
    }
    return {name: np.asarray(a, dtype=np.float64) for name, a in arrays.items()}, info
