r"""How much memory a solve-and-check run will take, estimated before any work is done.

Everything a run holds beyond the interpreter, JAX and the compiled programs is sized by the
problem alone: $K$, the number of pairs $P$, $M$, $d$ and the dtype fix the features
($P\cdot M\cdot d$ numbers, the dominant term) and every working array. :func:`estimate_memory`
adds these terms up for one process; :func:`available_memory` reads what the system can still
give. ``python -m ufm.solve`` compares the two before solving and refuses, with one line naming
the estimate and the options that reduce it, a run that cannot fit.

The terms follow the code: the Newton solver holds only its output and its chunks (see
``docs/performance.md``); the exact optimum, the comparison and the geometry work block by block
(blocks of $2^{19}$ numbers); ``--out`` writes the exact optimum block by block too. A host copy of
the features is needed only where they are not already one host array (on an accelerator; spread
over several processes, where process 0 gathers them; or over several CPU devices of one process,
:func:`ufm.split_cpu`, whose buffers are separate).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import no_type_check

import numpy as np

from ._blocks import _BLOCK_ELEMENTS
from ._problem import MixupUFM
from ._validation import check_int

__all__ = ["MemoryEstimate", "estimate_memory", "available_memory", "RUNTIME_BYTES"]

# The interpreter, NumPy, JAX, XLA, the compiled programs and the allocator's slack: 0.3-0.35 GiB
# measured for `python -m ufm.solve` runs on CPU beyond what the problem's size accounts for. Not
# part of the decision (most of it is resident when the estimate is made); reported next to it.
RUNTIME_BYTES = 350 * 2**20

# Working arrays of a generic joint optimizer, in units of the features: L-BFGS keeps
# 2 * memory_size difference vectors plus iterate, gradient, direction, trial point and line-search
# state; Adam two moments; gradient descent a gradient and an update (optax transformations,
# plus the objective's own forward and backward buffers).
_JOINT_COPIES = {"lbfgs": 2 * 10 + 8, "adam": 7, "gd": 5, "optax": 8}
# Per-sample float arrays of the comparison (errors, norms, the test's bounds and excesses,
# sample weights) and float64 blocks alive at once (exact block, difference, converted numeric
# block, geometry's projections).
_COMPARE_PER_SAMPLE = 8
_COMPARE_BLOCKS = 6
# Blocks alive while writing --out: the exact optimum's block and NumPy's 16 MiB write buffer.
_WRITE_BYTES = 16 * 2**20 + 8 * _BLOCK_ELEMENTS
# Newton's and the final check's chunks: at most 2**17 logits or features per chunk (a CPU device
# with several cores) and ~30 arrays of that size per device.
_CHUNK_BYTES_PER_ITEM = 30 * 2**17


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """The memory a run will add to one process, by part (bytes), on the host and per device.

    Attributes:
        parts: host bytes by part (``"problem"``, ``"features"``, ``"solver"``, ``"host copy"``,
            ``"exact comparison"``, ``"writing --out"``); parts a run does not need are absent.
        device_bytes: bytes per accelerator device (``0`` on CPU, where the features are host memory).
        features_bytes: the features of the whole problem (all processes), for reference.
        runtime_bytes: the interpreter, JAX and the compiled programs (about ``RUNTIME_BYTES`` on CPU),
            already resident when the estimate is made: reported, not part of the decision.
    """

    parts: dict[str, int]
    device_bytes: int
    features_bytes: int
    runtime_bytes: int = RUNTIME_BYTES

    @property
    def peak_bytes(self) -> int:
        """The estimated peak resident memory of the process: ``host_bytes + runtime_bytes``."""
        return self.host_bytes + self.runtime_bytes

    @property
    def host_bytes(self) -> int:
        """The total host memory the run adds (the sum of ``parts``)."""
        return int(sum(self.parts.values()))

    def shortfall(self, available_host: int | None, available_device: int | None = None) -> str | None:
        """``None`` when the run fits, else a phrase saying what does not fit (host or device)."""
        if available_host is not None and self.host_bytes > available_host:
            return (
                f"about {_gib(self.host_bytes)} of memory ({self.breakdown()}) but {_gib(available_host)} "
                "is available"
            )
        if available_device is not None and self.device_bytes > available_device:
            return (
                f"about {_gib(self.device_bytes)} per device but {_gib(available_device)} of device memory is "
                "available"
            )
        return None

    def breakdown(self) -> str:
        """The parts in words, largest first."""
        ordered = sorted(self.parts.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {_gib(value)}" for name, value in ordered)


def _gib(num_bytes: int) -> str:
    return f"{num_bytes / 2**30:.2f} GiB"


@no_type_check  # arguments checked by hand
def estimate_memory(
    problem: MixupUFM,
    method: str = "newton",
    *,
    compare: bool = True,
    save: bool = False,
    num_processes: int = 1,
    process_index: int = 0,
    num_devices: int = 1,
    accelerator: bool = False,
) -> MemoryEstimate:
    r"""Estimate the memory that solving ``problem`` (and checking and saving it) adds to one process.

    Args:
        problem: the problem.
        method: ``"newton"``, ``"lbfgs"``, ``"adam"``, ``"gd"`` or ``"optax"``.
        compare: whether the features are compared with the exact optimum (``ufm.check``).
        save: whether the features and the exact optimum are written (``--out``).
        num_processes: processes the samples are split over (each holds its share).
        process_index: this process; process 0 gathers the features to check and save them.
        num_devices: devices the samples are split over, in all processes.
        accelerator: whether the devices are accelerators (the features then live in device
            memory, and a host copy is made to check or save them).

    Returns:
        A :class:`MemoryEstimate`.
    """
    if not isinstance(problem, MixupUFM):
        raise TypeError(f"problem must be a ufm.MixupUFM, got {type(problem).__name__}")
    num_processes = check_int("num_processes", num_processes, 1)
    num_devices = check_int("num_devices", num_devices, num_processes)
    process_index = check_int("process_index", process_index, 0)
    itemsize = np.dtype(problem.dtype).itemsize
    num_samples = problem.num_samples
    features = num_samples * problem.dim * itemsize
    share = -(-features // num_processes)
    local_devices = -(-num_devices // num_processes)
    chunk = local_devices * _CHUNK_BYTES_PER_ITEM * itemsize
    if method == "newton" and problem.learns_classifier:
        # The reduced Newton method on min_H F (ufm/_learned.py) forms every sample's derivative
        # of its feature with respect to W: about N K^3 numbers, a few copies (measured: 6 GiB
        # at K = 30, M = 16).
        k = problem.num_classes
        solver = 3 * num_samples * k**3 * itemsize + chunk
    elif method == "newton":
        solver = chunk
    elif method in _JOINT_COPIES:
        solver = (_JOINT_COPIES[method] - 1) * features + chunk
    else:
        raise ValueError(f"method must be one of newton, {', '.join(_JOINT_COPIES)}, got {method!r}")

    # The classifier (a few copies: NumPy, JAX, the float64 reference), the pairs, per-sample weights.
    parts: dict[str, int] = {"problem": 4 * problem.num_classes * problem.dim * 8 + 24 * problem.num_pairs}
    device_bytes = 0
    if accelerator:
        device_bytes = -(-(features + solver) // num_devices)
    else:
        parts["features"] = share
        parts["solver"] = solver
    gathers = process_index == 0 and (compare or save)
    if gathers and (accelerator or num_processes > 1 or local_devices > 1):
        parts["host copy"] = features
    if compare and process_index == 0:
        parts["exact comparison"] = _COMPARE_PER_SAMPLE * 8 * num_samples + _COMPARE_BLOCKS * 8 * _BLOCK_ELEMENTS
    if save and process_index == 0:
        parts["writing --out"] = _WRITE_BYTES
    return MemoryEstimate(parts=parts, device_bytes=int(device_bytes), features_bytes=int(features))


def available_memory(device=None) -> int | None:
    """Bytes of memory this process can still obtain: Linux's ``MemAvailable``, capped by the
    limit of the process's control group (containers) when there is one; with ``device`` (a
    ``jax.Device``), that device's free memory as it reports it. ``None`` if unknown (CPU devices
    report none: their memory is the host's)."""
    if device is not None:
        stats = device.memory_stats() or {}
        if "bytes_limit" not in stats:
            return None
        return max(0, int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)))
    candidates = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # v1
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 2**60:
                candidates.append(int(limit) - int(Path(usage_file).read_text().strip()))
        except (OSError, ValueError):
            pass
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return max(0, min(candidates))
