"""Command line: solve the mixup UFM numerically and check it against the exact optimum.

    python -m ufm.solve --classes 10 --alpha 1.0

A thin layer over the public API: builds a :class:`ufm.MixupUFM` and a solver, calls
:func:`ufm.minimize` and :func:`ufm.check`, and prints the report. Exit status: 0 when the solve
converged and every sample is within ``--check-tol`` (relative) of the exact optimum, up to the
strong-convexity bound tol/mu; 1 when that check fails (the reason is printed); 2 on bad input
(one line, nothing written).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2

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
    "rtol": "--check-tol",
    "devices": "--devices",
    "pairs": "--pairs",
    "quadrature": "--quadrature",
    "classifier_decay": "--classifier-decay",
    "class_weights": "--class-weights",
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
            "(not converged, or error too large); 2 bad input. Weight decay convention: " + _convention()
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
    lambda_source = p.add_mutually_exclusive_group()
    lambda_source.add_argument(
        "--lambdas", type=_number, default=None, metavar="M", help="number of mixing coefficients drawn (default 64)"
    )
    lambda_source.add_argument(
        "--quadrature",
        type=_number,
        default=None,
        metavar="M",
        help="instead of a random draw, use the M Gauss-Jacobi nodes of Beta(alpha, alpha) as the mixing "
        "coefficients, weighted so that the objective and every mean over lambda are exact expectations "
        "over lambda ~ Beta(alpha, alpha) (no Monte-Carlo noise; 48 nodes give about 1e-10 or better for "
        "mu >= 1e-2)",
    )
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
        "--classifier-decay",
        type=_number,
        default=None,
        metavar="LW",
        help="learn the classifier too, with decay lambda_W > 0 on it (objective + lambda_W/2 ||W||^2); the "
        "check then compares with the certified optimum of the convex reformulation (default: the fixed "
        "simplex ETF)",
    )
    p.add_argument(
        "--class-weights",
        type=_weights,
        default=None,
        metavar="PI",
        help="K comma-separated class weights pi_c > 0 summing to 1 (e.g. 0.4,0.3,0.3); pair (c, c2) gets "
        "weight pi_c pi_c2 (default uniform)",
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
        help="largest acceptable relative feature error vs the exact optimum: a sample passes when "
        "||h - h*|| <= check-tol ||h*|| + tol/mu (default 1e-8 in float64, 1e-3 in float32)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="write config.json, results.json, arrays.npz here")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout instead of the report")
    return p


def _weights(text: str) -> list[int | float | str]:
    """``--class-weights``: comma-separated numbers, each parsed like a numeric option (validated by
    the library)."""
    return [_number(part.strip()) for part in text.split(",")]


def _convention() -> str:
    import ufm

    return ufm.CONVENTION


def _check_tol(value) -> float | None:
    """``--check-tol``: validated here, before any solving (the library validates it again)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"check_tol must be a real number, got {value!r}")
    if not (value > 0 and value != float("inf")):
        raise ValueError(f"check_tol must be finite and > 0, got {float(value)!r}")
    return float(value)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with one line on malformed values

    import numpy as np

    import ufm

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
            quadrature=args.quadrature,
            classifier_decay=args.classifier_decay,
            class_weights=args.class_weights,
        )
        if args.method not in ufm.SOLVERS:
            raise ValueError(f"unknown method {args.method!r}; choose one of {', '.join(ufm.SOLVERS)}")
        solver = ufm.SOLVERS[args.method](tol=args.tol, max_steps=args.max_steps)
        check_tol = _check_tol(args.check_tol)
        devices = None
        if args.devices is not None:
            import jax

            count = args.devices
            if isinstance(count, bool) or not isinstance(count, int):
                raise TypeError(f"devices must be an integer, got {count!r}")
            if not 1 <= count <= len(jax.local_devices()):
                limit = len(jax.local_devices())
                raise ValueError(f"devices must be between 1 and {limit} (local devices), got {count}")
            if args.method != "newton":
                raise ValueError(f"devices applies to the newton method only, not to {args.method}")
            if problem.learns_classifier:
                raise ValueError("devices applies to the fixed classifier only; a learned classifier is solved on "
                                 "one device")
            devices = jax.local_devices()[:count]
        out = None if args.out is None else ufm.io.check_output_dir(args.out, args.force)
    except (TypeError, ValueError) as err:
        _bad_input(parser, err)

    with _Progress(f"solving N = {problem.num_samples} samples with {args.method}"):
        solution = ufm.minimize(problem, solver, devices=devices)
    report = ufm.check(problem, solution, rtol=check_tol, keep_exact=out is not None)

    settings = problem.config()
    settings.update(solver.options(), method=args.method, tol=solution.tol, check_tol=report.comparison.rtol)
    results = {"settings": settings, **report.to_dict(), "ufm_version": ufm.__version__}

    if out is not None:
        arrays = {
            "features": np.asarray(solution.features),
            "analytic_features": np.asarray(report.exact),
            "lambdas": np.asarray(problem.lambdas),
            "classifier": np.asarray(solution.classifier),
            "pair_index": np.asarray(problem.pair_index),
        }
        try:
            ufm.io.write_results_dir(
                out,
                {
                    "config.json": ufm.io.write_json(settings),
                    "results.json": ufm.io.write_json(results),
                    "arrays.npz": ufm.io.write_npz(arrays),
                },
                force=args.force,
            )
        except (OSError, ValueError) as err:  # e.g. disk full, or --out created meanwhile
            parser.error(f"--out {str(out)!r} could not be written, nothing was saved: {err}")

    if args.json:
        print(json.dumps(ufm.io.to_jsonable(results), sort_keys=True, allow_nan=False))
    else:
        text = report.text()
        if out is not None:
            text += f"\n\nwrote {out}/config.json, results.json, arrays.npz"
        text += "\n\nOK" if report.ok else "\n\nCHECK FAILED: " + "; ".join(report.reasons)
        print(text)
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


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


if __name__ == "__main__":
    sys.exit(main())
