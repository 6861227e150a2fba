"""Memory checked before work: the estimate, the decision, and the command line's refusal.

No test here measures memory (the benchmark does, in experiments/benchmarks.py): the decision is
tested against a fake "available memory".
"""

from __future__ import annotations

import numpy as np
import pytest

import ufm
from ufm.solve import main

SMALL = ["--classes", "4", "--lambdas", "5", "--alpha", "0.7", "--weight-decay", "0.05"]


def test_the_estimate_is_sized_by_the_problem():
    problem = ufm.MixupUFM(6, pairs=20, num_lambdas=7, dim=8)
    features = 20 * 7 * 8 * 8  # P * M * d float64 numbers, counted by hand
    estimate = ufm.estimate_memory(problem)
    assert estimate.features_bytes == features and estimate.parts["features"] == features
    assert ufm.estimate_memory(problem.replace(dtype="float32")).features_bytes * 2 == features
    assert ufm.estimate_memory(ufm.MixupUFM(6, num_lambdas=7, dim=8)).features_bytes == 36 * 7 * 8 * 8
    # --no-check drops the comparison, --out adds the writing, the generic optimizers hold copies.
    assert "exact comparison" in estimate.parts
    assert "exact comparison" not in ufm.estimate_memory(problem, compare=False).parts
    assert ufm.estimate_memory(problem, save=True).host_bytes > estimate.host_bytes
    assert ufm.estimate_memory(problem, "lbfgs").parts["solver"] >= 20 * features
    # Several processes: each holds its share; process 0 also the gathered copy and the comparison.
    first = ufm.estimate_memory(problem, num_processes=2, process_index=0, num_devices=4)
    second = ufm.estimate_memory(problem, num_processes=2, process_index=1, num_devices=4)
    assert first.parts["features"] == second.parts["features"] == features // 2
    assert first.parts["host copy"] == features
    assert "host copy" not in second.parts and "exact comparison" not in second.parts
    # On accelerators the features are device memory, and a host copy is made to check them.
    accelerated = ufm.estimate_memory(problem, accelerator=True, num_devices=2)
    assert "features" not in accelerated.parts and accelerated.parts["host copy"] == features
    assert accelerated.device_bytes >= features // 2
    # One CPU device: the check reads the features in place; a CPU split into devices
    # (ufm.split_cpu) keeps separate buffers, and checking them makes one host copy.
    assert "host copy" not in estimate.parts
    assert ufm.estimate_memory(problem, num_devices=2).parts["host copy"] == features
    # A learned classifier's Newton method holds every sample's d h / d W: about N K^3 numbers.
    learned = ufm.MixupUFM(6, num_lambdas=7, classifier_decay=1e-2)
    assert ufm.estimate_memory(learned).parts["solver"] >= 36 * 7 * 6**3 * 8


def test_the_decision_against_a_fake_available_memory():
    estimate = ufm.estimate_memory(ufm.MixupUFM(6, pairs=20, num_lambdas=7, dim=8), save=True)
    assert estimate.shortfall(estimate.host_bytes) is None
    assert estimate.shortfall(None) is None  # unknown: nothing is refused
    short = estimate.shortfall(estimate.host_bytes - 1)
    assert short is not None and "of memory (" in short and "features" in short and "writing --out" in short
    accelerated = ufm.estimate_memory(ufm.MixupUFM(6, pairs=20, num_lambdas=7, dim=8), accelerator=True)
    assert accelerated.shortfall(10**15, accelerated.device_bytes) is None
    assert "per device" in accelerated.shortfall(10**15, accelerated.device_bytes - 1)


def _fake_memory(monkeypatch, host_bytes):
    monkeypatch.setattr(ufm, "available_memory", lambda device=None: None if device is not None else host_bytes)


