"""Honest failure: non-convergence and NaN are reported as such, and results are written atomically."""

import json
import math

import numpy as np
import pytest

import ufm
from ufm import io as results_io
from ufm.solve import main

# Small, cheap problems: gd compiles in about a second.
SMALL = ["--classes", "3", "--lambdas", "2", "--method", "gd"]


def _strict_json(text):
    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


# ----------------------------------------------------------------------------- non-convergence


def test_max_steps_is_not_convergence():
    problem = ufm.MixupUFM(3, weight_decay=1e-3, num_lambdas=2)
    solution = ufm.minimize(problem, method="gd", max_steps=3)
    assert solution.num_steps == 3
    assert solution.converged is False
    assert solution.status == "max_steps"
    assert solution.grad_norm > solution.tol
    assert solution.message.startswith("not converged")
    assert solution.summary()["converged"] is False


def test_cli_max_steps_exits_1_and_says_so(capsys, tmp_path):
    out = tmp_path / "results"
    code = main([*SMALL, "--weight-decay", "1e-3", "--max-steps", "3", "--json", "--out", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    result = _strict_json(captured.out)
    assert result["ok"] is False and result["converged"] is False
    assert result["status"] == "max_steps"
    assert result["reasons"][0] == ufm.RESULTS.max_steps.message
    # The results folder is complete but labels the run a failure.
    written = _strict_json((out / "results.json").read_text())
    assert written["ok"] is False and written["converged"] is False and written["status"] == "max_steps"

    assert main([*SMALL, "--weight-decay", "1e-3", "--max-steps", "3"]) == 1
    report = capsys.readouterr().out
    assert "gd): max_steps in 3 steps" in report
    assert report.rstrip().splitlines()[-1].startswith("CHECK FAILED: not converged: stopped at max_steps")
    assert "\nOK" not in report


# ----------------------------------------------------------------------------- NaN


def test_nan_stops_the_solve():
    # A step size 1e300 times too large sends the features to overflow within a couple of steps;
    # the loop must stop there, not run on to max_steps.
    problem = ufm.MixupUFM(3, weight_decay=1e-2, num_lambdas=2)
    solution = ufm.minimize(problem, method="gd", learning_rate=1e300, max_steps=1000)
    assert solution.status == "nonfinite"
    assert solution.converged is False
    assert solution.num_steps < 10
    assert solution.message == "failed: the objective or gradient became NaN or infinite"


def test_cli_nan_exits_1_with_message(capsys, monkeypatch):
    real_minimize = ufm.minimize

    def diverging(problem, *args, **kwargs):
        return real_minimize(problem, method="gd", learning_rate=1e300, max_steps=1000)

    monkeypatch.setattr(ufm, "minimize", diverging)
    assert main([*SMALL, "--json"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    result = _strict_json(captured.out)  # strict JSON even with NaN inside
    assert result["status"] == "nonfinite" and result["ok"] is False
    assert "failed: the objective or gradient became NaN or infinite" in result["reasons"]
    assert result["max_rel_error"] in ("nan", "inf")  # overflowed features: inf or NaN, never a number

    assert main(SMALL) == 1
    report = capsys.readouterr().out
    assert "CHECK FAILED: failed: the objective or gradient became NaN or infinite" in report


def test_nan_init_is_refused():
    problem = ufm.MixupUFM(3, num_lambdas=1)
    init = np.zeros(problem.feature_shape)
    init[1, 2, 0, 0] = np.inf
    with pytest.raises(ValueError, match="init must be finite"):
        ufm.minimize(problem, init=init)


def test_analytic_nan_input_gives_nan_and_returns():
    # The kernels do not validate (they run under jit on traced values), but a NaN input must come
    # back as NaN after a bounded number of iterations, never hang or turn into a number.
    assert math.isnan(float(ufm.analytic.same_class_margin(3, math.nan)))
    assert math.isnan(float(ufm.analytic.binary_margin(0.3, math.nan)))
    u, v = ufm.analytic.pair_margins(5, math.nan, 0.1)
    assert math.isnan(float(u)) and math.isnan(float(v))


# ----------------------------------------------------------------------------- comparison


def test_comparison_reports_the_worst_sample():
    problem = ufm.MixupUFM(4, lambdas=[0.1, 0.5, 0.8])
    exact = np.asarray(ufm.optimal_features(problem))
    perturbed = exact.copy()
    perturbed[2, 1, 2] *= 1.0 + 3e-4  # the worst: relative error exactly 3e-4
    perturbed[0, 3, 0] *= 1.0 + 1e-4
    comparison = ufm.compare_features(perturbed, exact, problem.lambdas)
    assert comparison.worst_index == (2, 1, 2)
    assert comparison.worst_lambda == 0.8
    assert comparison.max_rel_error == pytest.approx(3e-4, rel=1e-9)
    assert comparison.summary()["worst_sample"] == {"c": 2, "c2": 1, "lambda_index": 2, "lambda": 0.8}


def test_comparison_with_nan_points_at_the_nan_sample():
    problem = ufm.MixupUFM(3, lambdas=[0.2, 0.6])
    exact = np.asarray(ufm.optimal_features(problem))
    broken = exact.copy()
    broken[1, 0, 1, 2] = np.nan
    comparison = ufm.compare_features(broken, exact, problem.lambdas)
    assert math.isnan(comparison.max_rel_error)
    assert comparison.worst_index == (1, 0, 1) and comparison.worst_lambda == 0.6


# ----------------------------------------------------------------------------- atomic writing


def _writers(fail_at=None, error=RuntimeError):
    def make(name):
        def write(path):
            if name == fail_at:
                raise error(f"simulated failure while writing {name}")
            path.write_text(name)

        return write

    return {name: make(name) for name in results_io.RESULT_FILES}


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, OSError])
def test_interrupted_write_leaves_no_folder(tmp_path, error):
    target = tmp_path / "results"
    with pytest.raises(error):
        results_io.write_results_dir(target, _writers(fail_at="arrays.npz", error=error), force=False)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one


def test_interrupted_forced_write_keeps_the_old_folder(tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "old.txt").write_text("previous run")
    with pytest.raises(RuntimeError):
        results_io.write_results_dir(target, _writers(fail_at="results.json"), force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]


def test_folder_appearing_during_the_solve_is_not_overwritten(tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "other.txt").write_text("someone else's")
    with pytest.raises(ValueError, match="appeared while solving; not overwritten"):
        results_io.write_results_dir(target, _writers(), force=False)
    assert [p.name for p in target.iterdir()] == ["other.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_complete_write(tmp_path):
    target = tmp_path / "nested" / "results"
    results_io.write_results_dir(target, _writers(), force=False)
    assert sorted(p.name for p in target.iterdir()) == sorted(results_io.RESULT_FILES)
    assert [p.name for p in target.parent.iterdir()] == ["results"]


def test_cli_force_replaces_and_empty_folder_is_accepted(capsys, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "old.txt").write_text("previous run")
    argv = [*SMALL, "--weight-decay", "1.0", "--out", str(folder)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert [p.name for p in folder.iterdir()] == ["old.txt"]

    assert main([*argv, "--force"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(results_io.RESULT_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no leftover temporary folders

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*SMALL, "--weight-decay", "1.0", "--out", str(empty)]) == 0
    assert sorted(p.name for p in empty.iterdir()) == sorted(results_io.RESULT_FILES)
    capsys.readouterr()
