"""Command line: solve the mixup UFM numerically and check it against the exact optimum.

    python -m ufm.solve --classes 10 --alpha 1.0

A thin layer over the library: builds a :class:`ufm.MixupUFM`, calls :func:`ufm.minimize` and
:func:`ufm.optimal_features`, and reports. Exit status: 0 when the solve converged and the largest
relative feature error is at most ``--check-tol``; 1 when that check fails (the reason is printed);
2 on bad input (one line, nothing written).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2

CONVENTION = "mu per feature: objective = mean over samples of [mixup CE + mu/2 ||h||^2] (mu = N * lambda_H)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is exactly one line on stderr (no usage block), exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Let "--tol -1e-8" or "--scale -inf" reach validation (and its clear message) instead of
        # being read as an option: argparse < 3.13 only treats -1 and -1.5 as negative numbers.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^-(inf|nan)$", re.I)

    def error(self, message: str):
        message = message.replace("\n", " ")
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except ``None`` ones (their help text says what the default is) and those
    of on/off flags."""

    def _get_help_string(self, action):
        if action.default is None or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


def _number(text: str) -> int | float | str:
    """Parse a numeric option as ``int``, else ``float``; anything else is passed on unchanged.

    Validation is left to the library, so the command line and the Python API refuse a value with
    the same message (e.g. ``num_classes must be an integer, got 2.5``).
    """
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


# Library parameter name -> command-line option, to point an error message at the option.
_OPTION = {
    "num_classes": "--classes",
    "alpha": "--alpha",
    "weight_decay": "--weight-decay",
    "dim": "--dim",
    "num_lambdas": "--lambdas",
    "scale": "--scale",
    "seed": "--seed",
    "dtype": "--dtype",
    "method": "--method",
    "unknown": "--method",
    "tol": "--tol",
    "max_steps": "--max-steps",
    "check_tol": "--check-tol",
    "devices": "--devices",
    "pairs": "--pairs",
}


