"""data.split.column: the user's own split (a column naming each row's split) is the one deepwise uses, the column
is never an input, and a wrong column or value is an error that says which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from deepwise.config import Config
from deepwise.errors import ConfigError, DataError
from deepwise.kinds import prepare

WEATHER = Path(__file__).resolve().parents[1] / "examples" / "weather" / "weather_prediction_dataset.csv"


def lesson_weather_table(path: Path) -> pd.DataFrame:
    """The lesson's first weather network's data: three years, tomorrow's Basel sunshine, its 70/15/15 split."""
    data = pd.read_csv(WEATHER)
    x = data.loc[: 365 * 3].drop(columns=["DATE", "MONTH"]).reset_index(drop=True)
    train, holdout = train_test_split(np.arange(len(x)), test_size=0.3, random_state=0)
    validation, test = train_test_split(holdout, test_size=0.5, random_state=0)
    split = np.full(len(x), "train", dtype=object)
    split[validation], split[test] = "validation", "test"
    tomorrow = data.loc[1 : 365 * 3 + 1, "BASEL_sunshine"].to_numpy()
    x = pd.concat([x, pd.DataFrame({"tomorrow_sunshine": tomorrow, "split": split})], axis=1)
    x.to_csv(path, index=False)
    return x


def config(path: Path, **split) -> Config:
    return Config(problem={"target": "tomorrow_sunshine"}, data={"path": str(path), "split": split})


def test_the_rows_of_each_split_are_the_ones_the_column_names(tmp_path):
    table = lesson_weather_table(tmp_path / "weather.csv")
    data = prepare(config(tmp_path / "weather.csv", column="split"))
    for name in ("train", "validation", "test"):
        assert data.splits[name].tolist() == np.flatnonzero(table["split"] == name).tolist()
        assert np.allclose(data.y[name].reshape(-1), table.loc[table["split"] == name, "tomorrow_sunshine"])
    assert "split" not in data.config.data.inputs and "BASEL_sunshine" in data.config.data.inputs
    assert data.config.data.split.chronological is False
    # the lesson's "tomorrow = today" baseline on these test rows: RMSE 3.877, as the lesson reports
    test = table[table["split"] == "test"]
    rmse = float(np.sqrt(np.mean((test["tomorrow_sunshine"] - test["BASEL_sunshine"]) ** 2)))
    assert round(rmse, 3) == 3.877


def test_a_missing_column_or_a_wrong_value_is_named(tmp_path):
    table = lesson_weather_table(tmp_path / "weather.csv")
    with pytest.raises(ConfigError, match="'fold'.*not a column"):
        prepare(config(tmp_path / "weather.csv", column="fold"))
    table.loc[3, "split"] = "holdout"
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="'holdout'"):
        prepare(config(tmp_path / "bad.csv", column="split"))
    table["split"] = table["split"].replace({"validation": "train", "holdout": "train"})
    table.to_csv(tmp_path / "no_validation.csv", index=False)
    with pytest.raises(DataError, match="no validation row"):
        prepare(config(tmp_path / "no_validation.csv", column="split"))


def test_the_cli_exits_2_on_a_wrong_split_value(tmp_path):
    table = lesson_weather_table(tmp_path / "weather.csv")
    table.loc[0, "split"] = "dev"
    table.to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "deepwise.yaml").write_text(
        "problem: {target: tomorrow_sunshine}\ndata: {path: bad.csv, split: {column: split}}\n"
    )
    deepwise = Path(sys.executable).with_name("deepwise")
    result = subprocess.run(
        [str(deepwise), "train", str(tmp_path / "deepwise.yaml"), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "'dev'" in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr
