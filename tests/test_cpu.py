"""``ufm.split_cpu``: one JAX device per CPU core, chosen before JAX starts, never silently wrong after."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import pytest

import ufm
from ufm._cpu import usable_cores

_PROBE = """
import json, jax, ufm
first = ufm.split_cpu()
print(json.dumps({"returned": first, "devices": jax.local_device_count(), "again": ufm.split_cpu()}))
"""


def _probe(xla_flags: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_before_jax_starts_one_device_per_core():
    cores = usable_cores()
    assert _probe(None) == {"returned": cores, "devices": cores, "again": cores}


def test_a_count_the_user_chose_is_kept():
    assert _probe("--xla_force_host_platform_device_count=3") == {"returned": 3, "devices": 3, "again": 3}
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=3")
    for asked, ok in ((3, True), (2, False)):  # the same count is fine; another one is refused
        run = subprocess.run([sys.executable, "-c", f"import ufm; print(ufm.split_cpu({asked}))"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert (run.returncode == 0) == ok, run.stderr
        assert ("3" in run.stdout) if ok else ("sets --xla_force_host_platform_device_count=3" in run.stderr)


def test_after_jax_started_a_different_count_is_refused_not_ignored():
    have = len(jax.devices("cpu"))  # the test process has started JAX already
    assert ufm.split_cpu() == have
    assert ufm.split_cpu(have) == have
    with pytest.raises(RuntimeError, match="already started"):
        ufm.split_cpu(have + 1)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            ufm.split_cpu(bad)
