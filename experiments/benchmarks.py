"""Benchmarks: the structured Newton solver against generic optimizers on the same problems.

    python experiments/benchmarks.py --out results/benchmarks            # full run (minutes)
    python experiments/benchmarks.py --out /tmp/bench --classes 10 --quick
    python experiments/benchmarks.py --out /tmp/bench --suite learned    # learned classifier, K = 10, M = 64

Every (K, method) configuration runs in its own subprocess, so its peak resident memory
(``ru_maxrss``) is its own. Inside it: build ``MixupUFM(K, num_lambdas=M)``, run the method once to
compile (and to warm caches), then time ``--repeats`` solves and report the median time *without*
compilation, the iterations, and, from :func:`ufm.check` (the one check every caller uses), the
final largest per-sample gradient norm (autodiff of the objective), the largest relative feature
error to the exact optimum, and peak memory. Methods:

* ``newton``, ``lbfgs``, ``adam``, ``gd``: :func:`ufm.minimize` (``Solution.solve_seconds``);
* ``optax_lbfgs_loop``: a hand-written jitted loop of ``optax.lbfgs`` over all features jointly;
* ``scipy_lbfgsb``: ``scipy.optimize.minimize(method="L-BFGS-B")`` with a jitted value-and-grad.

All minimise the sum over samples (per-sample gradients) and stop when the largest per-sample
gradient 2-norm is at most ``--tol``. First-order methods get an iteration cap (they need thousands
of iterations for 1e-10) and are reported as not converged when they hit it. Writes
``benchmarks.json`` and ``benchmarks.png`` into ``--out``.

End to end: for ``ufm.minimize`` the time is also taken around the whole call (solve, final
gradient-norm check, everything a user waits for: ``wall_seconds_median``), and the summary
compares newton with ``optax_lbfgs_loop`` that way (target: 60x at K = 30), checks that the two
answers agree (to 1e-8), and gives a roofline estimate of newton's remaining gap: its measured time
per (sample, class) entry and iteration against the floor set by the exponentials, divisions and
other arithmetic one iteration needs, at kernel rates measured on this machine.

``--cli-memory K[:P] ...`` also measures the peak resident memory of whole command-line runs
(``python -m ufm.solve --classes K [--pairs P] --out DIR``: solve, exact optimum, comparison,
writing) against the target of twice the features, next to ``ufm.estimate_memory``'s estimate.

``--suite metrics`` benchmarks :mod:`ufm.metrics` instead (``python experiments/benchmarks.py --suite
metrics --out DIR``): ``neural_collapse``, ``mixup_geometry`` and ``fit_weight_decay`` on
``--samples`` mixed samples (default 1e6, K = 10, d = 64, float64: the exact UFM optimum of a
perturbed simplex-ETF classifier plus noise), with one mixing coefficient per batch of 128 (as
mixup draws it) and one per sample (the fit's worst case: every lambda distinct). Each function
runs in a fresh subprocess that loads the saved samples, so its peak resident memory beyond the
loaded input is its own; it is called twice (the first call includes compiling the exact margins)
and both wall times are reported. Writes ``metrics_benchmarks.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("newton", "lbfgs", "optax_lbfgs_loop", "scipy_lbfgsb", "adam", "gd")
# Generic joint methods at K = 100 (64 M unknowns) need far more than the time budget.
LARGE_K_METHODS = ("newton",)
FIRST_ORDER_CAP = {"adam": 2000, "gd": 2000}


def _max_sample_grad_norm(grad):
    import jax.numpy as jnp

    return jnp.sqrt(jnp.max(jnp.sum(grad * grad, axis=-1)))


def _optax_lbfgs_loop(total, tol: float):
    """A hand-written jitted loop of ``optax.lbfgs`` over all features jointly, stopped by the
    largest per-sample gradient norm (the generic baseline; ``total`` is the sum of per-sample
    objectives)."""
    import jax
    import optax

    opt = optax.lbfgs(memory_size=10)
    value_and_grad = optax.value_and_grad_from_state(total)

    @jax.jit
    def loop(h0):
        def cond(c):
            k, _, _, g = c
            return (k < 2000) & (_max_sample_grad_norm(g) > tol)

        def body(c):
            k, h, state, g = c
            value, g = value_and_grad(h, state=state)
            updates, state = opt.update(g, state, h, value=value, grad=g, value_fn=total)
            h = optax.apply_updates(h, updates)
            _, g = value_and_grad(h, state=state)
            return k + 1, h, state, g

        g0 = jax.grad(total)(h0)
        k, h, _, _ = jax.lax.while_loop(cond, body, (0, h0, opt.init(h0), g0))
        return h, k

    return loop


def _paired_worker(cfg: dict) -> dict:
    """Newton's whole ``ufm.minimize`` call against the hand-written optax L-BFGS loop, interleaved
    in one process so that both see the same load: ``rounds`` rounds of (newton x ``repeats``,
    optax once, newton x ``repeats``), a ratio per round (optax over the median newton time of that
    round), wall and CPU time."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import ufm

    problem = ufm.MixupUFM(cfg["K"], num_lambdas=cfg["M"], weight_decay=cfg["mu"], alpha=1.0, seed=0)
    w, lambdas, mu = problem.classifier, jnp.asarray(problem.lambdas), jnp.asarray(problem.weight_decay)

    def total(h):
        return jnp.sum(ufm.per_sample_objective(h, w, lambdas, mu))

    compiled = _optax_lbfgs_loop(total, cfg["tol"]).lower(problem.zeros()).compile()
    h0 = problem.zeros()
    newton = ufm.minimize(problem, tol=cfg["tol"])  # compiles

    def timed(fn):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - t0, time.process_time() - c0

    rounds = []
    for _ in range(cfg["rounds"]):
        newton_times = []
        for _ in range(cfg["repeats"]):
            newton, wall, cpu = timed(lambda: ufm.minimize(problem, tol=cfg["tol"]))
            newton_times.append((wall, cpu))
        (h, k), optax_wall, optax_cpu = timed(lambda: jax.block_until_ready(compiled(h0)))
        for _ in range(cfg["repeats"]):
            newton, wall, cpu = timed(lambda: ufm.minimize(problem, tol=cfg["tol"]))
            newton_times.append((wall, cpu))
        newton_wall = float(np.median([t[0] for t in newton_times]))
        newton_cpu = float(np.median([t[1] for t in newton_times]))
        rounds.append({
            "newton_wall_seconds": newton_wall, "newton_cpu_seconds": newton_cpu,
            "optax_wall_seconds": optax_wall, "optax_cpu_seconds": optax_cpu, "optax_iterations": int(k),
            "ratio_wall": optax_wall / newton_wall, "ratio_cpu": optax_cpu / newton_cpu,
            "load_average": os.getloadavg()[0],
        })
    optax_check = ufm.check(problem, h, tol=cfg["tol"])
    return {
        **cfg,
        "rounds_detail": rounds,
        "ratio_wall_median": float(np.median([r["ratio_wall"] for r in rounds])),
        "ratio_cpu_median": float(np.median([r["ratio_cpu"] for r in rounds])),
        "max_abs_difference": float(np.max(np.abs(np.asarray(newton.features) - np.asarray(h)))),
        "newton_converged": newton.converged,
        "optax_converged": optax_check.solution.converged,
        "newton_max_rel_error": ufm.check(problem, newton).comparison.max_rel_error,
        "optax_max_rel_error": optax_check.comparison.max_rel_error,
    }


