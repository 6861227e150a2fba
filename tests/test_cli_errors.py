"""Bad input: one clear line and exit status 2 from the CLI, the same message from the Python API.

Every row of the table in docs/robustness.md is a case here. For each CLI case: exit status 2,
exactly one line on stderr (``python -m ufm.solve: error: ...``), nothing on stdout, no traceback,
and nothing written to ``--out``. For each case with a Python equivalent, the API raises
``TypeError``/``ValueError`` and its message appears verbatim in the CLI's line.
"""

import functools
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import ufm
from ufm.solve import main

DECAY_WHY = "without weight decay the optimum does not exist: features grow without bound"
CLASSIFIER_DECAY_WHY = (
    "without decay on a learned classifier the optimum does not exist: the classifier and the features grow "
    "without bound"
)

# (CLI arguments, option named in the error, API call raising the same error, exception type, message)
CASES = [
    (["--classes", "1"], "--classes", lambda: ufm.MixupUFM(1), ValueError, "num_classes must be >= 2, got 1"),
    (["--classes", "0"], "--classes", lambda: ufm.MixupUFM(0), ValueError, "num_classes must be >= 2, got 0"),
    (["--classes", "2.5"], "--classes", lambda: ufm.MixupUFM(2.5), TypeError, "num_classes must be an integer, got 2.5"),
    (["--classes", "abc"], "--classes", lambda: ufm.MixupUFM("abc"), TypeError, "num_classes must be an integer, got 'abc'"),
    (["--classes", "nan"], "--classes", lambda: ufm.MixupUFM(math.nan), TypeError, "num_classes must be an integer, got nan"),
    (["--alpha", "0"], "--alpha", lambda: ufm.MixupUFM(3, alpha=0), ValueError, "alpha must be finite and > 0, got 0.0"),
    (["--alpha", "-1"], "--alpha", lambda: ufm.MixupUFM(3, alpha=-1), ValueError, "alpha must be finite and > 0, got -1.0"),
    (["--alpha", "nan"], "--alpha", lambda: ufm.MixupUFM(3, alpha=math.nan), ValueError, "alpha must be finite and > 0, got nan"),
    (["--alpha", "inf"], "--alpha", lambda: ufm.MixupUFM(3, alpha=math.inf), ValueError, "alpha must be finite and > 0, got inf"),
    (["--alpha", "abc"], "--alpha", lambda: ufm.MixupUFM(3, alpha="abc"), TypeError, "alpha must be a real number, got 'abc'"),
    (["--weight-decay", "0"], "--weight-decay", lambda: ufm.MixupUFM(3, weight_decay=0), ValueError,
     f"weight_decay must be finite and > 0, got 0.0 ({DECAY_WHY})"),
    (["--weight-decay", "-0.01"], "--weight-decay", lambda: ufm.MixupUFM(3, weight_decay=-0.01), ValueError,
     f"weight_decay must be finite and > 0, got -0.01 ({DECAY_WHY})"),
    (["--weight-decay", "nan"], "--weight-decay", lambda: ufm.MixupUFM(3, weight_decay=math.nan), ValueError,
     f"weight_decay must be finite and > 0, got nan ({DECAY_WHY})"),
    (["--weight-decay", "inf"], "--weight-decay", lambda: ufm.MixupUFM(3, weight_decay=math.inf), ValueError,
     f"weight_decay must be finite and > 0, got inf ({DECAY_WHY})"),
    (["--classes", "5", "--dim", "1"], "--dim", lambda: ufm.MixupUFM(5, dim=1), ValueError,
     "dim must be >= num_classes - 1 = 4 to hold a simplex ETF, got 1"),
    (["--dim", "0"], "--dim", lambda: ufm.MixupUFM(3, dim=0), ValueError, "dim must be >= 1, got 0"),
    (["--dim", "3.5"], "--dim", lambda: ufm.MixupUFM(3, dim=3.5), TypeError, "dim must be an integer, got 3.5"),
    (["--scale", "-1"], "--scale", lambda: ufm.MixupUFM(3, scale=-1), ValueError, "scale must be finite and > 0, got -1.0"),
    (["--scale", "0"], "--scale", lambda: ufm.MixupUFM(3, scale=0), ValueError, "scale must be finite and > 0, got 0.0"),
    (["--scale", "inf"], "--scale", lambda: ufm.MixupUFM(3, scale=math.inf), ValueError, "scale must be finite and > 0, got inf"),
    (["--scale", "-inf"], "--scale", lambda: ufm.MixupUFM(3, scale=-math.inf), ValueError, "scale must be finite and > 0, got -inf"),
    (["--alpha", "-2e-3"], "--alpha", lambda: ufm.MixupUFM(3, alpha=-2e-3), ValueError, "alpha must be finite and > 0, got -0.002"),
    (["--lambdas", "0"], "--lambdas", lambda: ufm.MixupUFM(3, num_lambdas=0), ValueError, "num_lambdas must be >= 1, got 0"),
    (["--lambdas", "2.5"], "--lambdas", lambda: ufm.MixupUFM(3, num_lambdas=2.5), TypeError,
     "num_lambdas must be an integer, got 2.5"),
    (["--seed", "-1"], "--seed", lambda: ufm.MixupUFM(3, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (["--seed", "x"], "--seed", lambda: ufm.MixupUFM(3, seed="x"), TypeError, "seed must be an integer, got 'x'"),
    (["--dtype", "float16"], "--dtype", lambda: ufm.MixupUFM(3, dtype="float16"), ValueError,
     "dtype must be 'float64' or 'float32', got 'float16'"),
    (["--dtype", "int32"], "--dtype", lambda: ufm.MixupUFM(3, dtype="int32"), ValueError,
     "dtype must be 'float64' or 'float32', got 'int32'"),
    (["--dtype", "single-ish"], "--dtype", lambda: ufm.MixupUFM(3, dtype="single-ish"), TypeError,
     "dtype must be 'float64' or 'float32', got 'single-ish'"),
    (["--method", "foo"], "--method", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), method="foo"), ValueError,
     "unknown method 'foo'; choose one of " + ", ".join(ufm.METHODS)),
    (["--tol", "0"], "--tol", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), tol=0), ValueError,
     "tol must be finite and > 0, got 0.0"),
    (["--tol", "-1e-8"], "--tol", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), tol=-1e-8), ValueError,
     "tol must be finite and > 0, got -1e-08"),
    (["--tol", "nan"], "--tol", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), tol=math.nan), ValueError,
     "tol must be finite and > 0, got nan"),
    (["--max-steps", "0"], "--max-steps", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), max_steps=0), ValueError,
     "max_steps must be >= 1, got 0"),
    (["--max-steps", "2.5"], "--max-steps", lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), max_steps=2.5), TypeError,
     "max_steps must be an integer, got 2.5"),
    (["--classes", "4", "--pairs", "3"], "--pairs", lambda: ufm.MixupUFM(4, pairs=3), ValueError,
     "pairs must be >= num_classes = 4 (the 4 same-class pairs are always kept), got 3"),
    (["--classes", "4", "--pairs", "17"], "--pairs", lambda: ufm.MixupUFM(4, pairs=17), ValueError,
     "pairs must be <= num_classes**2 = 16 (the number of ordered class pairs), got 17"),
    (["--pairs", "5.5"], "--pairs", lambda: ufm.MixupUFM(3, pairs=5.5), TypeError, "pairs must be an integer, got 5.5"),
    (["--quadrature", "0"], "--quadrature", lambda: ufm.MixupUFM(3, quadrature=0), ValueError,
     "quadrature must be >= 1, got 0"),
    (["--quadrature", "2.5"], "--quadrature", lambda: ufm.MixupUFM(3, quadrature=2.5), TypeError,
     "quadrature must be an integer, got 2.5"),
    (["--quadrature", "20000"], "--quadrature", lambda: ufm.MixupUFM(3, quadrature=20000), ValueError,
     "quadrature must be <= 10000 (computing the nodes costs O(M^2), and the rule is exact for polynomials of "
     "degree 2M - 1: far fewer nodes suffice), got 20000"),
    (["--quadrature", "4", "--lambdas", "8"], "--lambdas", None, None, "not allowed with argument --quadrature"),
    (["--check-tol", "0"], "--check-tol", None, ValueError, "check_tol must be finite and > 0, got 0.0"),
    (["--check-tol", "nan"], "--check-tol", None, ValueError, "check_tol must be finite and > 0, got nan"),
    (["--classifier-decay", "0"], "--classifier-decay", lambda: ufm.MixupUFM(3, classifier_decay=0), ValueError,
     f"classifier_decay must be finite and > 0, got 0.0 ({CLASSIFIER_DECAY_WHY})"),
    (["--classifier-decay", "-1e-3"], "--classifier-decay", lambda: ufm.MixupUFM(3, classifier_decay=-1e-3), ValueError,
     f"classifier_decay must be finite and > 0, got -0.001 ({CLASSIFIER_DECAY_WHY})"),
    (["--classifier-decay", "nan"], "--classifier-decay", lambda: ufm.MixupUFM(3, classifier_decay=math.nan), ValueError,
     f"classifier_decay must be finite and > 0, got nan ({CLASSIFIER_DECAY_WHY})"),
    (["--classifier-decay", "inf"], "--classifier-decay", lambda: ufm.MixupUFM(3, classifier_decay=math.inf), ValueError,
     f"classifier_decay must be finite and > 0, got inf ({CLASSIFIER_DECAY_WHY})"),
    (["--classifier-decay", "abc"], "--classifier-decay", lambda: ufm.MixupUFM(3, classifier_decay="abc"), TypeError,
     "classifier_decay must be a real number, got 'abc'"),
    (["--classes", "3", "--class-weights", "0.5,0.5"], "--class-weights", lambda: ufm.MixupUFM(3, class_weights=[0.5, 0.5]),
     ValueError, "class_weights must hold one weight per class (K = 3), got 2"),
    (["--classes", "3", "--class-weights", "2,1,1"], "--class-weights", lambda: ufm.MixupUFM(3, class_weights=[2, 1, 1]),
     ValueError, "class_weights must sum to 1 (a distribution over the classes), got sum 4.0; divide ratios by their sum"),
    (["--classes", "3", "--class-weights", "0,0.5,0.5"], "--class-weights", lambda: ufm.MixupUFM(3, class_weights=[0, 0.5, 0.5]),
     ValueError, "class_weights must be finite and > 0 (every class present), got 0.0"),
    (["--classes", "3", "--class-weights", "nan,0.5,0.5"], "--class-weights",
     lambda: ufm.MixupUFM(3, class_weights=[math.nan, 0.5, 0.5]), ValueError,
     "class_weights must be finite and > 0 (every class present), got nan"),
    (["--classes", "3", "--class-weights", "a,b,c"], "--class-weights", lambda: ufm.MixupUFM(3, class_weights=["a", "b", "c"]),
     TypeError, "class_weights must be a sequence of 3 real numbers, got ['a', 'b', 'c']"),
    (["--classifier-decay", "1e-3", "--scale", "2"], "--scale", lambda: ufm.MixupUFM(3, classifier_decay=1e-3, scale=2),
     ValueError, "scale describes the fixed simplex-ETF classifier; with classifier_decay the classifier is learned "
     "(leave it at its default)"),
    (["--classifier-decay", "1e-3", "--devices", "1"], "--devices", None, ValueError,
     "devices applies to the fixed classifier only; a learned classifier is solved on one device"),
]

