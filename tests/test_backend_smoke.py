"""The smoke suite every Keras backend must pass: a table, a forecast and an image run train, predict, re-evaluate and
export under the backend the process runs on (KERAS_BACKEND: jax, the default; `make test-backends` runs this file
under tensorflow and torch in their own environments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepwise
from deepwise.backend import keras_module
from deepwise.export import export

pytestmark = pytest.mark.backend_smoke
WEATHER_CSV = Path(__file__).resolve().parents[1] / "examples" / "weather" / "weather_prediction_dataset.csv"
EPOCHS = {"training": {"epochs": 4, "report": False}}


def _check_run(run, new_data, rows: int | None = None) -> None:
    assert run.metrics["test"] and run.metrics["verdict"]["code"]
    assert run.manifest["versions"]["backend"] == keras_module().backend.backend()
    loaded = deepwise.load_run(run.path)
    predictions = loaded.predict(new_data)
    assert len(predictions) == (len(new_data) if rows is None else rows) and predictions["prediction"].notna().all()
    main = run.metrics["main_metric"]
    assert loaded.evaluate()[main] == pytest.approx(run.metrics["test"][main], abs=1e-6)  # the test split, again
    folder = export(run.path, "keras", run.path.parent / f"{run.path.name}-export")
    assert (folder / "model.keras").exists()


def test_a_table_run(tmp_path, penguins_csv):
    run = deepwise.train({"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, **EPOCHS},
                         runs_dir=tmp_path, verbose=False)  # fmt: skip
    _check_run(run, pd.read_csv(penguins_csv).drop(columns=["species"]).head(20))


def test_a_forecast_run(tmp_path):
    frame = pd.read_csv(WEATHER_CSV)[["DATE", "BASEL_sunshine", "BASEL_temp_mean", "BASEL_humidity"]].head(800)
    frame.to_csv(tmp_path / "basel.csv", index=False)
    run = deepwise.train(
        {"problem": {"target": "BASEL_sunshine", "task": "forecasting"},
         "data": {"path": str(tmp_path / "basel.csv"), "time_column": "DATE"}, **EPOCHS},
        runs_dir=tmp_path / "runs", verbose=False,
    )  # fmt: skip
    _check_run(run, frame.tail(60), rows=1)  # a forecast of the day after the last one


def test_an_image_run(tmp_path):
    from sklearn.datasets import load_digits

    digits, folder = load_digits(), tmp_path / "digits"
    folder.mkdir()
    pixels = (digits.images * 255 / 16).astype(np.uint8)
    np.save(folder / "images.npy", pixels)
    np.save(folder / "labels.npy", digits.target)
    run = deepwise.train({"problem": {"target": "label"}, "data": {"path": str(folder)}, **EPOCHS},
                         runs_dir=tmp_path / "runs", verbose=False)  # fmt: skip
    _check_run(run, pixels[:20])
