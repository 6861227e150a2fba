r"""Several processes and hosts on JAX's own distributed runtime (``jax.distributed``).

Every process runs the same program: :func:`initialize` first (before any other JAX call), then
``ufm.minimize(problem, devices=ufm.distributed.devices())`` splits the samples over the devices
of all processes (each process fills and solves only its own blocks), then :func:`gather` brings
the features to one process, which checks and saves them::

    ufm.distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=i)
    problem = ufm.MixupUFM(100)
    solution = ufm.minimize(problem, devices=ufm.distributed.devices())
    solution = ufm.distributed.gather(solution)        # every process calls it
    if solution is not None:                           # process 0: NumPy features
        print(ufm.check(problem, solution).text())

On CPU the processes exchange data over TCP with the gloo collectives
(``jax_cpu_collectives_implementation="gloo"``), so several processes also run on one machine.
Only the Newton solver splits its samples over devices; the generic joint optimizers run on one
device of one process and refuse ``devices``.

Cluster launchers: left unset, the coordinator address, the number of processes and the process
id are filled in by JAX from the launcher's environment as JAX documents it: Slurm
(``SLURM_JOB_ID``, ``SLURM_STEP_NODELIST``, ``SLURM_NTASKS``, ``SLURM_PROCID``, ``SLURM_LOCALID``)
and Open MPI (``OMPI_MCA_orte_hnp_uri``, ``OMPI_COMM_WORLD_SIZE``, ``OMPI_COMM_WORLD_RANK``,
``OMPI_COMM_WORLD_LOCAL_RANK``), with ``JAX_COORDINATOR_PORT`` choosing the port there;
``JAX_COORDINATOR_ADDRESS`` stands in for a missing coordinator address everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import no_type_check

import jax
import numpy as np
from jax import lax

from ._solution import Solution
from ._validation import check_int

__all__ = [
    "LAUNCHERS",
    "DistributedError",
    "detect_launcher",
    "check_address",
    "initialize",
    "failure_message",
    "devices",
    "gather",
    "broadcast",
    "allgather",
    "text_digest",
    "differing_processes",
]

# The environment variables through which JAX detects a cluster launcher (all must be set).
LAUNCHERS: dict[str, tuple[str, ...]] = {
    "slurm": ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID"),
    "openmpi": ("OMPI_MCA_orte_hnp_uri", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"),
}
_LAUNCHER_SIZE = {
    "slurm": ("SLURM_NTASKS", "SLURM_PROCID"),
    "openmpi": ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
}


class DistributedError(RuntimeError):
    """The distributed runtime could not be started or joined (one-line message)."""


def detect_launcher(environ: Mapping[str, str] | None = None) -> tuple[str, int, int] | None:
    """``(launcher, number of processes, this process's id)`` when this process was started by a
    cluster launcher that JAX detects (Slurm, Open MPI) with more than one process, else ``None``."""
    environ = os.environ if environ is None else environ
    for name, variables in LAUNCHERS.items():
        if all(v in environ for v in variables):
            size, rank = _LAUNCHER_SIZE[name]
            try:
                count, index = int(environ[size]), int(environ[rank])
            except ValueError:
                continue
            if count > 1:
                return name, count, index
    return None


def check_address(address: object) -> str:
    """``address`` if it is ``HOST:PORT`` with a port in 1..65535 (else ``ValueError``, one line)."""
    if not isinstance(address, str) or not re.fullmatch(r"\[?[^\s\[\]]+\]?:\d{1,5}", address):
        raise ValueError(f"coordinator must be HOST:PORT (e.g. 10.0.0.1:1234), got {address!r}")
    port = int(address.rsplit(":", 1)[1])
    if not 1 <= port <= 65535:
        raise ValueError(f"coordinator port must be between 1 and 65535, got {port}")
    return address


@contextlib.contextmanager
def _stderr_into(path: str):
    """Send this process's file descriptor 2 (where the runtime's C++ code logs) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def failure_message(
    log_text: str,
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
    timeout: int,
) -> str:
    """One line saying why the distributed runtime did not start, from what it logged."""
    where = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or "the coordinator"
    who = "" if process_id is None else f"process {process_id}"
    if who and num_processes is not None:
        who += f" of {num_processes}"
    status = re.search(r"absl::Status: ([A-Z_]+: [^\n]*)", log_text)
    rpc = re.search(r"RPC: (\S+)", log_text)
    if status and status.group(1).startswith("DEADLINE_EXCEEDED"):
        if process_id == 0:
            count = "" if num_processes is None else f"{num_processes} "
            return (
                f"{who}: not all {count}processes joined the coordinator at {where} within {timeout} s "
                "(are the others running the same command, and can they reach this address?)"
            )
        return (
            f"{who or 'this process'} could not reach the coordinator at {where} within {timeout} s "
            "(is process 0 running the same command, and is the address reachable from here?)"
        )
    detail = status.group(1) if status else _last_line(log_text)
    if rpc:
        detail += f" ({rpc.group(1)})"
    return f"the distributed runtime at {where} did not start for {who or 'this process'}: {detail}".rstrip(": ")