def _worker(cfg: dict) -> dict:
    import resource

    import jax
    import jax.numpy as jnp
    import numpy as np

    import ufm

    t_start = time.perf_counter()
    problem = ufm.MixupUFM(
        cfg["K"], num_lambdas=cfg["M"], weight_decay=cfg["mu"], alpha=1.0, seed=0, pairs=cfg.get("pairs")
    )
    pair_index = None if problem.pairs is None else jnp.asarray(problem.pair_index)
    tol, method, repeats = cfg["tol"], cfg["method"], cfg["repeats"]
    rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    w, lambdas = problem.classifier, jnp.asarray(problem.lambdas)
    mu = jnp.asarray(problem.weight_decay)

    def total(h):
        return jnp.sum(ufm.per_sample_objective(h, w, lambdas, mu, pair_index))

    if method in ("newton", "lbfgs", "adam", "gd"):
        max_steps = FIRST_ORDER_CAP.get(method)

        def run():
            t0 = time.perf_counter()
            sol = ufm.minimize(problem, method=method, tol=tol, max_steps=max_steps)
            wall = time.perf_counter() - t0
            return sol.features, sol.num_steps, sol.solve_seconds, sol.compile_seconds, wall

    elif method == "optax_lbfgs_loop":
        loop = _optax_lbfgs_loop(total, tol)
        h0 = problem.zeros()
        t0 = time.perf_counter()
        compiled = loop.lower(h0).compile()
        compile_s = time.perf_counter() - t0

        def run():
            t0 = time.perf_counter()
            h, k = jax.block_until_ready(compiled(h0))
            dt = time.perf_counter() - t0
            return h, int(k), dt, compile_s, dt

    elif method == "scipy_lbfgsb":
        import scipy.optimize

        shape = problem.feature_shape
        vg = jax.jit(lambda x: jax.value_and_grad(total)(x.reshape(shape)))
        t0 = time.perf_counter()
        vg_c = vg.lower(jnp.zeros(int(np.prod(shape)))).compile()
        compile_s = time.perf_counter() - t0

        def run():
            last = {}

            def fun(x):
                value, g = vg_c(jnp.asarray(x))
                g = np.asarray(g)
                last["x"], last["g"] = x.copy(), g
                return float(value), g

            def callback(intermediate_result):
                x = intermediate_result.x
                if "x" in last and np.array_equal(x, last["x"]):
                    if np.sqrt(np.max(np.sum(last["g"].reshape(-1, shape[-1]) ** 2, -1))) <= tol:
                        raise StopIteration

            t0 = time.perf_counter()
            res = scipy.optimize.minimize(
                fun, np.zeros(int(np.prod(shape))), jac=True, method="L-BFGS-B", callback=callback,
                options={"maxiter": 5000, "maxfun": 20000, "maxcor": 10, "gtol": 0.0, "ftol": 0.0},
            )
            dt = time.perf_counter() - t0
            last["message"] = str(res.message)
            return jnp.asarray(res.x.reshape(shape)), int(res.nit), dt, compile_s, dt

    else:
        raise ValueError(method)

    first = run()  # compiles (every later same-shaped call reuses the compiled loop)
    cold_wall = time.perf_counter() - t_start
    times, walls = [], []
    for _ in range(repeats):
        features, steps, solve_s, compile_s, wall = run()
        times.append(solve_s)
        walls.append(wall)
    report = ufm.check(problem, jnp.asarray(features), tol=tol)  # the one check every caller uses
    extra = {}
    if cfg.get("save_features"):
        np.save(cfg["save_features"], np.asarray(features))
    if method == "newton" and cfg.get("roofline"):
        extra["roofline"] = _newton_roofline(problem, tol, float(np.median(times)), float(np.median(walls)))
    return {
        **cfg,
        "num_samples": problem.num_samples,
        "unknowns": problem.num_samples * problem.dim,
        "solve_seconds_median": float(np.median(times)),
        "solve_seconds_all": times,
        "wall_seconds_median": float(np.median(walls)),
        "compile_seconds_first": first[3],
        "compile_seconds_last": compile_s,
        "cold_wall_seconds": cold_wall,
        "iterations": steps,
        "grad_norm": report.solution.grad_norm,
        "converged": report.solution.converged,
        "max_rel_error": report.comparison.max_rel_error,
        "max_abs_error": report.comparison.max_abs_error,
        "check_ok": report.ok,
        "objective": report.solution.objective,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "setup_rss_bytes": rss_setup,
        "features_bytes": int(np.prod(problem.feature_shape)) * 8,
        **extra,
    }


