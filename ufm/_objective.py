r"""The mixup cross-entropy objective, per sample and in total, on the ``(P, M, d)`` layout.

The public functions also take the ``(K, K, M, d)`` layout of the full model (all $K^2$ ordered
pairs, row-major) with ``pair_index=None``: that is a free reshape to ``(K^2, M, d)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

__all__ = ["per_sample_objective", "mixup_objective", "jit_objective", "jit_per_sample_gradient"]


def _per_sample(
    samples: Float[Array, "P M d"],
    classifier: Float[Array, "K d"],
    lambdas: Float[Array, " M"],
    weight_decay: Float[ArrayLike, ""],
    pair_index: Int[Array, "P 2"],
) -> Float[Array, "P M"]:
    r"""$\operatorname{logsumexp}(Wh) - \lambda z_c - (1-\lambda) z_{c'} + \frac{\mu}{2}\|h\|^2$.

    The target enters only through the two logits it picks out, $z_c = w_c^\top h$ and
    $z_{c'} = w_{c'}^\top h$, so no $(N, K)$ target matrix is ever built.
    """
    logits = jnp.einsum("pmd,kd->pmk", samples, classifier)
    z_c = jnp.einsum("pmd,pd->pm", samples, classifier[pair_index[:, 0]])
    z_c2 = jnp.einsum("pmd,pd->pm", samples, classifier[pair_index[:, 1]])
    loss = jax.nn.logsumexp(logits, axis=-1) - lambdas * z_c - (1 - lambdas) * z_c2
    return loss + 0.5 * weight_decay * jnp.sum(samples * samples, axis=-1)


def _to_samples(features, pair_index):
    """``(K, K, M, d)`` with ``pair_index=None`` -> ``((K^2, M, d), all pairs)``; ``(P, M, d)`` unchanged."""
    features = jnp.asarray(features)
    if pair_index is None:
        if features.ndim != 4 or features.shape[0] != features.shape[1]:
            raise ValueError(
                f"without pair_index, features must be (K, K, M, d) (all ordered pairs), got {features.shape}"
            )
        k = features.shape[0]
        pairs = np.indices((k, k), dtype=np.int32).reshape(2, -1).T
        return features.reshape(k * k, *features.shape[2:]), jnp.asarray(pairs)
    if features.ndim != 3:
        raise ValueError(f"with pair_index, features must be (P, M, d), got {features.shape}")
    return features, jnp.asarray(pair_index)


def per_sample_objective(
    features: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    classifier: Float[ArrayLike, "K d"],
    lambdas: Float[ArrayLike, " M"],
    weight_decay: Float[ArrayLike, ""],
    pair_index: Int[ArrayLike, "P 2"] | None = None,
) -> Float[Array, "K K M"] | Float[Array, "P M"]:
    r"""$\operatorname{logsumexp}(Wh) - \lambda z_c - (1-\lambda) z_{c'} + \frac{\mu}{2}\|h\|^2$ per sample.

    Features are ``(K, K, M, d)`` when ``pair_index`` is ``None``, else ``(P, M, d)`` with the pairs
    of ``pair_index`` (see :class:`ufm.MixupUFM`); the result has the layout's leading axes.
    Fisher, Meng & Papyan, ICLR 2024, Sec. 3.
    """
    samples, pairs = _to_samples(features, pair_index)
    out = _per_sample(samples, jnp.asarray(classifier), jnp.asarray(lambdas), weight_decay, pairs)
    return out.reshape(jnp.shape(features)[:-1])


def mixup_objective(
    features: Float[ArrayLike, "K K M d"] | Float[ArrayLike, "P M d"],
    classifier: Float[ArrayLike, "K d"],
    lambdas: Float[ArrayLike, " M"],
    weight_decay: Float[ArrayLike, ""],
    pair_index: Int[ArrayLike, "P 2"] | None = None,
    weights: Float[ArrayLike, "..."] | None = None,
) -> Float[Array, ""]:
    r"""$\sum_i \omega_i f_i$ over the samples' :func:`per_sample_objective` $f_i$: the plain mean
    when ``weights`` is ``None``, else the given per-sample weights (the layout's leading axes,
    summing to one; ``problem.sample_weights()``)."""
    values = per_sample_objective(features, classifier, lambdas, weight_decay, pair_index)
    if weights is None:
        return jnp.mean(values)
    return jnp.sum(values * jnp.asarray(weights).reshape(values.shape))


def _objective(samples, classifier, lambdas, weight_decay, pair_index, weights):
    return jnp.sum(_per_sample(samples, classifier, lambdas, weight_decay, pair_index) * weights)


def _sum_objective(samples, classifier, lambdas, weight_decay, pair_index):
    return jnp.sum(_per_sample(samples, classifier, lambdas, weight_decay, pair_index))


# Compiled once per shape; MixupUFM.objective and .per_sample_gradient call these. The gradient of
# the unweighted sum is each sample's own gradient.
jit_objective = jax.jit(_objective)
jit_per_sample_gradient = jax.jit(jax.grad(_sum_objective))
