"""Command line: solve the mixup UFM numerically and check it against the exact optimum.

    python -m ufm.solve --classes 10 --alpha 1.0

A thin layer over the public API: builds a :class:`ufm.MixupUFM` and a solver, checks that the
run fits in memory (:func:`ufm.estimate_memory`), calls :func:`ufm.minimize` and :func:`ufm.check`,
and prints the report. Exit status: 0 when the solve converged and every sample is within
``--check-tol`` (relative) of the exact optimum, up to the strong-convexity bound tol/mu (with
``--no-check``: when the solve converged); 1 when that check fails (the reason is printed); 2 on
bad input, a run that does not fit in memory, or a distributed runtime that could not be started
or failed (one line, nothing written).

Several processes (``--coordinator``, ``--num-processes``, ``--process-id``, or a cluster
launcher JAX detects): every process runs the same command under JAX's distributed runtime
(:mod:`ufm.distributed`); process 0 prints the report and writes ``--out``, and every process
exits with the same status. Each such process supervises a child that does the work, because
the runtime ends a process that cannot join it rather than raising an error: the supervisor
turns that into one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# Set in the child of a supervising process (the path of its start-up log).
_SUPERVISED = "UFM_SOLVE_SUPERVISED_LOG"
_JOINED = "joined the distributed runtime\n"

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
    "coordinator": "--coordinator",
    "num_processes": "--num-processes",
    "process_id": "--process-id",
    "timeout": "--init-timeout",
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
        help="newton: split the samples over the first D local devices of every process (default all; a CPU "
        "is one device unless XLA_FLAGS=--xla_force_host_platform_device_count=N splits it: faster, but the "
        "check then needs a host copy of the features, about one more features-sized array)",
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
    p.add_argument(
        "--no-check",
        action="store_true",
        help="skip the exact optimum, the comparison with it and the geometry (for runs where only the numeric "
        "optimum is wanted; less memory and time): the exit status then says whether the solve converged, and "
        "--out holds no analytic_features",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="write config.json, results.json, arrays.npz here")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout instead of the report")
    group = p.add_argument_group(
        "several processes (JAX's distributed runtime; every process runs the same command)",
        "Left unset, these come from the launcher's environment as JAX reads it (Slurm, Open MPI; "
        "JAX_COORDINATOR_ADDRESS for the address); see docs/performance.md.",
    )
    group.add_argument(
        "--coordinator", default=None, metavar="HOST:PORT",
        help="address of process 0, which serves the coordinator there (the same in every process)",
    )
    group.add_argument("--num-processes", type=_number, default=None, metavar="N", help="number of processes")
    group.add_argument("--process-id", type=_number, default=None, metavar="I", help="this process, 0 <= I < N")
    group.add_argument(
        "--init-timeout", type=_number, default=300, metavar="SECONDS",
        help="give up, with one line and exit status 2, when not all processes have joined by then",
    )
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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with one line on malformed values

    import ufm

    try:
        launch = _launch(args, ufm)
    except (TypeError, ValueError) as err:
        _bad_input(parser, err)
    if launch is None:
        return _run(parser, args, None)
    if _SUPERVISED not in os.environ:
        return _supervise(parser, argv, launch, args.init_timeout)
    with _QuietStdout() as quiet:  # the collectives' chatter ("[Gloo] Rank 0 is connected ...") stays off stdout
        return _run(parser, args, launch, quiet)


def _launch(args, ufm) -> dict | None:
    """The distributed launch asked for (options or a cluster launcher's environment), or ``None``."""
    given = {"coordinator_address": args.coordinator, "num_processes": args.num_processes,
             "process_id": args.process_id}
    launcher = ufm.distributed.detect_launcher()
    if all(v is None for v in given.values()) and launcher is None:
        return None
    if args.method in ufm.SOLVERS and args.method != "newton":
        raise ValueError(
            f"method {args.method} runs in one process on one device; with several processes use --method newton"
        )
    if isinstance(args.init_timeout, bool) or not isinstance(args.init_timeout, int) or args.init_timeout < 1:
        raise ValueError(f"timeout must be a whole number of seconds >= 1, got {args.init_timeout!r}")
    if launcher is None:
        options = (("--num-processes", "num_processes"), ("--process-id", "process_id"))
        missing = [option for option, name in options if given[name] is None]
        if given["coordinator_address"] is None and "JAX_COORDINATOR_ADDRESS" not in os.environ:
            missing.insert(0, "--coordinator")
        if missing:
            raise ValueError(
                f"several processes need {', '.join(missing)} too (or a cluster launcher that JAX detects)"
            )
    for name in ("num_processes", "process_id"):
        value = given[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if given["num_processes"] is not None and given["num_processes"] < 1:
        raise ValueError(f"num_processes must be >= 1, got {given['num_processes']}")
    if given["process_id"] is not None and not 0 <= given["process_id"] < (given["num_processes"] or 2**31):
        raise ValueError(f"process_id must be between 0 and num_processes - 1, got {given['process_id']}")
    if given["coordinator_address"] is not None:
        ufm.distributed.check_address(given["coordinator_address"])
    known = dict(given)
    if launcher is not None:
        known["num_processes"] = known["num_processes"] or launcher[1]
        known["process_id"] = launcher[2] if known["process_id"] is None else known["process_id"]
    return {"given": given, "known": known}


def _supervise(parser, argv: list[str], launch: dict, timeout: int) -> int:
    """Run this command in a child process and relay its exit status; if the distributed runtime
    ends the child (as it does when not all processes join in time), say why in one line."""
    import signal
    import subprocess
    import tempfile

    import ufm

    handle, log = tempfile.mkstemp(prefix="ufm-solve-", suffix=".log")
    os.close(handle)
    child = subprocess.Popen([sys.executable, "-m", "ufm.solve", *argv], env={**os.environ, _SUPERVISED: log})
    forward = {sig: signal.signal(sig, lambda number, frame: child.send_signal(number))
               for sig in (signal.SIGTERM, signal.SIGHUP)}
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends it to the child too
    try:
        code = child.wait()
    finally:
        for sig, handler in forward.items():
            signal.signal(sig, handler)
        signal.signal(signal.SIGINT, previous_int)
        with open(log, errors="replace") as f:
            text = f.read()
        os.unlink(log)
    if code >= 0:
        return code
    name = signal.Signals(-code).name
    known = launch["known"]
    if text.startswith(_JOINED):
        message = (
            f"process {known['process_id']} was ended ({name}) by the distributed runtime after it had "
            "started: another process probably failed or stopped (see its messages); nothing was written"
        )
    else:
        message = ufm.distributed.failure_message(
            text, launch["given"]["coordinator_address"], known["num_processes"], known["process_id"], timeout
        )
    print(f"{parser.prog}: error: {message}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


class _QuietStdout:
    """File descriptor 1 sent to the null device until :meth:`restore` (or the end of the block):
    this command prints to stdout only at the end, and nothing else may."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        return self

    def restore(self):
        if self.saved is not None:
            sys.stdout.flush()
            os.dup2(self.saved, 1)
            os.close(self.saved)
            self.saved = None

    def __exit__(self, *exc):
        self.restore()
        return False


def _fail(parser, message: str):
    """Exit 2 with one line on stderr, for a run that cannot go on (not a usage error)."""
    parser.exit(EXIT_BAD_INPUT, f"{parser.prog}: error: {message}\n")


def _processes(indices: list[int]) -> str:
    return f"process{'es' if len(indices) > 1 else ''} {', '.join(map(str, indices))}"


def _run(parser, args, launch: dict | None, quiet: _QuietStdout | None = None) -> int:
    import numpy as np

    import ufm

    distributed = launch is not None
    if distributed:
        given = launch["given"]
        log = os.environ[_SUPERVISED]
        try:
            ufm.distributed.initialize(
                given["coordinator_address"], given["num_processes"], given["process_id"],
                timeout=args.init_timeout, log=log,
            )
        except (TypeError, ValueError) as err:
            _bad_input(parser, err)
        except ufm.distributed.DistributedError as err:
            _fail(parser, str(err))
        with open(log, "w") as f:
            f.write(_JOINED)

    import jax

    leader = jax.process_index() == 0
    bad = short = None
    try:
        problem, solver, check_tol, devices, out = _build(args, ufm, leader, distributed)
    except (TypeError, ValueError) as err:
        message = str(err)
        option = _OPTION.get(message.split(" ", 1)[0])
        bad = f"argument {option}: {message}" if option else message
    if bad is None:
        num_devices = len(devices) if devices is not None else jax.local_device_count()
        estimate = ufm.estimate_memory(
            problem, args.method, compare=not args.no_check, save=out is not None,
            num_processes=jax.process_count(), process_index=jax.process_index(), num_devices=num_devices,
            accelerator=jax.devices()[0].platform != "cpu",
        )
        device_free = [ufm.available_memory(d) for d in jax.local_devices()]
        short = estimate.shortfall(
            ufm.available_memory(), min((f for f in device_free if f is not None), default=None)
        )
        if short is not None:
            where = f" on process {jax.process_index()}" if distributed else ""
            short = f"this run needs {short}{where}; reduce it with --pairs, --lambdas, --dim or --no-check"
    if distributed:
        # One exchange: the same command everywhere (but --process-id), and who cannot go on.
        others = {k: v for k, v in sorted(vars(args).items()) if k != "process_id"}
        digest = ufm.distributed.text_digest(json.dumps(others, default=str))
        everyone = ufm.distributed.allgather([digest, bad is not None, short is not None])
        differing = [i for i, row in enumerate(everyone) if row[0] != everyone[0][0]]
        refused = [i for i, row in enumerate(everyone) if row[1]]
        short_of_memory = [i for i, row in enumerate(everyone) if row[2]]
        if differing:
            bad = (f"{_processes(differing)} got other arguments than process 0: every process must run "
                   "the same command (only --process-id differs)")
        elif refused and bad is None:
            bad = f"{_processes(refused)} stopped on bad input (see {'their' if len(refused) > 1 else 'its'} message)"
        elif short_of_memory and short is None and bad is None:
            short = f"{_processes(short_of_memory)} cannot fit this run in memory (see the message there)"
    if bad is not None:
        parser.error(bad)
    if short is not None:
        _fail(parser, short)

    progress = _Progress(f"solving N = {problem.num_samples} samples with {args.method}") if leader else None
    with progress or contextlib.nullcontext():
        solution = ufm.minimize(problem, solver, devices=devices)
    if distributed and (out is not None or not args.no_check):
        solution = ufm.distributed.gather(solution)  # NumPy features on process 0

    code, text = EXIT_OK, None
    if leader:
        code, text = _report(parser, args, ufm, np, problem, solver, solution, check_tol, out, num_devices)
    if distributed:
        code = ufm.distributed.allgather([code, 0, 0])[0][0]  # process 0's; the exchange compiled above
        quiet.restore()
    if text is not None:
        try:
            print(text, flush=True)
        except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted; no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def _build(args, ufm, leader: bool, distributed: bool):
    """The problem, solver, check tolerance, devices and output folder, validated."""
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
    if problem.learns_classifier and args.method == "gd":
        raise ValueError("method gd needs a learning rate with a learned classifier, which the command line does "
                         "not take; use newton, lbfgs or adam (or ufm.minimize(..., learning_rate=...))")
    solver = ufm.SOLVERS[args.method](tol=args.tol, max_steps=args.max_steps)
    check_tol = _check_tol(args.check_tol)
    devices = None
    if args.devices is not None:
        import jax

        count = args.devices
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"devices must be an integer, got {count!r}")
        if not 1 <= count <= jax.local_device_count():
            raise ValueError(f"devices must be between 1 and {jax.local_device_count()} (local devices), got {count}")
        if args.method != "newton":
            raise ValueError(f"devices applies to the newton method only, not to {args.method}")
        if problem.learns_classifier:
            raise ValueError("devices applies to the fixed classifier only; a learned classifier is solved on "
                             "one device")
        devices = ufm.distributed.devices(count) if distributed else jax.local_devices()[:count]
    elif distributed:
        if problem.learns_classifier:
            raise ValueError("a learned classifier (--classifier-decay) is solved in one process on one device; "
                             "run it without the distributed options")
        devices = ufm.distributed.devices()
    out = None
    if args.out is not None and leader:
        out = ufm.io.check_output_dir(args.out, args.force)
    elif args.out is not None:
        out = args.out  # written by process 0 only
    return problem, solver, check_tol, devices, out


def _report(parser, args, ufm, np, problem, solver, solution, check_tol, out, num_devices):
    """Process 0: check, write ``--out``, and the text to print; ``(exit status, text)``."""
    import jax

    # A learned classifier's reference is not generated block by block: keep it for --out.
    keep = out is not None and problem.learns_classifier and not args.no_check
    report = ufm.check(problem, solution, rtol=check_tol, compare=not args.no_check, keep_exact=keep)
    settings = problem.config()
    settings.update(
        solver.options(), method=args.method, tol=solution.tol,
        check_tol=report.comparison.rtol if report.compared else None, compared=report.compared,
    )
    results = {
        "settings": settings,
        **report.to_dict(),
        "num_processes": jax.process_count(),
        "num_devices": num_devices,
        "ufm_version": ufm.__version__,
    }
    if out is not None:
        arrays = {"features": np.asarray(solution.features)}  # a view on CPU
        if report.exact is not None:
            arrays["analytic_features"] = np.asarray(report.exact)
        elif report.compared:  # written block by block as it is computed: never held whole
            arrays["analytic_features"] = ufm.io.BlockArray(
                problem.feature_shape, np.float64, lambda: (b for _, b in ufm.analytic.optimal_sample_blocks(problem))
            )
        arrays.update(
            lambdas=np.asarray(problem.lambdas),
            classifier=np.asarray(solution.classifier),
            pair_index=np.asarray(problem.pair_index),
        )
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
            message = f"--out {str(out)!r} could not be written, nothing was saved: {err}"
            print(f"{parser.prog}: error: {message} (see --help)", file=sys.stderr, flush=True)
            return EXIT_BAD_INPUT, None

    if args.json:
        text = json.dumps(ufm.io.to_jsonable(results), sort_keys=True, allow_nan=False)
    else:
        text = report.text()
        if out is not None:
            text += f"\n\nwrote {out}/config.json, results.json, arrays.npz"
        text += "\n\nOK" if report.ok else "\n\nCHECK FAILED: " + "; ".join(report.reasons)
    return (EXIT_OK if report.ok else EXIT_CHECK_FAILED), text


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