# Inputs only the Python API can receive (the CLI cannot express them).
API_ONLY = [
    (functools.partial(ufm.MixupUFM, True), TypeError, "num_classes must be an integer, got True"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[0.2, 1.5]), ValueError,
     "lambdas must lie in [0, 1], got 1.5 (mixing coefficients are probabilities)"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[-0.1]), ValueError,
     "lambdas must lie in [0, 1], got -0.1 (mixing coefficients are probabilities)"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[math.nan]), ValueError,
     "lambdas must lie in [0, 1], got nan (mixing coefficients are probabilities)"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[]), ValueError, "lambdas must hold at least one value"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[[0.1, 0.2]]), ValueError, "lambdas must be 1-D, got shape (1, 2)"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=["a"]), TypeError, "lambdas must be a 1-D sequence of real numbers, got ['a']"),
    (lambda: ufm.minimize("not a problem"), TypeError, "problem must be a ufm.MixupUFM, got str"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), method="gd", learning_rate=0.0), ValueError,
     "learning_rate must be finite and > 0, got 0.0"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), learning_rate=0.1), ValueError,
     "learning_rate applies to adam and gd only, not to newton"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), method=3), TypeError,
     "method must be one of newton, lbfgs, adam, gd or a solver object such as ufm.Newton(), got int"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), method="lbfgs", devices=[]), ValueError,
     "devices applies to the newton solver only; lbfgs runs on one device (leave devices unset, or use method='newton')"),
    (functools.partial(ufm.MixupUFM, 3, lambdas=[0.5], num_lambdas=2), ValueError,
     "give either lambdas (explicit values) or num_lambdas (the size of a random draw), not both"),
    (functools.partial(ufm.MixupUFM, 3, quadrature=4, num_lambdas=2), ValueError,
     "give either num_lambdas (the size of a random draw) or quadrature (the number of Gauss-Jacobi nodes "
     "of Beta(alpha, alpha)), not both"),
    (functools.partial(ufm.MixupUFM, 3, quadrature=4, lambdas=[0.5]), ValueError,
     "give either lambdas (explicit values) or quadrature (the number of Gauss-Jacobi nodes of "
     "Beta(alpha, alpha)), not both"),
    (lambda: ufm.MixupUFM(3).replace(bogus=1), TypeError,
     "replace() got unknown argument(s) ['bogus']; arguments: num_classes, alpha, weight_decay, dim, "
     "num_lambdas, scale, seed, lambdas, dtype, pairs, embedding_seed, quadrature, classifier_decay, class_weights"),
    (lambda: ufm.analytic.expected_optimum(3, -1.0, 0.1), ValueError,
     "alpha must be >= 0 (0 and inf give the limits), got -1.0"),
    (lambda: ufm.analytic.expected_optimum(3, [0.5, math.nan], 0.1), ValueError,
     "alpha must be >= 0 (0 and inf give the limits), got nan"),
    (lambda: ufm.analytic.expected_optimum(3, "x", 0.1), TypeError,
     "alpha must be a real number or an array of them, got 'x'"),
    (lambda: ufm.analytic.expected_optimum(3, 1.0, 0.0), ValueError,
     "weight_decay must be finite and > 0, got 0.0"),
    (lambda: ufm.analytic.expected_optimum(1, 1.0, 0.1), ValueError, "num_classes must be >= 2, got 1"),
    (lambda: ufm.Newton(max_steps=0), ValueError, "max_steps must be >= 1, got 0"),
    (lambda: ufm.Optax("sgd"), TypeError, "transform must be an optax.GradientTransformation, got str"),
    (lambda: ufm.compare_features(np.zeros((2, 2, 1, 2)), np.zeros((2, 2, 1, 2)), [0.5], atol=-1.0), ValueError,
     "atol must be finite and >= 0, got -1.0"),
    (lambda: ufm.check(ufm.MixupUFM(3, num_lambdas=1), "not a solution"), TypeError,
     "solution must be a ufm.Solution or an array of features, got str"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), init=np.zeros((3, 3, 2, 3))), ValueError,
     "features must have shape (3, 3, 1, 3), got (3, 3, 2, 3)"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1), init=np.full((3, 3, 1, 3), np.nan)), ValueError,
     "init must be finite: it contains NaN or infinity (after conversion to the problem's dtype)"),
    (lambda: ufm.compare_features(np.zeros((2, 2, 1, 2)), np.zeros((2, 2, 2, 2)), [0.5]), ValueError,
     "features and reference must share a (K, K, M, d) shape, got (2, 2, 1, 2), (2, 2, 2, 2)"),
    (lambda: ufm.compare_features(np.zeros((2, 2, 1, 2)), np.zeros((2, 2, 1, 2)), [0.5, 0.1]), ValueError,
     "lambdas must have shape (1,) to match the features, got (2,)"),
    (lambda: ufm.minimize(ufm.MixupUFM(3, num_lambdas=1, pairs=4), init=np.zeros((3, 3, 1, 3))), ValueError,
     "features must have shape (4, 1, 3), got (3, 3, 1, 3)"),
    (lambda: ufm.compare_features(np.zeros((4, 1, 3)), np.zeros((4, 1, 3)), [0.5], np.zeros((3, 2), int)),
     ValueError, "with pair_index (P, 2), features and reference must share a (P, M, d) shape, got "
     "(4, 1, 3), (4, 1, 3) and pair_index (3, 2)"),
]


def run_cli_expecting_bad_input(argv, capsys, tmp_path):
    """Run the CLI in-process with --out; return its single stderr line after the common checks."""
    out = tmp_path / "results"
    cheap = [] if "--quadrature" in argv else ["--lambdas", "2"]  # the two are mutually exclusive
    with pytest.raises(SystemExit) as exit_info:
        main([*cheap, "--out", str(out), *argv])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m ufm.solve: error: ")
    assert "Traceback" not in captured.err
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing written, no temp folder
    return lines[0]


@pytest.mark.parametrize(("argv", "option", "api_call", "error_type", "message"), CASES,
                         ids=[" ".join(c[0]) for c in CASES])
def test_cli_bad_input(argv, option, api_call, error_type, message, capsys, tmp_path):
    line = run_cli_expecting_bad_input(argv, capsys, tmp_path)
    assert f"argument {option}: {message}" in line
    if api_call is not None:
        with pytest.raises(error_type) as err:
            api_call()
        assert str(err.value) == message


@pytest.mark.parametrize(("api_call", "error_type", "message"), API_ONLY, ids=[c[2][:40] for c in API_ONLY])
def test_api_only_bad_input(api_call, error_type, message):
    with pytest.raises(error_type) as err:
        api_call()
    assert str(err.value) == message
    assert "\n" not in message


def test_argparse_errors_are_one_line(capsys, tmp_path):
    for argv, expected in (
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--classes"], "argument --classes: expected one argument"),
    ):
        assert expected in run_cli_expecting_bad_input(argv, capsys, tmp_path)


def test_out_is_an_existing_file(capsys, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    with pytest.raises(SystemExit) as exit_info:
        main(["--lambdas", "2", "--out", str(target), "--force"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is an existing file, not a folder" in err
    assert target.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_out_under_a_file_cannot_be_created(capsys, tmp_path):
    # A path below an existing FILE is unwritable for every user, root included.
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["--lambdas", "2", "--out", str(blocker / "sub" / "results")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot be created: {str(blocker)!r} is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefile"]


def test_out_existing_folder_needs_force(capsys, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "old.txt").write_text("previous run")
    with pytest.raises(SystemExit) as exit_info:
        main(["--lambdas", "2", "--out", str(folder)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists and is not empty (use --force to replace it)" in err
    assert [p.name for p in folder.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_cli_process_exit_status_and_single_line():
    # The real entry point in a fresh interpreter: status 2, one stderr line, no traceback.
    proc = subprocess.run(
        [sys.executable, "-m", "ufm.solve", "--weight-decay", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "python -m ufm.solve: error: argument --weight-decay: weight_decay must be finite and > 0, "
        f"got 0.0 ({DECAY_WHY}) (see --help)"
    ]


def test_a_reader_that_went_away_gets_no_traceback():
    # `python -m ufm.solve ... | head -1`: the reader may be gone when the report is printed.
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: writing raises BrokenPipeError in the child
    try:
        run = subprocess.run(
            [sys.executable, "-m", "ufm.solve", "--classes", "3", "--lambdas", "2"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300,
        )
    finally:
        os.close(write_end)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
