r"""float32 end to end, through the API and the CLI, with justified tolerances.

Tolerances (docs/robustness.md has the measurements):

* solver tol ``1e-5`` on the largest per-sample gradient norm: float32 rounds at
  $\varepsilon_{32} = 1.2\cdot10^{-7}$, and the gradient $W^\top(p - y) + \mu h$ is formed from
  logits $|z| \lesssim 25$ and a classifier of norm $s$, so its rounding floor is
  $\approx \varepsilon_{32}\,s\,|z| \approx 10^{-6}s$; ``1e-5`` is reachable for $s \le 10$
  (``1e-6`` is not reliably: lbfgs stalls at $s \ge 1$).
* check tol ``1e-3`` on the relative feature error: with that solver tol the measured error is at
  most $3\cdot10^{-4}$ for $\gamma \ge 5\cdot10^{-5}$ ($K \in \{2, 10\}$, $s \in [0.1, 10]$,
  $\mu$ up to $10^4$). Below, float32 cannot hold $1 - p_c \approx \gamma t$ next to 1: the margin is
  fixed only to $\approx\varepsilon_{32}/(\gamma t^2)$ whatever the solver does, and the check fails.
"""

import json

import numpy as np
import pytest

import ufm
from ufm.solve import main

EPS32 = float(np.finfo(np.float32).eps)
FLOAT32_CHECK_TOL = 1e-3


def test_api_float32_end_to_end():
    problem = ufm.MixupUFM(6, weight_decay=1e-2, num_lambdas=4, seed=3, dtype="float32")
    assert problem.classifier.dtype == np.float32
    solution = ufm.minimize(problem)  # lbfgs with the float32 default tol
    assert solution.tol == 1e-5
    assert solution.features.dtype == np.float32
    assert solution.converged and solution.status == "converged"
    exact = ufm.optimal_features(problem)
    assert exact.dtype == np.float64  # the reference stays float64
    comparison = ufm.compare_features(solution.features, exact, problem.lambdas)
    assert comparison.max_rel_error <= FLOAT32_CHECK_TOL
    # The objective at the exact optimum, in float32, agrees with float64 to float32 rounding of
    # a sum of O(1) terms (a few eps32 relative).
    problem64 = ufm.MixupUFM(6, weight_decay=1e-2, num_lambdas=4, seed=3)
    value32 = float(problem.objective(np.asarray(exact, np.float32)))
    value64 = float(problem64.objective(exact))
    assert value32 == pytest.approx(value64, rel=20 * EPS32)
    assert solution.objective == pytest.approx(value64, rel=20 * EPS32 + FLOAT32_CHECK_TOL**2)


def test_float32_reference_is_the_float64_optimum():
    kwargs = dict(num_classes=4, weight_decay=3e-3, lambdas=[0.0, 0.3, 0.5, 1.0])
    exact32 = np.asarray(ufm.optimal_features(ufm.MixupUFM(**kwargs, dtype="float32")))
    exact64 = np.asarray(ufm.optimal_features(ufm.MixupUFM(**kwargs)))
    assert exact32.dtype == np.float64 and np.array_equal(exact32, exact64)


def test_cli_float32_end_to_end(tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["--dtype", "float32", "--classes", "4", "--lambdas", "4", "--json", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result["reasons"]
    assert result["settings"]["dtype"] == "float32"
    assert result["settings"]["tol"] == 1e-5 and result["settings"]["check_tol"] == FLOAT32_CHECK_TOL
    assert result["converged"] and result["max_rel_error"] <= FLOAT32_CHECK_TOL
    with np.load(out / "arrays.npz") as arrays:
        assert arrays["features"].dtype == np.float32
        assert arrays["classifier"].dtype == np.float32
        assert arrays["analytic_features"].dtype == np.float64


def test_cli_float32_fails_honestly_where_float32_cannot_resolve(capsys):
    # gamma = 5e-11: float32 fixes the margin only to eps32 / (gamma t^2) ~ 5, far above 1e-3.
    code = main(["--dtype", "float32", "--classes", "2", "--weight-decay", "1e-8", "--scale", "10",
                 "--lambdas", "4", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["ok"] is False
    assert any("float32 resolves this problem only to about" in r for r in result["reasons"])
