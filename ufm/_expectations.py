r"""Expectations over mixup's $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ of quantities at the exact optimum.

The optimum of each sample depends on $\lambda$ but not on $\alpha$; $\alpha$ decides only how the
samples are spread over $\lambda$. So every expectation is a 1-D integral
$\mathbb{E}[f] = \int_0^1 f(\lambda)\,\lambda^{\alpha-1}(1-\lambda)^{\alpha-1}\,d\lambda / B(\alpha, \alpha)$
of a function $f$ of the exact margins, evaluated here by a composite Gauss rule to about
$10^{-13}$ relative:

* **Panels.** Uniform panels of width $\min(1/8, 1/\sqrt{2\alpha+1})$ (at most two standard
  deviations of $\mathrm{Beta}(\alpha, \alpha)$) meeting at $\lambda = 1/2$, and, next to 0 and 1,
  panels graded geometrically (ratio 4) down to $\gamma/4$: for weak decay the optimum changes over
  a range $\sim\gamma\log(1/\gamma)$ of $\lambda$ next to the ends. Outside
  $1/2 \pm 40$ standard deviations the density is below $e^{-800}$ and is left out.
* **Weights.** The two end panels carry the singular factor $\lambda^{\alpha-1}$ (resp.
  $(1-\lambda)^{\alpha-1}$) in a Gauss–Jacobi rule of $\mathrm{Beta}(\alpha, 1)$
  (:func:`ufm._quadrature.beta_rule`); every other panel is Gauss–Legendre with the density as a
  factor. The weights are normalised to sum to one (the normalising constant
  $4^{\alpha-1}B(\alpha, \alpha)$ is known only to a relative rounding error of its logarithm, which
  is large for large $\alpha$).
* **Kinks.** $|p_c - \lambda|$, $|r - \lambda|$ ($r = p_c/(p_c + p_{c'})$), the distance
  $|u - v|/\sqrt{2\beta}$ and, for $K = 2$, $\|h\|$ are smooth except where the quantity inside the
  absolute value vanishes. Those points are panel ends, so each panel integrates a smooth function.
  $u - v$ vanishes only at $\lambda = 1/2$ (where $r = 1/2$ too; $r - \lambda$ is odd about
  $1/2$). For $K \ge 3$, $p_c - \lambda = q - \gamma u$ at the optimum (stationarity) is $< 0$ on
  $[1/2, 1]$ (there $u \ge v$, so $\gamma u \ge \gamma(u+v)/2 = Kq/2 > q$) and $> 0$ at $\lambda = 0$;
  for $K = 2$, $p_c - \lambda = -\gamma x/2$ vanishes only at $1/2$. The crossings in $(0, 1/2)$
  of $p_c - \lambda$ and $r - \lambda$ (one for $p_c$; none or one for $r$, depending on $\gamma$) are
  located by a sign scan on 900 points, graded towards 0 and $1/2$, and bisection to $10^{-15}$
  relative; $r - \lambda$'s are mirrored to $(1/2, 1)$.

All quantities are for the exact optimum (:mod:`ufm.analytic`), in float64, with the margins
solved in blocks of 64 so that the root finders compile once (the block size of
:func:`ufm.analytic.exact_margins`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import no_type_check

import numpy as np
from jaxtyping import ArrayLike, Float

from ._quadrature import beta_rule
from ._validation import check_num_classes, check_positive_real

__all__ = ["ExpectedOptimum", "expected_optimum"]

_PANEL_NODES = 24
_BLOCK = 64  # lambdas per root-finder call: the smallest bucket of analytic.exact_margins
_CORE_SDS = 40.0
_GRADING = 4.0


@dataclasses.dataclass(frozen=True)
class ExpectedOptimum:
    r"""Expectations over $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ at the exact optimum.

    Every field has the shape of the ``alpha`` given to :func:`expected_optimum` (a float for a
    scalar). "Pair" quantities are for one *different-class* ordered pair $(c, c')$, whose optimum
    has margins $(u, v)$ (:func:`ufm.analytic.pair_margins`), logits $z = Wh$ and
    $p = \operatorname{softmax}(z)$; $c$ is the class weighted by $\lambda$.

    Attributes:
        alpha: the $\alpha$ values ($0$ and $\infty$ are the limits, see :func:`expected_optimum`).
        objective: $\mathbb{E}$ of the objective at the optimum for the full model, all $K^2$ ordered
            pairs with same-class pairs included: $\frac1K f_\text{same} + \frac{K-1}{K}
            \mathbb{E}[f_\text{pair}]$. This is the value of ``MixupUFM(K, alpha=..., weight_decay=...,
            scale=..., quadrature=M).objective`` at its optimum as $M \to \infty$.
        pair_objective: $\mathbb{E}[f_\text{pair}]$, $f = \ell(h) + \frac{\mu}{2}\|h\|^2$ at the
            optimum of a different-class pair.
        same_class_objective: $f_\text{same}$, the same-class optimum's value (no $\lambda$ dependence).
        confidence: $\mathbb{E}[p_c]$.
        calibration_error: $\mathbb{E}|p_c - \lambda|$.
        pairwise_calibration_error: $\mathbb{E}|r - \lambda|$ with $r = p_c/(p_c + p_{c'})$.
        feature_norm: $\mathbb{E}\|h\|$, $\|h\| = s\sqrt{u^2 + v^2 - 2uv/(K-1)}/\beta$.
        boundary_distance: $\mathbb{E}$ of the distance to the $c/c'$ decision boundary,
            $|u - v|/\sqrt{2\beta}$.
    """

    alpha: Float[np.ndarray, "..."] | float
    objective: Float[np.ndarray, "..."] | float
    pair_objective: Float[np.ndarray, "..."] | float
    same_class_objective: Float[np.ndarray, "..."] | float
    confidence: Float[np.ndarray, "..."] | float
    calibration_error: Float[np.ndarray, "..."] | float
    pairwise_calibration_error: Float[np.ndarray, "..."] | float
    feature_norm: Float[np.ndarray, "..."] | float
    boundary_distance: Float[np.ndarray, "..."] | float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Per-lambda quantities of a different-class pair, in the order of the fields after alpha.
_PAIR_FIELDS = (
    "pair_objective",
    "confidence",
    "calibration_error",
    "pairwise_calibration_error",
    "feature_norm",
    "boundary_distance",
)


def _margins(k: int, lam: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact $(u, v)$ at ``lam``, solved in blocks of 64 with scalar ``k`` and ``gamma`` (one compile)."""
    from .analytic import pair_margins

    lam = np.asarray(lam, dtype=np.float64).ravel()
    count = lam.size
    padded = np.full(-(-count // _BLOCK) * _BLOCK, 0.5)
    padded[:count] = lam
    u = np.empty(padded.size)
    v = np.empty(padded.size)
    k64, g64 = np.float64(k), np.float64(gamma)
    for start in range(0, padded.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        ub, vb = pair_margins(k64, padded[block], g64)
        u[block], v[block] = np.asarray(ub), np.asarray(vb)
    return u[:count], v[:count]


def _pair_values(k: int, gamma: float, scale: float, lam: np.ndarray) -> dict[str, np.ndarray]:
    r"""The per-$\lambda$ quantities of a different-class pair at its optimum (float64 NumPy)."""
    import scipy.special  # here, not at import: scipy is ~35 MB the solver and CLI do not need
    u, v = _margins(k, lam, gamma)
    beta = scale * scale * k / (k - 1)
    log_rest = math.log(k - 2) if k > 2 else -np.inf
    log_z = np.logaddexp(np.logaddexp(u, v), log_rest)
    p_c = np.exp(u - log_z)
    # -log p_c and -log p_c2 as softplus of (log of the other exponentials - own logit): no cancellation.
    neg_log_pc = np.logaddexp(0.0, np.logaddexp(v, log_rest) - u)
    neg_log_pc2 = np.logaddexp(0.0, np.logaddexp(u, log_rest) - v)
    decay = 0.5 * gamma * (u * u + v * v - (u + v) ** 2 / k)
    gram = u * u + v * v - 2.0 * u * v / (k - 1)
    return {
        "pair_objective": lam * neg_log_pc + (1.0 - lam) * neg_log_pc2 + decay,
        "confidence": p_c,
        "calibration_error": np.abs(p_c - lam),
        "pairwise_calibration_error": np.abs(scipy.special.expit(u - v) - lam),
        "feature_norm": scale * np.sqrt(np.maximum(gram, 0.0)) / beta,
        "boundary_distance": np.abs(u - v) / math.sqrt(2.0 * beta),
        # signed, for the crossings, and the rounding level of both gaps (from u and v)
        "_confidence_gap": p_c - lam,
        "_pairwise_gap": scipy.special.expit(u - v) - lam,
        "_gap_noise": 8.0 * np.finfo(np.float64).eps * (1.0 + np.abs(u) + np.abs(v)),
    }


def _same_class_objective(k: int, gamma: float) -> float:
    r"""$\log(e^t + K - 1) - t + \frac{\gamma}{2}(1 - 1/K)t^2$ at the same-class margin $t$."""
    from .analytic import same_class_margin

    t = float(same_class_margin(np.float64(k), np.float64(gamma)))
    return float(np.logaddexp(0.0, math.log(k - 1) - t) + 0.5 * gamma * (1.0 - 1.0 / k) * t * t)


def _scan_points() -> np.ndarray:
    """Points of (0, 1/2), graded towards 0 (down to 1e-300) and towards 1/2 (to 1e-14)."""
    return np.unique(
        np.concatenate(
            [
                np.geomspace(1e-300, 1e-20, 40),
                np.geomspace(1e-20, 0.25, 500),
                np.linspace(0.25, 0.5, 201)[:-1],
                0.5 - np.geomspace(1e-14, 0.25, 160),
            ]
        )
    )


@functools.lru_cache(maxsize=256)
def _crossings(k: int, gamma: float) -> tuple[float, ...]:
    r"""Zeros in $(0, 1/2)$ of $p_c - \lambda$ and of $r - \lambda$ (see the module docstring).

    Only scan points where a gap exceeds its rounding level count: next to $\lambda = 1/2$ at weak
    decay, $r - \lambda$ is at rounding level and its sign is noise (a kink there, if any, is within
    $10^{-14}$ of the break point at $1/2$ and changes the integral by less than that).
    """
    scan = _scan_points()
    values = _pair_values(k, gamma, 1.0, scan)
    brackets = []
    for key in ("_confidence_gap", "_pairwise_gap"):
        g = values[key]
        kept = np.flatnonzero(np.abs(g) > values["_gap_noise"])
        change = np.flatnonzero(np.sign(g[kept[:-1]]) * np.sign(g[kept[1:]]) < 0)
        brackets += [(kept[i], kept[i + 1], key) for i in change]
    if not brackets:
        return ()
    lo = np.array([scan[b[0]] for b in brackets])
    hi = np.array([scan[b[1]] for b in brackets])
    sign_lo = np.array([np.sign(values[b[2]][b[0]]) for b in brackets])
    which = [b[2] for b in brackets]
    for _ in range(200):
        if np.all(hi - lo <= 1e-15 * hi):
            break
        # Geometric bisection while the bracket spans orders of magnitude, then arithmetic.
        mid = np.where(hi > 4.0 * lo, np.sqrt(lo * hi), 0.5 * (lo + hi))
        at_mid = _pair_values(k, gamma, 1.0, mid)
        g_mid = np.array([at_mid[key][i] for i, key in enumerate(which)])
        same_side = np.sign(g_mid) == sign_lo
        lo = np.where(same_side, mid, lo)
        hi = np.where(same_side, hi, mid)
    return tuple(sorted({float(x) for x in 0.5 * (lo + hi)}))


def _log_density(alpha: float, lam: np.ndarray) -> np.ndarray:
    r"""$\log$ of the $\mathrm{Beta}(\alpha, \alpha)$ density, as $(\alpha - 1)\log(1 - (2\lambda - 1)^2)
    - \log(4^{\alpha-1}B(\alpha, \alpha))$: the $\lambda$-dependent part stays $O(1)$ where the
    density matters, even for $\alpha = 10^6$ (the normalisation is corrected by the caller)."""
    centred = 2.0 * lam - 1.0
    import scipy.special  # here, not at import: scipy is ~35 MB the solver and CLI do not need
    log_norm = scipy.special.betaln(alpha, alpha) + (alpha - 1.0) * math.log(4.0)
    return (alpha - 1.0) * np.log1p(-centred * centred) - log_norm


def _breakpoints(alpha: float, gamma: float, cuts: tuple[float, ...]) -> np.ndarray:
    """Panel ends on [0, 1]: uniform about 1/2, graded towards the ends, plus ``cuts`` and their mirrors."""
    sd = 0.5 / math.sqrt(2.0 * alpha + 1.0)
    width = min(0.125, 2.0 * sd)
    half_core = min(0.5, _CORE_SDS * sd)
    steps = int(math.floor(half_core / width))
    lower = 0.5 - width * np.arange(steps + 1)  # 1/2 down to the last uniform point
    if half_core < 0.5:
        lower = np.append(lower, 0.5 - half_core)
    else:
        first = lower[-1]
        if first < 0.25 * width:  # avoid a sliver next to 0
            lower, first = lower[:-1], lower[-2]
        end = min(0.25 * first, 0.25 * gamma)
        graded = first / _GRADING ** np.arange(1, 200)
        lower = np.concatenate([lower, graded[graded >= end], [0.0]])
    lower = lower[lower <= 0.5]
    cuts = np.asarray([c for c in cuts if 0.5 - half_core < c < 0.5])
    lower = np.concatenate([lower, cuts])
    points = np.unique(np.concatenate([lower, 1.0 - lower]))
    return points


def _composite_rule(alpha: float, gamma: float, cuts: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of $\int_0^1 f\,d\mathrm{Beta}(\alpha, \alpha)$ (see the module docstring)."""
    points = _breakpoints(alpha, gamma, cuts)
    legendre_x, legendre_w = beta_rule(1.0, 1.0, _PANEL_NODES)
    jacobi_x, jacobi_w = beta_rule(alpha, 1.0, _PANEL_NODES)
    import scipy.special  # here, not at import: scipy is ~35 MB the solver and CLI do not need
    log_beta = scipy.special.betaln(alpha, alpha)
    nodes, weights = [], []
    for x0, x1 in zip(points[:-1], points[1:]):
        length = x1 - x0
        if length <= 0.0:
            continue
        if x0 == 0.0 or x1 == 1.0:
            # int_0^b f(lam) lam^(alpha-1) (1-lam)^(alpha-1) dlam / B = (b^alpha/alpha) E_{Beta(alpha,1)}[...]
            offset = length * jacobi_x  # distance from the singular end
            lam = offset if x0 == 0.0 else 1.0 - offset
            log_w = alpha * math.log(length) - math.log(alpha) - log_beta + (alpha - 1.0) * np.log1p(-offset)
            w = jacobi_w * np.exp(log_w)
        else:
            lam = x0 + length * legendre_x
            w = length * legendre_w * np.exp(_log_density(alpha, lam))
        nodes.append(lam)
        weights.append(w)
    weights = np.concatenate(weights)
    # The normalising constant log(4^(alpha-1) B(alpha, alpha)) is large for large alpha and known
    # only to a relative eps; the rule integrates 1 to ~1e-15 otherwise, so normalise by its total.
    return np.concatenate(nodes), weights / math.fsum(weights)


def _limit_values(k: int, gamma: float, scale: float) -> tuple[dict, dict]:
    r"""The $\alpha \to 0$ values ($\lambda$ at 0 and 1 with probability 1/2 each) and the
    $\alpha \to \infty$ values ($\lambda = 1/2$): means of the per-$\lambda$ quantities there."""
    ends = _pair_values(k, gamma, scale, np.array([0.0, 1.0, 0.5]))
    small = {key: 0.5 * (ends[key][0] + ends[key][1]) for key in _PAIR_FIELDS}
    large = {key: float(ends[key][2]) for key in _PAIR_FIELDS}
    return small, large


@no_type_check  # arguments checked by hand, with one-line messages
def expected_optimum(
    num_classes: int, alpha: Float[ArrayLike, "..."], weight_decay: float, scale: float = 1.0
) -> ExpectedOptimum:
    r"""Expectations over $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ of the objective, confidence,
    calibration error, feature norm and boundary distance at the exact optimum.

    The optimum of every sample does not depend on $\alpha$ (Result 1.4 of ``docs/derivations.md``);
    $\alpha$ only weights the mixing coefficients. The expectations are integrals over $\lambda$ of
    functions of the exact margins, computed by a composite Gauss rule that handles the singular
    Beta density and the kinks of the absolute values (``ufm._expectations``), to about
    $10^{-13}$ relative. Averaging convention: one different-class pair for every quantity except
    ``objective``, which averages over all $K^2$ ordered pairs of the full model (see
    :class:`ExpectedOptimum`). Fisher, Meng & Papyan, ICLR 2024, Sec. 3.

    Args:
        num_classes: $K \ge 2$.
        alpha: mixup's $\alpha$, a scalar or an array, $0 \le \alpha \le \infty$: $\alpha = 0$ gives
            the limit $\alpha \to 0$ ($\lambda \in \{0, 1\}$ with probability 1/2 each: ordinary
            cross-entropy) and $\alpha = \infty$ the limit $\alpha \to \infty$ ($\lambda = 1/2$),
            both derived in ``docs/derivations.md`` §9.
        weight_decay: $\mu > 0$ per feature.
        scale: row norm $s > 0$ of the classifier.

    Returns:
        An :class:`ExpectedOptimum` whose fields have the shape of ``alpha``.
    """
    k = check_num_classes(num_classes)
    mu = check_positive_real("weight_decay", weight_decay)
    scale = check_positive_real("scale", scale)
    try:
        alphas = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a real number or an array of them, got {alpha!r}") from None
    if np.any(np.isnan(alphas)) or np.any(alphas < 0):
        bad = alphas[np.isnan(alphas) | (alphas < 0)].flat[0]
        raise ValueError(f"alpha must be >= 0 (0 and inf give the limits), got {float(bad)!r}")
    beta = scale * scale * k / (k - 1)
    gamma = mu / beta
    flat = alphas.ravel()
    cuts = _crossings(k, gamma)
    small, large = _limit_values(k, gamma, scale)
    out = {key: np.empty(flat.size) for key in _PAIR_FIELDS}
    finite = [i for i, a in enumerate(flat) if 0.0 < a < np.inf]
    if finite:
        rules = [_composite_rule(float(flat[i]), gamma, cuts) for i in finite]
        nodes = np.concatenate([r[0] for r in rules])
        values = _pair_values(k, gamma, scale, nodes)
        owner = np.repeat(np.arange(len(finite)), [r[0].size for r in rules])
        weights = np.concatenate([r[1] for r in rules])
        for key in _PAIR_FIELDS:
            sums = np.bincount(owner, weights=weights * values[key], minlength=len(finite))
            out[key][finite] = sums
    for i, a in enumerate(flat):
        if a == 0.0 or a == np.inf:
            source = small if a == 0.0 else large
            for key in _PAIR_FIELDS:
                out[key][i] = source[key]
    same = _same_class_objective(k, gamma)
    shape = alphas.shape

    def shaped(x):
        x = np.asarray(x, dtype=np.float64).reshape(shape)
        return float(x) if x.ndim == 0 else x

    return ExpectedOptimum(
        alpha=shaped(flat),
        objective=shaped(same / k + (1.0 - 1.0 / k) * out["pair_objective"]),
        pair_objective=shaped(out["pair_objective"]),
        same_class_objective=shaped(np.full(flat.size, same)),
        **{key: shaped(out[key]) for key in _PAIR_FIELDS if key != "pair_objective"},
    )
