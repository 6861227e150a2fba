"""The command line end to end: report, --json, --out, exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ufm
from ufm.solve import main

SMALL = ["--classes", "4", "--lambdas", "5", "--alpha", "0.7", "--weight-decay", "0.05"]


def test_json_prints_one_object_with_the_contract_keys(capsys):
    code = main(SMALL + ["--json"])
    out = capsys.readouterr().out
    result = json.loads(out)  # exactly one JSON document on stdout
    assert out.count("\n") == 1
    for key in [
        "max_rel_error", "grad_norm", "converged", "num_steps", "objective",
        "objective_analytic", "solve_seconds", "compile_seconds", "settings", "worst_sample",
    ]:
        assert key in result
    assert code == 0 and result["converged"] and result["max_rel_error"] <= 1e-8
    assert result["settings"]["num_classes"] == 4 and result["settings"]["alpha"] == 0.7
    assert "per feature" in result["settings"]["weight_decay_convention"]
    assert result["objective"] == pytest.approx(result["objective_analytic"], rel=1e-13)


def test_out_writes_results_that_reload(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(SMALL + ["--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "feature error vs exact optimum: max relative" in report and report.rstrip().endswith("OK")
    assert sorted(os.listdir(out)) == ["arrays.npz", "config.json", "results.json"]
    config = json.loads((out / "config.json").read_text())
    results = json.loads((out / "results.json").read_text())
    arrays = np.load(out / "arrays.npz")
    problem = ufm.MixupUFM.from_config(config)
    assert problem == ufm.MixupUFM(4, num_lambdas=5, alpha=0.7, weight_decay=0.05)
    np.testing.assert_array_equal(arrays["lambdas"], problem.lambdas)
    np.testing.assert_array_equal(arrays["classifier"], np.asarray(problem.classifier))
    np.testing.assert_allclose(arrays["analytic_features"], ufm.optimal_features(problem), rtol=1e-15)
    errors = ufm.compare_features(arrays["features"], arrays["analytic_features"], arrays["lambdas"])
    assert errors.max_rel_error == pytest.approx(results["max_rel_error"], rel=1e-12)


def test_failed_check_exits_1_and_says_why(capsys):
    code = main(SMALL + ["--max-steps", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "CHECK FAILED" in out and "not converged" in out


def test_module_entry_point_and_help():
    env = dict(os.environ)
    help_run = subprocess.run(
        [sys.executable, "-m", "ufm.solve", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert help_run.returncode == 0
    assert "--weight-decay" in help_run.stdout and "per feature" in help_run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "ufm.solve", *SMALL, "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["converged"] is True


def test_bad_input_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--classes", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "num_classes must be >= 2" in err and "Traceback" not in err