def _kernel_seconds() -> dict:
    """Seconds per element of the operations a Newton iteration is made of, measured with XLA on
    this machine on cache-resident float64 arrays: ``exp``, a division, and a multiply-add (the
    "other flops"); and seconds per multiply-add of a (rows x 30) @ (30 x 30) matmul."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    size, reps = 1 << 15, 200
    x = jnp.asarray(np.random.default_rng(0).uniform(0.1, 1.0, size))

    def rate(step):
        loop = jax.jit(lambda x: jax.lax.fori_loop(0, reps, lambda i, x: step(x), x))
        jax.block_until_ready(loop(x))
        best = min(_timed(lambda: jax.block_until_ready(loop(x))) for _ in range(5))
        return best / (reps * size)

    fma = rate(lambda x: x * 0.999 + 0.0005)
    exp = rate(lambda x: jnp.exp(-x)) - fma / 2
    div = rate(lambda x: 1.0 / (x + 1.5)) - fma / 2
    a = jnp.asarray(np.random.default_rng(1).normal(size=(2048, 30)))
    b = jnp.asarray(np.random.default_rng(2).normal(size=(30, 30)) / 30)
    mm = jax.jit(lambda a: jax.lax.fori_loop(0, reps, lambda i, a: a @ b, a))
    jax.block_until_ready(mm(a))
    matmul = min(_timed(lambda: jax.block_until_ready(mm(a))) for _ in range(5)) / (reps * 2048 * 30 * 30)
    return {"exp": exp, "div": div, "fma": fma, "matmul_mac": matmul}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# Per (sample, class) entry and Newton iteration (docs/performance.md): about 3 exponentials,
# 2 divisions and 50 other floating-point operations.
ENTRY_OPS = {"exp": 3, "div": 2, "fma": 25}


def _newton_roofline(problem, tol: float, solve_seconds: float, wall_seconds: float) -> dict:
    """Newton's measured time per (sample, class) entry and iteration against the arithmetic floor.

    The entry-iterations are counted from each sample's own iteration count (the samples that
    converged within k steps, for k = 1, 2, ...), which is what the solver's chunks of one mixing
    coefficient run. The floor of the final check is its two matmuls over all entries and d.
    """
    import ufm

    n, k, d = problem.num_samples, problem.num_classes, problem.dim
    converged, sample_iterations, steps = 0, 0, 0
    while converged < n and steps < 200:
        steps += 1
        now = ufm.minimize(problem, tol=tol, max_steps=steps).sample_outcomes["converged"]
        sample_iterations += steps * (now - converged)
        converged = now
    kernels = _kernel_seconds()
    per_entry = sum(ENTRY_OPS[op] * kernels[op] for op in ENTRY_OPS)
    entry_iterations = sample_iterations * k
    solve_floor = entry_iterations * per_entry + n * k * d * kernels["matmul_mac"]  # + forming h
    check_floor = 2 * n * k * d * kernels["matmul_mac"] + n * k * (kernels["exp"] + kernels["div"])
    return {
        "mean_iterations": sample_iterations / n,
        "entry_iterations": entry_iterations,
        "kernel_seconds": kernels,
        "floor_seconds_per_entry_iteration": per_entry,
        "measured_seconds_per_entry_iteration": solve_seconds / entry_iterations,
        "solve_floor_seconds": solve_floor,
        "check_floor_seconds": check_floor,
        "end_to_end_floor_seconds": solve_floor + check_floor,
        "end_to_end_gap": wall_seconds / (solve_floor + check_floor),
    }


def _cli_peak(case: str, out_root: Path, timeout: float) -> dict:
    """Peak resident memory and wall time of one whole command-line run (its own process)."""
    import numpy as np

    import ufm

    k, _, pairs = case.partition(":")
    k, pairs = int(k), (int(pairs) if pairs else None)
    out = out_root / f"cli_k{k}" if pairs is None else out_root / f"cli_k{k}_p{pairs}"
    command = [sys.executable, "-m", "ufm.solve", "--classes", str(k), "--out", str(out), "--force", "--json"]
    if pairs is not None:
        command += ["--pairs", str(pairs)]
    t0 = time.perf_counter()
    # The command as a user runs it: JAX's default of one CPU device (not this benchmark's split).
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    wall = time.perf_counter() - t0
    # ru_maxrss of the children waited for so far is a running maximum: measure each case in a
    # fresh interpreter (main() runs every case from its own subprocess, see --cli-memory).
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if child.returncode not in (0, 1):
        raise RuntimeError(stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {child.returncode}")
    result = json.loads(stdout)
    problem = ufm.MixupUFM(k, pairs=pairs)
    features = int(np.prod(problem.feature_shape)) * 8
    estimate = ufm.estimate_memory(problem, save=True)
    shutil.rmtree(out, ignore_errors=True)
    return {
        "case": case, "K": k, "pairs": pairs, "num_samples": problem.num_samples, "features_bytes": features,
        "peak_rss_bytes": peak, "peak_over_features": peak / features, "target_over_features": 2.0,
        "estimate_bytes": estimate.peak_bytes,
        "wall_seconds": wall, "ok": result["ok"], "max_rel_error": result.get("max_rel_error"),
        "solve_seconds": result["solve_seconds"],
    }


# --------------------------------------------------------------------------- learned classifier
# A separate part (``--suite learned``): a learned-classifier solve at K = 10, M = 64, timed around the
# whole call a user makes, in a fresh process per configuration (cold: compilation included).

LEARNED_METHODS = ("newton", "lbfgs", "lbfgs_raw")
LEARNED_TARGET_SECONDS = 60.0
LEARNED_RAW_CAP = 20_000


def _raw_joint_lbfgs(problem, tol: float):
    r"""Joint L-BFGS over $(W, H)$ in the raw features $h$ (not $\sqrt{\omega}h$ as ``ufm.minimize``
    does): the baseline that shows what the scaling buys under class imbalance. Same start (seed 1),
    same stopping test (largest per-sample gradient norm and classifier gradient norm <= tol).

    Returns ``(classifier, features, iterations, seconds)``.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    k, d = problem.num_classes, problem.dim
    pairs, lam = np.asarray(problem.pair_index), np.asarray(problem.lambdas)
    y = np.zeros((problem.num_pairs, problem.num_lambdas, k))
    y[np.arange(problem.num_pairs), :, pairs[:, 0]] += lam
    y[np.arange(problem.num_pairs), :, pairs[:, 1]] += 1 - lam
    y = jnp.asarray(y.reshape(-1, k))
    omega = jnp.asarray(problem.sample_weights().reshape(-1))
    mu, decay = problem.weight_decay, problem.classifier_decay
    rng = np.random.default_rng(1)
    params = (jnp.asarray(rng.normal(scale=d ** -0.5, size=(k, d))),
              jnp.asarray(rng.normal(scale=d ** -0.5, size=(y.shape[0], d))))

    def fun(p):
        w, h = p
        z = h @ w.T
        loss = jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1) + 0.5 * mu * jnp.sum(h * h, axis=-1)
        return jnp.sum(omega * loss) + 0.5 * decay * jnp.sum(w * w)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def norm(g):
        per_sample = g[1] / omega[:, None]  # the gradient of each sample's own objective
        return jnp.maximum(jnp.sqrt(jnp.max(jnp.sum(per_sample**2, axis=-1))), jnp.linalg.norm(g[0]))

    @jax.jit
    def loop(p0):
        def cond(c):
            return (c[0] < LEARNED_RAW_CAP) & (norm(c[4]) > tol)

        def body(c):
            i, p, state, value, g = c
            updates, state = opt.update(g, state, p, value=value, grad=g, value_fn=fun)
            p = optax.apply_updates(p, updates)
            value, g = value_and_grad(p, state=state)
            return i + 1, p, state, value, g

        value0, g0 = jax.value_and_grad(fun)(p0)
        i, p, _, _, _ = jax.lax.while_loop(cond, body, (0, p0, opt.init(p0), value0, g0))
        return p, i

    compiled = loop.lower(params).compile()
    t0 = time.perf_counter()
    (w, h), iterations = jax.block_until_ready(compiled(params))
    return w, h.reshape(problem.feature_shape), int(iterations), time.perf_counter() - t0


