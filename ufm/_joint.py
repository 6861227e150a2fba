r"""Generic optimizers over all features jointly (optax transformations): ``lbfgs``, ``adam``, ``gd``
and :class:`ufm.Optax`.

They minimise the *sum* over samples of the per-sample objective, so the gradient with respect to
a sample's feature is that sample's own gradient and the stopping test (the largest per-sample
gradient norm) means the same for every method. The per-sample optima do not depend on how the
samples are weighted in the objective (weights multiply loss and decay alike), so the unweighted
sum has the same minimiser as :meth:`ufm.MixupUFM.objective`.

The loop is one module-level ``jax.jit`` function; the solver's structure (its kind and
compiled-in options) and ``record`` are its static arguments, everything else is data.
"""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu
from jax import lax
from jaxtyping import Array, Float

from ._objective import _per_sample

__all__ = ["run_joint", "max_sample_grad_norm", "TRACES"]

# Traces of the compiled loop: tests check that same-shaped solves do not retrace.
TRACES: collections.Counter = collections.Counter()


def max_sample_grad_norm(per_sample_grad: Float[Array, "... d"]) -> Float[Array, ""]:
    """The largest 2-norm over samples of a per-sample gradient array."""
    return jnp.sqrt(jnp.max(jnp.sum(per_sample_grad * per_sample_grad, axis=-1)))


def _has_value_in_state(state) -> bool:
    """Whether the optimizer keeps the objective and gradient at its iterate in its state (line
    searches do), so that they need not be evaluated again."""
    try:
        return otu.tree_get(state, "value") is not None and otu.tree_get(state, "grad") is not None
    except KeyError:  # several entries of that name: not a state we know how to read
        return False


@functools.partial(jax.jit, static_argnames=("structure", "record", "history_length", "feature_shape"))
def run_joint(
    h0, w, lambdas, mu, pair_index, tol, max_steps, hyper, *, structure, record, history_length, feature_shape
):
    """Minimise the sum of per-sample objectives over the ``(P, M, d)`` samples from ``h0`` on.

    Returns ``(features, num_steps, history)``, the features laid out as ``feature_shape`` (a
    relabelling inside the compiled program, so no second copy is made outside it).
    """
    TRACES["joint"] += 1
    optimizer = structure.make_transform(hyper)

    def fun(h):
        return jnp.sum(_per_sample(h, w, lambdas, mu, pair_index))

    state0 = optimizer.init(h0)
    from_state = _has_value_in_state(state0)
    value_and_grad = optax.value_and_grad_from_state(fun) if from_state else jax.value_and_grad(fun)

    def step(h, state, value, grad):
        updates, state = optimizer.update(grad, state, h, value=value, grad=grad, value_fn=fun)
        h = optax.apply_updates(h, updates)
        value, grad = value_and_grad(h, state=state) if from_state else value_and_grad(h)
        return h, state, value, grad

    def cond(carry):
        k, _, _, value, grad, _ = carry
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        return (k < max_steps) & (max_sample_grad_norm(grad) > tol) & finite

    def body(carry):
        k, h, state, value, grad, history = carry
        h, state, value, grad = step(h, state, value, grad)
        if record is not None:
            history = history.at[k + 1].set(record(h.reshape(feature_shape)))
        return k + 1, h, state, value, grad, history

    value0, grad0 = jax.value_and_grad(fun)(h0)
    if record is None:
        history0 = jnp.zeros((0,), h0.dtype)
    else:
        history0 = jnp.full((history_length,), jnp.nan, h0.dtype).at[0].set(record(h0.reshape(feature_shape)))
    carry = (jnp.asarray(0, jnp.int32), h0, state0, value0, grad0, history0)
    k, h, _, _, _, history = lax.while_loop(cond, body, carry)
    return h.reshape(feature_shape), k, history
