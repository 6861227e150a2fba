r"""Numerics shared by the figures: solves checked by :func:`ufm.check`, exact curves from
:func:`ufm.optimal_features` and :mod:`ufm.analytic`, and small geometric helpers.

Numeric optima come from :func:`ufm.minimize` (L-BFGS, the generic path, so that the figures check
the exact optimum against a solver that does not use its structure; ``tol=1e-10`` on the largest
per-sample gradient norm, float64) on problems with explicit mixing coefficients. Conventions as in
``docs/theory.md``: weight decay $\mu$ per feature, $\beta = s^2K/(K-1)$, $\gamma = \mu/\beta$
(Fisher, Meng & Papyan, ICLR 2024, Sec. 3).
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.special

import ufm

from ._settings import FigureSettings


@dataclasses.dataclass(frozen=True)
class Solved:
    """A numeric solve and its check against the exact optimum."""

    problem: ufm.MixupUFM
    solution: ufm.Solution
    report: ufm.Report

    @property
    def exact(self) -> np.ndarray:
        return np.asarray(self.report.exact)

    @property
    def max_rel_error(self) -> float:
        return self.report.comparison.max_rel_error

    def summary(self) -> dict:
        out = self.solution.summary()
        out.update(
            num_classes=self.problem.num_classes,
            weight_decay=self.problem.weight_decay,
            num_lambdas=self.problem.num_lambdas,
            max_rel_error=self.max_rel_error,
            check_ok=self.report.ok,
        )
        return out


def solve(problem: ufm.MixupUFM, tol: float, init=None) -> Solved:
    """L-BFGS from zero (or ``init``), then :func:`ufm.check` (keeping the exact optimum)."""
    solution = ufm.minimize(problem, method="lbfgs", tol=tol, init=init)
    return Solved(problem, solution, ufm.check(problem, solution, keep_exact=True))


@functools.lru_cache(maxsize=32)
def solve_lambdas(num_classes: int, weight_decay: float, lambdas: tuple[float, ...], tol: float) -> Solved:
    """Cached: figures 2-4 share their solves."""
    return solve(ufm.MixupUFM(num_classes, lambdas=np.array(lambdas), weight_decay=weight_decay), tol)


def exact_margins(num_classes: int, weight_decay: float, lambdas) -> tuple[np.ndarray, np.ndarray, float]:
    r"""$(u(\lambda), v(\lambda))$ and $t$ from :func:`ufm.analytic.exact_margins`."""
    lam = np.atleast_1d(np.asarray(lambdas, dtype=np.float64))
    t, u, v = ufm.analytic.exact_margins(ufm.MixupUFM(num_classes, lambdas=lam, weight_decay=weight_decay))
    return u, v, t


def exact(num_classes: int, weight_decay: float, lambdas) -> np.ndarray:
    """The exact optimum ``(K, K, M, d)``: :func:`ufm.optimal_features` of that problem."""
    problem = ufm.MixupUFM(num_classes, lambdas=np.atleast_1d(lambdas), weight_decay=weight_decay)
    return np.asarray(ufm.optimal_features(problem))


def classifier(num_classes: int) -> np.ndarray:
    return np.asarray(ufm.simplex_etf(num_classes), dtype=np.float64)


def pair_plane(w: np.ndarray, c: int, c2: int) -> np.ndarray:
    r"""Orthonormal basis ``(d, 2)`` of $\mathrm{span}\{w_c, w_{c'}\}$: first axis along
    $w_c - w_{c'}$ (the normal of the $c/c'$ boundary), second along $w_c + w_{c'}$."""
    diff = w[c] - w[c2]
    summ = w[c] + w[c2]
    return np.stack([diff / np.linalg.norm(diff), summ / np.linalg.norm(summ)], axis=1)


def boundary_rays(w_plane: np.ndarray) -> np.ndarray:
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


def softmax_logits(features: np.ndarray, w: np.ndarray) -> np.ndarray:
    return scipy.special.softmax(features @ w.T, axis=-1)


def margins(features: np.ndarray, w: np.ndarray, c: int, c2: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Logit margins $(z_c - \bar z_o,\ z_{c'} - \bar z_o)$ with $\bar z_o$ the mean logit of the
    other classes (all equal at the optimum)."""
    z = features @ w.T
    others = [k for k in range(w.shape[0]) if k not in (c, c2)]
    z_o = z[..., others].mean(axis=-1)
    return z[..., c] - z_o, z[..., c2] - z_o


def mse_solve(num_classes: int, weight_decay: float, lambdas: np.ndarray, tol: float) -> tuple[np.ndarray, dict]:
    r"""Numeric optimum of the MSE variant $\tfrac12\|Wh - y\|^2 + \tfrac{\mu}{2}\|h\|^2$ (summed over
    samples) by SciPy's L-BFGS-B with a jitted float64 gradient, from zero features."""
    w = jnp.asarray(classifier(num_classes))
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


def mse_exact(num_classes: int, weight_decay: float, lambdas: np.ndarray) -> np.ndarray:
    return np.asarray(
        ufm.analytic.mse_optimal_features(ufm.MixupUFM(num_classes, lambdas=lambdas, weight_decay=weight_decay))
    )


def max_rel(numeric: np.ndarray, exact: np.ndarray) -> float:
    """Largest elementwise relative error of ``numeric`` against ``exact`` (broadcast)."""
    numeric = np.asarray(numeric, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    scale = np.maximum(np.abs(exact), np.finfo(np.float64).tiny)
    return float((np.abs(numeric - exact) / scale).max())


def lambda_grids(s: FigureSettings, edges: bool = False) -> tuple[np.ndarray, np.ndarray]:
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


def margin_solves(s: FigureSettings) -> list[Solved]:
    _, lam_m = lambda_grids(s)
    return [solve_lambdas(s.margin_classes, float(mu), tuple(lam_m), s.tol) for mu in s.margin_decays]


# Figures 9 and 10: expectations over lambda ~ Beta(alpha, alpha) at the optimum.
SWEEP_QUANTITIES = (
    "objective",
    "confidence",
    "calibration_error",
    "pairwise_calibration_error",
    "feature_norm",
    "boundary_distance",
)


def sample_quantities(problem: ufm.MixupUFM, features: np.ndarray) -> dict[str, np.ndarray]:
    r"""Per mixing coefficient $\lambda_m$, the quantities of :class:`ufm.analytic.ExpectedOptimum`
    measured on ``features`` (``(K, K, M, d)``): the objective averaged over all $K^2$ ordered
    pairs, every other quantity over the $K(K-1)$ different-class pairs $(c, c')$, with $c$ the
    class weighted by $\lambda$. Returns arrays of shape ``(M,)``."""
    k = problem.num_classes
    w = np.asarray(problem.classifier, dtype=np.float64)
    h = np.asarray(features, dtype=np.float64)
    lam = problem.lambdas
    # The per-sample objective logsumexp(z) - lambda z_c - (1 - lambda) z_c2 + mu/2 ||h||^2 in NumPy
    # (ufm.per_sample_objective is the same formula; run eagerly, JAX would compile each operation).
    z_all = h @ w.T  # (K, K, M, K)
    idx = np.arange(k)
    z_first = z_all[idx[:, None], idx[None, :], :, idx[:, None]]  # (K, K, M): z_c of pair (c, c2)
    z_second = z_all[idx[:, None], idx[None, :], :, idx[None, :]]
    values = (scipy.special.logsumexp(z_all, axis=-1) - lam * z_first - (1.0 - lam) * z_second
              + 0.5 * problem.weight_decay * np.sum(h * h, axis=-1))
    first, second = np.nonzero(~np.eye(k, dtype=bool))
    hp = h[first, second]  # (K(K-1), M, d)
    z = hp @ w.T
    p = scipy.special.softmax(z, axis=-1)
    p_c = np.take_along_axis(p, first[:, None, None], -1)[..., 0]  # (K(K-1), M)
    p_c2 = np.take_along_axis(p, second[:, None, None], -1)[..., 0]
    z_c = np.take_along_axis(z, first[:, None, None], -1)[..., 0]
    z_c2 = np.take_along_axis(z, second[:, None, None], -1)[..., 0]
    return {
        "objective": values.mean(axis=(0, 1)),
        "confidence": p_c.mean(axis=0),
        "calibration_error": np.abs(p_c - lam).mean(axis=0),
        "pairwise_calibration_error": np.abs(p_c / (p_c + p_c2) - lam).mean(axis=0),
        "feature_norm": np.linalg.norm(hp, axis=-1).mean(axis=0),
        "boundary_distance": (np.abs(z_c - z_c2) / np.sqrt(2.0 * problem.beta)).mean(axis=0),
    }


@functools.lru_cache(maxsize=4)
def alpha_sweep(s: FigureSettings) -> tuple[dict, dict]:
    r"""Exact expectations versus $\alpha$ (:func:`ufm.analytic.expected_optimum`, with the limits
    $\alpha \to 0$ and $\alpha \to \infty$) and Monte-Carlo estimates from numeric solves on drawn
    $\lambda$, for every $(K, \mu)$ of ``s``. Cached: figures 9 and 10 share it.

    Returns ``(arrays, info)``; curves are indexed by ``c`` over the combinations in
    ``arrays["classes"]``, ``arrays["weight_decays"]``.
    """
    lo, hi = s.sweep_alpha_range
    alphas = np.geomspace(lo, hi, s.sweep_alpha_points)
    markers = np.array(s.sweep_markers, dtype=np.float64)
    combos = [(k, mu) for k in s.sweep_classes for mu in s.sweep_decays]
    exact = {q: [] for q in SWEEP_QUANTITIES}
    small = {q: [] for q in SWEEP_QUANTITIES}
    large = {q: [] for q in SWEEP_QUANTITIES}
    at_markers = {q: [] for q in SWEEP_QUANTITIES}
    mean = {q: [] for q in SWEEP_QUANTITIES}
    stderr = {q: [] for q in SWEEP_QUANTITIES}
    solves = []
    for k, mu in combos:
        curve = ufm.analytic.expected_optimum(k, np.concatenate([[0.0], alphas, markers, [np.inf]]), mu)
        for q in SWEEP_QUANTITIES:
            values = getattr(curve, q)
            small[q].append(values[0])
            exact[q].append(values[1 : 1 + alphas.size])
            at_markers[q].append(values[1 + alphas.size : -1])
            large[q].append(values[-1])
        rows = {q: ([], []) for q in SWEEP_QUANTITIES}
        for alpha in markers:
            # An independent draw for every marker (seed, seed + 1, ...), so their errors are independent.
            problem = ufm.MixupUFM(k, alpha=float(alpha), weight_decay=mu, num_lambdas=s.sweep_draws,
                                   seed=s.seed + len(solves))
            solved = solve(problem, s.tol)
            measured = sample_quantities(problem, np.asarray(solved.solution.features))
            for q in SWEEP_QUANTITIES:
                rows[q][0].append(measured[q].mean())
                rows[q][1].append(measured[q].std(ddof=1) / np.sqrt(measured[q].size))
            solves.append(solved.summary() | {"alpha": float(alpha)})
        for q in SWEEP_QUANTITIES:
            mean[q].append(rows[q][0])
            stderr[q].append(rows[q][1])
    arrays = {
        "alphas": alphas,
        "alphas_markers": markers,
        "classes": np.array([k for k, _ in combos], dtype=np.float64),
        "weight_decays": np.array([mu for _, mu in combos]),
    }
    for q in SWEEP_QUANTITIES:
        arrays[f"{q}_exact"] = np.stack(exact[q])  # (C, F)
        arrays[f"{q}_alpha_to_0"] = np.array(small[q])  # (C,)
        arrays[f"{q}_alpha_to_inf"] = np.array(large[q])
        arrays[f"{q}_exact_at_markers"] = np.stack(at_markers[q])  # (C, A)
        arrays[f"{q}_monte_carlo"] = np.stack(mean[q])  # (C, A)
        arrays[f"{q}_monte_carlo_stderr"] = np.stack(stderr[q])
    # How far the Monte-Carlo means are from the exact expectations, in standard errors.
    z_scores = {
        q: float(np.max(np.abs(arrays[f"{q}_monte_carlo"] - arrays[f"{q}_exact_at_markers"])
                        / arrays[f"{q}_monte_carlo_stderr"]))
        for q in SWEEP_QUANTITIES
    }
    info = {
        "lambda_distribution": "Beta(alpha, alpha); Monte-Carlo: numpy default_rng(seed + i) for the i-th marker",
        "draws_per_marker": s.sweep_draws,
        "averaging": "objective: all K^2 ordered pairs (full model); other quantities: different-class pairs, "
        "c the class weighted by lambda",
        "exact": "ufm.analytic.expected_optimum (composite Gauss quadrature over lambda); limits alpha -> 0 "
        "and alpha -> inf from docs/derivations.md Result 9.2",
        "error_bars": "Monte-Carlo mean +- 1.96 standard errors over the draws",
        "max_abs_z_score": z_scores,
        "solves": solves,
        "max_rel_error": max(x["max_rel_error"] for x in solves),
    }
    return arrays, info
