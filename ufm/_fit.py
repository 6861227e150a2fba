r"""The mixup UFM that best explains given features: a weight decay fitted in logit space.

For a classifier $W$ with mean squared row norm $\bar s^2$ set $\beta = \bar s^2K/(K-1)$ (for a
simplex ETF the nonzero eigenvalue of $WW^\top$). At relative decay $\gamma = \mu/\beta$ the UFM's
exact optimum of a sample $(a, b, \lambda)$ is $h^\star = (u\,w_a + v\,w_b)/\beta$ ($a \ne b$) or
$(t/\beta)\,w_a$ ($a = b$), with the margins of :mod:`ufm.analytic`, and its logits are
$z^\star = Wh^\star$. The fit minimises over $\gamma$
$$R(\gamma) = \sum_i \|z_i - z_i^\star(\gamma)\|^2,$$
both logits centred ($z - \bar z\mathbf 1$, softmax-invariant), with $z_i = Wh_i$.

The margins depend on a sample only through $\lambda$ and whether $a = b$, so $R$ is a quadratic
form in the margins of the distinct $\lambda$ values, with coefficients summed once over the
samples. Its derivative in $\log\gamma$ follows from the implicit function theorem applied to the
optimality equations (below), and the fit is a bracketed root of that derivative: a grid in
$\log\gamma$ locates the best cell, Brent's method solves inside it. With many distinct $\lambda$
the search runs on an evenly spaced subset of them, and Gauss-Newton steps on all of them finish
it. The residual is then recomputed sample by sample (no cancellation) at the fitted $\gamma$.
"""

from __future__ import annotations

import dataclasses
import math
from typing import no_type_check

import numpy as np
from jaxtyping import Float, Int

from . import analytic
from ._blocks import row_blocks, times_transpose
from ._samples import as_classes, as_classifier, as_lambdas, check_samples
from ._validation import check_positive_real

__all__ = ["WeightDecayFit", "fit_weight_decay", "exact_optimum", "GAMMA_RANGE"]

# Search range of gamma = mu / beta: the exact margins are accurate to ~1e-15 over 5e-11..2e6
# (docs/robustness.md); logit margins at 1e-10 are ~25, far beyond trained networks'.
GAMMA_RANGE = (1e-10, 1e5)
_GRID_POINTS = 31  # every half decade
_SEARCH_LAMBDAS = 1024  # distinct lambdas used by the grid search and Brent's method
_MIN_BUCKET = 64
RESIDUAL_BINS = 10
_CACHED_LOGITS = 1 << 25  # numbers (256 MB) of centred logits kept between the two passes


