"""deepwise export: Keras round trip (identical predictions), ONNX round trip with onnxruntime (float tolerance,
when the export extra is installed), and clear errors for missing extras, unknown formats and existing folders."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import deepwise
from deepwise.errors import DeepwiseError
from deepwise.export import export
from deepwise.kinds.feeding import model_input
from deepwise.prepare.tabular import TabularPreprocessor


@pytest.fixture(scope="module")
def run(tmp_path_factory, penguins_csv):
    """Embedding-encoded categories, so the model has several named inputs (the harder case for export)."""
    from threadpoolctl import threadpool_limits

    config = {
        "problem": {"target": "species"},
        "data": {"path": str(penguins_csv)},
        "model": {"categorical_encoding": "embedding"},
        "training": {"epochs": 20},
    }
    with threadpool_limits(1, user_api="openmp"):  # sklearn's OpenMP threads otherwise fight JAX's on 2 cores
        return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("export-runs"), verbose=False)


@pytest.fixture(scope="module")
def rows(penguins_csv):
    frame = pd.read_csv(penguins_csv).drop(columns=["species"]).sample(40, random_state=3)
    frame.iloc[0, frame.columns.get_loc("island")] = "Atlantis"
    return frame


def test_keras_round_trip_predicts_identically(run, rows, tmp_path, cli):
    result = cli("export", run.path, "--format", "keras", "-o", tmp_path / "k")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "k"
    assert {p.name for p in folder.iterdir()} == {"model.keras", "preprocessing.json", "export.json", "README.md"}
    from deepwise.backend import keras_module

    model = keras_module().saving.load_model(folder / "model.keras", safe_mode=True, compile=False)
    prep = TabularPreprocessor.load(folder / "preprocessing.json")
    exported = np.asarray(model.predict(model_input(prep.transform(rows)), verbose=0))
    # equal up to float32 rounding: XLA sums in a different order for Keras' batches of 32 than for deepwise's
    # padded chunk of 64 (bit-for-bit equality would test the batch shape, not the export)
    np.testing.assert_allclose(exported, run.predictor.raw_output(rows), rtol=1e-5, atol=1e-7)
    meta = json.loads((folder / "export.json").read_text())
    assert meta["classes"] == ["Adelie", "Chinstrap", "Gentoo"] and "features" in meta["inputs"]


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_onnx_round_trip_with_onnxruntime(run, rows, tmp_path):
    import onnxruntime as ort

    folder = export(run.path, "onnx", tmp_path / "o")
    meta = json.loads((folder / "export.json").read_text())
    assert meta["check"]["verified"] is True and meta["check"]["max_abs_difference"] < 1e-4
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    arrays = TabularPreprocessor.load(folder / "preprocessing.json").transform(rows)
    names = [i.name for i in session.get_inputs()]
    assert set(names) == set(arrays)  # the named inputs survive: features + one per embedded category
    onnx_out = session.run(None, {name: arrays[name] for name in names})[0]
    np.testing.assert_allclose(onnx_out, run.predictor.raw_output(rows), atol=1e-5)


def test_errors_exit_2_with_a_fix(run, tmp_path, cli):
    unknown = cli("export", run.path, "--format", "tflite")
    assert unknown.exit_code == 2 and "keras, onnx, saved_model" in unknown.output
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    taken = cli("export", run.path, "-o", tmp_path / "taken")
    assert taken.exit_code == 2 and "does not overwrite" in taken.output
    assert (tmp_path / "taken" / "file").read_text() == "mine"
    assert cli("export", run.path, "-o", tmp_path / "taken", "--force").exit_code == 0
    if importlib.util.find_spec("tensorflow") is None:
        saved = cli("export", run.path, "--format", "saved_model", "-o", tmp_path / "sm")
        assert saved.exit_code == 2 and "tensorflow" in saved.output and "saved-model" in saved.output
        assert not (tmp_path / "sm").exists()


def test_missing_onnx_extra_is_a_clear_error(run, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax2onnx" else real(name, *a))
    with pytest.raises(deepwise.DeepwiseError, match="jax2onnx") as info:
        export(run.path, "onnx", tmp_path / "o")
    assert "'export' extra" in str(info.value)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_image_runs_export_including_a_transferred_network(tmp_path):
    """Image runs used to crash `export --format onnx` (it sampled table rows); a transferred network (an earlier
    run's layers nested in the new model) must export too."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = tmp_path / "digits"
    folder.mkdir()
    pixels = (digits.images * 255 / 16).astype(np.uint8)
    np.save(folder / "images.npy", pixels)
    np.save(folder / "labels.npy", digits.target)
    common = {"problem": {"target": "label"}, "data": {"path": str(folder)}}
    base = deepwise.train({**common, "training": {"epochs": 5, "report": False}}, runs_dir=tmp_path, verbose=False)
    run = deepwise.train(
        {**common, "model": {"from_run": str(base.path)}, "training": {"epochs": 3, "report": False}},
        runs_dir=tmp_path,
        verbose=False,
    )
    with pytest.raises(DeepwiseError, match="a CNN transferred from an earlier run"):
        export(run.path, "script", tmp_path / "s")
    assert not (tmp_path / "s").exists()
    keras_folder = export(run.path, "keras", tmp_path / "k")
    assert "raw pixel values (0-255" in (keras_folder / "README.md").read_text()
    assert json.loads((keras_folder / "export.json").read_text())["inputs"]["features"]["shape"] == [None, 8, 8, 1]
    import onnxruntime as ort

    folder = export(run.path, "onnx", tmp_path / "o")
    assert json.loads((folder / "export.json").read_text())["check"]["verified"] is True
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = pixels[:40, :, :, None].astype(np.float32)
    onnx_out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    expected = run.predict(np.load(tmp_path / "digits" / "images.npy")[:40], guard=False).filter(like="proba_")
    np.testing.assert_allclose(onnx_out, expected.to_numpy(), atol=1e-5)


@pytest.mark.slow
def test_the_script_export_retrains_the_run_in_plain_keras(tmp_path, penguins_csv):
    """`export --format script`: a script with no deepwise in it, which, run in a fresh process, reaches the run's
    test accuracy within 0.03 (issue 25's bar) on the same test rows."""
    run = deepwise.train(
        {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "training": {"report": False}},
        runs_dir=tmp_path / "runs",
        verbose=False,
    )
    folder = export(run.path, "script", tmp_path / "script")
    source = (folder / "train.py").read_text()
    assert "deepwise" not in "\n".join(line for line in source.splitlines() if "import" in line)
    assert "https://keras.io/api" in source and (folder / "README.md").exists()
    done = subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"test accuracy: (\d\.\d+) \(the deepwise run: (\d\.\d+)\)", done.stdout)
    assert found, done.stdout[-2000:]
    assert abs(float(found[1]) - run.metrics["test"]["accuracy"]) <= 0.03, found[0]


