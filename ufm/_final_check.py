r"""What every solve reports at its returned features: the objective and the largest per-sample
gradient norm, recomputed from the features alone, by one of two independent routes.

* ``"direct"`` (the default): each sample's gradient $g = W^\top(p - y) + \mu h$, $p =
  \operatorname{softmax}(Wh)$, written out and evaluated in one fused pass over the features, in
  cache-sized chunks of samples, together with the per-sample objective
  $\operatorname{logsumexp}(Wh) - y^\top Wh + \tfrac{\mu}{2}\|h\|^2$. It uses the features, the
  classifier and the targets only: none of a solver's internal state (the Newton solver's logit
  coordinates, an optimizer's stored gradient).
* ``"autodiff"``: ``jax.grad`` of the per-sample objective (:func:`ufm.per_sample_objective`), in
  slabs of the $\lambda$ axis; independent of the formula above, and somewhat slower (about a
  third more CPU time at $K = 30$).

Both work on features split over several devices, and over several processes: the direct route
follows the split of the features (by pairs or by mixing coefficients, as the Newton solver
leaves them) and reduces the per-device results at the end; the autodiff route lets XLA
partition it.
"""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import NamedSharding
from jaxtyping import Array, ArrayLike, Float, Int

from . import _sharding
from ._newton import chunk_samples, chunk_starts, sample_targets
from ._objective import _per_sample
from ._problem import MixupUFM

__all__ = ["FINAL_CHECKS", "final_values", "direct_objective_and_grad_norm", "autodiff_objective_and_grad_norm"]

FINAL_CHECKS: tuple[str, ...] = ("direct", "autodiff")

# Traces of the compiled evaluations, by route: tests check that same-shaped checks do not retrace.
TRACES: collections.Counter = collections.Counter()

_CHUNK_ELEMENTS = 1 << 14  # features and logits of a chunk stay in a core's cache (fastest measured)
_SLAB_ELEMENTS = 1 << 22