@dataclasses.dataclass(frozen=True, eq=False)
class WeightDecayFit:
    r"""The mixup UFM weight decay that best explains a set of features, and how well it does.

    Attributes:
        weight_decay: the fitted $\hat\mu$ (per feature: the objective is the mean over samples of
            loss $+\,\tfrac{\mu}{2}\|h\|^2$).
        gamma: $\hat\gamma = \hat\mu/\beta$.
        beta: $\beta = \bar s^2K/(K-1)$.
        classifier_scale: $\bar s = (\frac1K\sum_k\|w_k\|^2)^{1/2}$.
        rel_residual: $\bigl(\sum_i\|z_i - z_i^\star\|^2/\sum_i\|z_i\|^2\bigr)^{1/2}$, centred logits.
        rel_residual_same: the same over same-class samples (NaN if none).
        rel_residual_different: the same over different-class samples (NaN if none).
        residual_edges: ``(B + 1,)`` edges of the $\lambda$ bins.
        rel_residual_by_lambda: ``(B,)`` the relative residual of the different-class samples in
            each $\lambda$ bin (NaN for an empty bin).
        worst_index: the sample with the largest $\|z_i - z_i^\star\|$.
        worst_error: that $\|z_i - z_i^\star\|$.
        worst_optimum_norm: its $\|z_i^\star\|$.
        worst_class_a, worst_class_b, worst_lambda: that sample's $a$, $b$, $\lambda$.
        num_samples: $N$.
        num_same: samples with $a = b$.
        num_lambda_values: distinct $\lambda$ among different-class samples.
        at_bound: the best $\gamma$ lies at an end of ``GAMMA_RANGE``: $\hat\mu$ is then a bound,
            not a fit.
    """

    weight_decay: float
    gamma: float
    beta: float
    classifier_scale: float
    rel_residual: float
    rel_residual_same: float
    rel_residual_different: float
    residual_edges: np.ndarray
    rel_residual_by_lambda: np.ndarray
    worst_index: int
    worst_error: float
    worst_optimum_norm: float
    worst_class_a: int
    worst_class_b: int
    worst_lambda: float
    num_samples: int
    num_same: int
    num_lambda_values: int
    at_bound: bool

    def to_dict(self) -> dict:
        """A JSON-ready record."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value.tolist() if isinstance(value, np.ndarray) else value for name, value in record.items()}


@dataclasses.dataclass(frozen=True)
class _Groups:
    """Coefficients of R summed over samples: per distinct lambda (different-class) and same-class."""

    num_classes: int
    lam: np.ndarray  # (U,) distinct lambdas of different-class samples
    zz: np.ndarray  # sum ||z||^2
    za: np.ndarray  # sum z . g_a
    zb: np.ndarray  # sum z . g_b
    aa: np.ndarray  # sum g_a . g_a
    ab: np.ndarray  # sum g_a . g_b
    bb: np.ndarray  # sum g_b . g_b
    same_zz: float
    same_za: float
    same_aa: float

    def subset(self, index: np.ndarray) -> _Groups:
        return dataclasses.replace(
            self, lam=self.lam[index], zz=self.zz[index], za=self.za[index], zb=self.zb[index],
            aa=self.aa[index], ab=self.ab[index], bb=self.bb[index],
        )


@no_type_check  # arguments checked by hand, with one-line messages
def fit_weight_decay(features, classifier, class_a, class_b, lambdas) -> WeightDecayFit:
    r"""The weight decay $\hat\mu$ whose exact mixup-UFM optimum best explains ``features``, fitted
    in logit space, with the relative residual.

    Minimises $R(\gamma) = \sum_i\|z_i - z_i^\star(\gamma)\|^2$ over $\gamma = \mu/\beta$ in
    ``GAMMA_RANGE``, where $z_i = Wh_i$ and $z_i^\star = Wh_i^\star$ are centred logits and
    $h_i^\star$ is the exact UFM optimum of sample $i$ (:func:`exact_optimum`), with
    $\beta = \bar s^2K/(K-1)$ from the classifier's mean squared row norm $\bar s^2$. On an exact
    optimum (simplex-ETF classifier) it returns the true $\mu$ to about 1e-12 relative and a residual
    at rounding level (``docs/analyze.md``). The cost is two passes over the features, about 45
    evaluations of the exact margins on at most 1024 distinct $\lambda$ values, and one or two on
    all of them when there are more.

    Args:
        features: ``(N, d)`` real, finite.
        classifier: ``(K, d)`` last-layer weights $W$ (no bias).
        class_a: ``(N,)`` integer class $a_i$ (weight $\lambda_i$), in ``0..K-1``.
        class_b: ``(N,)`` integer class $b_i$ (weight $1 - \lambda_i$).
        lambdas: ``(N,)`` mixing coefficients in $[0, 1]$.

    Returns:
        A :class:`WeightDecayFit`.

    Reference: Fisher, Meng & Papyan, ICLR 2024, Sec. 3 (the model); ``docs/analyze.md`` (the fit).
    """
    h, w, a, b, lam = check_samples(features, classifier, class_a, class_b, lambdas)
    n, k = h.shape[0], w.shape[0]
    scale, beta, centred_gram = _classifier_geometry(w)
    same = a == b
    distinct, inverse = _lambda_groups(lam, same)
    # The centred logits are kept for the second pass when they are small (one product saved).
    logits = np.empty((n, k)) if n * k <= _CACHED_LOGITS else None
    groups = _accumulate(h, w, a, b, inverse, distinct, centred_gram, logits)
    total = float(groups.zz.sum() + groups.same_zz)
    if not total > 0.0:
        raise ValueError("the centred logits W h are all zero: there is nothing to fit a weight decay to")

    x, at_bound = _search(groups)
    if groups.lam.size > _SEARCH_LAMBDAS and not at_bound:
        x, (u, v, t) = _gauss_newton(groups, x)
    else:
        u, v, t = _margins(k, groups.lam, math.exp(x))
    gamma = math.exp(x)
    residual = _residual(h, w, a, b, lam, inverse, (u, v, t), centred_gram, logits)
    return WeightDecayFit(
        weight_decay=gamma * beta,
        gamma=gamma,
        beta=beta,
        classifier_scale=scale,
        num_samples=n,
        num_same=int(same.sum()),
        num_lambda_values=int(groups.lam.size),
        at_bound=at_bound,
        **residual,
    )


@no_type_check  # arguments checked by hand, with one-line messages
def exact_optimum(classifier, class_a, class_b, lambdas, weight_decay) -> np.ndarray:
    r"""The mixup UFM's exact optimal feature of each sample, for the classifier's rows.

    $h_i^\star = (u\,w_{a_i} + v\,w_{b_i})/\beta$ ($a_i \ne b_i$, margins $(u, v)$ at $\lambda_i$ from
    :func:`ufm.analytic.pair_margins`) or $(t/\beta)\,w_{a_i}$ ($a_i = b_i$,
    :func:`ufm.analytic.same_class_margin`), at $\gamma = \mu/\beta$ with $\beta = \bar s^2K/(K-1)$,
    $\bar s^2$ the mean squared row norm. For a simplex-ETF classifier this is the exact optimum
    (:func:`ufm.optimal_features`) of the same samples; for another classifier it is the theory's
    prediction that :func:`fit_weight_decay` compares with.

    Args:
        classifier: ``(K, d)``.
        class_a, class_b: ``(N,)`` integer classes in ``0..K-1``.
        lambdas: ``(N,)`` in $[0, 1]$.
        weight_decay: $\mu > 0$, per feature.

    Returns:
        ``(N, d)`` float64 NumPy array.
    """
    if np.ndim(classifier) != 2:
        raise ValueError(f"classifier must have shape (K, d), got {np.shape(classifier)}")
    w = as_classifier(classifier, np.shape(classifier)[1])
    k = w.shape[0]
    if np.ndim(lambdas) != 1:
        raise ValueError(f"lambdas must be a 1-D array (one per sample), got shape {np.shape(lambdas)}")
    n = np.shape(lambdas)[0]
    lam = as_lambdas(lambdas, n)
    a = as_classes("class_a", class_a, n, k)
    b = as_classes("class_b", class_b, n, k)
    mu = check_positive_real("weight_decay", weight_decay)
    _, beta, _ = _classifier_geometry(w)
    same = a == b
    distinct, inverse = _lambda_groups(lam, same)
    u, v, t = _margins(k, distinct, mu / beta)
    g = np.maximum(inverse, 0)
    coef_a = np.where(same, t, u[g] if u.size else 0.0)
    coef_b = np.where(same, 0.0, v[g] if v.size else 0.0)
    return (coef_a[:, None] * w[a] + coef_b[:, None] * w[b]) / beta


def _classifier_geometry(w: Float[np.ndarray, "K d"]) -> tuple[float, float, Float[np.ndarray, "K K"]]:
    r"""$\bar s$, $\beta = \bar s^2K/(K-1)$ and the centred $WW^\top/\beta$, whose column $c$ is the
    logit vector of $w_c/\beta$ (for a simplex ETF exactly $I - \mathbf 1\mathbf 1^\top/K$)."""
    k = w.shape[0]
    scale2 = float(np.mean(np.sum(w * w, axis=1)))
    if not scale2 > 0.0:
        raise ValueError("classifier must have a nonzero row: all its rows are zero")
    beta = scale2 * k / (k - 1)
    gram = w @ w.T / beta
    return math.sqrt(scale2), beta, gram - gram.mean(axis=0)


def _lambda_groups(lam: Float[np.ndarray, " N"], same) -> tuple[np.ndarray, np.ndarray]:
    """Distinct lambdas of the different-class samples, and each sample's index into them (-1: same class)."""
    distinct, inverse_diff = np.unique(lam[~same], return_inverse=True)
    inverse = np.full(lam.size, -1, dtype=np.int64)
    inverse[~same] = inverse_diff.reshape(-1)
    return distinct, inverse