def test_cli_refuses_a_run_that_does_not_fit_before_any_work(monkeypatch, capsys, tmp_path):
    _fake_memory(monkeypatch, 10 * 2**20)
    monkeypatch.setattr(ufm, "minimize", lambda *a, **k: pytest.fail("solved although it cannot fit"))
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(SMALL + ["--out", str(out)])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    line = captured.err
    assert "this run needs about" in line and "but 0.01 GiB is available" in line
    for option in ("--pairs", "--lambdas", "--dim", "--no-check"):
        assert option in line
    assert not out.exists()


def test_no_check_needs_less_and_its_verdict_is_convergence(monkeypatch, capsys):
    problem = ufm.MixupUFM(4, num_lambdas=5, alpha=0.7, weight_decay=0.05)
    full = ufm.estimate_memory(problem).host_bytes
    lean = ufm.estimate_memory(problem, compare=False).host_bytes
    assert lean < full
    _fake_memory(monkeypatch, (full + lean) // 2)
    with pytest.raises(SystemExit) as exc:
        main(SMALL)
    assert exc.value.code == 2 and "--no-check" in capsys.readouterr().err
    assert main(SMALL + ["--no-check"]) == 0
    report = capsys.readouterr().out
    assert "not compared with the exact optimum" in report and "feature error" not in report
    assert main(SMALL + ["--no-check", "--max-steps", "2"]) == 1
    assert "CHECK FAILED: not converged" in capsys.readouterr().out
    with pytest.raises(TypeError, match="compare must be True or False, got 'no'"):
        ufm.check(problem, ufm.minimize(problem), compare="no")


def test_no_check_writes_no_exact_optimum(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(SMALL + ["--no-check", "--out", str(out), "--json"]) == 0
    printed = capsys.readouterr().out
    arrays = np.load(out / "arrays.npz")
    assert "analytic_features" not in arrays.files and arrays["features"].shape == (4, 4, 5, 4)
    assert '"compared": false' in printed and "max_rel_error" not in printed


def test_a_run_far_beyond_this_machine_is_refused_at_once(capsys):
    # K = 1000 with all 10**6 pairs and 10**4 lambdas: 75 TiB of features.
    with pytest.raises(SystemExit) as exc:
        main(["--classes", "1000", "--lambdas", "10000"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "this run needs about" in err and "features 74505.81 GiB" in err


def test_block_arrays_must_fill_their_shape(tmp_path):
    write = ufm.io.write_npz({"x": ufm.io.BlockArray((2, 3), np.float64, lambda: [np.zeros(4)])})
    with pytest.raises(ValueError, match="blocks hold 4 elements"):
        write(tmp_path / "a.npz")
    write = ufm.io.write_npz({"x": ufm.io.BlockArray((2, 3), np.float64, lambda: [np.zeros(4), np.ones((1, 3))])})
    with pytest.raises(ValueError, match="more than the 6 elements"):
        write(tmp_path / "b.npz")
    pieces = [np.arange(4.0), np.arange(4.0, 6.0).reshape(1, 2)]  # any shapes, C order
    ufm.io.write_npz({"x": ufm.io.BlockArray((2, 3), np.float64, lambda: pieces)})(tmp_path / "c.npz")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npz")["x"], np.arange(6.0).reshape(2, 3))


def test_out_streams_the_exact_optimum_block_by_block(tmp_path, monkeypatch, capsys):
    # Blocks of two pairs: the exact optimum written (and compared) in 8 pieces, in order.
    from ufm import _blocks

    monkeypatch.setattr(_blocks, "_BLOCK_ELEMENTS", 2 * 5 * 4)
    out = tmp_path / "run"
    assert main(SMALL + ["--out", str(out)]) == 0
    problem = ufm.MixupUFM(4, num_lambdas=5, alpha=0.7, weight_decay=0.05)
    arrays = np.load(out / "arrays.npz")
    np.testing.assert_array_equal(arrays["analytic_features"], np.asarray(ufm.optimal_features(problem)))
    assert "OK" in capsys.readouterr().out
