r"""One JAX device per CPU core, so that the Newton solver's independent samples use every core.

On a CPU, JAX makes a single device of the whole machine. The Newton solver then uses chunks large
enough for XLA to spread each operation over the cores, which is less efficient than cache-sized
chunks on each core. Its samples are independent, and :func:`ufm.minimize` splits them over all
local devices: with one device per core every core solves its own share in cache-sized chunks
(measured on two cores at $K = 30$: 0.09 s instead of 0.13--0.15 s for the whole call,
``docs/performance.md``). The generic solvers run on one device and are unaffected.
"""

from __future__ import annotations

import os
from typing import no_type_check

import jax

__all__ = ["split_cpu", "usable_cores"]

_FLAG = "xla_force_host_platform_device_count"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
    from jax._src import xla_bridge  # no public test for it; present in every JAX this package allows

    return xla_bridge.backends_are_initialized()


@no_type_check  # arguments checked by hand, with one-line messages
def split_cpu(num_devices: int | None = None) -> int:
    """Make JAX's CPU platform ``num_devices`` devices (default: one per usable core).

    Must run before JAX's first computation in this process (it sets the ``jax_num_cpu_devices``
    option, which JAX reads when it starts its CPU backend). Accelerators are not affected; with
    several processes (:mod:`ufm.distributed`) each process splits its own CPU.

    Args:
        num_devices: how many CPU devices; ``None`` means one per usable core, and then a count the
            user has already chosen (``XLA_FLAGS=--xla_force_host_platform_device_count=N`` or the
            ``jax_num_cpu_devices`` option) is kept, and a call after JAX has started changes
            nothing (best effort).

    Returns:
        The number of CPU devices JAX has or will have.

    Raises:
        ValueError: ``num_devices`` is not a positive integer.
        RuntimeError: ``num_devices`` was given, and JAX has already started with another count or
            ``XLA_FLAGS`` sets another count.
    """
    if num_devices is not None and (isinstance(num_devices, bool) or not isinstance(num_devices, int)
                                    or num_devices < 1):
        raise ValueError(f"num_devices must be a positive integer, got {num_devices!r}")
    chosen = _FLAG in os.environ.get("XLA_FLAGS", "") or jax.config.jax_num_cpu_devices > 0
    if _backends_started():
        have = len(jax.devices("cpu"))
        if num_devices is not None and num_devices != have:
            raise RuntimeError(
                f"JAX has already started with {have} CPU device(s); call ufm.split_cpu({num_devices}) before "
                "any JAX computation (or set XLA_FLAGS=--xla_force_host_platform_device_count="
                f"{num_devices} before starting Python)"
            )
        return have
    if num_devices is None:
        if chosen:
            return _chosen_count()
        num_devices = usable_cores()
    elif _FLAG in os.environ.get("XLA_FLAGS", ""):
        if _chosen_count() == num_devices:
            return num_devices
        raise RuntimeError(f"XLA_FLAGS already sets --{_FLAG}={_chosen_count()}; leave it out to choose the count here")
    jax.config.update("jax_num_cpu_devices", num_devices)
    return num_devices


def _chosen_count() -> int:
    for part in os.environ.get("XLA_FLAGS", "").split():
        if part.lstrip("-").startswith(_FLAG + "="):
            return int(part.split("=", 1)[1])
    return int(jax.config.jax_num_cpu_devices)
