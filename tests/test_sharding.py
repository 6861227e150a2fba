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
    # K = 4: the pairs split over 4 devices; K = 3, M = 4: the mixing coefficients do; K = 3,
    # M = 3 (N = 27): neither, so the samples are flattened and padded to a multiple of 4.
    for k, m in ((4, 5), (3, 4), (3, 3)):
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
        # The final check on split features, direct formula against autodiff, away from the
        # optimum (one Newton step) where the gradient norms are far from zero.
        direct = ufm.minimize(problem, max_steps=1)
        autodiff = ufm.minimize(problem, max_steps=1, final_check="autodiff")
        out[f"{k},{m}"] = {
            "converged": all(s.converged for s in (one, one_init, four_init, *runs.values())),
            "diff": {name: float(np.abs(np.asarray(s.features) - np.asarray(one.features)).max())
                     for name, s in runs.items()},
            "diff_init": float(np.abs(np.asarray(four_init.features) - np.asarray(one_init.features)).max()),
            "err": float(np.abs(np.asarray(runs["four"].features) - exact).max()),
            "devices_used": len(runs["four"].features.sharding.device_set),
            "spec": str(runs["four"].features.sharding.spec),
            "counts": runs["four"].sample_outcomes,
            "num_samples": problem.num_samples,
            "grad_norms": [direct.grad_norm, autodiff.grad_norm],
            "objectives": [direct.objective, autodiff.objective],
            "one_step": direct.features.sharding == runs["four"].features.sharding,
            # Gathered in blocks of a few rows (the last block overlaps the one before).
            "gather": bool(np.array_equal(ufm.distributed.gather(runs["four"], block_elements=130).features,
                                          np.asarray(runs["four"].features))),
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


def test_devices_agree_with_one_device():
    # One subprocess for every assertion (several CPU devices must be set before JAX starts), so
    # the suite starts it once whatever the number of test workers.
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("4,5", "3,4", "3,3"):
        result = results[name]
        assert result["converged"], name
        for run, diff in result["diff"].items():
            assert diff <= 1e-10, (name, run, diff)
        assert result["diff_init"] <= 1e-10, name
        assert result["err"] <= 1e-8, name
        assert result["counts"]["converged"] == result["num_samples"], (name, result["counts"])
        assert sum(result["counts"].values()) == result["num_samples"], (name, result["counts"])
        direct, autodiff = result["grad_norms"]
        assert direct > 1e-3 and abs(direct - autodiff) <= 1e-12 * autodiff, (name, direct, autodiff)
        direct, autodiff = result["objectives"]
        assert abs(direct - autodiff) <= 1e-13 * abs(autodiff), (name, direct, autodiff)
        assert result["gather"], name
    # The split output stays split: along the pairs (K = 4), along lambda (M = 4).
    for name, spec in (("4,5", "('samples',"), ("3,4", "(None, None, 'samples'")):
        assert results[name]["devices_used"] == 4, name
        assert results[name]["spec"].replace("PartitionSpec", "P").startswith("P" + spec), results[name]["spec"]
        assert results[name]["one_step"], name
    pairs = results["pairs"]
    assert pairs["converged"]
    assert pairs["diff"] <= 1e-10
    assert pairs["err"] <= 1e-8


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
