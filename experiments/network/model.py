r"""A small MLP in plain JAX: its penultimate layer gives the features $h \in \mathbb{R}^d$, and a
linear head without bias gives the logits $Wh$, as in the unconstrained-features model.

The penultimate layer is linear (no activation after it), so features can point anywhere in
$\mathbb{R}^d$, as the model's free features do; the hidden layers use ReLU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["init_params", "features", "logits"]


def init_params(key, sizes: tuple[int, ...], num_classes: int, learned_head: bool) -> dict:
    """He-initialised weights for layers ``sizes = (inputs, hidden..., d)`` and, with
    ``learned_head``, a head ``W`` (K, d) with rows of norm about 1."""
    params = {"layers": []}
    keys = jax.random.split(key, len(sizes))
    for k, (n_in, n_out) in zip(keys[:-1], zip(sizes[:-1], sizes[1:])):
        w = jax.random.normal(k, (n_in, n_out)) * np.sqrt(2.0 / n_in)
        params["layers"].append({"w": w, "b": jnp.zeros(n_out)})
    if learned_head:
        params["head"] = jax.random.normal(keys[-1], (num_classes, sizes[-1])) / np.sqrt(sizes[-1])
    return params


def features(params: dict, x):
    """Penultimate features: ReLU hidden layers, then a linear layer."""
    h = x
    layers = params["layers"]
    for layer in layers[:-1]:
        h = jax.nn.relu(h @ layer["w"] + layer["b"])
    return h @ layers[-1]["w"] + layers[-1]["b"]


def logits(params: dict, head, x):
    """``W h`` with ``W`` the learned head if ``params`` has one, else the fixed ``head``."""
    w = params.get("head", head)
    return features(params, x) @ w.T
