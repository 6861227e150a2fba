"""The problem description: the mixup UFM with a fixed simplex-ETF classifier."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._etf import simplex_etf
from ._validation import (
    check_dim,
    check_dtype,
    check_int,
    check_lambdas,
    check_num_classes,
    check_pairs,
    check_positive_real,
)

__all__ = ["MixupUFM", "mixup_objective", "per_sample_objective", "all_pairs", "draw_pairs"]

_DECAY_WHY = "without weight decay the optimum does not exist: features grow without bound"


@dataclasses.dataclass(frozen=True, eq=False)
class MixupUFM:
    r"""The mixup unconstrained-features model with a fixed simplex-ETF classifier (immutable).

    Every ordered class pair $(c, c')$, same-class pairs included, is mixed at each of $M$
    coefficients $\lambda_m$; each of the $N = K^2M$ samples has its own free feature $h \in
    \mathbb{R}^d$ and target $y = \lambda e_c + (1-\lambda)e_{c'}$. The objective is

    $$\mathcal{L}(H) = \frac{1}{N}\sum_{\text{samples}}\Bigl[\operatorname{logsumexp}(Wh)
    - y^\top Wh + \frac{\mu}{2}\|h\|^2\Bigr],$$

    with $\mu$ the weight decay *per feature* (the convention $\frac1N\sum\ell +
    \frac{\lambda_H}{2}\|H\|_F^2$ has $\mu = N\lambda_H$). Fisher, Meng & Papyan, ICLR 2024, Sec. 3.

    Features are laid out as ``(K, K, M, d)``: ``features[c, c2, m]`` is the sample with target
    ``lambdas[m] * e_c + (1 - lambdas[m]) * e_c2``.

    **Pair subsampling** (for large $K$, where $K^2M$ samples do not fit): with ``pairs=P`` only
    $P$ ordered pairs are kept, the $K$ same-class pairs and $P - K$ different-class pairs drawn
    without replacement with ``seed`` (from a stream of its own, so the $\lambda$ draw does not
    change). Features are then laid out as ``(P, M, d)``: ``features[p, m]`` is the sample with
    target ``lambdas[m] * e_c + (1 - lambdas[m]) * e_c2`` for ``(c, c2) = pair_index[p]``, the
    pairs sorted lexicographically. Samples are independent, so every kept sample has the same
    optimum as in the full model.

    Args:
        num_classes: $K \ge 2$.
        alpha: mixup's $\alpha > 0$; $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$.
        weight_decay: $\mu > 0$ per feature.
        dim: feature dimension $d \ge K - 1$ (default $K$).
        num_lambdas: $M$, the number of mixing coefficients drawn (ignored when ``lambdas`` given).
        scale: row norm $s$ of the classifier.
        seed: seed of the $\lambda$ draw (NumPy ``default_rng``).
        lambdas: explicit mixing coefficients in $[0, 1]$, used instead of a random draw.
        dtype: ``"float64"`` (default; for anything that checks theory) or ``"float32"``.
        pairs: ``None`` (default: all $K^2$ ordered pairs, layout ``(K, K, M, d)``) or the number
            $P$ of ordered pairs to keep, $K \le P \le K^2$ (layout ``(P, M, d)``).

    After construction ``lambdas`` is always the read-only float64 array of the $M$ coefficients
    in use (drawn or given), and ``num_lambdas`` its length; ``pair_index`` is the read-only
    ``(P, 2)`` array of the pairs in use (all $K^2$ in row-major order when ``pairs`` is ``None``).
    """

    num_classes: int
    alpha: float = 1.0
    weight_decay: float = 1e-2
    dim: int | None = None
    num_lambdas: int = 64
    scale: float = 1.0
    seed: int = 0
    lambdas: np.ndarray | None = None
    dtype: str = "float64"
    pairs: int | None = None
    lambdas_given: bool = dataclasses.field(init=False, default=False)
    _classifier: Array = dataclasses.field(init=False, repr=False)
    _pair_index: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        k = check_num_classes(self.num_classes)
        set_ = functools.partial(object.__setattr__, self)
        set_("num_classes", k)
        set_("alpha", check_positive_real("alpha", self.alpha))
        set_("weight_decay", check_positive_real("weight_decay", self.weight_decay, _DECAY_WHY))
        set_("dim", check_dim(self.dim, k))
        set_("scale", check_positive_real("scale", self.scale))
        set_("seed", check_int("seed", self.seed, 0))
        set_("dtype", check_dtype(self.dtype))
        if self.lambdas is None:
            m = check_int("num_lambdas", self.num_lambdas, 1)
            lambdas = np.random.default_rng(self.seed).beta(self.alpha, self.alpha, size=m)
        else:
            lambdas = np.asarray(check_lambdas(self.lambdas), dtype=np.float64)
            set_("lambdas_given", True)
        lambdas.flags.writeable = False
        set_("lambdas", lambdas)
        set_("num_lambdas", int(lambdas.size))
        set_("pairs", check_pairs(self.pairs, k))
        if self.pairs is None:
            pair_index = all_pairs(k)
        else:
            pair_index = draw_pairs(k, self.pairs, self.seed)
        pair_index.flags.writeable = False
        set_("_pair_index", pair_index)
        w = simplex_etf(k, self.dim, self.scale)
        set_("_classifier", jnp.asarray(w, dtype=self.dtype))

    @property
    def classifier(self) -> Float[Array, "K d"]:
        """The fixed simplex-ETF classifier $W$, ``(K, d)``, in ``dtype``."""
        return self._classifier

    @property
    def beta(self) -> float:
        r"""$\beta = s^2K/(K-1)$, so that $WW^\top = \beta(I - \mathbf{1}\mathbf{1}^\top/K)$."""
        return self.scale**2 * self.num_classes / (self.num_classes - 1)

    @property
    def gamma(self) -> float:
        r"""$\gamma = \mu/\beta$, the weight decay in the units of the analytic solution."""
        return self.weight_decay / self.beta

    @property
    def pair_index(self) -> Int[np.ndarray, "P 2"]:
        """The ordered class pairs ``(c, c2)`` in use, ``(P, 2)`` int32, read-only."""
        return self._pair_index

    @property
    def num_pairs(self) -> int:
        """$P$: $K^2$, or ``pairs`` when given."""
        return int(self._pair_index.shape[0])

    @property
    def num_samples(self) -> int:
        """$N = PM$ ($K^2M$ without pair subsampling)."""
        return self.num_pairs * self.num_lambdas

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """``(K, K, M, d)``, or ``(P, M, d)`` with ``pairs``."""
        if self.pairs is None:
            return (self.num_classes, self.num_classes, self.num_lambdas, self.dim)
        return (self.pairs, self.num_lambdas, self.dim)

    def pair_index_array(self) -> Int[Array, "P 2"] | None:
        """``pair_index`` as a JAX array for the subsampled layout, ``None`` for the full one
        (the argument the objective functions take)."""
        return None if self.pairs is None else jnp.asarray(self._pair_index)

    def config(self) -> dict:
        """The settings as a JSON-ready dict (explicit lambdas listed only when given)."""
        return {
            "num_classes": self.num_classes,
            "alpha": self.alpha,
            "weight_decay": self.weight_decay,
            "weight_decay_convention": "per feature: mean over samples of [loss + mu/2 ||h||^2]",
            "dim": self.dim,
            "num_lambdas": self.num_lambdas,
            "scale": self.scale,
            "seed": self.seed,
            "lambdas": self.lambdas.tolist() if self.lambdas_given else None,
            "dtype": self.dtype,
            "pairs": self.pairs,
        }

    def lambdas_array(self) -> Float[Array, " M"]:
        """The mixing coefficients as a JAX array in ``dtype``."""
        return jnp.asarray(self.lambdas, dtype=self.dtype)

    def zeros(self) -> Float[Array, "..."]:
        """All-zero features, the default starting point of the solvers."""
        return jnp.zeros(self.feature_shape, dtype=self.dtype)

    def objective(self, features: Float[ArrayLike, "..."]) -> Float[Array, ""]:
        """The objective $\\mathcal{L}(H)$ (mean over samples) at ``features``."""
        features = self._check_features(features)
        mu = jnp.asarray(self.weight_decay, self.dtype)
        return _jit_objective(features, self.classifier, self.lambdas_array(), mu, self.pair_index_array())

    def per_sample_gradient(self, features: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        r"""$N\,\nabla_H\mathcal{L}$ by autodiff: each sample's own gradient
        $W^\top(p - y) + \mu h$."""
        features = self._check_features(features)
        mu = jnp.asarray(self.weight_decay, self.dtype)
        grad = _jit_grad(features, self.classifier, self.lambdas_array(), mu, self.pair_index_array())
        return grad * self.num_samples

    def _check_features(self, features) -> Array:
        features = jnp.asarray(features)
        if features.shape != self.feature_shape:
            raise ValueError(f"features must have shape {self.feature_shape}, got {features.shape}")
        return features


def all_pairs(num_classes: int) -> Int[np.ndarray, "P 2"]:
    """All $K^2$ ordered pairs ``(c, c2)`` in row-major order, the order of the ``(K, K, M, d)`` layout."""
    return np.indices((num_classes, num_classes), dtype=np.int32).reshape(2, -1).T.copy()


def draw_pairs(num_classes: int, count: int, seed: int) -> Int[np.ndarray, "P 2"]:
    """The ``count`` ordered pairs of a subsampled problem: all $K$ same-class pairs plus
    ``count - K`` different-class pairs drawn without replacement, sorted lexicographically.

    The draw uses its own stream, ``numpy.random.default_rng([seed, 1])``, so that the same seed
    gives the same mixing coefficients with or without pair subsampling.
    """
    k = num_classes
    rng = np.random.default_rng([seed, 1])
    # Different-class pairs numbered 0 .. K(K-1)-1 row by row, skipping the diagonal.
    index = rng.choice(k * (k - 1), size=count - k, replace=False)
    first, rest = np.divmod(index, k - 1)
    second = rest + (rest >= first)
    same = np.arange(k)
    pairs = np.stack([np.concatenate([same, first]), np.concatenate([same, second])], axis=1)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs.astype(np.int32)


def per_sample_objective(
    features: Float[Array, "K K M d"] | Float[Array, "P M d"],
    classifier: Float[Array, "K d"],
    lambdas: Float[Array, " M"],
    weight_decay: Float[ArrayLike, ""],
    pair_index: Int[Array, "P 2"] | None = None,
) -> Float[Array, "K K M"] | Float[Array, "P M"]:
    r"""$\operatorname{logsumexp}(Wh) - \lambda z_c - (1-\lambda) z_{c'} + \frac{\mu}{2}\|h\|^2$ per sample.

    The target enters only through the two logits it picks out, $z_c = w_c^\top h$ and
    $z_{c'} = w_{c'}^\top h$, so no $(N, K)$ target matrix is ever built. Features are
    ``(K, K, M, d)`` when ``pair_index`` is ``None``, else ``(P, M, d)`` with the pairs of
    ``pair_index`` (see :class:`MixupUFM`).
    """
    logits = jnp.einsum("...d,kd->...k", features, classifier)
    if pair_index is None:
        z_c = jnp.einsum("ijmd,id->ijm", features, classifier)
        z_c2 = jnp.einsum("ijmd,jd->ijm", features, classifier)
    else:
        z_c = jnp.einsum("pmd,pd->pm", features, classifier[pair_index[:, 0]])
        z_c2 = jnp.einsum("pmd,pd->pm", features, classifier[pair_index[:, 1]])
    # lambdas index the second-to-last feature axis in both layouts.
    loss = jax.nn.logsumexp(logits, axis=-1) - lambdas * z_c - (1 - lambdas) * z_c2
    return loss + 0.5 * weight_decay * jnp.sum(features * features, axis=-1)


def mixup_objective(
    features: Float[Array, "K K M d"] | Float[Array, "P M d"],
    classifier: Float[Array, "K d"],
    lambdas: Float[Array, " M"],
    weight_decay: Float[ArrayLike, ""],
    pair_index: Int[Array, "P 2"] | None = None,
) -> Float[Array, ""]:
    """The mean of :func:`per_sample_objective` over all samples: the function every solver minimises."""
    return jnp.mean(per_sample_objective(features, classifier, lambdas, weight_decay, pair_index))


# Compiled once per shape; the methods above call these rather than dispatching op by op.
_jit_objective = jax.jit(mixup_objective)
_jit_grad = jax.jit(jax.grad(mixup_objective))