def _bad_input(parser: argparse.ArgumentParser, err: Exception):
    """Report a library TypeError/ValueError as a usage error on the option it concerns (exit 2)."""
    message = str(err)
    option = _OPTION.get(message.split(" ", 1)[0])
    parser.error(f"argument {option}: {message}" if option else message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m ufm.solve",
        description=(
            "Solve the mixup unconstrained-features model (fixed simplex-ETF classifier, free "
            "features, mixup cross-entropy + weight decay) numerically, compute its exact optimum, "
            "and compare them. Every ordered class pair (c, c2), same-class pairs included, is "
            "mixed at M coefficients lambda ~ Beta(alpha, alpha): N = K*K*M samples (P*M with --pairs P). "
            "Fisher, Meng & Papyan, ICLR 2024, Sec. 3."
        ),
        epilog=(
            "Exit status: 0 converged and max relative error <= --check-tol; 1 check failed "
            "(not converged, or error too large); 2 bad input. Weight decay convention: " + CONVENTION
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--classes", type=_number, default=10, metavar="K", help="number of classes K >= 2")
    p.add_argument("--alpha", type=_number, default=1.0, help="mixup alpha > 0: lambda ~ Beta(alpha, alpha)")
    p.add_argument(
        "--weight-decay",
        type=_number,
        default=1e-2,
        metavar="MU",
        help="weight decay mu > 0 per feature (objective: mean over samples of loss + mu/2 ||h||^2)",
    )
    p.add_argument("--dim", type=_number, default=None, metavar="D", help="feature dimension d >= K-1 (default K)")
    p.add_argument("--lambdas", type=_number, default=64, metavar="M", help="number of mixing coefficients drawn")
    p.add_argument("--scale", type=_number, default=1.0, help="row norm s > 0 of the simplex-ETF classifier")
    p.add_argument("--seed", type=_number, default=0, help="seed of the lambda draw (and of the pair draw)")
    p.add_argument(
        "--pairs",
        type=_number,
        default=None,
        metavar="P",
        help="keep only P of the K*K ordered class pairs, for large K: the K same-class pairs and "
        "P-K different-class pairs drawn with --seed (N = P*M samples; default all pairs)",
    )
    p.add_argument(
        "--method",
        default="newton",
        help="optimizer: newton (structured per-sample Newton, exact O(K) steps), "
        "lbfgs (generic joint L-BFGS), adam, gd",
    )
    p.add_argument(
        "--devices",
        type=_number,
        default=None,
        metavar="D",
        help="newton: split the samples over the first D local devices (default all)",
    )
    p.add_argument("--tol", type=_number, default=None, help="tolerance on the largest per-sample gradient norm "
                   "(default 1e-10 in float64, 1e-5 in float32)")
    p.add_argument("--max-steps", type=_number, default=None, help="iteration cap (default depends on the method)")
    p.add_argument("--dtype", default="float64", help="float64 or float32 (see docs/robustness.md for float32)")
    p.add_argument(
        "--check-tol",
        type=_number,
        default=None,
        help="largest acceptable relative feature error vs the exact optimum "
        "(default 1e-8 in float64, 1e-3 in float32)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="write config.json, results.json, arrays.npz here")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout instead of the report")
    return p


# Largest acceptable relative feature error. float32: measured errors at the default tol are
# <= 3e-4 for gamma >= 5e-5 (docs/robustness.md); below that float32 cannot resolve 1 - p near 1
# (error ~ eps32 / (gamma t^2)) and the check fails, as it should.
DEFAULT_CHECK_TOL = {"float64": 1e-8, "float32": 1e-3}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with one line on malformed values

    import numpy as np

    import ufm
    from ufm._io import check_output_dir, write_json, write_results_dir

    try:
        problem = ufm.MixupUFM(
            num_classes=args.classes,
            alpha=args.alpha,
            weight_decay=args.weight_decay,
            dim=args.dim,
            num_lambdas=args.lambdas,
            scale=args.scale,
            seed=args.seed,
            dtype=args.dtype,
            pairs=args.pairs,
        )
        if args.method not in ufm.METHODS:
            raise ValueError(f"unknown method {args.method!r}; choose one of {', '.join(ufm.METHODS)}")
        tol = ufm._minimize.DEFAULT_TOL[problem.dtype] if args.tol is None else args.tol  # as the API
        check_tol = DEFAULT_CHECK_TOL[problem.dtype] if args.check_tol is None else args.check_tol
        tol = ufm._validation.check_positive_real("tol", tol)
        check_tol = ufm._validation.check_positive_real("check_tol", check_tol)
        if args.max_steps is not None:
            args.max_steps = ufm._validation.check_int("max_steps", args.max_steps, 1)
        devices = None
        if args.devices is not None:
            import jax

            count = ufm._validation.check_int("devices", args.devices, 1)
            if count > len(jax.local_devices()):
                raise ValueError(f"devices must be at most {len(jax.local_devices())} (local devices), got {count}")
            devices = jax.local_devices()[:count]
        out = None if args.out is None else check_output_dir(args.out, args.force)
    except (TypeError, ValueError) as err:
        _bad_input(parser, err)

    with _Progress(f"solving N = {problem.num_samples} samples with {args.method}"):
        solution = ufm.minimize(problem, method=args.method, tol=tol, max_steps=args.max_steps, devices=devices)
    t0 = time.perf_counter()
    exact = ufm.optimal_features(problem)
    analytic_seconds = time.perf_counter() - t0
    pair_index = None if problem.pairs is None else problem.pair_index
    comparison = ufm.compare_features(solution.features, exact, problem.lambdas, pair_index)
    geometry = ufm.feature_geometry(solution.features, problem.classifier, problem.lambdas, pair_index)
    objective_exact = float(problem.objective(exact.astype(problem.dtype)))

    reasons = []
    if not solution.converged:
        reasons.append(solution.message)
    if not comparison.max_rel_error <= check_tol:
        reasons.append(
            f"max relative error {comparison.max_rel_error:.3e} > check-tol {check_tol:.1e}"
            + (_float32_hint(problem) if problem.dtype == "float32" else "")
        )
    ok = not reasons

    settings = problem.config()
    settings.update(method=args.method, tol=tol, max_steps=args.max_steps, check_tol=check_tol)
    results = {
        "settings": settings,
        "ok": ok,
        "reasons": reasons,
        **solution.summary(),
        "objective_analytic": objective_exact,
        "analytic_seconds": analytic_seconds,
        **comparison.summary(),
        "geometry": geometry,
        "ufm_version": ufm.__version__,
    }

    if out is not None:
        arrays = {
            "features": np.asarray(solution.features),
            "analytic_features": np.asarray(exact),
            "lambdas": np.asarray(problem.lambdas),
            "classifier": np.asarray(problem.classifier),
            "pair_index": np.asarray(problem.pair_index),
        }
        try:
            write_results_dir(
                out,
                {
                    "config.json": write_json(settings),
                    "results.json": write_json(results),
                    "arrays.npz": lambda p: _save_npz(p, arrays),
                },
                force=args.force,
            )
        except (OSError, ValueError) as err:  # e.g. disk full, or --out created meanwhile
            parser.error(f"--out {str(out)!r} could not be written, nothing was saved: {err}")

    if args.json:
        print(json.dumps(ufm._io.to_jsonable(results), sort_keys=True, allow_nan=False))
    else:
        print(_report(problem, solution, comparison, geometry, objective_exact, check_tol, out, reasons))
    return EXIT_OK if ok else EXIT_CHECK_FAILED


class _Progress:
    """A progress line on stderr (never stdout) for solves that take more than a few seconds."""

    def __init__(self, what: str, after: float = 3.0, every: float = 5.0):
        import threading

        self.what, self.after, self.every = what, after, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.start = time.perf_counter()

    def _run(self) -> None:
        if self.stop.wait(self.after):
            return
        while True:
            print(f"{self.what}: {time.perf_counter() - self.start:.0f} s ...", file=sys.stderr, flush=True)
            if self.stop.wait(self.every):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False


def _float32_hint(problem) -> str:
    r"""How finely float32 can resolve this problem's optimum at all.

    Near the optimum $1 - p_c \approx \gamma t$ ($t$ the same-class margin), while float32 holds
    $p_c$ only to $\varepsilon_{32} = 1.2\cdot10^{-7}$; the margin is then determined to a relative
    $\approx \varepsilon_{32}/(\gamma t^2)$, whatever the solver does.
    """
    import numpy as np

    import ufm

    t = float(ufm.analytic.same_class_margin(problem.num_classes, problem.gamma))
    limit = float(np.finfo(np.float32).eps) / (problem.gamma * t * t)
    return f" (float32 resolves this problem only to about {limit:.0e}: eps32/(gamma t^2); use --dtype float64)"


def _save_npz(path: Path, arrays: dict) -> None:
    import numpy as np

    with open(path, "wb") as f:  # a file object, so numpy does not append ".npz" to the temp name
        np.savez(f, **arrays)


def _report(problem, solution, comparison, geometry, objective_exact, check_tol, out, reasons) -> str:
    c, c2, m = comparison.worst_index
    lines = [
        "mixup UFM, fixed simplex-ETF classifier (Fisher, Meng & Papyan, ICLR 2024)",
        f"  K = {problem.num_classes}, d = {problem.dim}, scale = {problem.scale:g}, "
        f"alpha = {problem.alpha:g}, M = {problem.num_lambdas} lambdas (seed {problem.seed}), "
        f"N = {problem.num_samples} samples, {problem.dtype}",
        *(
            [f"  pairs: {problem.num_pairs} of {problem.num_classes**2} ordered class pairs "
             f"(all {problem.num_classes} same-class pairs, the rest drawn with seed {problem.seed})"]
            if problem.pairs is not None
            else []
        ),
        f"  weight decay mu = {problem.weight_decay:g} ({CONVENTION})",
        "",
        f"solve ({solution.method}): {solution.status} in {solution.num_steps} steps, "
        f"max per-sample grad norm {solution.grad_norm:.2e} (tol {solution.tol:.0e})",
        f"  time: {solution.solve_seconds:.3f} s solving, {solution.compile_seconds:.3f} s compiling",
        f"objective: numeric {solution.objective:.15f}   exact {objective_exact:.15f}   "
        f"diff {solution.objective - objective_exact:+.2e}",
        f"max relative feature error vs exact optimum: {comparison.max_rel_error:.2e} "
        f"(worst sample c={c}, c2={c2}, lambda={comparison.worst_lambda:.4f}; check-tol {check_tol:.0e})",
        "",
        "geometry (theory: spread, misalignment and out-of-span components are 0):",
        f"  same-class feature norm {geometry['same_class_norm_mean']:.6f}, "
        f"spread over lambda {geometry['same_class_norm_spread']:.1e}, "
        f"misalignment with w_c {geometry['same_class_max_misalignment']:.1e}",
        f"  largest different-class component outside span{{w_c, w_c2}}: {geometry['max_outside_pair_span']:.1e}",
        f"  largest distance to the c/c2 decision boundary at lambda = "
        f"{geometry['lambda_nearest_half']:.4f} (nearest 1/2): "
        f"{geometry['max_boundary_distance_nearest_half']:.3e} (0 only at lambda = 1/2)",
    ]
    if out is not None:
        lines.append(f"\nwrote {out}/config.json, results.json, arrays.npz")
    lines.append("\nOK" if not reasons else "\nCHECK FAILED: " + "; ".join(reasons))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
