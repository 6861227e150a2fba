r"""Features of mixed training inputs: for every ordered class pair $(c, c')$, same-class pairs
included, a few pairs of training images $(x_i, x_j)$ with $y_i = c$, $y_j = c'$ are mixed as
$x = \lambda x_i + (1-\lambda)x_j$ over a grid of $\lambda$, and the trained network's penultimate
features are recorded, in the flat format of ``python -m ufm.analyze``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from . import model

__all__ = ["mixed_pairs", "mixed_features"]


def mixed_pairs(labels: np.ndarray, num_classes: int, per_pair: int, seed: int) -> np.ndarray:
    """``(num_classes**2 * per_pair, 2)`` indices ``(i, j)`` of training images, ``per_pair`` for
    each ordered class pair (``i != j`` within a class), drawn with ``seed``."""
    rng = np.random.default_rng([seed, 11])
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    rows = []
    for c in range(num_classes):
        for c2 in range(num_classes):
            first = rng.choice(members[c], size=per_pair, replace=False)
            second = rng.choice(members[c2], size=per_pair, replace=False)
            if c == c2:  # a same-class pair mixes two different images
                clash = first == second
                second[clash] = rng.choice(np.setdiff1d(members[c2], first), size=int(clash.sum()), replace=False)
            rows.append(np.stack([first, second], axis=1))
    return np.concatenate(rows)


def mixed_features(params, x: np.ndarray, labels: np.ndarray, pairs: np.ndarray, lambdas: np.ndarray) -> dict:
    """The ``ufm.analyze`` arrays (without the classifier) for the mixed inputs of ``pairs`` at
    every coefficient of ``lambdas``: ``features`` (N, d), ``class_a``, ``class_b``, ``lambdas``
    (N,), and the image indices ``index_a``, ``index_b``; N = len(pairs) * len(lambdas)."""
    i, j = np.repeat(pairs[:, 0], lambdas.size), np.repeat(pairs[:, 1], lambdas.size)
    lam = np.tile(lambdas, pairs.shape[0])
    mixed = lam[:, None] * x[i] + (1.0 - lam[:, None]) * x[j]
    h = np.asarray(model.features(params, jnp.asarray(mixed)), dtype=np.float64)
    return {
        "features": h,
        "class_a": labels[i].astype(np.int64),
        "class_b": labels[j].astype(np.int64),
        "lambdas": lam,
        "index_a": i.astype(np.int64),
        "index_b": j.astype(np.int64),
    }
