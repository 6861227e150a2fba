r"""The theory's claims about mixed samples, measured on any features (bounded memory).

For a sample with target $\lambda e_a + (1-\lambda) e_b$ the mixup UFM's optimum (fixed simplex-ETF
classifier) has same-class features ($a = b$) aligned with $w_a$ and independent of $\lambda$, and
different-class features in $\operatorname{span}\{w_a, w_b\}$ that cross the $a/b$ decision boundary
at $\lambda = \tfrac12$ exactly (Fisher, Meng & Papyan, ICLR 2024, Sec. 3; ``docs/theory.md``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import no_type_check

import numpy as np
from jaxtyping import Float, Int

from ._blocks import row_blocks, times_transpose
from ._collapse import class_sums
from ._samples import check_samples

__all__ = ["MixupGeometry", "mixup_geometry", "CALIBRATION_BINS"]

CALIBRATION_BINS = 10


@dataclasses.dataclass(frozen=True, eq=False)
class MixupGeometry:
    r"""The theory's structure measured on mixed samples $(h_i, a_i, b_i, \lambda_i)$, target
    $\lambda_i e_{a_i} + (1-\lambda_i) e_{b_i}$, logits $z = Wh$. The value at the mixup UFM's exact
    optimum is in brackets.

    Attributes:
        num_same: samples with $a = b$.
        num_different: samples with $a \ne b$.
        same_alignment_mean: mean of $\cos\angle(h, w_a)$ over same-class samples [1].
        same_alignment_min: its minimum [1].
        same_spread: spread of same-class features over $\lambda$,
            $\bigl(\sum_i\|h_i - \bar h_{a_i}\|^2 / \sum_i\|\bar h_{a_i}\|^2\bigr)^{1/2}$ over same-class
            samples, $\bar h_c$ the mean same-class feature of class $c$ [0].
        outside_span_mean: mean over different-class samples ($h \ne 0$) of the share of $\|h\|$
            outside $\operatorname{span}\{w_a, w_b\}$, $\|h - \Pi_{ab}h\|/\|h\|$ [0].
        outside_span_max: its maximum [0].
        pairs: ``(P, 2)`` unordered class pairs $a < b$ with different-class samples (a sample
            $(b, a, \lambda)$ counts as $(a, b, 1-\lambda)$).
        pair_counts: ``(P,)`` samples per pair.
        crossing_lambdas: ``(P,)`` the $\lambda$ (weight on ``pairs[:, 0]``) at which $z_a - z_b$
            changes sign: the threshold on $\lambda$ with the fewest samples on the wrong side of
            the $a/b$ boundary, placed by linear interpolation of $z_a - z_b$ between the two
            samples next to it (ties: the mean of the first and last best thresholds); NaN where
            no threshold falls between two samples [1/2].
        crossing_offset_mean: mean of $|\lambda^\star - \tfrac12|$ over pairs with a crossing [0, up
            to interpolation error].
        crossing_offset_max: its maximum.
        pairs_without_crossing: pairs whose samples all lie on one side.
        confidence_gap_mean: mean over different-class samples of
            $|p_a/(p_a + p_b) - \lambda|$, $p = \operatorname{softmax}(z)$ (the pairwise confidence
            against the mixing ratio; the UFM optimum approaches 0 only as the weight decay
            vanishes).
        calibration_edges: ``(B + 1,)`` edges of the $\lambda$ bins.
        calibration_counts: ``(B,)`` different-class samples per bin.
        calibration_lambda: ``(B,)`` their mean $\lambda$ (NaN for an empty bin).
        calibration_confidence: ``(B,)`` their mean $p_a/(p_a + p_b)$.
        calibration_probability: ``(B,)`` their mean $p_a$.
    """

    num_same: int
    num_different: int
    same_alignment_mean: float
    same_alignment_min: float
    same_spread: float
    outside_span_mean: float
    outside_span_max: float
    pairs: np.ndarray
    pair_counts: np.ndarray
    crossing_lambdas: np.ndarray
    crossing_offset_mean: float
    crossing_offset_max: float
    pairs_without_crossing: int
    confidence_gap_mean: float
    calibration_edges: np.ndarray
    calibration_counts: np.ndarray
    calibration_lambda: np.ndarray
    calibration_confidence: np.ndarray
    calibration_probability: np.ndarray

    def to_dict(self, per_pair: bool = False) -> dict:
        """A JSON-ready record; the per-pair arrays only with ``per_pair`` (they have $O(K^2)$ entries)."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("pairs", "pair_counts", "crossing_lambdas"):
            if per_pair:
                record[name] = np.asarray(record[name]).tolist()
            else:
                del record[name]
        for name, value in record.items():
            if isinstance(value, np.ndarray):
                record[name] = value.tolist()
        record["num_pairs"] = int(self.pairs.shape[0])
        return record


