"""Compile a solver loop and run it, timing the two separately."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jaxtyping import Array

__all__ = ["compile_and_run"]


def compile_and_run(
    compile_loop: Callable[[], Any], args: Sequence[Any], with_history: bool
) -> tuple[Array, int, float, float, np.ndarray | None]:
    """Call ``compile_loop()`` for a compiled function returning ``(features, num_steps, history)``,
    run it on ``args`` and wait for the result.

    Returns:
        ``(features, num_steps, compile_seconds, solve_seconds, history)``; ``history`` is cut to
        its ``num_steps + 1`` recorded values, or ``None`` without ``with_history``.
    """
    t0 = time.perf_counter()
    compiled = compile_loop()
    t1 = time.perf_counter()
    features, num_steps, history = jax.block_until_ready(compiled(*args))
    t2 = time.perf_counter()
    num_steps = int(num_steps)
    history = np.asarray(history[: num_steps + 1]) if with_history else None
    return features, num_steps, t1 - t0, t2 - t1, history
