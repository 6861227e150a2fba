"""The theory-figure pipeline (``experiments/theory_figures.py``) on its tiny configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ufm

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "experiments" / "theory_figures.py"
NUM_FIGURES = 10
if str(ROOT) not in sys.path:  # `experiments` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))


def _run(*args: str, code: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, str(SCRIPT)]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _stems(folder: Path, pattern: str) -> set[str]:
    return {p.stem for p in folder.glob(pattern)}


def test_quick_pipeline_solves_saves_draws_and_redraws(tmp_path):
    out = tmp_path / "figs"
    result = _run("--out", str(out), "--quick")
    assert result.returncode == 0, result.stderr
    data = _stems(out / "data", "*.npz")
    assert len(data) == NUM_FIGURES
    assert _stems(out / "data", "*.json") == data
    assert _stems(out / "png", "*.png") == data
    assert _stems(out / "pdf", "*.pdf") == data
    for stem in data:
        assert (out / "png" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "pdf" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
        info = json.loads((out / "data" / f"{stem}.json").read_text())
        # Solver tolerance 1e-10 on the per-sample gradient norm, mu >= 1e-2 here: errors <= ~1e-8.
        assert info["max_rel_error"] < 1e-6, (stem, info["max_rel_error"])
        with np.load(out / "data" / f"{stem}.npz") as arrays:
            assert all(np.all(np.isfinite(arrays[k])) for k in arrays.files)
    run = json.loads((out / "run.json").read_text())
    assert len(run["files"]) == 2 * NUM_FIGURES

    # Redraw two figures from the saved data alone into a new folder: JAX (hence any solver) is
    # never imported. (The run above already drew every figure through the same function.)
    redrawn = tmp_path / "redrawn"
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from experiments.theory_figures import main;"
        f"rc = main(['--from', {str(out)!r}, '--out', {str(redrawn)!r}, '--only', '1,6']);"
        "assert 'jax' not in sys.modules, 'redraw imported jax';"
        "sys.exit(rc)"
    )
    result = _run(code=code)
    assert result.returncode == 0, result.stderr
    assert _stems(redrawn / "png", "*.png") == {"fig1_channels", "fig6_mixup_alpha"}
    assert _stems(redrawn / "pdf", "*.pdf") == {"fig1_channels", "fig6_mixup_alpha"}


def test_refuses_nonempty_out_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = _run("--out", str(tmp_path), "--quick", "--only", "2")
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "keep.txt").exists()


def test_from_without_data_fails_cleanly(tmp_path):
    result = _run("--from", str(tmp_path))
    assert result.returncode == 2
    assert "data/" in result.stderr


@pytest.mark.parametrize("only", ["0", "11", "x"])
def test_rejects_bad_figure_numbers(only, tmp_path):
    result = _run("--out", str(tmp_path / "o"), "--only", only)
    assert result.returncode == 2
    assert "--only" in result.stderr


def test_figures_use_the_package_exact_optimum_and_check():
    """The figures take their exact curves from ufm.optimal_features (no copy of the analytic code)."""
    from experiments.figures import _numeric

    lambdas = np.array([0.0, 1e-9, 0.2, 0.5, 0.9, 1.0])
    k, mu = 4, 1e-3
    reference = np.asarray(ufm.optimal_features(ufm.MixupUFM(k, lambdas=lambdas, weight_decay=mu)))
    np.testing.assert_array_equal(_numeric.exact(k, mu, lambdas), reference)
    solved = _numeric.solve(ufm.MixupUFM(k, lambdas=lambdas, weight_decay=0.1), 1e-10)
    assert solved.report.ok and solved.max_rel_error < 1e-8


def test_alpha_figures_measure_what_the_package_computes():
    """Figures 9 and 10 average, over the numeric features, the same per-lambda quantities that
    ufm.analytic.expected_optimum integrates: at the exact optimum they agree lambda by lambda."""
    from experiments.figures import _numeric
    from ufm import _expectations

    problem = ufm.MixupUFM(4, alpha=0.5, num_lambdas=5, weight_decay=0.1, seed=3)
    exact = np.asarray(ufm.optimal_features(problem))
    measured = _numeric.sample_quantities(problem, exact)
    per_lambda = _expectations._pair_values(4, problem.gamma, 1.0, problem.lambdas)
    for key in ("confidence", "calibration_error", "pairwise_calibration_error", "feature_norm", "boundary_distance"):
        np.testing.assert_allclose(measured[key], per_lambda[key], rtol=1e-12, atol=1e-15, err_msg=key)
    import jax

    per_sample = jax.jit(ufm.per_sample_objective)  # compiled once, instead of op by op
    objective = np.asarray(per_sample(exact, problem.classifier, problem.lambdas, 0.1)).mean(axis=(0, 1))
    np.testing.assert_allclose(measured["objective"], objective, rtol=1e-13)

