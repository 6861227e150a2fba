"""``python -m ufm.analyze``: the report on a solve's arrays and on flat files, --json, --out, --from,
and one test per kind of bad input (exit status 2, one line on stderr, nothing written)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import ufm
from ufm import metrics
from ufm.analyze import main

K, D, N = 3, 4, 60


def valid_arrays(seed=0):
    """A flat file's arrays: exact optimum of a perturbed ETF classifier at mu = 0.05, plus noise."""
    rng = np.random.default_rng(seed)
    w = np.asarray(ufm.simplex_etf(K, D, seed=1)) + 0.05 * rng.normal(size=(K, D))
    a = np.arange(N) % K
    b = np.where(np.arange(N) < 2 * K, a, (a + 1 + np.arange(N) % 2) % K)  # every class has same-class samples
    lam = rng.choice(np.linspace(0.0, 1.0, 21), N)
    h = metrics.exact_optimum(w, a, b, lam, 0.05) + 0.01 * rng.normal(size=(N, D))
    return {"features": h, "classifier": w, "class_a": a, "class_b": b, "lambdas": lam}


def save(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def changed(**changes):
    def make(tmp_path):
        arrays = valid_arrays() | changes
        return [str(save(tmp_path / "in.npz", **{k: v for k, v in arrays.items() if v is not None}))]

    return make


def with_nan(key, index):
    def make(tmp_path):
        arrays = valid_arrays()
        arrays[key] = arrays[key].astype(np.float64)
        arrays[key][index] = np.nan if key != "classifier" else np.inf
        return [str(save(tmp_path / "in.npz", **arrays))]

    return make


def solve_file(**changes):
    def make(tmp_path):
        problem = ufm.MixupUFM(3, num_lambdas=4)
        arrays = {
            "features": np.asarray(ufm.optimal_features(problem)),
            "classifier": np.asarray(problem.classifier),
            "pair_index": problem.pair_index,
            "lambdas": np.asarray(problem.lambdas),
        } | changes
        return [str(save(tmp_path / "arrays.npz", **{k: v for k, v in arrays.items() if v is not None}))]

    return make


def text_file(tmp_path):
    (tmp_path / "in.npz").write_text("features,classifier\n1,2\n")
    return [str(tmp_path / "in.npz")]


def npy_file(tmp_path):
    with open(tmp_path / "in.npz", "wb") as f:
        np.save(f, np.ones(3))
    return [str(tmp_path / "in.npz")]


def truncated_npz(tmp_path):
    path = save(tmp_path / "in.npz", **valid_arrays())
    path.write_bytes(path.read_bytes()[:300])
    return [str(path)]


def object_array(tmp_path):
    arrays = valid_arrays()
    arrays["lambdas"] = np.array([{"a": 1}] * N, dtype=object)
    path = tmp_path / "in.npz"
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # savez pickles object arrays; the reader never unpickles
    return [str(path)]


def folder(tmp_path):
    (tmp_path / "data.npz").mkdir()
    return [str(tmp_path / "data.npz")]


def out_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("keep")
    return [*changed()(tmp_path), "--out", str(tmp_path / "taken")]


# (name, argv maker, text the single stderr line must contain)
BAD_INPUT = [
    ("missing file", lambda tmp: [str(tmp / "nope.npz")], "'{tmp}/nope.npz': no such file"),
    ("a folder", folder, "is a folder, not an .npz file"),
    ("not an npz: text", text_file, "is not an .npz file"),
    ("not an npz: a .npy array", npy_file, "is not an .npz file (it holds a single .npy array)"),
    ("damaged npz", truncated_npz, "is not an .npz file"),
    ("missing key", changed(lambdas=None), "has no array 'lambdas' (a flat file holds features, classifier, "
     "class_a, class_b, lambdas"),
    ("missing key, solve file", solve_file(classifier=None), "has no array 'classifier' (an arrays.npz of "
     "python -m ufm.solve holds features, classifier, pair_index, lambdas"),
    ("object array", object_array, "array 'lambdas' cannot be read (Object arrays cannot be loaded"),
    ("features not 2-D", changed(features=np.ones((N, D, 1))),
     "features must be a 2-D array (N, d), got shape (60, 4, 1)"),
    ("classifier dimension", changed(classifier=np.ones((K, D + 1))),
     "classifier must have shape (K, d) with d = 4 (the features' dimension), got (3, 5)"),
    ("one class", changed(classifier=np.ones((1, D))), "classifier must have at least 2 rows (one per class), got 1"),
    ("class_a length", changed(class_a=np.zeros(N - 1, int)),
     "class_a must have shape (60,) (one per sample), got (59,)"),
    ("lambdas length", changed(lambdas=np.full(N + 2, 0.5)),
     "lambdas must have shape (60,) (one per sample), got (62,)"),
    ("NaN in features", with_nan("features", (5, 2)), "features must be finite: it contains NaN or infinity"),
    ("inf in classifier", with_nan("classifier", (1, 0)), "classifier must be finite: it contains NaN or infinity"),
    ("NaN in lambdas", with_nan("lambdas", 7), "lambdas must lie in [0, 1], got nan"),
    ("class index too large", changed(class_b=np.full(N, K)),
     "class_b must lie in 0..2 (one class per classifier row), got 3"),
    ("negative class index", changed(class_a=-np.ones(N, int)), "class_a must hold class indices >= 0, got -1"),
    ("float class indices", changed(class_a=np.zeros(N)),
     "class_a must hold integers (class indices), got dtype float64"),
    ("lambda above 1", changed(lambdas=np.full(N, 1.5)), "lambdas must lie in [0, 1], got 1.5"),
    ("lambda below 0", changed(lambdas=np.full(N, -0.25)), "lambdas must lie in [0, 1], got -0.25"),
    ("solve file: features shape", solve_file(features=np.ones((9, 5, 3))),
     "features of a ufm.solve file must have shape (K, K, M, d) or (P, M, d) with P = 9 pairs and M = 4 lambdas, "
     "got (9, 5, 3)"),
    ("solve file: pair_index shape", solve_file(pair_index=np.zeros((9, 3), int)),
     "pair_index must have shape (P, 2), got (9, 3)"),
    ("all-zero features", changed(features=np.zeros((N, D))), "the centred logits W h are all zero"),
    ("--out is a file", out_is_a_file, "is an existing file, not a folder"),
    ("no FILE", lambda tmp: [], "the following arguments are required: FILE.npz"),
    ("--from without saved data", lambda tmp: ["--from", str(tmp)], "no pair_projection.npz there"),
    ("--from with FILE", lambda tmp: [*changed()(tmp), "--from", str(tmp)], "--from redraws a saved figure"),
]


@pytest.mark.parametrize(("name", "make", "expected"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_exits_2_with_one_line(name, make, expected, tmp_path, capsys):
    argv = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(out)] if "--out" not in argv and "--from" not in argv else argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("python -m ufm.analyze: error: ")
    assert expected.format(tmp=tmp_path) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary folder


def test_solve_then_analyze_reports_the_weight_decay_of_the_solve(tmp_path, capsys):
    # python -m ufm.solve --classes 10 --out R && python -m ufm.analyze R/arrays.npz --json
    from ufm.solve import main as solve

    assert solve(["--classes", "10", "--out", str(tmp_path / "R")]) == 0
    capsys.readouterr()
    assert main([str(tmp_path / "R" / "arrays.npz"), "--json"]) == 0
    out = capsys.readouterr().out
    record = json.loads(out)
    assert out.count("\n") == 1
    # The solve stops at per-sample gradient norm 1e-10 (features within ~1e-10 relative of the
    # optimum): the fit recovers its mu = 1e-2 and the residual is at that level, below the
    # solve's own check tolerance 1e-8.
    assert abs(record["fitted_weight_decay"] / 1e-2 - 1) <= 1e-6
    assert record["fit_rel_residual"] <= 1e-8
    assert record["nc1"] <= 1e-20 and record["etf_error"] <= 1e-12 and record["self_duality"] <= 1e-12
    assert record["input"]["format"] == "ufm.solve" and record["input"]["num_samples"] == 6400
    assert record["mixup_geometry"]["outside_span_max"] <= 1e-8


def test_module_entry_point_exit_status(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ufm.analyze", str(tmp_path / "missing.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    expected = f"python -m ufm.analyze: error: '{tmp_path}/missing.npz': no such file (see --help)"
    assert proc.stderr.splitlines() == [expected]


def test_flat_file_report_out_and_redraw(tmp_path, capsys):
    source = save(tmp_path / "mixed.npz", **valid_arrays())
    out = tmp_path / "analysis"
    assert main([str(source), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fitted mixup UFM" in text and "neural collapse" in text and "mixup geometry" in text
    assert "mu per feature" in text and f"wrote {out}/analysis.json" in text
    names = ["analysis.json", "analysis.txt", "pair_projection.npz", "pair_projection.pdf", "pair_projection.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    record = json.loads((out / "analysis.json").read_text())
    assert (out / "analysis.txt").read_text().strip() == text.split("\n\nwrote")[0].strip()
    # The noise is 1 % of the features: the fit lands near mu = 0.05 with a residual of that size.
    assert record["fitted_weight_decay"] == pytest.approx(0.05, rel=0.1)
    assert 1e-4 < record["fit_rel_residual"] < 0.1
    saved = np.load(out / "pair_projection.npz")
    c, c2 = saved["pair"]
    arrays = valid_arrays()
    a, b = arrays["class_a"], arrays["class_b"]
    pair = ((a == c) & (b == c2)) | ((a == c2) & (b == c))
    assert int(saved["num_pair_samples"]) == pair.sum() == saved["distance"].size
    expected_lambda = np.where(a[pair] == c, arrays["lambdas"][pair], 1 - arrays["lambdas"][pair])
    np.testing.assert_array_equal(saved["lambda_on_c"], expected_lambda)  # lambda is the weight on c
    assert np.corrcoef(saved["lambda_on_c"], saved["distance"])[0, 1] > 0.9  # c's side grows with it
    assert record["figure_pair"] == [int(c), int(c2)]
    assert float(saved["weight_decay"]) == record["fitted_weight_decay"]
    # The curve is the exact optimum at the fitted mu: it crosses the boundary at lambda = 1/2
    # only for an ETF, so here just check its end points are the same-class optima.
    w = arrays["classifier"]
    ends = metrics.exact_optimum(w, [c2, c], [c2, c], [0.5, 0.5], record["fitted_weight_decay"])
    np.testing.assert_allclose(saved["curve_distance"][[0, -1]],
                               ufm.boundary_coordinates(ends, w[c], w[c2])[0], rtol=1e-10)
    assert (out / "pair_projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_same_class_samples_the_collapse_metrics_are_skipped(tmp_path, capsys):
    arrays = valid_arrays()
    keep = arrays["class_a"] != arrays["class_b"]
    source = save(tmp_path / "mixed.npz", **{k: v[keep] if k != "classifier" else v for k, v in arrays.items()})
    assert main([str(source), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["nc1"] is None and record["neural_collapse"] is None
    assert "has no same-class sample" in record["neural_collapse_note"]
    assert math.isfinite(record["fitted_weight_decay"])


def test_two_classes_draw_one_panel_and_redraw(tmp_path, capsys):
    problem = ufm.MixupUFM(2, num_lambdas=5, weight_decay=0.2, dim=3)
    source = save(
        tmp_path / "arrays.npz",
        features=np.asarray(ufm.optimal_features(problem)),
        classifier=np.asarray(problem.classifier),
        pair_index=problem.pair_index,
        lambdas=np.asarray(problem.lambdas),
    )
    out = tmp_path / "out"
    assert main([str(source), "--out", str(out)]) == 0
    assert "weight decay mu = 0.2" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    (out / "pair_projection.png").unlink()
    assert main(["--from", str(out)]) == 0  # redrawn from pair_projection.npz alone
    assert (out / "pair_projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == names  # the redraw leaves no temporary files


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--json", "--out", "--force", "--from", "FILE.npz", "class_a", "lambdas", "arrays.npz"):
        assert option in text
