r"""The problem description: the mixup UFM with a fixed simplex-ETF classifier, as immutable data.

A :class:`MixupUFM` is built from a *specification* (the arguments it was given) and holds the
data derived from it (the mixing coefficients, the class pairs, the classifier, the weights).
Random draws are part of the specification: :meth:`MixupUFM.replace` rebuilds from the changed
specification, so ``problem.replace(seed=1)`` draws again while ``problem.replace(weight_decay=0.1)``
keeps the draw. ``dataclasses.replace`` does not apply (it is not a dataclass), so a draw can never
silently go stale.

**One internal layout.** The samples are stored as ``(P, M, d)``: ``samples[p, m]`` has target
$\lambda_m e_c + (1-\lambda_m)e_{c'}$ for $(c, c') = $ ``pair_index[p]``. The full model keeps all
$P = K^2$ ordered pairs in row-major order, so its ``(K, K, M, d)`` view (``feature_shape``, what
the public API takes and returns) is a free reshape: :meth:`MixupUFM.as_samples` and
:meth:`MixupUFM.as_features` convert at the API edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, no_type_check

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._etf import simplex_etf
from ._objective import jit_objective, jit_per_sample_gradient
from ._quadrature import beta_rule
from ._validation import (
    check_class_weights,
    check_classifier_decay,
    check_dim,
    check_dtype,
    check_int,
    check_lambdas,
    check_num_classes,
    check_pairs,
    check_positive_real,
)

__all__ = ["MixupUFM", "all_pairs", "draw_pairs", "draw_lambdas", "pair_weights", "DEFAULT_NUM_LAMBDAS"]

DEFAULT_NUM_LAMBDAS = 64
_DECAY_WHY = "without weight decay the optimum does not exist: features grow without bound"

# The specification, in constructor order, with defaults.
_SPEC_DEFAULTS: dict[str, Any] = {
    "alpha": 1.0,
    "weight_decay": 1e-2,
    "dim": None,
    "num_lambdas": None,
    "scale": 1.0,
    "seed": 0,
    "lambdas": None,
    "dtype": "float64",
    "pairs": None,
    "embedding_seed": None,
    "quadrature": None,
    "classifier_decay": None,
    "class_weights": None,
}
# Ways of choosing the mixing coefficients; giving one in replace() drops the others.
_LAMBDA_SOURCES = ("lambdas", "num_lambdas", "quadrature")
_LAMBDA_SOURCE_WORDS = {
    "lambdas": "lambdas (explicit values)",
    "num_lambdas": "num_lambdas (the size of a random draw)",
    "quadrature": "quadrature (the number of Gauss-Jacobi nodes of Beta(alpha, alpha))",
}


class MixupUFM:
    r"""The mixup unconstrained-features model with a fixed simplex-ETF classifier (immutable).

    Every ordered class pair $(c, c')$, same-class pairs included, is mixed at each of $M$
    coefficients $\lambda_m$; each of the $N = K^2M$ samples has its own free feature $h \in
    \mathbb{R}^d$ and target $y = \lambda e_c + (1-\lambda)e_{c'}$. The objective is the weighted
    mean over samples

    $$\mathcal{L}(H) = \sum_{p,m} \omega_p\,\nu_m\Bigl[\operatorname{logsumexp}(Wh_{pm})
    - y_{pm}^\top Wh_{pm} + \frac{\mu}{2}\|h_{pm}\|^2\Bigr],$$

    with pair weights $\omega_p$ and $\lambda$ weights $\nu_m$ (uniform, so $\mathcal{L}$ is the plain
    mean, unless ``class_weights`` set the pair weights or ``quadrature`` the $\lambda$ weights) and
    $\mu$ the weight decay *per feature* (the convention
    $\frac1N\sum\ell + \frac{\lambda_H}{2}\|H\|_F^2$ has $\mu = N\lambda_H$). Weights multiply loss
    and decay alike, so they do not move any sample's optimum. Fisher, Meng & Papyan, ICLR 2024,
    Sec. 3.

    Features are laid out as ``(K, K, M, d)``: ``features[c, c2, m]`` is the sample with target
    ``lambdas[m] * e_c + (1 - lambdas[m]) * e_c2``.

    **Exact expectations over $\lambda$** (``quadrature=M``): instead of a random draw, the
    $\lambda_m$ are the $M$ Gauss–Jacobi nodes of $\mathrm{Beta}(\alpha, \alpha)$ on $[0, 1]$ and
    $\nu_m$ their weights, so $\sum_m \nu_m f(\lambda_m) = \mathbb{E}_{\lambda}[f(\lambda)]$ exactly for
    polynomials $f$ of degree $\le 2M - 1$, and to near machine precision for the smooth
    per-sample optimum when $M$ resolves it (``quadrature=48`` gives $10^{-10}$ or better for
    $\mu \gtrsim 10^{-2}$; :func:`ufm.analytic.expected_optimum` handles any $\mu$). The objective is
    then the expectation over $\lambda$ without Monte-Carlo noise; the samples and their optima are
    unchanged (weights multiply loss and decay alike).

    **Pair subsampling** (for large $K$, where $K^2M$ samples do not fit): with ``pairs=P`` only
    $P$ ordered pairs are kept, the $K$ same-class pairs and $P - K$ different-class pairs drawn
    without replacement with ``seed`` (from a stream of its own, so the $\lambda$ draw does not
    change). Features are then laid out as ``(P, M, d)``: ``features[p, m]`` is the sample with
    target ``lambdas[m] * e_c + (1 - lambdas[m]) * e_c2`` for ``(c, c2) = pair_index[p]``, the
    pairs sorted lexicographically. Samples are independent, so every kept sample has the same
    optimum as in the full model.

    **Class weights** $\pi$ (``class_weights``, default uniform $1/K$) weight the pair $(c, c')$ by
    $\omega_{cc'} = \pi_c\pi_{c'}$ (normalised over the kept pairs with ``pairs``); uniform
    $\pi$ gives the plain mean. With the fixed classifier they move no sample's optimum.

    **A learned classifier** (``classifier_decay`` $= \lambda_W > 0$): $W$ is a variable too and the
    objective is $F(W, H) = \mathcal{L}(H; W) + \frac{\lambda_W}{2}\|W\|_F^2$; the problem is no
    longer separable, and its optimum depends on $\pi$. There is then no fixed classifier
    (``classifier``, ``beta`` and ``gamma`` raise ``AttributeError``); ``scale`` and
    ``embedding_seed``, which describe the fixed ETF, must keep their defaults. See
    ``docs/learned.md``.

    Args:
        num_classes: $K \ge 2$.
        alpha: mixup's $\alpha > 0$; $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$.
        weight_decay: $\mu > 0$ per feature.
        dim: feature dimension $d \ge K - 1$ (default $K$).
        num_lambdas: $M$, the number of mixing coefficients drawn (default 64).
        scale: row norm $s$ of the classifier.
        seed: seed of the $\lambda$ draw and of the pair draw (NumPy ``default_rng``).
        lambdas: explicit mixing coefficients in $[0, 1]$, used instead of a draw (not together
            with ``num_lambdas`` or ``quadrature``).
        dtype: ``"float64"`` (default; for anything that checks theory) or ``"float32"``.
        pairs: ``None`` (default: all $K^2$ ordered pairs, layout ``(K, K, M, d)``) or the number
            $P$ of ordered pairs to keep, $K \le P \le K^2$ (layout ``(P, M, d)``).
        embedding_seed: ``None`` (default) places the ETF in the first coordinates; an integer
            picks a random orthonormal embedding (:func:`ufm.simplex_etf`). The optimal logits do
            not depend on it.
        quadrature: $M$: use the $M$ Gauss–Jacobi nodes of $\mathrm{Beta}(\alpha, \alpha)$ as the
            mixing coefficients and their weights as ``lambda_weights`` (not together with
            ``num_lambdas`` or ``lambdas``); see above.
        classifier_decay: ``None`` (default: the classifier is the fixed simplex ETF) or the decay
            $\lambda_W > 0$ of a learned classifier.
        class_weights: ``None`` (default: uniform) or $K$ weights $\pi_c > 0$ summing to one (within
            ``1e-9``; they are then divided by their sum; ratios are refused, divide them by their
            sum). Pair $(c, c')$ gets weight $\pi_c\pi_{c'}$.
    """

    # The arguments are checked by hand (one-line messages, tested), not by the annotations.
    __slots__ = ("_spec", "_dim", "_lambdas", "_lambda_weights", "_pair_index", "_pair_weights", "_classifier")

    @no_type_check
    def __init__(
        self,
        num_classes: int,
        *,
        alpha: float = 1.0,
        weight_decay: float = 1e-2,
        dim: int | None = None,
        num_lambdas: int | None = None,
        scale: float = 1.0,
        seed: int = 0,
        lambdas: Float[ArrayLike, " M"] | None = None,
        dtype: str = "float64",
        pairs: int | None = None,
        embedding_seed: int | None = None,
        quadrature: int | None = None,
        classifier_decay: float | None = None,
        class_weights: Float[ArrayLike, " K"] | None = None,
    ):
        k = check_num_classes(num_classes)
        spec = {
            "num_classes": k,
            "alpha": check_positive_real("alpha", alpha),
            "weight_decay": check_positive_real("weight_decay", weight_decay, _DECAY_WHY),
            "dim": None if dim is None else check_dim(dim, k),
            "num_lambdas": None if num_lambdas is None else check_int("num_lambdas", num_lambdas, 1),
            "scale": check_positive_real("scale", scale),
            "seed": check_int("seed", seed, 0),
            "lambdas": None if lambdas is None else check_lambdas(lambdas),
            "dtype": check_dtype(dtype),
            "pairs": check_pairs(pairs, k),
            "embedding_seed": None if embedding_seed is None else check_int("embedding_seed", embedding_seed, 0),
            "quadrature": None if quadrature is None else _check_quadrature(quadrature),
            "classifier_decay": check_classifier_decay(classifier_decay),
            "class_weights": check_class_weights(class_weights, k),
        }
        if spec["classifier_decay"] is not None:
            for name in ("scale", "embedding_seed"):
                if spec[name] != _SPEC_DEFAULTS[name]:
                    raise ValueError(
                        f"{name} describes the fixed simplex-ETF classifier; with classifier_decay the "
                        "classifier is learned (leave it at its default)"
                    )
        given = [name for name in _LAMBDA_SOURCES if spec[name] is not None]
        if len(given) > 1:
            first, second = (_LAMBDA_SOURCE_WORDS[name] for name in given[:2])
            raise ValueError(f"give either {first} or {second}, not both")
        lam_weights = None
        if spec["lambdas"] is not None:
            lam = np.array(spec["lambdas"], dtype=np.float64)
        elif spec["quadrature"] is not None:
            lam, lam_weights = beta_rule(spec["alpha"], spec["alpha"], spec["quadrature"])
        else:
            m = DEFAULT_NUM_LAMBDAS if spec["num_lambdas"] is None else spec["num_lambdas"]
            lam = draw_lambdas(spec["alpha"], m, spec["seed"])
        if lam_weights is None:
            lam_weights = np.full(lam.size, 1.0 / lam.size)
        pair_index = all_pairs(k) if spec["pairs"] is None else draw_pairs(k, spec["pairs"], spec["seed"])
        d = k if spec["dim"] is None else spec["dim"]
        learned = spec["classifier_decay"] is not None
        w = None if learned else simplex_etf(k, d, spec["scale"], seed=spec["embedding_seed"])
        set_ = object.__setattr__
        set_(self, "_spec", spec)
        set_(self, "_dim", d)
        set_(self, "_lambdas", _read_only(lam))
        set_(self, "_lambda_weights", _read_only(lam_weights))
        set_(self, "_pair_index", _read_only(pair_index))
        set_(self, "_pair_weights", _read_only(pair_weights(pair_index, spec["class_weights"])))
        set_(self, "_classifier", None if learned else jnp.asarray(w, dtype=spec["dtype"]))

    # ------------------------------------------------------------------ immutability, equality

    def __setattr__(self, name, value):
        raise AttributeError(f"MixupUFM is immutable; use problem.replace({name}=...) for a changed copy")

    def __delattr__(self, name):
        raise AttributeError("MixupUFM is immutable")

    @no_type_check
    def replace(self, **changes: Any) -> MixupUFM:
        """A new problem with some arguments changed; everything derived is rebuilt.

        Drawn mixing coefficients are drawn again from the new ``seed``, ``alpha`` or
        ``num_lambdas``, and quadrature nodes recomputed for the new ``alpha``; explicit ``lambdas``
        are kept unless replaced. Giving ``lambdas``, ``num_lambdas`` or ``quadrature`` switches to
        that way of choosing them.
        """
        unknown = sorted(set(changes) - set(self._spec))
        if unknown:
            raise TypeError(f"replace() got unknown argument(s) {unknown}; arguments: {', '.join(self._spec)}")
        spec = dict(self._spec)
        if changes.keys() & set(_LAMBDA_SOURCES):
            spec.update(dict.fromkeys(_LAMBDA_SOURCES))
        spec.update(changes)
        return MixupUFM(**spec)

    __replace__ = replace  # copy.replace (Python >= 3.13)

    def _key(self) -> tuple:
        """What defines the problem's data: equal keys, equal problems (however they were specified)."""
        spec = self._spec
        return (
            spec["num_classes"], self._dim, spec["alpha"], spec["weight_decay"], spec["scale"], spec["dtype"],
            spec["embedding_seed"], spec["pairs"], spec["seed"] if spec["pairs"] is not None else None,
            self._lambdas.tobytes(), self._lambda_weights.tobytes(),
            spec["classifier_decay"], self._pair_weights.tobytes(),
        )

    def __eq__(self, other):
        if not isinstance(other, MixupUFM):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        given = [f"{k}={v!r}" for k, v in self._spec.items() if k != "num_classes" and v != _SPEC_DEFAULTS[k]]
        return f"MixupUFM({', '.join([str(self.num_classes), *given])})"

    def __reduce__(self):
        return (_rebuild, (dict(self._spec),))

    # ------------------------------------------------------------------ the specification

    @property
    def num_classes(self) -> int:
        """$K$."""
        return self._spec["num_classes"]

    @property
    def alpha(self) -> float:
        r"""Mixup's $\alpha$ ($\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ when drawn or with ``quadrature``)."""
        return self._spec["alpha"]

    @property
    def weight_decay(self) -> float:
        r"""$\mu$, per feature."""
        return self._spec["weight_decay"]

    @property
    def scale(self) -> float:
        """Row norm $s$ of the classifier."""
        return self._spec["scale"]

    @property
    def seed(self) -> int:
        """Seed of the $\\lambda$ and pair draws."""
        return self._spec["seed"]

    @property
    def dtype(self) -> str:
        """``"float64"`` or ``"float32"``."""
        return self._spec["dtype"]

    @property
    def pairs(self) -> int | None:
        """``None`` (all pairs, layout ``(K, K, M, d)``) or the number of pairs kept (layout ``(P, M, d)``)."""
        return self._spec["pairs"]

    @property
    def embedding_seed(self) -> int | None:
        """Seed of the classifier's random embedding, or ``None`` (first coordinates)."""
        return self._spec["embedding_seed"]

    @property
    def classifier_decay(self) -> float | None:
        r"""$\lambda_W$ of a learned classifier, or ``None`` (the classifier is the fixed ETF)."""
        return self._spec["classifier_decay"]

    @property
    def learns_classifier(self) -> bool:
        """Whether the classifier is a variable (``classifier_decay`` given) rather than the fixed ETF."""
        return self._spec["classifier_decay"] is not None

    @property
    def class_weights(self) -> Float[np.ndarray, " K"]:
        r"""The class weights $\pi$ (sum 1; uniform $1/K$ unless given), read-only float64."""
        given = self._spec["class_weights"]
        k = self.num_classes
        return _read_only(np.full(k, 1.0 / k) if given is None else np.array(given))

    def spec(self) -> dict[str, Any]:
        """The arguments this problem was built from: ``MixupUFM(**problem.spec())`` rebuilds it."""
        spec = dict(self._spec)
        if spec["lambdas"] is not None:
            spec["lambdas"] = list(spec["lambdas"])
        if spec["class_weights"] is not None:
            spec["class_weights"] = list(spec["class_weights"])
        return spec

    def config(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict: the specification with ``dim`` and the number of
        drawn ``num_lambdas`` filled in, plus how the coefficients were chosen and the weight-decay
        convention. :meth:`from_config` rebuilds the problem from it."""
        config = self.spec()
        config["dim"] = self.dim
        if self.lambda_source == "drawn":
            config["num_lambdas"] = self.num_lambdas
        config["lambda_source"] = self.lambda_source
        config["weight_decay_convention"] = "per feature: weighted mean over samples of [loss + mu/2 ||h||^2]"
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MixupUFM:
        """The problem described by :meth:`config` (extra keys are ignored)."""
        keys = ("num_classes", *_SPEC_DEFAULTS)
        return cls(**{k: config[k] for k in keys if k in config})

    # ------------------------------------------------------------------ derived data

    @property
    def dim(self) -> int:
        """Feature dimension $d$."""
        return self._dim

    @property
    def lambdas(self) -> Float[np.ndarray, " M"]:
        """The $M$ mixing coefficients in use (drawn or given), read-only float64."""
        return self._lambdas

    @property
    def num_lambdas(self) -> int:
        """$M$."""
        return int(self._lambdas.size)

    @property
    def lambda_source(self) -> str:
        """``"drawn"`` (from Beta(alpha, alpha) with ``seed``), ``"given"`` (explicit ``lambdas``) or
        ``"quadrature"`` (Gauss-Jacobi nodes of Beta(alpha, alpha))."""
        if self._spec["lambdas"] is not None:
            return "given"
        return "quadrature" if self._spec["quadrature"] is not None else "drawn"

    @property
    def quadrature(self) -> int | None:
        """The number of Gauss-Jacobi nodes when the coefficients are a quadrature rule, else ``None``."""
        return self._spec["quadrature"]

    @property
    def lambda_weights(self) -> Float[np.ndarray, " M"]:
        r"""Weights $\nu_m$ of the coefficients in every mean over $\lambda$ (sum 1): uniform $1/M$
        for drawn or given coefficients, the Gauss–Jacobi weights with ``quadrature``."""
        return self._lambda_weights

    @property
    def pair_index(self) -> Int[np.ndarray, "P 2"]:
        """The ordered class pairs ``(c, c2)`` in use, ``(P, 2)`` int32, read-only (all $K^2$ in
        row-major order when ``pairs`` is ``None``)."""
        return self._pair_index

    @property
    def pair_weights(self) -> Float[np.ndarray, " P"]:
        r"""Weights $\omega_p \propto \pi_c\pi_{c'}$ of the pairs in the objective (sum 1; uniform
        $1/P$ with uniform class weights)."""
        return self._pair_weights

    @property
    def classifier(self) -> Float[Array, "K d"]:
        """The fixed simplex-ETF classifier $W$, ``(K, d)``, in ``dtype`` (``AttributeError`` when the
        classifier is learned: use ``solution.classifier``)."""
        if self._classifier is None:
            raise AttributeError(_no_fixed_classifier(self, "classifier"))
        return self._classifier

    @property
    def beta(self) -> float:
        r"""$\beta = s^2K/(K-1)$, so that $WW^\top = \beta(I - \mathbf{1}\mathbf{1}^\top/K)$ (fixed ETF only)."""
        if self.learns_classifier:
            raise AttributeError(_no_fixed_classifier(self, "beta"))
        return self.scale**2 * self.num_classes / (self.num_classes - 1)

    @property
    def gamma(self) -> float:
        r"""$\gamma = \mu/\beta$, the weight decay in the units of the analytic solution (fixed ETF only)."""
        return self.weight_decay / self.beta

    @property
    def num_pairs(self) -> int:
        """$P$: $K^2$, or ``pairs`` when given."""
        return int(self._pair_index.shape[0])

    @property
    def num_samples(self) -> int:
        """$N = PM$ ($K^2M$ without pair subsampling)."""
        return self.num_pairs * self.num_lambdas

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(P, M, d)``: the internal layout of the samples."""
        return (self.num_pairs, self.num_lambdas, self.dim)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """``(K, K, M, d)``, or ``(P, M, d)`` with ``pairs``: the layout of the public API."""
        if self.pairs is None:
            return (self.num_classes, self.num_classes, self.num_lambdas, self.dim)
        return self.sample_shape

    def sample_weights(self) -> Float[np.ndarray, "P M"]:
        r"""$\omega_p\nu_m$ per sample (sum 1), in the internal layout."""
        return np.outer(self._pair_weights, self._lambda_weights)

    # ------------------------------------------------------------------ the API edge

    @no_type_check
    def as_samples(self, features: Float[ArrayLike, "..."]) -> Float[Array, "P M d"]:
        """Features in ``feature_shape`` (or already ``(P, M, d)``) as ``(P, M, d)``; a free reshape."""
        features = jnp.asarray(features)
        if features.shape not in (self.feature_shape, self.sample_shape):
            raise ValueError(f"features must have shape {self.feature_shape}, got {features.shape}")
        return features.reshape(self.sample_shape)

    def as_features(self, samples: Float[ArrayLike, "P M d"]) -> Float[Array, "..."]:
        """``(P, M, d)`` samples in the public ``feature_shape``; a free reshape."""
        return jnp.asarray(samples).reshape(self.feature_shape)

    def zeros(self) -> Float[Array, "..."]:
        """All-zero features (``feature_shape``), the default start of the solvers."""
        return jnp.zeros(self.feature_shape, dtype=self.dtype)

    @no_type_check
    def objective(
        self, features: Float[ArrayLike, "..."], classifier: Float[ArrayLike, "K d"] | None = None
    ) -> Float[Array, ""]:
        r"""The objective at ``features``, evaluated in the problem's ``dtype`` (inputs in another
        precision are cast to it): $\mathcal{L}(H)$ with the fixed classifier, or, when the
        classifier is learned, $F(W, H) = \mathcal{L}(H; W) + \frac{\lambda_W}{2}\|W\|_F^2$ at
        ``classifier`` $= W$ (required then, e.g. ``solution.classifier``; refused otherwise)."""
        samples = self.as_samples(features).astype(self.dtype)
        w = self._classifier_for(classifier)
        value = jit_objective(
            samples,
            w,
            jnp.asarray(self.lambdas, self.dtype),
            jnp.asarray(self.weight_decay, self.dtype),
            jnp.asarray(self.pair_index),
            jnp.asarray(self.sample_weights(), self.dtype),
        )
        if self.learns_classifier:
            value = value + 0.5 * jnp.asarray(self.classifier_decay, self.dtype) * jnp.sum(w * w)
        return value

    @no_type_check
    def per_sample_gradient(
        self, features: Float[ArrayLike, "..."], classifier: Float[ArrayLike, "K d"] | None = None
    ) -> Float[Array, "..."]:
        r"""Each sample's own gradient $W^\top(p - y) + \mu h$ (by autodiff), in ``feature_shape``;
        ``classifier`` as in :meth:`objective`."""
        samples = self.as_samples(features).astype(self.dtype)
        grad = jit_per_sample_gradient(
            samples,
            self._classifier_for(classifier),
            jnp.asarray(self.lambdas, self.dtype),
            jnp.asarray(self.weight_decay, self.dtype),
            jnp.asarray(self.pair_index),
        )
        return self.as_features(grad)

    @no_type_check
    def _classifier_for(self, classifier) -> Array:
        """The classifier an evaluation uses: the fixed one, or the given one of a learned problem."""
        if not self.learns_classifier:
            if classifier is not None:
                raise ValueError(
                    "classifier applies to problems with a learned classifier (classifier_decay); "
                    "this problem's classifier is the fixed simplex ETF"
                )
            return self._classifier
        if classifier is None:
            raise ValueError(
                f"this problem learns its classifier (classifier_decay={self.classifier_decay:g}): "
                "pass classifier= too (e.g. solution.classifier)"
            )
        w = jnp.asarray(classifier)
        shape = (self.num_classes, self.dim)
        if w.shape != shape:
            raise ValueError(f"classifier must have shape {shape} (K, d), got {w.shape}")
        return w.astype(self.dtype)


MAX_QUADRATURE = 10_000


def _check_quadrature(value: object) -> int:
    """The number of Gauss-Jacobi nodes: 1 to 10000 (computing them costs O(M^2))."""
    count = check_int("quadrature", value, 1)
    if count > MAX_QUADRATURE:
        raise ValueError(
            f"quadrature must be <= {MAX_QUADRATURE} (computing the nodes costs O(M^2), and the rule is exact "
            f"for polynomials of degree 2M - 1: far fewer nodes suffice), got {count}"
        )
    return count


def _rebuild(spec: dict) -> MixupUFM:
    return MixupUFM(**spec)


def _no_fixed_classifier(problem: MixupUFM, name: str) -> str:
    return (
        f"{name} is a property of the fixed simplex-ETF classifier; this problem learns its classifier "
        f"(classifier_decay={problem.classifier_decay:g}): use solution.classifier"
    )


def pair_weights(
    pair_index: Int[np.ndarray, "P 2"], class_weights: tuple[float, ...] | None
) -> Float[np.ndarray, " P"]:
    r"""Pair weights $\omega_p = \pi_c\pi_{c'}/\sum_{q}\pi_{c_q}\pi_{c'_q}$ over the kept pairs
    (uniform $1/P$ when ``class_weights`` is ``None``; with all $K^2$ pairs the sum is already 1)."""
    count = pair_index.shape[0]
    if class_weights is None:
        return np.full(count, 1.0 / count)
    pi = np.asarray(class_weights, dtype=np.float64)
    weights = pi[pair_index[:, 0]] * pi[pair_index[:, 1]]
    return weights / np.sum(weights)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.flags.writeable = False
    return array


def draw_lambdas(alpha: float, count: int, seed: int) -> Float[np.ndarray, " M"]:
    r"""``count`` mixing coefficients $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ from
    ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).beta(alpha, alpha, size=count)


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

