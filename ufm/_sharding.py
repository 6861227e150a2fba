"""Placing the sample axis on devices: a 1-D mesh over which every solver's samples are split.

The per-sample problems are independent, so the samples can be split over any number of devices
with no communication except a few scalar reductions per iteration (the stopping test). The
solvers flatten the samples to one axis of length $N$, pad it to a multiple of the number of
devices $D$ (padding samples are valid dummy problems, dropped afterwards) and shard it in $D$
equal contiguous blocks over the mesh axis ``"samples"``.

Several hosts: call ``jax.distributed.initialize()`` in every process first and pass
``devices=jax.devices()`` (all devices of all processes); every process must run the same
program. Arrays are built with ``jax.make_array_from_callback``, so each process only fills its
own blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "SAMPLE_AXIS",
    "sample_mesh",
    "padded_size",
    "shard_samples",
    "shard_axis",
    "shard_replicated",
    "replicated",
    "axis_sharding",
    "PartitionSpec",
]

SAMPLE_AXIS = "samples"


def sample_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"samples"`` over ``devices`` (default: all local devices).

    Raises:
        ValueError: when ``devices`` is empty or repeats a device.
    """
    devices = list(jax.local_devices()) if devices is None else list(devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must be a sequence of jax.Device objects (e.g. jax.devices()[:2])")
    if len({(d.process_index, d.id) for d in devices}) != len(devices):
        raise ValueError("devices must not repeat a device")
    return Mesh(np.asarray(devices, dtype=object), (SAMPLE_AXIS,))


def padded_size(num_samples: int, mesh: Mesh) -> int:
    """The smallest multiple of the number of devices that is at least ``num_samples``."""
    size = mesh.devices.size
    return -(-num_samples // size) * size


def sample_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
    """Axis 0 split over the mesh, the other ``ndim - 1`` axes whole on every device."""
    return axis_sharding(mesh, ndim, 0)


def axis_sharding(mesh: Mesh, ndim: int, axis: int) -> NamedSharding:
    """Axis ``axis`` of an ``ndim``-dimensional array split over the mesh, the others whole."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), SAMPLE_AXIS, *([None] * (ndim - axis - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
    """The same value on every device of the mesh (scalars, the classifier)."""
    return NamedSharding(mesh, PartitionSpec())


def shard_samples(array: np.ndarray, mesh: Mesh) -> jax.Array:
    """A host array with samples on axis 0 (already padded) as a global array sharded over ``mesh``.

    Each process materialises only the blocks of its own devices, so this also works across hosts
    when every process passes the same ``array``.
    """
    array = np.asarray(array)
    sharding = sample_sharding(mesh, array.ndim)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def shard_axis(array: np.ndarray, mesh: Mesh, axis: int) -> jax.Array:
    """A host array split over ``mesh`` along ``axis`` (whose length the number of devices
    divides); each process materialises only the blocks of its own devices."""
    array = np.asarray(array)
    sharding = axis_sharding(mesh, array.ndim, axis)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def shard_replicated(array: np.ndarray, mesh: Mesh) -> jax.Array:
    """A host array copied to every device of ``mesh``."""
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, replicated(mesh), lambda index: array[index])
