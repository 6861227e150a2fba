r"""Neural-collapse metrics of labelled features (Papyan, Han & Donoho 2020), in bounded memory.

Two passes over the features in row blocks: the first sums them per class (the class means), the
second measures the deviations $h_i - \mu_{y_i}$ against those means. Nothing of size $N\times N$,
$N\times K\times d$ or $d\times d$ is formed: the within-class covariance enters NC1 only through its
projection on the $K-1$ between-class directions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import no_type_check

import numpy as np
from jaxtyping import Float, Int

from ._blocks import row_blocks, times_transpose
from ._samples import as_classes, as_classifier, as_features

__all__ = ["NeuralCollapse", "neural_collapse", "etf_error"]


@dataclasses.dataclass(frozen=True)
class NeuralCollapse:
    r"""The neural-collapse metrics of a set of labelled features; every one is 0 at exact collapse
    onto a simplex ETF (with a classifier: onto its own rows, up to scale).

    $\mu_c$ is the mean of class $c$, $\mu_G = \frac1K\sum_c \mu_c$ (unweighted), $M$ the $K\times d$
    matrix of centred means $\mu_c - \mu_G$, $P = (I - \mathbf 1\mathbf 1^\top/K)/\sqrt{K-1}$ the
    normalised simplex-ETF Gram matrix, $N$ samples, $K$ classes.

    Attributes:
        num_samples: $N$.
        num_classes: $K$.
        class_counts: samples per class, ``(K,)``.
        nc1: within-class variability relative to between-class,
            $\operatorname{tr}(\Sigma_W\Sigma_B^\dagger)/K$ with
            $\Sigma_W = \frac1N\sum_i (h_i - \mu_{y_i})(h_i - \mu_{y_i})^\top$,
            $\Sigma_B = \frac1K M^\top M$ (NC1).
        cdnv: class-distance normalised variance, the mean over $c < c'$ of
            $(\sigma_c^2 + \sigma_{c'}^2)/(2\|\mu_c - \mu_{c'}\|^2)$,
            $\sigma_c^2$ the mean of $\|h - \mu_c\|^2$ over class $c$ (Galanti et al. 2022).
        etf_error: $\|MM^\top/\|MM^\top\|_F - P\|_F$ (NC2, both equinorm and equiangle at once).
        equinorm: $\operatorname{std}_c\|\mu_c - \mu_G\| / \operatorname{mean}_c\|\mu_c - \mu_G\|$
            (population std; NC2).
        equiangle: the mean over $c \ne c'$ of $|\cos\angle(\mu_c - \mu_G, \mu_{c'} - \mu_G) + 1/(K-1)|$
            (NC2).
        self_duality: $\|WM^\top/\|WM^\top\|_F - P\|_F$ with the classifier $W$ (NC3); ``None``
            without a classifier.
        ncc_mismatch: the fraction of samples whose linear decision $\arg\max_c (Wh)_c$ differs from
            the nearest class mean $\arg\min_c\|h - \mu_c\|$ (NC4); ``None`` without a classifier.
    """

    num_samples: int
    num_classes: int
    class_counts: tuple[int, ...]
    nc1: float
    cdnv: float
    etf_error: float
    equinorm: float
    equiangle: float
    self_duality: float | None
    ncc_mismatch: float | None

    def to_dict(self) -> dict:
        """A JSON-ready record (``None`` stays ``None``; non-finite values stay floats)."""
        return dataclasses.asdict(self) | {"class_counts": list(self.class_counts)}


@no_type_check  # arguments checked by hand, with one-line messages
def etf_error(rows) -> float:
    r"""Distance of the Gram matrix of ``rows`` from a simplex ETF's, both normalised:
    $$\Bigl\|\frac{G}{\|G\|_F} - \frac{I - \mathbf 1\mathbf 1^\top/K}{\sqrt{K-1}}\Bigr\|_F,
    \qquad G = R R^\top,$$
    for $R$ = ``rows`` $(K, d)$, used as given (not centred). It is 0 exactly when the rows form a
    simplex ETF of any scale and orientation, and at most 2. :func:`neural_collapse` applies it to
    the centred class means; it applies as well to a classifier $W$.

    Args:
        rows: ``(K, d)`` real, finite, $K \ge 2$.

    Returns:
        The distance (NaN when every row is zero: the normalised Gram matrix is then undefined).

    Reference: Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal phase of
    deep learning training", PNAS 2020 (the structure); Kothapalli, "Neural collapse: a review on
    modelling principles and generalization", TMLR 2023 (this distance).
    """
    rows = as_features(rows, "rows")
    if rows.shape[0] < 2:
        raise ValueError(f"rows must have at least 2 rows (K >= 2), got shape {rows.shape}")
    rows = np.asarray(rows, dtype=np.float64)
    return _structure_error(rows @ rows.T)


def _structure_error(gram: Float[np.ndarray, "K K"]) -> float:
    k = gram.shape[0]
    norm = np.linalg.norm(gram)
    if not norm > 0.0:
        return math.nan
    target = (np.eye(k) - 1.0 / k) / math.sqrt(k - 1)
    return float(np.linalg.norm(gram / norm - target))


@no_type_check  # arguments checked by hand, with one-line messages
def neural_collapse(features, labels, classifier=None) -> NeuralCollapse:
    r"""The neural-collapse metrics NC1-NC4 of ``features`` with class ``labels``.

    Works on any features (a network's last layer, a UFM solution) in float64, whatever their
    dtype, for $N$ up to millions: two passes in row blocks, with temporaries of a few tens of MB
    and nothing of size $N \times N$, $N\times K\times d$ or $d \times d$ (see
    :class:`NeuralCollapse` for the definitions).

    Args:
        features: ``(N, d)`` real, finite (NumPy or JAX array).
        labels: ``(N,)`` integer class of each sample, in ``0..K-1``; every class needs at least
            one sample.
        classifier: optional ``(K, d)`` last-layer weights $W$ (no bias); gives ``self_duality`` and
            ``ncc_mismatch``, and fixes $K$ to its number of rows (otherwise $K$ = ``labels.max() + 1``).

    Returns:
        A :class:`NeuralCollapse`.

    Reference: Papyan, Han & Donoho, PNAS 2020 (NC1-NC4); Galanti, György & Hutter, ICLR 2022
    (CDNV). The same quantities as the ``neural-collapse`` library's ``measure`` module
    (``docs/analyze.md`` maps each field to its function).
    """
    h = as_features(features)
    num_samples, dim = h.shape
    w = None if classifier is None else as_classifier(classifier, dim)
    y = as_classes("labels", labels, num_samples, None if w is None else w.shape[0])
    k = int(y.max()) + 1 if w is None else w.shape[0]
    if k < 2:
        raise ValueError("labels must name at least 2 classes (K >= 2), got only class 0")
    counts = np.bincount(y, minlength=k)
    if (counts == 0).any():
        raise ValueError(
            f"every class needs at least one sample to define its mean: class {int(np.argmin(counts))} has none"
        )
    means = _class_means(h, y, counts)
    centred = means - means.mean(axis=0)
    stats = _deviations(h, y, means, _between_class_inverse(centred), w)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = stats["sq_dev"] / counts
        norms = np.linalg.norm(centred, axis=1)
        unit = centred / norms[:, None]
        cos = unit @ unit.T
        off = ~np.eye(k, dtype=bool)
        return NeuralCollapse(
            num_samples=num_samples,
            num_classes=k,
            class_counts=tuple(int(c) for c in counts),
            nc1=stats["nc1"] / num_samples,
            cdnv=_cdnv(means, sigma2),
            etf_error=_structure_error(centred @ centred.T),
            equinorm=float(norms.std() / norms.mean()),
            equiangle=float(np.mean(np.abs(cos[off] + 1.0 / (k - 1)))),
            self_duality=None if w is None else _structure_error(w @ centred.T),
            ncc_mismatch=None if w is None else stats["mismatch"] / num_samples,
        )


def _class_means(
    h: Float[np.ndarray, "N d"], y: Int[np.ndarray, " N"], counts: Int[np.ndarray, " K"]
) -> Float[np.ndarray, "K d"]:
    """Per-class means, summed block by block (a sparse one-hot product: O(N d), no N x K array)."""
    k, dim = counts.size, h.shape[1]
    sums = np.zeros((k, dim))
    for block in row_blocks(h.shape[0], max(dim, k)):
        sums += class_sums(np.asarray(h[block], dtype=np.float64), y[block], k)
    return sums / counts[:, None]


def class_sums(hb: Float[np.ndarray, "B d"], yb: Int[np.ndarray, " B"], k: int) -> Float[np.ndarray, "K d"]:
    """Per-class sums of the rows of ``hb``: a sparse one-hot product, O(B d), no B x K array."""
    import scipy.sparse  # here, not at import: scipy is ~35 MB the solver and CLI do not need
    onehot = scipy.sparse.csr_matrix((np.ones(yb.size), (yb, np.arange(yb.size))), shape=(k, yb.size))
    return np.asarray(onehot @ hb)


def _between_class_inverse(centred: Float[np.ndarray, "K d"]) -> Float[np.ndarray, "r d"]:
    r"""$A$ with $A^\top A = K\,\Sigma_B^\dagger$, so that $\operatorname{tr}(\Sigma_W\Sigma_B^\dagger)/K
    = \frac1N\sum_i\|A(h_i - \mu_{y_i})\|^2$.

    $\Sigma_B = \frac1K M^\top M$; the centred means satisfy $\mathbf 1^\top M = 0$, so $M = Q\tilde M$
    with $Q$ an orthonormal basis of $\mathbf 1^\perp$ and $\tilde M = Q^\top M$ ($(K-1)\times d$),
    and $K\Sigma_B^\dagger = \tilde M^\dagger\tilde M^{\dagger\top}$: $A = \tilde M^{\dagger\top}$.
    Working with $\tilde M$ drops the direction $\mathbf 1$, along which the computed $M$ has only
    rounding error, so that error cannot enter the pseudo-inverse. Singular values below
    $\max(K, d)\,\varepsilon\,\sigma_{\max}$ count as zero (NumPy's ``matrix_rank`` rule).
    """
    k, dim = centred.shape
    basis, _ = np.linalg.qr(np.eye(k)[:, : k - 1] - 1.0 / k)  # (K, K-1), orthonormal, orthogonal to 1
    reduced = basis.T @ centred
    rcond = max(k, dim) * np.finfo(np.float64).eps
    return np.linalg.pinv(reduced, rcond=rcond).T


def _deviations(
    h: Float[np.ndarray, "N d"],
    y: Int[np.ndarray, " N"],
    means: Float[np.ndarray, "K d"],
    between_inverse: Float[np.ndarray, "r d"],
    w: Float[np.ndarray, "K d"] | None,
) -> dict:
    """Second pass: per-class squared deviations, the NC1 sum and the NCC disagreements."""
    k, dim = means.shape
    rank = between_inverse.shape[0]
    sq_dev = np.zeros(k)
    nc1 = 0.0
    mismatch = 0
    # One product per block, of the deviations with every direction needed (memory-bound: one read
    # of the block instead of three); scores of h follow from those of h - mu_y plus a K x K table.
    directions = between_inverse if w is None else np.concatenate([between_inverse, means, w])
    if w is not None:
        nearest_table = means @ means.T - 0.5 * np.sum(means * means, axis=1)  # [y, c]: mu_y.mu_c - |mu_c|^2/2
        logit_table = means @ w.T  # [y, c]: w_c . mu_y
    for block in row_blocks(h.shape[0], max(dim, 2 * k)):
        yb = y[block]
        dev = means[yb]
        np.subtract(h[block], dev, out=dev)  # h - mu_y, in the gathered array (one B x d temporary)
        sq_dev += np.bincount(yb, weights=np.einsum("ij,ij->i", dev, dev), minlength=k)
        prod = times_transpose(dev, directions)
        nc1 += float(np.sum(prod[:, :rank] ** 2))
        if w is not None:
            nearest = np.argmax(prod[:, rank : rank + k] + nearest_table[yb], axis=1)  # argmin ||h - mu_c||
            linear = np.argmax(prod[:, rank + k :] + logit_table[yb], axis=1)  # argmax (W h)_c
            mismatch += int(np.count_nonzero(linear != nearest))
    return {"sq_dev": sq_dev, "nc1": nc1, "mismatch": mismatch}


def _cdnv(means: Float[np.ndarray, "K d"], sigma2: Float[np.ndarray, " K"]) -> float:
    """Mean over c < c' of (sigma_c^2 + sigma_c'^2) / (2 ||mu_c - mu_c'||^2), in row blocks of pairs."""
    k, dim = means.shape
    total = 0.0
    for block in row_blocks(k, k * dim):
        rows = np.arange(k)[block]
        diff = means[rows][:, None, :] - means[None, :, :]  # (rows, K, d): differences, no cancellation
        dist2 = np.einsum("rkd,rkd->rk", diff, diff)
        upper = np.arange(k)[None, :] > rows[:, None]
        ratio = (sigma2[rows][:, None] + sigma2[None, :]) / (2.0 * dist2)
        total += float(np.sum(ratio[upper]))
    return total / (k * (k - 1) / 2)
