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
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("newton", "lbfgs", "optax_lbfgs_loop", "scipy_lbfgsb", "adam", "gd")
# Generic joint methods at K = 100 (64 M unknowns) need far more than the time budget.
LARGE_K_METHODS = ("newton",)
FIRST_ORDER_CAP = {"adam": 2000, "gd": 2000}


def _max_sample_grad_norm(grad):
    import jax.numpy as jnp

    return jnp.sqrt(jnp.max(jnp.sum(grad * grad, axis=-1)))


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
    axes[0].legend(fontsize=8)
    fig.suptitle(f"mixup UFM, M = {results[0]['M']}, tol = {results[0]['tol']:g} "
                 "(hatched: not converged within the iteration cap)", fontsize=10)
    fig.tight_layout()
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
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the compiling one (median)")
    p.add_argument("--quick", action="store_true", help="one timed run each")
    p.add_argument("--timeout", type=float, default=900, help="seconds per configuration")
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
    args = p.parse_args(argv)

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

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for k in args.classes:
        for method in args.methods:
            if k >= 100 and method not in LARGE_K_METHODS:
                continue
            slow = method in ("adam", "gd", "scipy_lbfgsb") or (k >= 30 and method != "newton")
            repeats = 1 if (args.quick or slow) else args.repeats
            pairs = args.pairs if args.pairs is not None and args.pairs < k * k else None
            cfg = {"K": k, "M": args.lambdas, "mu": args.weight_decay, "tol": args.tol,
                   "method": method, "repeats": repeats, "pairs": pairs}
            print(f"K = {k:4d}  {method:18s} ...", end=" ", flush=True, file=sys.stderr)
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, "--out", str(out), "--worker", json.dumps(cfg)],
                    capture_output=True, text=True, timeout=args.timeout,
                )
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr.strip().splitlines()[-1])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{r['solve_seconds_median']:9.3f} s  {r['iterations']:5d} it  "
                      f"grad {r['grad_norm']:.1e}  err {r['max_rel_error']:.1e}  "
                      f"rss {r['peak_rss_bytes'] / 2**30:.2f} GiB", file=sys.stderr, flush=True)
            except (subprocess.TimeoutExpired, RuntimeError) as exc:
                r = {**cfg, "error": f"{type(exc).__name__}: {exc}"}
                print(r["error"], file=sys.stderr, flush=True)
            results.append(r)

    report = {"machine": _machine(), "results": results}
    (out / "benchmarks.json").write_text(json.dumps(report, indent=1))
    ok = [r for r in results if "error" not in r]
    if ok:
        _plot(ok, out / "benchmarks.png")
    print(f"wrote {out / 'benchmarks.json'} and {out / 'benchmarks.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