def _direct_local(h, w, pairs, lam, pair_weights, lambda_weights, mu, rows):
    """Weighted objective, largest squared gradient norm and finiteness of one block ``(P', M', d)``
    of samples whose pairs and mixing coefficients are ``pairs`` and ``lam``."""
    num_pairs, m, d = h.shape
    k = w.shape[0]
    n = num_pairs * m
    size = min(rows, n)
    flat = h.reshape(n, d)

    def chunk(i, carry):
        total, max_sq, finite = carry
        nominal, start = chunk_starts(i, size, n)
        index = start + lax.iota(jnp.int32, size)
        a, b, lam_rows = chunk_samples(pairs, lam, start, size)
        weight = pair_weights[index // m] * lambda_weights[index % m]
        x = lax.dynamic_slice_in_dim(flat, start, size)
        z = x @ w.T
        top = lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
        e = jnp.exp(z - top)
        total_e = jnp.sum(e, axis=-1, keepdims=True)
        y = sample_targets(a, b, lam_rows, k)
        g = ((e / total_e - y) @ w) + mu * x
        value = (top + jnp.log(total_e))[:, 0] - jnp.sum(y * z, axis=-1) + 0.5 * mu * jnp.sum(x * x, axis=-1)
        # The last chunk may repeat samples of the one before: they count once in the sum.
        total = total + jnp.sum(jnp.where(index >= nominal, weight * value, 0.0))
        max_sq = jnp.maximum(max_sq, jnp.max(jnp.sum(g * g, axis=-1)))
        return total, max_sq, finite & jnp.all(jnp.isfinite(x))

    zero = jnp.zeros((), h.dtype)
    return lax.fori_loop(0, -(-n // size), chunk, (zero, zero, jnp.asarray(True)))


@functools.partial(jax.jit, static_argnames=("rows", "mesh", "split"))
def direct_objective_and_grad_norm(
    features: Float[Array, "..."],
    w: Float[Array, "K d"],
    pair_index: Int[Array, "P 2"],
    lambdas: Float[Array, " M"],
    pair_weights: Float[Array, " P"],
    lambda_weights: Float[Array, " M"],
    mu: Float[Array, ""],
    *,
    rows: int,
    mesh,
    split: int | None,
) -> tuple[Float[Array, ""], Float[Array, ""], jax.Array]:
    r"""Weighted objective and $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$ at ``features`` (laid out
    as ``(P, M, d)`` or ``(K, K, M, d)``), in one pass.

    With ``mesh`` and ``split`` (``0``: split by pairs, ``1``: by mixing coefficients), every
    device evaluates its own block and the results are reduced over the mesh; otherwise XLA
    places the computation.

    Returns ``(objective, max grad norm, all features finite)``.
    """
    TRACES["direct"] += 1
    samples = features.reshape(pair_index.shape[0], lambdas.shape[0], w.shape[1])
    if mesh is None:
        total, max_sq, finite = _direct_local(samples, w, pair_index, lambdas, pair_weights, lambda_weights, mu, rows)
        return total, jnp.sqrt(max_sq), finite

    def local(h, w, pairs, lam, pair_w, lam_w, mu):
        total, max_sq, finite = _direct_local(h, w, pairs, lam, pair_w, lam_w, mu, rows)
        axis = _sharding.SAMPLE_AXIS
        return lax.psum(total, axis), lax.pmax(max_sq, axis), lax.pmin(finite.astype(jnp.int32), axis)

    split_spec, rep = _sharding.PartitionSpec(_sharding.SAMPLE_AXIS), _sharding.PartitionSpec()
    pair_spec, lam_spec = (split_spec, rep) if split == 0 else (rep, split_spec)
    sample_spec = _sharding.PartitionSpec(*([None] * split), _sharding.SAMPLE_AXIS)
    total, max_sq, finite = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(sample_spec, rep, pair_spec, lam_spec, pair_spec, lam_spec, rep),
        out_specs=(rep, rep, rep),
        check_vma=False,
    )(samples, w, pair_index, lambdas, pair_weights, lambda_weights, mu)
    return total, jnp.sqrt(max_sq), finite > 0


@jax.jit
def autodiff_objective_and_grad_norm(
    features: Float[Array, "..."],
    w: Float[Array, "K d"],
    lambdas: Float[Array, " M"],
    mu: Float[Array, ""],
    pair_index: Int[Array, "P 2"],
    weights: Float[Array, "P M"],
) -> tuple[Float[Array, ""], Float[Array, ""], jax.Array]:
    r"""Weighted objective and largest per-sample gradient norm, by autodiff of the per-sample
    objective (independent of any solver's own arithmetic and of the direct formula).

    Samples are independent, so the work is done in slabs of the $\lambda$ axis: each slab's
    per-sample gradients are the gradient of the sum of its own per-sample objectives. Peak memory
    is then a few slabs rather than several copies of the features.

    Returns ``(objective, max grad norm, all finite)``.
    """
    TRACES["autodiff"] += 1
    samples = features.reshape(*weights.shape, w.shape[1])
    num_lambdas = samples.shape[1]
    per_lambda = samples.size // num_lambdas
    width = max(1, min(num_lambdas, _SLAB_ELEMENTS // per_lambda))
    while num_lambdas % width:
        width -= 1

    def slab(i, carry):
        total, max_sq, finite = carry
        h = lax.dynamic_slice_in_dim(samples, i * width, width, axis=1)
        lam = lax.dynamic_slice_in_dim(lambdas, i * width, width)
        weight = lax.dynamic_slice_in_dim(weights, i * width, width, axis=1)

        def slab_objective(h):
            values = _per_sample(h, w, lam, mu, pair_index)
            return jnp.sum(values), jnp.sum(values * weight)

        (_, value), grad = jax.value_and_grad(slab_objective, has_aux=True)(h)
        max_sq = jnp.maximum(max_sq, jnp.max(jnp.sum(grad * grad, axis=-1)))
        return total + value, max_sq, finite & jnp.all(jnp.isfinite(h))

    zero = jnp.zeros((), samples.dtype)
    total, max_sq, finite = lax.fori_loop(0, num_lambdas // width, slab, (zero, zero, jnp.asarray(True)))
    return total, jnp.sqrt(max_sq), finite


def _split_of(features) -> tuple[object, int | None]:
    """The mesh and split axis (``0`` pairs, ``1`` mixing coefficients) of features that are split
    over a 1-D mesh along their first axis or their $M$ axis; ``(None, None)`` otherwise (one
    device, replicated, or another layout: XLA then places the evaluation)."""
    sharding = getattr(features, "sharding", None)
    if not isinstance(sharding, NamedSharding) or len(sharding.mesh.axis_names) != 1:
        return None, None
    spec = tuple(sharding.spec) + (None,) * (features.ndim - len(sharding.spec))
    split = [i for i, s in enumerate(spec) if s is not None]
    if sharding.mesh.devices.size == 1 or not split:
        return None, None
    if split == [0]:
        return sharding.mesh, 0
    if split == [features.ndim - 2]:
        return sharding.mesh, 1
    return None, None


def _chunk_rows(num_classes: int, dim: int) -> int:
    rows = max(8, _CHUNK_ELEMENTS // max(num_classes, dim))
    return 1 << (rows.bit_length() - 1)


def final_values(
    problem: MixupUFM, features: Float[ArrayLike, "..."], method: str = "direct"
) -> tuple[float, float, bool]:
    """``(objective, largest per-sample gradient norm, all features finite)`` at ``features``
    (``problem.feature_shape``, any placement), by the ``"direct"`` or ``"autodiff"`` route."""
    dtype = problem.dtype
    # Host arrays (uncommitted) beside the features: they go wherever the features are, also when
    # those are spread over several processes.
    mu = np.asarray(problem.weight_decay, dtype)
    w = np.asarray(problem.classifier)
    if method == "autodiff":
        value, grad_norm, finite = autodiff_objective_and_grad_norm(
            features,
            w,
            np.asarray(problem.lambdas, np.float64).astype(dtype),
            mu,
            np.asarray(problem.pair_index),
            np.asarray(problem.sample_weights(), np.float64).astype(dtype),
        )
    else:
        mesh, split = _split_of(features)
        pairs = np.asarray(problem.pair_index, np.int32)
        lam = np.asarray(problem.lambdas, np.float64).astype(dtype)
        pair_w = np.asarray(problem.pair_weights, np.float64).astype(dtype)
        lam_w = np.asarray(problem.lambda_weights, np.float64).astype(dtype)
        mu_arg = mu
        if mesh is not None:
            def place(x, along):
                return _sharding.shard_axis(x, mesh, 0) if along else _sharding.shard_replicated(x, mesh)

            pairs, pair_w = place(pairs, split == 0), place(pair_w, split == 0)
            lam, lam_w = place(lam, split == 1), place(lam_w, split == 1)
            w = _sharding.shard_replicated(w, mesh)
            mu_arg = _sharding.shard_replicated(mu, mesh)
        value, grad_norm, finite = direct_objective_and_grad_norm(
            features, w, pairs, lam, pair_w, lam_w, mu_arg,
            rows=_chunk_rows(problem.num_classes, problem.dim), mesh=mesh, split=split,
        )
    objective, grad_norm = float(value), float(grad_norm)
    return objective, grad_norm, bool(finite) and bool(np.isfinite(grad_norm)) and bool(np.isfinite(objective))
