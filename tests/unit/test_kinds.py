"""Each kind of data's adapter on its own, without training: which kind claims a config, what formulate decides (and
says), how prepare splits, and that the preprocessing's JSON state loads back to the same transform."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepwise.config import Config, config_from_dict
from deepwise.errors import ConfigError, DataError
from deepwise.kinds import KINDS, kind_for_config, kind_named

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"
WEATHER = ROOT / "examples" / "weather" / "weather_prediction_dataset.csv"


def _config(path, target, **extra) -> Config:
    return config_from_dict({"problem": {"target": target}, "data": {"path": str(path)}, **extra})


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path_factory.mktemp("digits")
    for i, (pixels, label) in enumerate(zip((d.images * 255 / 16).astype(np.uint8)[:200], d.target[:200], strict=True)):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / str(label) / f"{i}.png")
    return root


def test_each_config_is_claimed_by_one_kind_table_last(digits_folder):
    assert list(KINDS)[-1] == "table"  # the default: anything no other kind claims
    assert kind_for_config(_config(PENGUINS, "species")).name == "table"
    forecast = _config(WEATHER, "BASEL_sunshine", problem={"target": "BASEL_sunshine", "task": "forecasting"})
    assert kind_for_config(forecast).name == "series"
    assert kind_for_config(_config(digits_folder, "label")).name == "images"
    with pytest.raises(Exception, match="does not know"):
        kind_named("audio")


def test_table_formulate_infers_the_task_and_says_why():
    problem = kind_named("table").formulate(_config(PENGUINS, "species"))
    cfg = problem.config
    assert cfg.problem.task == "multiclass" and set(cfg.data.categorical) == {"island", "sex"}
    assert "3 distinct text values" in problem.task_reason
    assert any(line.startswith(f"Inputs: {len(cfg.data.inputs)} column(s)") for line in problem.explain())
    assert cfg.data.split.chronological is False and cfg.model.type == "mlp"


def test_dated_rows_are_split_in_time_order_without_the_date_as_an_input(tmp_path):
    frame = pd.read_csv(WEATHER, usecols=["DATE", "BASEL_sunshine", "BASEL_temp_mean", "BASEL_pressure"]).head(400)
    frame["DATE"] = pd.to_datetime(frame["DATE"].astype(str)).dt.strftime("%Y-%m-%d")
    frame = frame.sample(frac=1.0, random_state=0)  # the file's order is not the time order
    frame.to_csv(tmp_path / "dated.csv", index=False)
    data = kind_named("table").prepare(_config(tmp_path / "dated.csv", "BASEL_sunshine"))
    cfg = data.config
    assert cfg.data.split.chronological is True and cfg.data.time_column == "DATE"
    assert "DATE" not in cfg.data.inputs
    assert any("split in time order" in note for note in data.problem.notes)
    dates = pd.to_datetime(data.problem.frame["DATE"])
    last_train = dates.iloc[data.splits["train"]].max()
    assert last_train < dates.iloc[data.splits["validation"]].min()
    assert dates.iloc[data.splits["validation"]].max() < dates.iloc[data.splits["test"]].min()
    random = kind_named("table").prepare(
        _config(tmp_path / "dated.csv", "BASEL_sunshine", data={"path": str(tmp_path / "dated.csv"),
                                                               "split": {"chronological": False}})
    )  # fmt: skip
    assert random.config.data.split.chronological is False
    assert dates.iloc[random.splits["train"]].max() > dates.iloc[random.splits["test"]].min()


def test_table_preprocessing_state_round_trips(tmp_path):
    kind = kind_named("table")
    data = kind.prepare(_config(PENGUINS, "species"))
    state = json.loads(data.prep.to_json())
    again = kind.load_preprocessor(state)
    rows = data.problem.frame.head(20)
    np.testing.assert_array_equal(again.transform(rows)["features"], data.prep.transform(rows)["features"])


def test_series_formulate_orders_time_and_checks_the_target():
    forecast = {"problem": {"target": "BASEL_sunshine", "task": "forecasting", "window": 3},
                "data": {"path": str(WEATHER), "time_column": "DATE"}}  # fmt: skip
    data = kind_named("series").prepare(config_from_dict(forecast))
    assert data.config.problem.output == "regression" and data.config.model.dropout == 0.3
    assert data.x["train"]["features"].shape[1] == 3  # windows of 3 rows
    assert data.rows["train"].max() < data.rows["validation"].min() < data.rows["test"].min()
    assert set(data.naive_outputs("test")) == {"persistence", "seasonal_persistence"}
    with pytest.raises(ConfigError, match="does not fit a time series"):
        kind_named("series").formulate(config_from_dict({**forecast, "model": {"type": "cnn"}}))


def test_images_formulate_sizes_the_network_to_the_images(digits_folder):
    problem = kind_named("images").formulate(_config(digits_folder, "label"))
    cfg = problem.config
    assert cfg.data.image_size == [8, 8] and cfg.data.channels == 1 and cfg.model.conv_filters == [32, 64]
    assert cfg.problem.task == "multiclass" and "200 images in 10 classes" in " ".join(problem.notes)
    with pytest.raises(ConfigError, match="not an image model"):
        kind_named("images").formulate(_config(digits_folder, "label", model={"type": "mlp"}))


def test_a_missing_data_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        kind_named("table").prepare(_config(tmp_path / "missing.csv", "y"))



def test_baselines_fitted_while_training_score_as_those_fitted_after():
    """start_baselines fits them on a second thread (training starts it just before the network trains); the
    comparison that takes that result says exactly what one that fits them itself says."""
    from deepwise.kinds.series.data import SeriesData
    from deepwise.kinds.table.data import StreamedTableData

    assert SeriesData.baselines_while_training and not StreamedTableData.baselines_while_training
    early, late = (kind_named("table").prepare(_config(PENGUINS, "species")) for _ in range(2))
    assert early.baselines_while_training
    early.start_baselines()
    assert early._baselines_job is not None
    network_output = late._fit_baselines()["linear"]["output"]  # a stand-in for the network's test output
    with_thread = early.compare_with_baselines(network_output, [], 0)
    without = late.compare_with_baselines(network_output, [], 0)
    assert "_baselines_job" not in early.__dict__  # taken once: the next comparison fits its own
    assert set(with_thread["baselines"]) == {"dummy", "linear", "gradient_boosting"}
    for name, scores in without["baselines"].items():
        ours = with_thread["baselines"][name]
        assert {k: v for k, v in ours.items() if k != "fit_seconds"} == {
            k: v for k, v in scores.items() if k != "fit_seconds"
        }
    assert with_thread["verdict"] == without["verdict"]
