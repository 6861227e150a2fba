"""Same inputs and seed give bit-identical results on the same machine, also across processes."""

import json
import subprocess
import sys

import numpy as np

import ufm
from ufm.solve import main

# Timings differ from run to run; everything else in results.json must not.
TIMING_KEYS = {"compile_seconds", "solve_seconds", "analytic_seconds"}


def _bits(array):
    array = np.ascontiguousarray(np.asarray(array))
    return array.view(np.uint8).tobytes(), array.dtype, array.shape


def test_problem_draw_is_seeded():
    a, b = ufm.MixupUFM(4, num_lambdas=16, seed=7), ufm.MixupUFM(4, num_lambdas=16, seed=7)
    assert _bits(a.lambdas) == _bits(b.lambdas)
    assert _bits(a.classifier) == _bits(b.classifier)
    assert not np.array_equal(a.lambdas, ufm.MixupUFM(4, num_lambdas=16, seed=8).lambdas)
    assert _bits(ufm.simplex_etf(5, 7, seed=3)) == _bits(ufm.simplex_etf(5, 7, seed=3))


def test_analytic_optimum_is_bit_identical():
    problem = ufm.MixupUFM(5, weight_decay=1e-3, num_lambdas=8, seed=1)
    first = ufm.optimal_features(problem)
    again = ufm.optimal_features(ufm.MixupUFM(5, weight_decay=1e-3, num_lambdas=8, seed=1))
    assert _bits(first) == _bits(again)


SOLVE_IN_A_FRESH_PROCESS = """
import sys, numpy as np, ufm
method, dtype = sys.argv[1], sys.argv[2]
problem = ufm.MixupUFM(5, weight_decay=3e-3, num_lambdas=4, seed=2, dim=7, dtype=dtype)
init = np.random.default_rng(0).normal(size=problem.feature_shape)
solution = ufm.minimize(problem, method=method, init=init, max_steps=300,
                        tol=1e-9 if dtype == "float64" else 1e-5)
np.save(sys.stdout.buffer, np.asarray(solution.features))
"""


def _solve_in_fresh_process(method, dtype):
    proc = subprocess.run([sys.executable, "-c", SOLVE_IN_A_FRESH_PROCESS, method, dtype],
                          capture_output=True, timeout=300, check=True)
    import io

    return np.load(io.BytesIO(proc.stdout))


def test_solves_in_two_processes_are_bit_identical():
    # Separate processes compile separately: the results must not depend on that (Newton, the
    # default, and the generic path).
    for method, dtype in (("newton", "float64"), ("newton", "float32"), ("lbfgs", "float64")):
        first = _solve_in_fresh_process(method, dtype)
        again = _solve_in_fresh_process(method, dtype)
        assert _bits(first) == _bits(again), (method, dtype)
        assert np.isfinite(first).all()


def test_repeated_solves_are_bit_identical():
    # The second call reuses the compiled loop; the results must not depend on the call either.
    for method, dtype in (("lbfgs", "float64"), ("gd", "float32")):
        problem = ufm.MixupUFM(3, weight_decay=1e-2, num_lambdas=3, seed=2, dtype=dtype)
        first = ufm.minimize(problem, method=method, tol=1e-9 if dtype == "float64" else 1e-5, max_steps=300)
        again = ufm.minimize(problem, method=method, tol=first.tol, max_steps=300)
        assert _bits(first.features) == _bits(again.features)
        assert (first.num_steps, first.objective, first.grad_norm, first.status) == (
            again.num_steps,
            again.objective,
            again.grad_norm,
            again.status,
        )


def _results_without_timings(path):
    results = json.loads((path / "results.json").read_text())
    return {k: v for k, v in results.items() if k not in TIMING_KEYS}


def test_cli_outputs_are_bit_identical(tmp_path, capsys):
    argv = ["--classes", "3", "--lambdas", "3", "--seed", "5", "--method", "gd", "--weight-decay", "0.5"]
    first, again = tmp_path / "first", tmp_path / "again"
    assert main([*argv, "--out", str(first)]) == 0
    assert main([*argv, "--out", str(again)]) == 0
    capsys.readouterr()
    with np.load(first / "arrays.npz") as a, np.load(again / "arrays.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            assert _bits(a[name]) == _bits(b[name]), name
    assert (first / "config.json").read_bytes() == (again / "config.json").read_bytes()
    assert _results_without_timings(first) == _results_without_timings(again)
