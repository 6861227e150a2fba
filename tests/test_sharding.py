"""Samples split over several devices give the same optimum as one device.

Several CPU devices are simulated with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``, which
must be set before JAX starts, hence the subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import pytest

import ufm
from ufm import _sharding

SCRIPT = textwrap.dedent(
    """
    import json, jax, numpy as np, ufm
    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    # K = 4 splits the output over 4 devices; K = 3, N = 27 needs padding to a multiple of 4.
    for k, m in ((4, 5), (3, 3)):
        problem = ufm.MixupUFM(k, num_lambdas=m, weight_decay=1e-2, dim=k + 2)
        one = ufm.minimize(problem, devices=jax.devices()[:1])
        runs = {"four": ufm.minimize(problem)}
        if k == 4:
            runs["three"] = ufm.minimize(problem, devices=jax.devices()[1:])
        # A start of this problem's own shape, off the row space of W (d = K + 2).
        init = np.random.default_rng(k).normal(size=problem.feature_shape)
        one_init = ufm.minimize(problem, init=init, devices=jax.devices()[:1])
        four_init = ufm.minimize(problem, init=init)
        exact = np.asarray(ufm.optimal_features(problem))
        out[k] = {
            "converged": all(s.converged for s in (one, one_init, four_init, *runs.values())),
            "diff": {name: float(np.abs(np.asarray(s.features) - np.asarray(one.features)).max())
                     for name, s in runs.items()},
            "diff_init": float(np.abs(np.asarray(four_init.features) - np.asarray(one_init.features)).max()),
            "err": float(np.abs(np.asarray(runs["four"].features) - exact).max()),
            "devices_used": len(runs["four"].features.sharding.device_set),
            "spec": str(runs["four"].features.sharding.spec),
        }
    # Pair subsampling: P = 7 pairs of K = 5, N = 21 samples, padded to a multiple of 4.
    problem = ufm.MixupUFM(5, num_lambdas=3, pairs=7, seed=2)
    one = ufm.minimize(problem, devices=jax.devices()[:1])
    four = ufm.minimize(problem)
    exact = np.asarray(ufm.optimal_features(problem))
    out["pairs"] = {
        "converged": one.converged and four.converged,
        "diff": float(np.abs(np.asarray(four.features) - np.asarray(one.features)).max()),
        "err": float(np.abs(np.asarray(four.features) - exact).max()),
    }
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def four_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_four_devices_match_one(four_devices):
    for k, result in four_devices.items():
        if k == "pairs":
            continue
        assert result["converged"], k
        for name, diff in result["diff"].items():
            assert diff <= 1e-10, (k, name, diff)
        assert result["diff_init"] <= 1e-10, k
        assert result["err"] <= 1e-8, k
        assert result["devices_used"] == 4, k


def test_pair_subsampling_four_devices_match_one(four_devices):
    result = four_devices["pairs"]
    assert result["converged"]
    assert result["diff"] <= 1e-10
    assert result["err"] <= 1e-8


def test_output_stays_split_when_first_axis_divides(four_devices):
    assert four_devices["4"]["spec"].replace("PartitionSpec", "P").startswith("P('samples'")


def test_sample_mesh_validation():
    device = jax.devices()[0]
    assert _sharding.sample_mesh().axis_names == ("samples",)
    assert _sharding.sample_mesh([device]).devices.size == 1
    with pytest.raises(ValueError, match="at least one"):
        _sharding.sample_mesh([])
    with pytest.raises(ValueError, match="repeat"):
        _sharding.sample_mesh([device, device])
    with pytest.raises(TypeError, match="jax.Device"):
        _sharding.sample_mesh(["cpu:0"])
    with pytest.raises(ValueError, match="at least one"):
        ufm.minimize(ufm.MixupUFM(2, num_lambdas=2), devices=[])