@no_type_check  # arguments checked by hand, with one-line messages
def mixup_geometry(features, classifier, class_a, class_b, lambdas) -> MixupGeometry:
    r"""The theory's claims measured on mixed samples: same-class alignment and spread,
    different-class share outside $\operatorname{span}\{w_a, w_b\}$, where $z_a - z_b$ changes sign
    in $\lambda$, and the pairwise confidence against $\lambda$ (see :class:`MixupGeometry`).

    Works in float64 for $N$ up to millions, in row blocks (temporaries of a few tens of MB).

    Args:
        features: ``(N, d)`` real, finite; sample $i$ has target
            $\lambda_i e_{a_i} + (1 - \lambda_i) e_{b_i}$.
        classifier: ``(K, d)`` last-layer weights $W$ (no bias).
        class_a: ``(N,)`` integer class $a_i$ (weight $\lambda_i$), in ``0..K-1``.
        class_b: ``(N,)`` integer class $b_i$ (weight $1 - \lambda_i$); $a_i = b_i$ marks a
            same-class sample.
        lambdas: ``(N,)`` mixing coefficients in $[0, 1]$.

    Returns:
        A :class:`MixupGeometry`.

    Reference: Fisher, Meng & Papyan, "Pushing Boundaries: Mixup's Influence on Neural Collapse",
    ICLR 2024, Sec. 3.
    """
    h, w, a, b, lam = check_samples(features, classifier, class_a, class_b, lambdas)
    same = a == b
    same_rows = np.flatnonzero(same)
    diff_rows = np.flatnonzero(~same)
    with np.errstate(divide="ignore", invalid="ignore"):
        same_stats = _same_class(h, w, a, same_rows)
        diff_stats = _different_class(h, w, a, b, lam, diff_rows)
    return MixupGeometry(num_same=int(same_rows.size), num_different=int(diff_rows.size), **same_stats, **diff_stats)


def _same_class(
    h: Float[np.ndarray, "N d"], w: Float[np.ndarray, "K d"], a: Int[np.ndarray, " N"], rows: Int[np.ndarray, " S"]
) -> dict:
    """Alignment with w_a and spread around the per-class mean, in two passes over same-class rows."""
    k, dim = w.shape
    if rows.size == 0:
        return {"same_alignment_mean": math.nan, "same_alignment_min": math.nan, "same_spread": math.nan}
    w_norms = np.linalg.norm(w, axis=1)
    cls = a[rows]
    counts = np.bincount(cls, minlength=k)
    sums = np.zeros((k, dim))
    cos_sum, cos_min = 0.0, math.inf
    for block in row_blocks(rows.size, dim):
        hb = np.asarray(h[rows[block]], dtype=np.float64)
        cb = cls[block]
        sums += class_sums(hb, cb, k)
        cos = np.einsum("ij,ij->i", hb, w[cb]) / (np.linalg.norm(hb, axis=1) * w_norms[cb])
        cos_sum += float(np.sum(cos))
        cos_min = min(cos_min, float(np.min(cos)))
    means = sums / np.maximum(counts, 1)[:, None]
    spread = 0.0
    for block in row_blocks(rows.size, dim):
        dev = np.asarray(h[rows[block]], dtype=np.float64) - means[cls[block]]
        spread += float(np.sum(dev * dev))
    scale = float(np.sum(counts * np.sum(means * means, axis=1)))
    return {
        "same_alignment_mean": cos_sum / rows.size,
        "same_alignment_min": cos_min,
        "same_spread": math.sqrt(spread / scale) if scale > 0 else math.nan,
    }


