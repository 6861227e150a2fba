"""Several processes on JAX's distributed runtime, as a user runs them: the same command per process.

Each process gets 2 simulated CPU devices (``XLA_FLAGS`` must be set before JAX starts, hence
subprocesses) and the processes talk over 127.0.0.1 with the gloo collectives.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ufm
from ufm.solve import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--classes", "4", "--lambdas", "5", "--alpha", "0.7", "--weight-decay", "0.05"]


def _free_port() -> int:
    """A port nothing listens on now: bound to port 0, the system picks a free one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env() -> dict:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(
        os.environ, PYTHONPATH=path, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )


def _start(process_id: int, port: int, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "ufm.solve", *SMALL, "--coordinator", f"127.0.0.1:{port}",
               "--num-processes", "2", "--process-id", str(process_id), *extra]
    return subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_give_the_single_process_features(tmp_path):
    port = _free_port()
    out = tmp_path / "run"
    processes = [_start(i, port, "--out", str(out), "--json") for i in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in processes]
    codes = [p.returncode for p in processes]
    assert codes == [0, 0], [o[1][-2000:] for o in outputs]
    # Process 0 prints exactly one JSON object (none of the runtime's own chatter); process 1 nothing.
    stdout0, stdout1 = outputs[0][0], outputs[1][0]
    assert stdout1 == ""
    assert stdout0.count("\n") == 1
    printed = json.loads(stdout0)
    results = json.loads((out / "results.json").read_text())
    assert printed == results
    assert results["num_processes"] == 2 and results["num_devices"] == 4
    # Process 0 checked the gathered features against the exact optimum, as a single process does.
    assert results["ok"] and results["converged"] and results["max_rel_error"] <= 1e-8

    problem = ufm.MixupUFM(4, num_lambdas=5, alpha=0.7, weight_decay=0.05)
    single = ufm.minimize(problem)  # one process, one device
    arrays = np.load(out / "arrays.npz")
    assert np.max(np.abs(arrays["features"] - np.asarray(single.features))) <= 1e-10
    assert arrays["features"].shape == problem.feature_shape


def test_a_process_that_cannot_reach_the_coordinator_fails_with_one_line(tmp_path):
    # Nothing listens on the port: the runtime gives up after --init-timeout (and ends the
    # process); the command reports it in one line, exit status 2, and writes nothing.
    out = tmp_path / "run"
    process = _start(1, _free_port(), "--init-timeout", "2", "--out", str(out))
    stdout, stderr = process.communicate(timeout=120)  # bounded: a hang fails the test here
    assert process.returncode == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "process 1 of 2 could not reach the coordinator at 127.0.0.1:" in lines[0]
    assert "within 2 s" in lines[0] and "Traceback" not in stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--num-processes", "2", "--process-id", "0"], "several processes need --coordinator too"),
        (["--coordinator", "127.0.0.1:1234", "--num-processes", "2"], "several processes need --process-id too"),
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
         "argument --coordinator: coordinator must be HOST:PORT"),
        (["--coordinator", "h:99999", "--num-processes", "2", "--process-id", "0"],
         "coordinator port must be between 1 and 65535, got 99999"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
         "argument --process-id: process_id must be between 0 and num_processes - 1, got 2"),
        (["--coordinator", "h:1", "--num-processes", "0", "--process-id", "0"],
         "argument --num-processes: num_processes must be >= 1, got 0"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "0", "--init-timeout", "0"],
         "argument --init-timeout: timeout must be a whole number of seconds >= 1, got 0"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "0", "--method", "lbfgs"],
         "argument --method: method lbfgs runs in one process on one device; with several processes use "
         "--method newton"),
    ],
)
def test_bad_distributed_options_exit_2_with_one_line_before_any_start(args, message, capsys, monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(SMALL + args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_cluster_launchers_are_detected_from_the_variables_jax_reads():
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "node[01-02]", "SLURM_NTASKS": "2",
             "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}
    assert ufm.distributed.detect_launcher(slurm) == ("slurm", 2, 1)
    assert ufm.distributed.detect_launcher({**slurm, "SLURM_NTASKS": "1"}) is None  # one task: no runtime
    assert ufm.distributed.detect_launcher({k: v for k, v in slurm.items() if k != "SLURM_LOCALID"}) is None
    mpi = {"OMPI_MCA_orte_hnp_uri": "1.0;tcp://10.0.0.1:1", "OMPI_COMM_WORLD_SIZE": "4",
           "OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_LOCAL_RANK": "1"}
    assert ufm.distributed.detect_launcher(mpi) == ("openmpi", 4, 3)
    assert ufm.distributed.detect_launcher({}) is None


def test_start_up_failures_are_summarised_in_one_line():
    # What the runtime logs when it ends a process (absl status lines, a stack trace) -> one line.
    aborted = (
        "F0101 00:00:00.000000 123 client.h:80] Terminating process because the JAX distributed service "
        "detected fatal errors. absl::Status: DEADLINE_EXCEEDED: Deadline Exceeded\n\n"
        "RPC: /xla.coordination.CoordinationService/RegisterTask\n"
        "*** Check failure stack trace: ***\n    @ 0x7f SendToLog()\n"
    )
    first = ufm.distributed.failure_message(aborted, "10.0.0.1:1234", 3, 0, 60)
    assert first == ("process 0 of 3: not all 3 processes joined the coordinator at 10.0.0.1:1234 within 60 s "
                     "(are the others running the same command, and can they reach this address?)")
    other = ufm.distributed.failure_message(aborted, "10.0.0.1:1234", 3, 2, 60)
    assert other.startswith("process 2 of 3 could not reach the coordinator at 10.0.0.1:1234 within 60 s")
    taken = "E0101 00:00:00.000000 1 add_port.cc:83] Failed to add port to server\nUNKNOWN: Failed to start RPC server"
    message = ufm.distributed.failure_message(taken, "h:1", 2, 0, 5)
    assert message == ("the distributed runtime at h:1 did not start for process 0 of 2: "
                       "UNKNOWN: Failed to start RPC server")
    assert "\n" not in first + other + message