def _accumulate(
    h: Float[np.ndarray, "N d"],
    w: Float[np.ndarray, "K d"],
    a: Int[np.ndarray, " N"],
    b: Int[np.ndarray, " N"],
    inverse: Int[np.ndarray, " N"],
    distinct: Float[np.ndarray, " U"],
    centred_gram: Float[np.ndarray, "K K"],
    logits: Float[np.ndarray, "N K"] | None,
) -> _Groups:
    """One pass in row blocks: the coefficients of R per distinct lambda (and the centred logits
    into ``logits`` when given, for the second pass)."""
    k, dim = w.shape
    u_count = distinct.size
    cross = centred_gram.T @ centred_gram  # cross[a, b] = g_a . g_b
    sums = {name: np.zeros(u_count) for name in ("zz", "za", "zb", "aa", "ab", "bb")}
    same_zz = same_za = same_aa = 0.0
    for block in row_blocks(h.shape[0], max(dim, 2 * k)):
        z = _centred_logits(h[block], w)
        if logits is not None:
            logits[block] = z
        proj = times_transpose(z, centred_gram.T)  # proj[i, c] = z_i . g_c
        ab_, bb_, gb = a[block], b[block], inverse[block]
        za = np.take_along_axis(proj, ab_[:, None], 1)[:, 0]
        zb = np.take_along_axis(proj, bb_[:, None], 1)[:, 0]
        zz = np.einsum("ij,ij->i", z, z)
        same = gb < 0
        same_zz += float(zz[same].sum())
        same_za += float(za[same].sum())
        same_aa += float(cross[ab_[same], ab_[same]].sum())
        g = gb[~same]
        da, db = ab_[~same], bb_[~same]
        for name, values in (("zz", zz[~same]), ("za", za[~same]), ("zb", zb[~same]),
                             ("aa", cross[da, da]), ("ab", cross[da, db]), ("bb", cross[db, db])):
            sums[name] += np.bincount(g, weights=values, minlength=u_count)
    return _Groups(num_classes=k, lam=distinct, same_zz=same_zz, same_za=same_za, same_aa=same_aa, **sums)


