"""The real-network experiment (``experiments/mixup_network.py``) on a few epochs: files, shapes,
finite metrics, saved features that ``python -m ufm.analyze`` accepts, determinism, redraw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the network experiment needs the optional experiments extra")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `experiments` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

EPOCHS = 4  # learns already (test accuracy > 0.85), in seconds


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from experiments.mixup_network import main

    out = tmp_path_factory.mktemp("network") / "run"
    assert main(["--out", str(out), "--quick", "--epochs", str(EPOCHS), "--seed", "3"]) == 0
    return out


def test_files_results_and_shapes(run_dir):
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    stems = ("network_channels", "network_collapse", "network_calibration")
    assert {f"png/{s}.png" for s in stems} | {f"pdf/{s}.pdf" for s in stems} <= names
    assert {"results.json", "mixed_fixed.npz", "mixed_learned.npz", "data/figures.npz", "data/figures.json"} <= names
    results = json.loads((run_dir / "results.json").read_text())
    assert results["settings"]["train"]["epochs"] == EPOCHS
    for kind in ("fixed", "learned"):
        head = results["heads"][kind]
        assert head["test_accuracy"] >= 0.85, (kind, head["test_accuracy"])
        nc = head["neural_collapse"]
        numbers = [head["fitted_weight_decay"], head["fit_rel_residual"], head["classifier_etf_error"],
                   *(nc[k] for k in ("nc1", "cdnv", "etf_error", "equinorm", "equiangle", "self_duality",
                                     "ncc_mismatch"))]
        assert all(isinstance(x, float) and np.isfinite(x) for x in numbers), numbers
        assert head["fitted_weight_decay"] > 0
        with np.load(run_dir / f"mixed_{kind}.npz") as mixed:
            n, d = mixed["features"].shape
            k = mixed["classifier"].shape[0]
            assert mixed["classifier"].shape == (k, d) and k == 10
            for name in ("class_a", "class_b", "lambdas"):
                assert mixed[name].shape == (n,)
            assert np.isfinite(mixed["features"]).all()
            assert set(np.unique(mixed["class_a"])) == set(range(k)) == set(np.unique(mixed["class_b"]))
            assert (mixed["class_a"] == mixed["class_b"]).any() and (mixed["class_a"] != mixed["class_b"]).any()
    # The fixed head really is the simplex ETF; the learned head is not.
    with np.load(run_dir / "mixed_fixed.npz") as mixed:
        w = mixed["classifier"]
        np.testing.assert_allclose(w @ w.T, (10 / 9) * (np.eye(10) - 1 / 10), atol=1e-12)


@pytest.mark.parametrize("kind", ["fixed", "learned"])
def test_saved_features_pass_the_analyze_command(run_dir, kind, capsys):
    from ufm.analyze import main as analyze  # the code of `python -m ufm.analyze` (its exit is tested there)

    assert analyze([str(run_dir / f"mixed_{kind}.npz"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    results = json.loads((run_dir / "results.json").read_text())
    # The command and the experiment measure the same features with the same functions.
    assert report["fitted_weight_decay"] == pytest.approx(results["heads"][kind]["fitted_weight_decay"], rel=1e-12)


def test_redraw_from_saved_data_without_jax(run_dir, tmp_path):
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from experiments.mixup_network import main;"
        f"rc = main(['--from', {str(run_dir)!r}]);"
        "assert 'jax' not in sys.modules, 'redraw imported jax';"
        "sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_bad_arguments_exit_2(tmp_path, capsys):
    from experiments.mixup_network import main

    for argv in (["--out", str(tmp_path / "a"), "--epochs", "0"], ["--out", str(tmp_path / "b"), "--alpha", "-1"], []):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert main(["--from", str(tmp_path)]) == 2  # no saved data there
    assert list(tmp_path.iterdir()) == []
    capsys.readouterr()


def test_training_is_deterministic_for_a_seed():
    import jax

    import ufm
    from experiments.network.data import load_digits_split
    from experiments.network.train import TrainSettings, train

    data = load_digits_split(0.2, seed=1)
    settings = TrainSettings(epochs=2, record_every=1, seed=5)
    head = np.asarray(ufm.simplex_etf(10, settings.feature_dim))
    first, again = train(data, settings, head), train(data, settings, head)
    other = train(data, TrainSettings(epochs=2, record_every=1, seed=6), head)
    leaves = [jax.tree_util.tree_leaves(r["params"]) for r in (first, again, other)]
    assert all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[2]))  # the seed matters