def _different_class(
    h: Float[np.ndarray, "N d"],
    w: Float[np.ndarray, "K d"],
    a: Int[np.ndarray, " N"],
    b: Int[np.ndarray, " N"],
    lam: Float[np.ndarray, " N"],
    rows: Int[np.ndarray, " D"],
) -> dict:
    """One pass over all rows in blocks (same-class rows are computed and dropped: cheaper than
    gathering the different-class rows into a copy)."""
    k, dim = w.shape
    gram = w @ w.T
    n = rows.size
    different = np.zeros(h.shape[0], dtype=bool)
    different[rows] = True
    margin = np.empty(h.shape[0])  # z_a - z_b
    outside_sum, outside_max, outside_count = 0.0, 0.0, 0
    gap_sum = 0.0
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.zeros(CALIBRATION_BINS)
    lam_sum = np.zeros(CALIBRATION_BINS)
    conf_sum = np.zeros(CALIBRATION_BINS)
    prob_sum = np.zeros(CALIBRATION_BINS)
    for block in row_blocks(h.shape[0] if n else 0, max(dim, k)):
        keep = different[block]
        if not keep.any():
            continue
        hb = np.asarray(h[block], dtype=np.float64)
        ab, bb = a[block], b[block]
        z = times_transpose(hb, w)
        za, zb = np.take_along_axis(z, ab[:, None], 1)[:, 0], np.take_along_axis(z, bb[:, None], 1)[:, 0]
        margin[block] = za - zb
        # Projection on span{w_a, w_b} from the 2 x 2 Gram system (rank one when w_b is parallel to
        # w_a, as for K = 2). ||h||^2 - ||P h||^2 loses the digits of a small outside component, so
        # where it is below 1e-2 of ||h|| the component is recomputed as a vector difference.
        gaa, gbb, gab = gram[ab, ab], gram[bb, bb], gram[ab, bb]
        det = gaa * gbb - gab * gab
        full = det > 1e-12 * gaa * gbb
        safe_det = np.where(full, det, 1.0)
        ca = np.where(full, (gbb * za - gab * zb) / safe_det, np.where(gaa > 0, za / np.where(gaa > 0, gaa, 1.0), 0.0))
        cb = np.where(full, (gaa * zb - gab * za) / safe_det, 0.0)
        norms2 = np.einsum("ij,ij->i", hb, hb)
        outside2 = norms2 - (ca * za + cb * zb)
        valid = keep & (norms2 > 0)
        small = valid & (outside2 < 1e-4 * norms2)
        if small.any():
            r = np.flatnonzero(small)
            outside = hb[r] - ca[r, None] * w[ab[r]] - cb[r, None] * w[bb[r]]
            outside2[r] = np.einsum("ij,ij->i", outside, outside)
        share = np.sqrt(np.maximum(outside2[valid], 0.0) / norms2[valid])
        if share.size:
            outside_sum += float(np.sum(share))
            outside_max = max(outside_max, float(np.max(share)))
            outside_count += share.size
        za, zb, z, lb = za[keep], zb[keep], z[keep], lam[block][keep]
        import scipy.special  # here, not at import: scipy is ~35 MB the solver and CLI do not need
        conf = scipy.special.expit(za - zb)  # p_a / (p_a + p_b), without overflow
        top = z.max(axis=1)
        prob = np.exp(za - top - np.log(np.sum(np.exp(z - top[:, None]), axis=1)))  # softmax(z)_a
        gap_sum += float(np.sum(np.abs(conf - lb)))
        bins = np.minimum((lb * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
        counts += np.bincount(bins, minlength=CALIBRATION_BINS)
        lam_sum += np.bincount(bins, weights=lb, minlength=CALIBRATION_BINS)
        conf_sum += np.bincount(bins, weights=conf, minlength=CALIBRATION_BINS)
        prob_sum += np.bincount(bins, weights=prob, minlength=CALIBRATION_BINS)
    margin = margin[rows]
    crossing = _crossings(a[rows], b[rows], lam[rows], margin, k)
    offsets = np.abs(crossing["crossing_lambdas"] - 0.5)
    found = offsets[np.isfinite(offsets)]
    return {
        "outside_span_mean": outside_sum / outside_count if outside_count else math.nan,
        "outside_span_max": outside_max if outside_count else math.nan,
        **crossing,
        "crossing_offset_mean": float(found.mean()) if found.size else math.nan,
        "crossing_offset_max": float(found.max()) if found.size else math.nan,
        "pairs_without_crossing": int(offsets.size - found.size),
        "confidence_gap_mean": gap_sum / n if n else math.nan,
        "calibration_edges": edges,
        "calibration_counts": counts.astype(np.int64),
        "calibration_lambda": lam_sum / counts,
        "calibration_confidence": conf_sum / counts,
        "calibration_probability": prob_sum / counts,
    }


def _crossings(
    a: Int[np.ndarray, " D"],
    b: Int[np.ndarray, " D"],
    lam: Float[np.ndarray, " D"],
    margin: Float[np.ndarray, " D"],
    k: int,
) -> dict:
    r"""Per unordered pair, the best-separating threshold on $\lambda$ for the sign of $z_a - z_b$.

    Samples are sorted by pair, then by $\lambda$. Putting the threshold before the $j$-th sample of
    a pair of $n$ samples, $n_+$ of them with $z_a > z_b$ and $c_j$ of those among the first $j$,
    leaves $c_j + (n - j) - (n_+ - c_j)$ samples on the wrong side, so the best $j$ minimise
    $2c_j - j$ (vectorised over pairs with segment reductions).
    """
    if a.size == 0:
        empty = np.zeros(0, np.int64)
        return {"pairs": np.zeros((0, 2), np.int64), "pair_counts": empty, "crossing_lambdas": np.zeros(0)}
    flip = a > b
    lo, hi = np.where(flip, b, a), np.where(flip, a, b)
    lam = np.where(flip, 1.0 - lam, lam)
    margin = np.where(flip, -margin, margin)
    key = lo * k + hi
    order = np.lexsort((lam, key))
    key, lam, margin = key[order], lam[order], margin[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, key.size])
    group = np.repeat(np.arange(starts.size), sizes)
    position = np.arange(key.size) - starts[group]  # 0-based rank within the pair
    positive = (margin > 0).astype(np.int64)
    cum = np.cumsum(positive)
    before_start = (cum - positive)[starts]
    # Value of the threshold placed *after* each sample (j = position + 1); j = 0 has value 0.
    value = 2 * (cum - before_start[group]) - (position + 1)
    best = np.minimum(np.minimum.reduceat(value, starts), 0)
    hit = value == best[group]
    big = key.size
    first = np.minimum.reduceat(np.where(hit, np.arange(big), big), starts)
    last = np.maximum.reduceat(np.where(hit, np.arange(big), -1), starts)
    # Thresholds as j (before the j-th sample, 0-based within the pair); j = 0 when only "before all" is best.
    j_first = np.where(best == 0, 0, first - starts + 1)
    j_last = np.where(last >= 0, last - starts + 1, 0)
    lam_first = _interpolate(j_first, starts, sizes, lam, margin)
    lam_last = _interpolate(j_last, starts, sizes, lam, margin)
    # np.nanmean without its warning for pairs where both are NaN (no crossing).
    both = np.where(np.isnan(lam_last), lam_first, 0.5 * (lam_first + lam_last))
    crossing = np.where(np.isnan(lam_first), lam_last, both)
    pairs = np.stack([key[starts] // k, key[starts] % k], axis=1)
    return {"pairs": pairs, "pair_counts": sizes.astype(np.int64), "crossing_lambdas": crossing}


def _interpolate(
    j: Int[np.ndarray, " P"],
    starts: Int[np.ndarray, " P"],
    sizes: Int[np.ndarray, " P"],
    lam: Float[np.ndarray, " D"],
    margin: Float[np.ndarray, " D"],
) -> Float[np.ndarray, " P"]:
    """Zero of the linear interpolant of the margin between samples j-1 and j (NaN unless 0 < j < n)."""
    inside = (j > 0) & (j < sizes)
    left = np.where(inside, starts + j - 1, 0)
    right = np.where(inside, starts + j, 0)
    lam_l, lam_r, m_l, m_r = lam[left], lam[right], margin[left], margin[right]
    # At a best threshold m_l <= 0 < m_r, so the denominator is positive.
    t = np.where(inside, -m_l / np.where(inside, m_r - m_l, 1.0), 0.0)
    return np.where(inside, lam_l + t * (lam_r - lam_l), np.nan)
