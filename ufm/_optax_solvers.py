"""Generic first-order and quasi-Newton optimizers from optax, over all features jointly.

Each method is a pair ``init(params, fun) -> carry_extra`` / ``step(...)`` used by the jitted
``lax.while_loop`` in :mod:`ufm._minimize`. They minimise the *sum* over samples of the per-sample
objective ($N$ times the mean), so their gradient is each sample's own gradient and tolerances mean
the same thing for every method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import optax
import optax.tree_utils as otu

__all__ = ["OptaxMethod", "optax_method"]


@dataclasses.dataclass(frozen=True)
class OptaxMethod:
    """An optax optimizer plus how to advance it one step.

    ``uses_value_fn`` marks optimizers with a line search (L-BFGS), which need the objective itself
    and already hold the gradient at the new iterate in their state.
    """

    name: str
    make: Callable[[float], optax.GradientTransformation]
    default_learning_rate: Callable[[float, float], float | None]
    default_max_steps: int
    uses_value_fn: bool = False


def _gd_rate(beta: float, weight_decay: float) -> float:
    # The per-sample Hessian is W^T(diag p - pp^T)W + mu I <= (beta/2 + mu) I, so 1/L is safe.
    return 1.0 / (0.5 * beta + weight_decay)


_METHODS = {
    "lbfgs": OptaxMethod(
        "lbfgs",
        lambda lr: optax.lbfgs(memory_size=10),
        lambda beta, mu: None,
        default_max_steps=2_000,
        uses_value_fn=True,
    ),
    "adam": OptaxMethod(
        "adam",
        lambda lr: optax.adam(lr),
        lambda beta, mu: 1e-2,
        default_max_steps=20_000,
    ),
    "gd": OptaxMethod(
        "gd",
        lambda lr: optax.sgd(lr),
        _gd_rate,
        default_max_steps=50_000,
    ),
}


def optax_method(name: str) -> OptaxMethod:
    return _METHODS[name]


def optax_step(method: OptaxMethod, optimizer: optax.GradientTransformation, fun):
    """Return ``step(params, opt_state, value, grad) -> (params, opt_state, value, grad)``."""
    if method.uses_value_fn:
        value_and_grad = optax.value_and_grad_from_state(fun)

        def step(params, opt_state, value, grad):
            updates, opt_state = optimizer.update(
                grad, opt_state, params, value=value, grad=grad, value_fn=fun
            )
            params = optax.apply_updates(params, updates)
            # The line search already evaluated the objective and gradient at the new iterate.
            value, grad = value_and_grad(params, state=opt_state)
            return params, opt_state, value, grad

    else:
        import jax

        value_and_grad = jax.value_and_grad(fun)

        def step(params, opt_state, value, grad):
            updates, opt_state = optimizer.update(grad, opt_state, params)
            params = optax.apply_updates(params, updates)
            value, grad = value_and_grad(params)
            return params, opt_state, value, grad

    return step


del otu