@pytest.mark.slow
def test_the_script_export_retrains_an_image_run_in_plain_keras(tmp_path):
    """`export --format script` of an image run (a folder of class sub-folders of PNGs, the default CNN): the
    script, run in a fresh process, lists, splits and decodes the images as deepwise does and reaches the run's test
    accuracy within 0.03 (issue 25: a table, a forecast and an image run)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path / "digits"
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        (root / f"digit_{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(root / f"digit_{label}" / f"{i:04d}.png")
    run = deepwise.train(
        {"problem": {"target": "digit"}, "data": {"path": str(root)}, "training": {"report": False}},
        runs_dir=tmp_path / "runs",
        verbose=False,
    )
    folder = export(run.path, "script", tmp_path / "script")
    source = (folder / "train.py").read_text()
    assert "deepwise" not in "\n".join(line for line in source.splitlines() if "import" in line)
    assert "keras.layers.Conv2D" in source and "https://keras.io/api" in source
    done = subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1797 images of 10 classes, 8x8x1 pixels" in done.stdout
    found = re.search(r"test accuracy: (\d\.\d+) \(the deepwise run: (\d\.\d+)\)", done.stdout)
    assert found, done.stdout[-2000:]
    assert abs(float(found[1]) - run.metrics["test"]["accuracy"]) <= 0.03, found[0]


@pytest.mark.slow
def test_the_script_export_retrains_a_forecast_in_plain_keras(tmp_path):
    """`export --format script` of a forecast (Basel's next-day sunshine from a window of three days, dates as
    YYYYMMDD integers): the script orders, splits, windows and scales the rows as deepwise does, forecasts the same
    549 test days, and its test RMSE is within 5 % of the run's (issue 25: a table, a forecast and an image run)."""
    from pathlib import Path

    weather = Path(__file__).resolve().parents[1] / "examples" / "weather" / "weather_prediction_dataset.csv"
    columns = ["DATE", "BASEL_sunshine", "BASEL_temp_mean", "BASEL_pressure", "BASEL_humidity", "BASEL_precipitation"]
    csv = tmp_path / "basel.csv"
    pd.read_csv(weather, usecols=columns).to_csv(csv, index=False)
    run = deepwise.train(
        {
            "problem": {"target": "BASEL_sunshine", "task": "forecasting", "window": 3},
            "data": {"path": str(csv), "time_column": "DATE"},
            "training": {"report": False},
        },
        runs_dir=tmp_path / "runs",
        verbose=False,
    )
    assert run.metrics["test"]["n"] == 549
    folder = export(run.path, "script", tmp_path / "script")
    source = (folder / "train.py").read_text()
    assert "deepwise" not in "\n".join(line for line in source.splitlines() if "import" in line)
    assert "sliding_window_view" in source and "WINDOW, HORIZON = 3, 1" in source
    done = subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"test rmse: (\d+\.\d+) \(the deepwise run: (\d+\.\d+)\)", done.stdout)
    assert found, done.stdout[-2000:]
    assert abs(float(found[1]) / run.metrics["test"]["rmse"] - 1) <= 0.05, found[0]
