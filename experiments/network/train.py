r"""Training with input mixup: $x = \lambda x_i + (1-\lambda)x_j$, target $\lambda e_{y_i} + (1-\lambda)e_{y_j}$,
$\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ per example, partner $j$ from a shuffled copy of the
batch (Zhang et al., ICLR 2018), the mixup cross-entropy plus weight decay on every weight, by SGD
with momentum and a cosine learning-rate schedule. One epoch is one compiled ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import model

__all__ = ["TrainSettings", "train"]


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Every number the training depends on."""

    epochs: int = 600
    batch_size: int = 128
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    alpha: float = 1.0
    hidden: tuple[int, ...] = (256, 256)
    feature_dim: int = 32
    head_scale: float = 1.0
    record_every: int = 10
    seed: int = 0


def _mixup_loss(params, head, x, y, lam, perm, num_classes):
    x_mix = lam[:, None] * x + (1.0 - lam[:, None]) * x[perm]
    target = lam[:, None] * jax.nn.one_hot(y, num_classes) + (1.0 - lam[:, None]) * jax.nn.one_hot(y[perm], num_classes)
    z = model.logits(params, head, x_mix)
    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - jnp.sum(target * z, axis=-1))


def _optimizer(settings: TrainSettings, steps_per_epoch: int) -> optax.GradientTransformation:
    """SGD with momentum, a cosine schedule over the whole run, and L2 weight decay on every weight."""
    schedule = optax.cosine_decay_schedule(settings.learning_rate, settings.epochs * steps_per_epoch)
    return optax.chain(
        optax.add_decayed_weights(settings.weight_decay), optax.sgd(schedule, momentum=settings.momentum)
    )


# The settings (frozen, hashable) are static: the epoch compiles once per run configuration.
@functools.partial(jax.jit, static_argnames=("settings", "num_classes"))
def _epoch(params, opt_state, key, head, x, y, *, settings, num_classes):
    n = x.shape[0]
    batch_size, alpha = settings.batch_size, settings.alpha
    steps = n // batch_size  # the remainder is left out of this epoch (reshuffled next epoch)
    optimizer = _optimizer(settings, steps)
    k_perm, k_lam, k_pair = jax.random.split(key, 3)
    order = jax.random.permutation(k_perm, n)[: steps * batch_size].reshape(steps, batch_size)
    lams = jax.random.beta(k_lam, alpha, alpha, (steps, batch_size))
    pairs = jax.vmap(lambda k: jax.random.permutation(k, batch_size))(jax.random.split(k_pair, steps))

    def step(carry, batch):
        params, opt_state = carry
        idx, lam, perm = batch
        loss, grads = jax.value_and_grad(_mixup_loss)(params, head, x[idx], y[idx], lam, perm, num_classes)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (order, lams, pairs))
    return params, opt_state, jnp.mean(losses)


def train(data, settings: TrainSettings, fixed_head: np.ndarray | None, on_record=None) -> dict:
    """Train one network (fixed head if ``fixed_head`` is given, else a learned one).

    ``on_record(epoch, params)`` is called before training and every ``record_every`` epochs and
    after the last; returns the final parameters and the loss per epoch.
    """
    key = jax.random.PRNGKey(settings.seed)
    key_init, key_train = jax.random.split(key)
    sizes = (data.x_train.shape[1], *settings.hidden, settings.feature_dim)
    params = model.init_params(key_init, sizes, data.num_classes, learned_head=fixed_head is None)
    head = jnp.zeros((data.num_classes, settings.feature_dim)) if fixed_head is None else jnp.asarray(fixed_head)
    opt_state = _optimizer(settings, data.x_train.shape[0] // settings.batch_size).init(params)
    # What shapes the compiled epoch; the seed and the recording interval do not.
    program = dataclasses.replace(settings, seed=0, record_every=1)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    losses = []
    if on_record is not None:
        on_record(0, params)
    for epoch in range(1, settings.epochs + 1):
        key_train, key_epoch = jax.random.split(key_train)
        params, opt_state, loss = _epoch(
            params, opt_state, key_epoch, head, x, y, settings=program, num_classes=data.num_classes
        )
        losses.append(float(loss))
        if on_record is not None and (epoch % settings.record_every == 0 or epoch == settings.epochs):
            on_record(epoch, params)
    return {"params": params, "head": head if fixed_head is not None else params["head"], "losses": np.asarray(losses)}
