"""Benchmarks: the structured Newton solver against generic optimizers on the same problems.

    python experiments/benchmarks.py --out results/benchmarks            # full run (minutes)
    python experiments/benchmarks.py --out /tmp/bench --classes 10 --quick

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
    args = p.parse_args(argv)

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