def _learned_worker(cfg: dict) -> dict:
    import resource

    import numpy as np

    import ufm

    weights = None
    if cfg["ratio"] != 1:
        pi = np.array([cfg["ratio"]] * (cfg["K"] // 2) + [1.0] * (cfg["K"] - cfg["K"] // 2))
        weights = list(pi / pi.sum())
    t0 = time.perf_counter()
    problem = ufm.MixupUFM(cfg["K"], num_lambdas=cfg["M"], weight_decay=cfg["mu"], classifier_decay=cfg["lambda_W"],
                           class_weights=weights, seed=0)
    if cfg["method"] == "lbfgs_raw":
        w, h, iterations, seconds = _raw_joint_lbfgs(problem, cfg["tol"])
        cold = time.perf_counter() - t0
        report = ufm.check(problem, h, classifier=w, tol=cfg["tol"])
        return {**cfg, "num_samples": problem.num_samples, "cold_seconds": cold, "solve_seconds": seconds,
                "compile_seconds": cold - seconds, "warm_seconds": float("nan"), "check_seconds": float("nan"),
                "iterations": iterations, "status": str(report.solution.status),
                "grad_norm": report.solution.grad_norm,
                "objective_minus_reference": report.solution.objective - report.reference.objective,
                "duality_gap": report.reference.duality_gap, "max_rel_error": report.comparison.max_rel_error,
                "classifier_rel_error": report.classifier_rel_error, "check_ok": report.ok,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    solution = ufm.minimize(problem, cfg["method"], init=0, tol=cfg["tol"])
    cold = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = ufm.check(problem, solution)
    check_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    warm_solution = ufm.minimize(problem, cfg["method"], init=1, tol=cfg["tol"])
    warm = time.perf_counter() - t2
    return {
        **cfg,
        "num_samples": problem.num_samples,
        "cold_seconds": cold,
        "compile_seconds": solution.compile_seconds,
        "solve_seconds": solution.solve_seconds,
        "warm_seconds": warm,
        "warm_solve_seconds": warm_solution.solve_seconds,
        "check_seconds": check_seconds,
        "iterations": solution.num_steps,
        "status": str(solution.status),
        "grad_norm": solution.grad_norm,
        "objective_minus_reference": solution.objective - report.reference.objective,
        "duality_gap": report.reference.duality_gap,
        "max_rel_error": report.comparison.max_rel_error,
        "classifier_rel_error": report.classifier_rel_error,
        "check_ok": report.ok,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _learned_main(args) -> int:
    """Run the learned-classifier benchmark: each (method, ratio) in its own process."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for ratio in (1.0, 10.0):
        for method in LEARNED_METHODS:
            cfg = {"K": 10, "M": args.lambdas, "mu": args.weight_decay, "lambda_W": args.classifier_decay,
                   "tol": args.tol, "method": method, "ratio": ratio}
            print(f"learned K = 10, M = {args.lambdas}, rho = {ratio:g}, {method:7s} ...", end=" ", flush=True,
                  file=sys.stderr)
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, "--out", str(out), "--learned-worker", json.dumps(cfg)],
                    capture_output=True, text=True, timeout=args.timeout,
                )
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr.strip().splitlines()[-1])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"cold {r['cold_seconds']:6.1f} s (compile {r['compile_seconds']:.1f} s, solve "
                      f"{r['solve_seconds']:.2f} s), warm {r['warm_seconds']:5.2f} s, {r['iterations']} it, "
                      f"{r['status']}, err {r['max_rel_error']:.1e}, ok {r['check_ok']}", file=sys.stderr, flush=True)
            except (subprocess.TimeoutExpired, RuntimeError) as exc:
                r = {**cfg, "error": f"{type(exc).__name__}: {exc}"}
                print(r["error"], file=sys.stderr, flush=True)
            results.append(r)
    timed = [r for r in results if r["method"] != "lbfgs_raw"]  # the raw baseline is not a target
    verdict = all("error" not in r and r["cold_seconds"] <= LEARNED_TARGET_SECONDS and r["check_ok"] for r in timed)
    report = {"machine": _machine(), "target_seconds": LEARNED_TARGET_SECONDS, "all_within_target": verdict,
              "results": results}
    (out / "learned_benchmarks.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {out / 'learned_benchmarks.json'}; every solve within {LEARNED_TARGET_SECONDS:g} s cold: "
          f"{verdict}", file=sys.stderr)
    return 0


def _split_cpu(count: int | None) -> None:
    """Split the CPU into JAX devices here, and let every worker (a child process) do the same."""
    import ufm

    count = ufm.split_cpu(count)
    flag = "--xla_force_host_platform_device_count"
    if flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}={count}".strip()


def _machine() -> dict:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        mem = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "load_average_at_start": os.getloadavg(),
    }


def _k_label(k: int, results: list[dict]) -> str:
    pairs = next((r.get("pairs") for r in results if r["K"] == k and r.get("pairs")), None)
    return f"K = {k}" if pairs is None else f"K = {k}, P = {pairs} pairs"


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ks = sorted({r["K"] for r in results})
    methods = [m for m in METHODS if any(r["method"] == m for r in results)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        xs, ts, gs, es, hatch = [], [], [], [], []
        for j, k in enumerate(ks):
            r = next((r for r in results if r["K"] == k and r["method"] == m and "error" not in r), None)
            if r is None:
                continue
            xs.append(j + (i - (len(methods) - 1) / 2) * width)
            ts.append(r["solve_seconds_median"])
            gs.append(max(r["grad_norm"], 1e-18))
            es.append(max(r["max_rel_error"], 1e-18))
            hatch.append(not r["converged"])
        for ax, vals in zip(axes, (ts, gs, es)):
            bars = ax.bar(xs, vals, width, label=m, color=f"C{i}")
            for b, h in zip(bars, hatch):
                if h:
                    b.set_hatch("//")
                    b.set_alpha(0.6)
    titles = ("median solve time [s] (no compilation)", "final max per-sample grad norm",
              "max relative error to exact optimum")
    for ax, title in zip(axes, titles):
        ax.set_yscale("log")
        ax.set_xticks(range(len(ks)), [_k_label(k, results) for k in ks])
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[1].axhline(results[0]["tol"], color="k", lw=0.8, ls="--")
    from matplotlib.patches import Patch

    handles = [Patch(color=f"C{i}", label=m) for i, m in enumerate(methods)]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="not converged (cap)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.suptitle(f"mixup UFM, M = {results[0]['M']}, tol = {results[0]['tol']:g} "
                 "(hatched: not converged within the iteration cap)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=120)
    plt.close(fig)
    del np


METRICS_FUNCTIONS = ("neural_collapse", "mixup_geometry", "fit_weight_decay")
LAMBDA_MODES = {"per batch of 128": 128, "per sample": 1}


def _metrics_data(cfg: dict) -> None:
    """Mixed samples near the UFM optimum of a perturbed ETF (mu = 1e-2), saved to ``cfg["path"]``."""
    import numpy as np

    import ufm
    from ufm import metrics

    rng = np.random.default_rng(0)
    n, k, d = cfg["N"], cfg["K"], cfg["d"]
    w = np.asarray(ufm.simplex_etf(k, d, seed=1)) + 0.05 * rng.standard_normal((k, d))
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 1.0 / k, a, rng.integers(0, k, n))
    per = cfg["lambda_batch"]
    lam = np.repeat(rng.beta(1.0, 1.0, n // per + 1), per)[:n]
    h = metrics.exact_optimum(w, a, b, lam, 1e-2)
    h += 0.1 * np.sqrt(np.mean(h * h)) * rng.standard_normal(h.shape)
    with open(cfg["path"], "wb") as f:
        np.savez(f, features=h, classifier=w, class_a=a, class_b=b, lambdas=lam)


def _rss_bytes(field: str) -> int:
    """VmRSS (current) or VmHWM (peak) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _metrics_worker(cfg: dict) -> dict:
    import numpy as np

    from ufm import metrics

    if cfg.get("make_data"):
        _metrics_data(cfg)
        return {}
    with np.load(cfg["path"]) as saved:
        data = {key: saved[key] for key in saved.files}
    input_bytes = sum(v.nbytes for v in data.values())
    rss_loaded = _rss_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    h, w, a, b, lam = (data[key] for key in ("features", "classifier", "class_a", "class_b", "lambdas"))
    name = cfg["function"]
    if name == "neural_collapse":
        call = lambda: metrics.neural_collapse(h, a, w)  # noqa: E731  (every sample labelled by its class a)
    else:
        call = lambda: getattr(metrics, name)(h, w, a, b, lam)  # noqa: E731
    times, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    record = {
        **{key: cfg[key] for key in ("function", "N", "K", "d", "lambda_mode")},
        "cold_seconds": times[0],
        "warm_seconds": times[1],
        "warm_cpu_seconds": cpu[1],  # user + system time of all threads: less sensitive to other load
        "load_average": os.getloadavg(),
        "input_bytes": input_bytes,
        "rss_after_load_bytes": rss_loaded,
        "peak_beyond_input_bytes": _rss_bytes("VmHWM") - rss_loaded,
        "distinct_lambdas": int(np.unique(lam[a != b]).size),
    }
    if name == "fit_weight_decay":
        record.update(weight_decay=result.weight_decay, rel_residual=result.rel_residual)
    elif name == "neural_collapse":
        record.update(nc1=result.nc1, etf_error=result.etf_error)
    else:
        record.update(outside_span_mean=result.outside_span_mean)
    return record


def _metrics_suite(args) -> int:
    import tempfile

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    base = {"N": args.samples, "K": args.metric_classes, "d": args.feature_dim}
    with tempfile.TemporaryDirectory(prefix="ufm-metrics-bench") as tmp:
        for mode, per in LAMBDA_MODES.items():
            cfg = {**base, "lambda_mode": mode, "lambda_batch": per, "path": str(Path(tmp) / "samples.npz")}
            print(f"samples, lambda {mode} ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, __file__, "--out", str(out), "--metrics-worker",
                            json.dumps({**cfg, "make_data": True})],
                           check=True, stdout=subprocess.DEVNULL, timeout=args.timeout)
            for name in METRICS_FUNCTIONS:
                print(f"  {name:18s} ...", end=" ", flush=True, file=sys.stderr)
                proc = subprocess.run(
                    [sys.executable, __file__, "--out", str(out), "--metrics-worker",
                     json.dumps({**cfg, "function": name})],
                    capture_output=True, text=True, timeout=args.timeout,
                )
                if proc.returncode != 0:
                    r = {**cfg, "function": name, "error": proc.stderr.strip().splitlines()[-1]}
                    print(r["error"], file=sys.stderr, flush=True)
                else:
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    print(f"{r['warm_seconds']:.2f} s", file=sys.stderr, flush=True)
                results.append(r)
    ok = [r for r in results if "error" not in r]
    print(f"\nufm.metrics, N = {args.samples}, K = {args.metric_classes}, d = {args.feature_dim}, float64 "
          "(first call includes compiling the exact margins)")
    print(f"{'lambda':18s} {'function':18s} {'first [s]':>10s} {'second [s]':>11s} {'second, CPU [s]':>16s} "
          f"{'peak beyond input [GiB]':>24s}")
    for mode in LAMBDA_MODES:
        rows = [r for r in ok if r["lambda_mode"] == mode]
        for r in rows:
            print(f"{mode:18s} {r['function']:18s} {r['cold_seconds']:10.2f} {r['warm_seconds']:11.2f} "
                  f"{r['warm_cpu_seconds']:16.2f} {r['peak_beyond_input_bytes'] / 2**30:24.3f}")
        if len(rows) == len(METRICS_FUNCTIONS):
            print(f"{mode:18s} {'all three':18s} {sum(r['cold_seconds'] for r in rows):10.2f} "
                  f"{sum(r['warm_seconds'] for r in rows):11.2f} {sum(r['warm_cpu_seconds'] for r in rows):16.2f}")
    report = {"machine": _machine(), "results": results}
    (out / "metrics_benchmarks.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {out / 'metrics_benchmarks.json'}", file=sys.stderr)
    return 0 if len(ok) == len(results) else 1


# Targets shown in the summary (on the 2-core development machine, docs/performance.md).
E2E_TARGET_RATIO = 60.0  # newton vs optax_lbfgs_loop, end to end, K = 30
SAME_ANSWER = 1e-8  # max |h_newton - h_optax|
CLI_PEAK_TARGET = 2.0  # peak resident memory of a whole CLI run, in units of the features
DEFAULT_CLI_CASES = ("100", "1000:2000")


def _summary(results: list[dict], cli: list[dict], features_dir: Path) -> dict:
    """End-to-end ratios (with the answers compared), the roofline of newton, and the CLI peaks."""
    import numpy as np

    rows = []
    for newton in (r for r in results if r["method"] == "newton" and "error" not in r):
        optax = next((r for r in results if r["method"] == "optax_lbfgs_loop" and r["K"] == newton["K"]
                      and "error" not in r), None)
        row = {"K": newton["K"], "newton_wall_seconds": newton["wall_seconds_median"],
               "newton_solve_seconds": newton["solve_seconds_median"], "roofline": newton.get("roofline")}
        if optax is not None:
            a = np.load(features_dir / f"newton_{newton['K']}.npy")
            b = np.load(features_dir / f"optax_lbfgs_loop_{newton['K']}.npy")
            row.update(
                optax_seconds=optax["wall_seconds_median"],
                end_to_end_ratio=optax["wall_seconds_median"] / newton["wall_seconds_median"],
                solve_ratio=optax["solve_seconds_median"] / newton["solve_seconds_median"],
                max_abs_difference=float(np.max(np.abs(a - b))),
            )
        rows.append(row)
    targets = {"end_to_end_ratio_k30": E2E_TARGET_RATIO, "same_answer": SAME_ANSWER,
               "cli_peak_over_features": CLI_PEAK_TARGET}
    return {"end_to_end": rows, "cli_memory": cli, "targets": targets}


def _print_paired(paired: list[dict]) -> None:
    if not paired:
        return
    print("\n| K | newton, whole ufm.minimize call [s] | optax_lbfgs_loop [s] | ratio, wall (target >= 60x at "
          "K = 30) | ratio, CPU time | rounds (wall ratio) | max abs difference (target <= 1e-8) |")
    print("|---|---|---|---|---|---|---|")
    for r in paired:
        if "error" in r:
            print(f"| {r['K']} | - | - | - | - | - | {r['error']} |")
            continue
        rounds = r["rounds_detail"]
        newton = statistics.median(x["newton_wall_seconds"] for x in rounds)
        optax = statistics.median(x["optax_wall_seconds"] for x in rounds)
        each = ", ".join(f"{x['ratio_wall']:.0f}" for x in rounds)
        print(f"| {r['K']} | {newton:.3f} | {optax:.2f} | **{r['ratio_wall_median']:.0f}x** | "
              f"{r['ratio_cpu_median']:.0f}x | {each} | {r['max_abs_difference']:.1e} |")


def _print_summary(summary: dict) -> None:
    _print_paired(summary.get("paired", []))
    print("\n| K | newton, whole ufm.minimize call [s] | optax_lbfgs_loop [s] | ratio (target >= 60x at K = 30) "
          "| max abs difference (target <= 1e-8) | newton floor, one core [s] | gap to floor |")
    print("|---|---|---|---|---|---|---|")
    for row in summary["end_to_end"]:
        roof = row.get("roofline") or {}
        ratio = f"{row['end_to_end_ratio']:.0f}x" if "end_to_end_ratio" in row else "-"
        optax = f"{row['optax_seconds']:.2f}" if "optax_seconds" in row else "-"
        diff = f"{row['max_abs_difference']:.1e}" if "max_abs_difference" in row else "-"
        floor = f"{roof['end_to_end_floor_seconds']:.3f}" if roof else "-"
        gap = f"{roof['end_to_end_gap']:.1f}x" if roof else "-"
        print(f"| {row['K']} | {row['newton_wall_seconds']:.3f} | {optax} | {ratio} | {diff} | {floor} | {gap} |")
    for row in summary["end_to_end"]:
        roof = row.get("roofline")
        if roof:
            k = roof["kernel_seconds"]
            print(f"\nK = {row['K']} roofline: {roof['mean_iterations']:.2f} Newton iterations per sample on "
                  f"average; measured {roof['measured_seconds_per_entry_iteration'] * 1e9:.1f} ns (wall) per "
                  f"(sample, class) entry and iteration vs a one-core floor of "
                  f"{roof['floor_seconds_per_entry_iteration'] * 1e9:.1f} ns (3 exp at {k['exp'] * 1e9:.2f} ns, "
                  f"2 divisions at {k['div'] * 1e9:.2f} ns, 25 multiply-adds at {k['fma'] * 1e9:.2f} ns; two "
                  f"cores halve it); final check floor {roof['check_floor_seconds'] * 1e3:.1f} ms")
    if summary["cli_memory"]:
        print("\n| CLI run | features [GiB] | peak RSS [GiB] | peak / features (target <= 2) | estimate [GiB] "
              "| wall [s] | check |")
        print("|---|---|---|---|---|---|---|")
        for c in summary["cli_memory"]:
            if "error" in c:
                print(f"| {c['case']} | - | - | - | - | - | {c['error']} |")
                continue
            name = f"--classes {c['K']}" + (f" --pairs {c['pairs']}" if c["pairs"] else "")
            print(f"| {name} --out | {c['features_bytes'] / 2**30:.2f} | {c['peak_rss_bytes'] / 2**30:.2f} | "
                  f"{c['peak_over_features']:.2f} | {c['estimate_bytes'] / 2**30:.2f} | {c['wall_seconds']:.1f} | "
                  f"{'ok' if c['ok'] else 'FAILED'} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for benchmarks.json and benchmarks.png")
    p.add_argument("--classes", type=int, nargs="+", default=[10, 30, 100])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--lambdas", type=int, default=64, metavar="M")
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument(
        "--pairs", type=int, default=None, metavar="P",
        help="keep P ordered class pairs (MixupUFM(pairs=P)) wherever P < K*K (default all pairs)",
    )
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the compiling one (median; newton: "
                   "at least 7)")
    p.add_argument("--quick", action="store_true", help="one timed run each")
    p.add_argument("--timeout", type=float, default=900, help="seconds per configuration")
    p.add_argument(
        "--cpu-devices", type=int, default=None, metavar="N",
        help="CPU devices JAX makes (ufm.split_cpu), in this process and every worker: default one per core, "
        "so that newton uses every core; 1 is JAX's own default of one device for the whole CPU (what python -m "
        "ufm.solve keeps; the --cli-memory runs use it)",
    )
    p.add_argument(
        "--cli-memory", nargs="*", default=None, metavar="K[:P]",
        help="also measure whole command-line runs (python -m ufm.solve --classes K [--pairs P] --out DIR): "
        f"peak resident memory and time (default cases: {' '.join(DEFAULT_CLI_CASES)})",
    )
    p.add_argument(
        "--end-to-end", nargs="*", type=int, default=None, metavar="K",
        help="also time newton's whole ufm.minimize call against optax_lbfgs_loop interleaved in one process, "
        "so both see the same load (--rounds rounds; default K: 30)",
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds of the --end-to-end comparison (median ratio)")
    p.add_argument("--from", dest="source", default=None, metavar="DIR",
                   help="redraw benchmarks.png and reprint the summary from DIR/benchmarks.json (no solving)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument(
        "--suite", choices=("solvers", "metrics", "learned"), default="solvers",
        help="solvers: the solver comparison above (default); metrics: ufm.metrics on --samples mixed samples; "
        "learned: a learned-classifier solve (classifier_decay) at K = 10, M = --lambdas, balanced and with "
        "imbalance ratio 10, newton and lbfgs, each timed cold in a fresh process (compilation included) and "
        "warm, and joint L-BFGS in the raw features as a baseline (writes learned_benchmarks.json)",
    )
    p.add_argument("--samples", type=int, default=1_000_000, metavar="N", help="--suite metrics: samples")
    p.add_argument("--metric-classes", type=int, default=10, metavar="K", help="--suite metrics: classes")
    p.add_argument("--feature-dim", type=int, default=64, metavar="D", help="--suite metrics: feature dimension")
    p.add_argument("--classifier-decay", type=float, default=1e-3, help="--suite learned: lambda_W")
    p.add_argument("--metrics-worker", help=argparse.SUPPRESS)
    p.add_argument("--learned-worker", help=argparse.SUPPRESS)
    p.add_argument("--paired-worker", help=argparse.SUPPRESS)
    p.add_argument("--cli-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    _split_cpu(args.cpu_devices)

    if args.metrics_worker:
        print(json.dumps(_metrics_worker(json.loads(args.metrics_worker))))
        return 0
    if args.learned_worker:
        print(json.dumps(_learned_worker(json.loads(args.learned_worker))))
        return 0
    if args.suite == "metrics":
        return _metrics_suite(args)
    if args.suite == "learned":
        return _learned_main(args)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    if args.paired_worker:
        print(json.dumps(_paired_worker(json.loads(args.paired_worker))))
        return 0
    if args.cli_worker:
        print(json.dumps(_cli_peak(args.cli_worker, Path(args.out), args.timeout)))
        return 0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.source is not None:
        saved = json.loads((Path(args.source) / "benchmarks.json").read_text())
        ok = [r for r in saved["results"] if "error" not in r]
        if ok:
            _plot(ok, out / "benchmarks.png")
        if "summary" in saved:
            _print_summary(saved["summary"])
        print(f"wrote {out / 'benchmarks.png'}", file=sys.stderr)
        return 0
    features_dir = Path(tempfile.mkdtemp(prefix="ufm-bench-"))
    results = []
    for k in args.classes:
        for method in args.methods:
            if k >= 100 and method not in LARGE_K_METHODS:
                continue
            # One timed run for the slow baselines; newton and the hand-written optax loop (the
            # end-to-end comparison) get the full --repeats.
            compared = method in ("newton", "optax_lbfgs_loop")
            slow = method in ("adam", "gd", "scipy_lbfgsb") or (k >= 30 and not compared)
            repeats = 1 if (args.quick or slow) else args.repeats
            if method == "newton" and not args.quick:
                repeats = max(repeats, 7)
            pairs = args.pairs if args.pairs is not None and args.pairs < k * k else None
            cfg = {"K": k, "M": args.lambdas, "mu": args.weight_decay, "tol": args.tol,
                   "method": method, "repeats": repeats, "pairs": pairs}
            if method in ("newton", "optax_lbfgs_loop"):
                cfg["save_features"] = str(features_dir / f"{method}_{k}.npy")
                cfg["roofline"] = method == "newton"
            print(f"K = {k:4d}  {method:18s} ...", end=" ", flush=True, file=sys.stderr)
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, "--out", str(out), "--worker", json.dumps(cfg)],
                    capture_output=True, text=True, timeout=args.timeout,
                )
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr.strip().splitlines()[-1])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                r.pop("save_features", None)
                print(f"{r['solve_seconds_median']:9.3f} s  {r['iterations']:5d} it  "
                      f"grad {r['grad_norm']:.1e}  err {r['max_rel_error']:.1e}  "
                      f"rss {r['peak_rss_bytes'] / 2**30:.2f} GiB", file=sys.stderr, flush=True)
            except (subprocess.TimeoutExpired, RuntimeError) as exc:
                r = {**cfg, "error": f"{type(exc).__name__}: {exc}"}
                print(r["error"], file=sys.stderr, flush=True)
            results.append(r)

    paired = []
    for k in (None if args.end_to_end is None else (args.end_to_end or [30])) or ():
        cfg = {"K": k, "M": args.lambdas, "mu": args.weight_decay, "tol": args.tol, "rounds": args.rounds,
               "repeats": 5}
        print(f"K = {k:4d}  newton vs optax_lbfgs_loop, interleaved ...", end=" ", flush=True, file=sys.stderr)
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--out", str(out), "--paired-worker", json.dumps(cfg)],
                capture_output=True, text=True, timeout=args.timeout * (args.rounds + 1),
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip().splitlines()[-1])
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            each = ", ".join(f"{x['ratio_wall']:.0f}" for x in r["rounds_detail"])
            print(f"ratio {r['ratio_wall_median']:.0f}x wall, {r['ratio_cpu_median']:.0f}x cpu (rounds: {each})",
                  file=sys.stderr, flush=True)
        except (subprocess.TimeoutExpired, RuntimeError) as exc:
            r = {**cfg, "error": f"{type(exc).__name__}: {exc}"}
            print(r["error"], file=sys.stderr, flush=True)
        paired.append(r)

    cli = []
    cases = None if args.cli_memory is None else (args.cli_memory or list(DEFAULT_CLI_CASES))
    for case in cases or ():
        print(f"CLI {case:12s} ...", end=" ", flush=True, file=sys.stderr)
        try:
            # A fresh interpreter per case, so that its children's peak is this run's alone.
            proc = subprocess.run(
                [sys.executable, __file__, "--out", str(features_dir), "--cli-worker", case, "--timeout",
                 str(args.timeout)], capture_output=True, text=True, timeout=args.timeout + 60,
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip().splitlines()[-1])
            c = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"peak {c['peak_rss_bytes'] / 2**30:.2f} GiB ({c['peak_over_features']:.2f} x features), "
                  f"{c['wall_seconds']:.1f} s", file=sys.stderr, flush=True)
        except (subprocess.TimeoutExpired, RuntimeError) as exc:
            c = {"case": case, "error": f"{type(exc).__name__}: {exc}"}
            print(c["error"], file=sys.stderr, flush=True)
        cli.append(c)

    summary = _summary(results, cli, features_dir)
    summary["paired"] = paired
    shutil.rmtree(features_dir, ignore_errors=True)
    report = {"machine": _machine(), "results": results, "summary": summary}
    (out / "benchmarks.json").write_text(json.dumps(report, indent=1))
    ok = [r for r in results if "error" not in r]
    if ok:
        _plot(ok, out / "benchmarks.png")
    _print_summary(summary)
    print(f"wrote {out / 'benchmarks.json'} and {out / 'benchmarks.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