def _centred_logits(hb: Float[np.ndarray, "B d"], w: Float[np.ndarray, "K d"]) -> Float[np.ndarray, "B K"]:
    z = times_transpose(np.asarray(hb, dtype=np.float64), w)
    return z - z.mean(axis=1, keepdims=True)


def _bucket(size: int) -> int:
    """Pad to a power of two (at least 64): the jitted margins then compile once per bucket."""
    return max(_MIN_BUCKET, 1 << max(0, size - 1).bit_length())


def _margins(k: int, lam: Float[np.ndarray, " U"], gamma: float) -> tuple[np.ndarray, np.ndarray, float]:
    r"""$(u, v)$ at each of ``lam``, and $t$, at one $\gamma$ (the calls of
    :func:`ufm.analytic.exact_margins`: lambdas padded to a power-of-two bucket, scalar $K$, $\gamma$)."""
    padded = np.full(_bucket(lam.size), 0.5)
    padded[: lam.size] = lam
    k, gamma = np.float64(k), np.float64(gamma)
    u, v = analytic.pair_margins(k, padded, gamma)
    t = float(analytic.same_class_margin(k, gamma))
    return np.asarray(u)[: lam.size], np.asarray(v)[: lam.size], t


def margin_derivatives(
    k: int, lam: Float[np.ndarray, " U"], gamma: float, u: Float[np.ndarray, " U"], v: Float[np.ndarray, " U"], t: float
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""$du/d\gamma$, $dv/d\gamma$, $dt/d\gamma$ at the optimum, by the implicit function theorem.

    * $K \ge 3$: $\nabla F(u, v) = 0$ with $F$ of :func:`ufm.analytic.pair_margins`, so
      $H\,(u', v')^\top = -\bigl(u - \tfrac{u+v}{K},\ v - \tfrac{u+v}{K}\bigr)^\top$ with
      $H = \operatorname{diag}(p) - pp^\top + \gamma(I - \mathbf 1\mathbf 1^\top/K)$,
      $p = (e^u, e^v)/(e^u + e^v + K - 2)$.
    * $K = 2$: $\gamma x/2 = \lambda - \sigma(x)$, $x = u - v$, gives
      $x' = -(x/2)/(\gamma/2 + \sigma(x)\sigma(-x))$, and $u' = -v' = x'/2$.
    * same class: $t(e^t + K - 1) = K/\gamma$ gives
      $t' = -t(1 + (K-1)e^{-t})/\bigl(\gamma(1 + t + (K-1)e^{-t})\bigr)$.
    """
    e = (k - 1) * math.exp(-t)
    dt = -t * (1.0 + e) / (gamma * (1.0 + t + e))
    if k == 2:
        x = u - v
        s = 0.25 / np.cosh(0.5 * x) ** 2  # sigma(x) sigma(-x), without overflow
        dx = -(0.5 * x) / (0.5 * gamma + s)
        return 0.5 * dx, -0.5 * dx, dt
    log_z = np.logaddexp(np.logaddexp(u, v), math.log(k - 2))
    pu, pv = np.exp(u - log_z), np.exp(v - log_z)
    huu = pu * (1.0 - pu) + gamma * (1.0 - 1.0 / k)
    hvv = pv * (1.0 - pv) + gamma * (1.0 - 1.0 / k)
    huv = -pu * pv - gamma / k
    ru, rv = u - (u + v) / k, v - (u + v) / k
    det = huu * hvv - huv * huv
    return -(hvv * ru - huv * rv) / det, -(huu * rv - huv * ru) / det, dt


def _objective(groups: _Groups, u, v, t, du=None, dv=None, dt=None):
    """R (relative to sum ||z||^2) and, with the derivatives, dR/dgamma and its Gauss-Newton curvature."""
    total = groups.zz.sum() + groups.same_zz
    r = (
        total
        - 2.0 * (np.sum(u * groups.za + v * groups.zb, axis=-1) + t * groups.same_za)
        + np.sum(u * u * groups.aa + 2.0 * u * v * groups.ab + v * v * groups.bb, axis=-1)
        + t * t * groups.same_aa
    )
    if du is None:
        return r / total
    res_u = u * groups.aa + v * groups.ab - groups.za
    res_v = u * groups.ab + v * groups.bb - groups.zb
    grad = 2.0 * (np.sum(res_u * du + res_v * dv, axis=-1) + (t * groups.same_aa - groups.same_za) * dt)
    curvature = 2.0 * (np.sum(du * du * groups.aa + 2.0 * du * dv * groups.ab + dv * dv * groups.bb, axis=-1)
                       + dt * dt * groups.same_aa)
    return r / total, grad / total, curvature / total


def _search(groups: _Groups) -> tuple[float, bool]:
    r"""Grid in $\log\gamma$, then Brent's method on $dR/d\log\gamma$ inside the best cell."""
    k = groups.num_classes
    if groups.lam.size > _SEARCH_LAMBDAS:
        groups = groups.subset(np.unique(np.linspace(0, groups.lam.size - 1, _SEARCH_LAMBDAS).round().astype(int)))
    grid = np.linspace(math.log(GAMMA_RANGE[0]), math.log(GAMMA_RANGE[1]), _GRID_POINTS)
    # One gamma per call: every call then has the shapes of ufm.analytic.exact_margins' calls and
    # reuses their compiled code.
    values = np.array([_objective(groups, *_margins(k, groups.lam, math.exp(x))) for x in grid])
    best = int(np.nanargmin(values))

    def slope(x: float) -> float:
        gamma = math.exp(x)
        u, v, t = _margins(k, groups.lam, gamma)
        du, dv, dt = margin_derivatives(k, groups.lam, gamma, u, v, t)
        return float(_objective(groups, u, v, t, du, dv, dt)[1]) * gamma

    import scipy.optimize  # here, not at import: scipy is ~35 MB the solver and CLI do not need
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    slope_lo, slope_hi = slope(lo), slope(hi)
    if best == 0 and slope_lo >= 0.0:
        return float(grid[0]), True
    if best == grid.size - 1 and slope_hi <= 0.0:
        return float(grid[-1]), True
    if slope_lo < 0.0 < slope_hi:
        x = scipy.optimize.brentq(slope, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200)
        return float(x), False
    # No sign change across the cell (a flat or noisy objective): minimise R itself there.
    result = scipy.optimize.minimize_scalar(
        lambda x: float(_objective(groups, *_margins(k, groups.lam, math.exp(x)))), bounds=(lo, hi),
        method="bounded", options={"xatol": 1e-12},
    )
    return float(result.x), False


def _gauss_newton(groups: _Groups, x: float, max_steps: int = 20):
    r"""Finish the fit on every distinct $\lambda$ from the subset's estimate: Gauss-Newton steps in
    $\log\gamma$ (capped at half a unit). Once a step is below 1e-6 it is taken without evaluating
    the margins again: they are moved to the new $\gamma$ along their derivatives, an error of order
    step$^2$ (below 1e-12 relative)."""
    k = groups.num_classes
    lo, hi = math.log(GAMMA_RANGE[0]), math.log(GAMMA_RANGE[1])
    for _ in range(max_steps):
        gamma = math.exp(x)
        margins = _margins(k, groups.lam, gamma)
        derivatives = margin_derivatives(k, groups.lam, gamma, *margins)
        _, grad, curvature = _objective(groups, *margins, *derivatives)
        step = max(-0.5, min(0.5, -float(grad) / (float(curvature) * gamma)))
        new_x = min(max(x + step, lo), hi)
        if abs(new_x - x) <= 1e-6:
            shift = math.exp(new_x) - gamma
            return new_x, tuple(m + d * shift for m, d in zip(margins, derivatives))
        x = new_x
    return x, _margins(k, groups.lam, math.exp(x))


def _residual(
    h: Float[np.ndarray, "N d"],
    w: Float[np.ndarray, "K d"],
    a: Int[np.ndarray, " N"],
    b: Int[np.ndarray, " N"],
    lam: Float[np.ndarray, " N"],
    inverse: Int[np.ndarray, " N"],
    margins: tuple,
    centred_gram: Float[np.ndarray, "K K"],
    logits: Float[np.ndarray, "N K"] | None,
) -> dict:
    """Second pass: ||z_i - z*_i|| sample by sample (a difference of logits, no cancellation)."""
    u, v, t = margins
    k, dim = w.shape
    optimum_rows = centred_gram.T  # row c: the centred logits of w_c / beta
    err = {"same": 0.0, "different": 0.0}
    norm = {"same": 0.0, "different": 0.0}
    bin_err = np.zeros(RESIDUAL_BINS)
    bin_norm = np.zeros(RESIDUAL_BINS)
    worst = (-1.0, 0, 0.0)
    for block in row_blocks(h.shape[0], max(dim, 2 * k)):
        z = _centred_logits(h[block], w) if logits is None else logits[block]
        gb = inverse[block]
        same = gb < 0
        g = np.maximum(gb, 0)
        coef_a = np.where(same, float(t), u[g] if u.size else 0.0)
        coef_b = np.where(same, 0.0, v[g] if v.size else 0.0)
        optimum = coef_a[:, None] * optimum_rows[a[block]] + coef_b[:, None] * optimum_rows[b[block]]
        e2 = np.sum((z - optimum) ** 2, axis=1)
        z2 = np.sum(z * z, axis=1)
        err["same"] += float(e2[same].sum())
        norm["same"] += float(z2[same].sum())
        err["different"] += float(e2[~same].sum())
        norm["different"] += float(z2[~same].sum())
        bins = np.minimum((lam[block][~same] * RESIDUAL_BINS).astype(np.int64), RESIDUAL_BINS - 1)
        bin_err += np.bincount(bins, weights=e2[~same], minlength=RESIDUAL_BINS)
        bin_norm += np.bincount(bins, weights=z2[~same], minlength=RESIDUAL_BINS)
        i = int(np.argmax(e2))
        if e2[i] > worst[0]:
            worst = (float(e2[i]), block.start + i, float(np.linalg.norm(optimum[i])))
    with np.errstate(divide="ignore", invalid="ignore"):
        by_lambda = np.sqrt(bin_err / bin_norm)
    total_norm = norm["same"] + norm["different"]
    index = worst[1]
    return {
        "rel_residual": math.sqrt((err["same"] + err["different"]) / total_norm),
        "rel_residual_same": math.sqrt(err["same"] / norm["same"]) if norm["same"] > 0 else math.nan,
        "rel_residual_different": (
            math.sqrt(err["different"] / norm["different"]) if norm["different"] > 0 else math.nan
        ),
        "residual_edges": np.linspace(0.0, 1.0, RESIDUAL_BINS + 1),
        "rel_residual_by_lambda": by_lambda,
        "worst_index": index,
        "worst_error": math.sqrt(worst[0]),
        "worst_optimum_norm": worst[2],
        "worst_class_a": int(a[index]),
        "worst_class_b": int(b[index]),
        "worst_lambda": float(lam[index]),
    }
