r"""Newton from far starts: how many steps it takes over random problems and random starts.

    python experiments/newton_far_starts.py --out /tmp/far_starts            # full run (minutes)
    python experiments/newton_far_starts.py --out /tmp/far_starts --quick    # a smoke run

Every solve is ``ufm.minimize(problem, "newton", init=start, max_steps=--max-steps)`` and is then
checked by :func:`ufm.check` (the one check every caller uses) against the exact optimum. Starts
are $c\,\mathcal N(0, I)$ features (every coordinate of every sample, so also outside the
classifier's row space where $d > K - 1$), $c$ the start scale. Two sets:

* **the far-start example**: ``MixupUFM(8, weight_decay=1.82e-4, scale=1.55, dim=8,
  num_lambdas=3, seed=929, alpha=2.7)`` from $c = 300$ with start seeds ``0 .. --example-seeds-1``:
  a small weight decay, where the softmax saturates far out and a plain backtracking search
  crawls;
* **random problems**: $K$ uniform in $\{2, \dots, 12\}$, $d$ uniform in $\{K-1, \dots, 2K+1\}$,
  $M$ uniform in $\{1, \dots, 11\}$, weight decay $\mu$ log-uniform in $[10^{-5}, 3]$, ETF scale
  $s$ log-uniform in $[0.3, 5]$, mixup $\alpha$ log-uniform in $[0.1, 10]$, $c$ log-uniform in
  $[10, 300]$. Problems come in groups of one shape $(K, M, d)$ (``--shapes`` groups of
  ``--per-shape`` problems), so each shape compiles once.

The goal: every solve converges (largest per-sample gradient norm at most the default ``tol``) in
at most 50 Newton steps (median at most 25), at the exact optimum: ``ufm.check`` with
``atol = tol/mu`` passes (every feature within the strong-convexity bound of the exact one) and the
objective equals the exact optimum's. Each set is also solved from the default start (zeros) for
comparison. Prints a table and writes ``far_starts.json`` (settings, summaries, every solve) into
``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

GOAL_MAX_STEPS, GOAL_MEDIAN_STEPS = 50, 25
EXAMPLE = dict(num_classes=8, weight_decay=1.82e-4, scale=1.55, dim=8, num_lambdas=3, seed=929, alpha=2.7)
EXAMPLE_START_SCALE = 300.0
RANGES = {
    "num_classes": (2, 12),
    "weight_decay": (1e-5, 3.0),
    "scale": (0.3, 5.0),
    "num_lambdas": (1, 11),
    "alpha": (0.1, 10.0),
    "start_scale": (10.0, 300.0),
}


def _log_uniform(rng, low: float, high: float) -> float:
    import numpy as np

    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _solve(problem, start, max_steps: int) -> dict:
    """One Newton solve from ``start`` (``None``: zeros), checked against the exact optimum."""
    import ufm

    solution = ufm.minimize(problem, "newton", init=start, max_steps=max_steps)
    # Strong convexity: a per-sample gradient norm <= tol puts every feature within tol/mu of the
    # exact optimum. (The default atol, capped at check-tol * max ||h*||, asks for more than the
    # tolerance guarantees when mu is tiny; whether a converged solve passes it is then luck.)
    report = ufm.check(problem, solution, atol=solution.tol / problem.weight_decay)
    gap = solution.objective - report.objective_exact
    return {
        "steps": solution.num_steps,
        "status": str(solution.status),
        "converged": solution.converged,
        "check_ok": report.ok,
        "max_rel_error": report.comparison.max_rel_error,
        "objective": solution.objective,
        "objective_exact": report.objective_exact,
        "objective_gap": gap / max(1.0, abs(report.objective_exact)),
        "solve_seconds": solution.solve_seconds,
    }


def run_example(seeds: int, max_steps: int) -> list[dict]:
    import numpy as np

    import ufm

    problem = ufm.MixupUFM(**EXAMPLE)
    rows = []
    for seed in range(seeds):
        start = EXAMPLE_START_SCALE * np.random.default_rng(seed).normal(size=problem.feature_shape)
        rows.append({"start_seed": seed, "start_scale": EXAMPLE_START_SCALE, **_solve(problem, start, max_steps)})
    zero = _solve(problem, None, max_steps)
    for row in rows:
        row["steps_from_zero"] = zero["steps"]
    return rows


def run_random(shapes: int, per_shape: int, seed: int, max_steps: int) -> list[dict]:
    import numpy as np

    import ufm

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(shapes):
        k = int(rng.integers(RANGES["num_classes"][0], RANGES["num_classes"][1] + 1))
        d = int(rng.integers(k - 1, 2 * k + 2))
        m = int(rng.integers(RANGES["num_lambdas"][0], RANGES["num_lambdas"][1] + 1))
        for _ in range(per_shape):
            spec = dict(
                num_classes=k,
                dim=d,
                num_lambdas=m,
                weight_decay=_log_uniform(rng, *RANGES["weight_decay"]),
                scale=_log_uniform(rng, *RANGES["scale"]),
                alpha=_log_uniform(rng, *RANGES["alpha"]),
                seed=int(rng.integers(2**31)),
            )
            problem = ufm.MixupUFM(**spec)
            c = _log_uniform(rng, *RANGES["start_scale"])
            start = c * rng.normal(size=problem.feature_shape)
            row = {"problem": spec, "start_scale": c, **_solve(problem, start, max_steps)}
            row["steps_from_zero"] = _solve(problem, None, max_steps)["steps"]
            rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict:
    import numpy as np

    steps = np.array([r["steps"] for r in rows])
    zero = np.array([r["steps_from_zero"] for r in rows])
    gaps = np.array([abs(r["objective_gap"]) for r in rows])
    worst = max(rows, key=lambda r: r["steps"])
    return {
        "solves": len(rows),
        "converged": int(sum(r["converged"] for r in rows)),
        "check_ok": int(sum(r["check_ok"] for r in rows)),
        "steps_median": float(np.median(steps)),
        "steps_p90": float(np.percentile(steps, 90)),
        "steps_max": int(steps.max()),
        "within_goal": int(np.sum(steps <= GOAL_MAX_STEPS)),
        "max_objective_gap": float(gaps.max()),
        "steps_from_zero_median": float(np.median(zero)),
        "steps_from_zero_max": int(zero.max()),
        "worst": {k: v for k, v in worst.items() if k in ("problem", "start_scale", "start_seed", "steps", "status")},
        "goal_met": bool(
            steps.max() <= GOAL_MAX_STEPS
            and np.median(steps) <= GOAL_MEDIAN_STEPS
            and all(r["check_ok"] for r in rows)
        ),
    }


def _table(summaries: dict[str, dict]) -> str:
    head = (f"{'set':34s} {'solves':>6s} {'conv':>5s} {'check':>5s} {'median':>6s} {'p90':>5s} {'max':>4s} "
            f"{'<=50':>5s} {'|df|/max(1,|f*|)':>16s} {'zero: med/max':>13s}  goal")
    lines = [head, "-" * len(head)]
    for name, s in summaries.items():
        lines.append(
            f"{name:34s} {s['solves']:6d} {s['converged']:5d} {s['check_ok']:5d} {s['steps_median']:6.1f} "
            f"{s['steps_p90']:5.1f} {s['steps_max']:4d} {s['within_goal']:5d} {s['max_objective_gap']:16.1e} "
            f"{s['steps_from_zero_median']:6.1f}/{s['steps_from_zero_max']:<6d}  "
            + ("met" if s["goal_met"] else "NOT MET")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--out", required=True, help="folder for far_starts.json")
    p.add_argument("--example-seeds", type=int, default=300, help="start seeds of the far-start example")
    p.add_argument("--shapes", type=int, default=40, help="random shapes (K, M, d), one compile each")
    p.add_argument("--per-shape", type=int, default=10, help="random problems and starts per shape")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems and starts")
    p.add_argument("--max-steps", type=int, default=500, help="Newton iteration cap (well above the goal of 50)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 5 example seeds, 2 shapes of 2 problems")
    args = p.parse_args(argv)
    if args.quick:
        args.example_seeds, args.shapes, args.per_shape = 5, 2, 2

    import numpy as np

    t0 = time.perf_counter()
    example = run_example(args.example_seeds, args.max_steps)
    rows = run_random(args.shapes, args.per_shape, args.seed, args.max_steps)
    scales = np.array([r["start_scale"] for r in rows])
    summaries = {f"far-start example, c = {EXAMPLE_START_SCALE:g}": summarise(example),
                 "random problems, c in [10, 300]": summarise(rows)}
    for low, high in ((10, 30), (30, 100), (100, 300)):
        part = [r for r, c in zip(rows, scales) if low <= c < high or (high == 300 and c == high)]
        if part:
            summaries[f"  random, c in [{low}, {high})"] = summarise(part)
    elapsed = time.perf_counter() - t0
    print(_table(summaries))
    print(f"\n{len(example) + len(rows)} far-start solves (and as many from zeros) in {elapsed:.0f} s")

    import jax

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "settings": {**vars(args), "example": EXAMPLE, "example_start_scale": EXAMPLE_START_SCALE,
                     "ranges": RANGES, "goal": {"max_steps": GOAL_MAX_STEPS, "median_steps": GOAL_MEDIAN_STEPS}},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "jax": jax.__version__},
        "seconds": elapsed,
        "summaries": summaries,
        "example": example,
        "random": rows,
    }
    (out / "far_starts.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {out / 'far_starts.json'}", file=sys.stderr)
    return 0 if all(s["goal_met"] for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