def _last_line(text: str) -> str:
    """The last non-empty line, without absl's ``E0101 00:00:00.000 file.cc:1]`` prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return re.sub(r"^[EFWI]\d{4} [\d:.]+\s+\d+ \S+\] ", "", lines[-1]) if lines else ""


@no_type_check  # arguments checked by hand, with one-line messages
def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: int = 300,
    log: str | os.PathLike | None = None,
) -> None:
    """Start or join JAX's distributed runtime (``jax.distributed.initialize``), with CPU
    collectives over gloo; call it in every process before any other JAX call.

    Args:
        coordinator_address: ``HOST:PORT`` of process 0, where it serves the coordinator (every
            process passes the same). ``None``: ``JAX_COORDINATOR_ADDRESS`` or the cluster
            launcher's environment (see the module docstring).
        num_processes: number of processes (``None``: from the launcher's environment).
        process_id: this process, ``0 <= process_id < num_processes``.
        timeout: seconds to wait for all processes to join (JAX's ``initialization_timeout``).
        log: file that receives what the runtime itself logs while starting (kept, for a
            supervisor that reports failures the runtime answers by ending the process, as it does
            when the coordinator cannot be reached in time); ``None``: a temporary file.

    Raises:
        ValueError, TypeError: for malformed arguments.
        DistributedError: when the runtime could not be started (one line, e.g. the port is taken).
    """
    if coordinator_address is not None:
        check_address(coordinator_address)
    if num_processes is not None:
        num_processes = check_int("num_processes", num_processes, 1)
    if process_id is not None:
        process_id = check_int("process_id", process_id, 0)
        if num_processes is not None and process_id >= num_processes:
            raise ValueError(f"process_id must be < num_processes = {num_processes}, got {process_id}")
    timeout = check_int("timeout", timeout, 1)
    address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if process_id not in (None, 0) and address is not None:
        # The runtime answers an unreachable coordinator by ending the process after its timeout;
        # waiting for the address to answer first turns that case into an error raised here.
        if not _reachable(address, timeout):
            raise DistributedError(
                failure_message("absl::Status: DEADLINE_EXCEEDED: coordinator unreachable", address,
                                num_processes, process_id, timeout)
            )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keep = log is not None
    path = os.fspath(log) if keep else tempfile.mkstemp(prefix="ufm-distributed-", suffix=".log")[1]
    try:
        with _stderr_into(path):
            jax.distributed.initialize(
                coordinator_address, num_processes, process_id, initialization_timeout=timeout
            )
    except (RuntimeError, ValueError, TypeError) as err:  # jax's errors, and XLA's JaxRuntimeError
        with open(path, errors="replace") as f:
            text = f.read()
        raise DistributedError(
            failure_message(f"{text}\n{err}", coordinator_address, num_processes, process_id, timeout)
        ) from None
    finally:
        if not keep:
            os.unlink(path)


def _reachable(address: str, timeout: float) -> bool:
    """Whether something accepts TCP connections at ``address`` (``HOST:PORT``) within ``timeout``
    seconds, trying again every 0.2 s (process 0 may start after the others)."""
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, int(port)), timeout=max(0.1, min(1.0, left))):
                return True
        except OSError:
            if left <= 0:
                return False
            time.sleep(min(0.2, max(0.0, left)))


def devices(per_process: int | None = None) -> list[jax.Device]:
    """All devices of all processes, or the first ``per_process`` local devices of every process,
    in process order: what ``ufm.minimize(..., devices=...)`` splits the samples over."""
    everything = jax.devices()
    if per_process is None:
        return everything
    per_process = check_int("devices", per_process, 1)
    if per_process > jax.local_device_count():
        raise ValueError(f"devices must be between 1 and {jax.local_device_count()} (local devices), got {per_process}")
    chosen = []
    for index in range(jax.process_count()):
        mine = sorted((d for d in everything if d.process_index == index), key=lambda d: d.id)
        chosen += mine[:per_process]
    return chosen


@functools.partial(jax.jit, static_argnames=("rows", "sharding"))
def _block(array, start, *, rows, sharding):
    """``array[start:start + rows]`` copied to every device of ``sharding`` (a collective)."""
    return lax.with_sharding_constraint(lax.dynamic_slice_in_dim(array, start, rows), sharding)


def _replicated(sharding) -> jax.sharding.Sharding:
    """Every device of ``sharding`` holding the whole value (same device order in every process)."""
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    ordered = sorted(sharding.device_set, key=lambda d: (d.process_index, d.id))
    return jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(ordered), ("all",)), jax.sharding.PartitionSpec())


@no_type_check
def gather(
    value: Solution | jax.Array | np.ndarray, process: int = 0, *, block_elements: int = 1 << 20
) -> Solution | np.ndarray | None:
    """Bring features spread over several devices or processes to one process, as a NumPy array.

    A collective: every process must call it, in the same order as its other JAX calls. The
    array moves in blocks along its first axis of about ``block_elements`` elements, so beyond
    the result only a block per device is held (never a copy of the whole array per device).

    Args:
        value: a :class:`ufm.Solution` (its features are gathered) or an array.
        process: the process that receives the result.
        block_elements: elements per block moved at a time (at least one row of the first axis).

    Returns:
        On ``process``: the array as NumPy, or the solution with NumPy features; on the others,
        ``None``. An array on one device is returned as ``numpy.asarray`` gives it (a view on CPU).
    """
    if isinstance(value, Solution):
        features = gather(value.features, process, block_elements=block_elements)
        return None if features is None else dataclasses.replace(value, features=features)
    block_elements = check_int("block_elements", block_elements, 1)
    receives = jax.process_index() == process
    if not isinstance(value, jax.Array) or len(value.sharding.device_set) == 1:
        return np.asarray(value) if receives else None
    shape = value.shape
    rows = max(1, min(shape[0], block_elements // max(1, int(np.prod(shape[1:])))))
    sharding = _replicated(value.sharding)
    out = np.empty(shape, value.dtype) if receives else None
    for nominal in range(0, shape[0], rows):
        start = min(nominal, shape[0] - rows)  # one block size: one compiled program
        block = _block(value, np.int32(start), rows=rows, sharding=sharding)
        if receives:
            out[start : start + rows] = np.asarray(block.addressable_data(0))
        del block
    return out


def broadcast(value: int | float) -> int | float:
    """Process 0's ``value`` (a number), on every process (a collective)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    kind = int if isinstance(value, (int, np.integer)) else float
    return kind(multihost_utils.broadcast_one_to_all(np.asarray(value, np.float64)))


def allgather(values) -> list[tuple[int, ...]]:
    """Every process's ``values`` (a few integers, the same count in every process), in process
    order, on every process (a collective; one compiled program per count)."""
    values = tuple(int(v) for v in values)
    if jax.process_count() == 1:
        return [values]
    from jax.experimental import multihost_utils

    everyone = multihost_utils.process_allgather(np.asarray(values, np.int64))
    return [tuple(int(v) for v in row) for row in np.asarray(everyone).reshape(jax.process_count(), -1)]


def text_digest(text: str) -> int:
    """A 63-bit digest of ``text``, to compare texts across processes with :func:`allgather`."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def differing_processes(text: str) -> list[int]:
    """The processes whose ``text`` (e.g. their command line) differs from process 0's (a collective)."""
    everyone = allgather([text_digest(text)])
    return [i for i, v in enumerate(everyone) if v != everyone[0]]
