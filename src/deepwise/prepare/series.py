"""Fitted preprocessing for time series: per-row features (fitted on the training period only) and windows.

A sample is a window of ``window`` consecutive rows ending at row i; its target is the target column at row
i + ``horizon``. Windows are a strided view of the feature matrix (``sliding_window_view``), so memory stays
linear in the rows whatever the window length. The past values of the target are an input.

Example:
    >>> prep = SeriesPreprocessor(numeric=["temp"], categorical=[], target="sunshine", output="regression",
    ...                           window=1, horizon=1).fit(train_rows, train_time)
    >>> x, y, rows = prep.samples(frame, time)     # x: [m, window, d] view, y: [m], rows: target row per sample
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from deepwise.errors import DataError
from deepwise.prepare.tabular import FEATURES, TabularPreprocessor


class SeriesPreprocessor:
    """Row features from a :class:`TabularPreprocessor` (plus calendar features), cut into windows."""

    def __init__(
        self,
        numeric: list[str],
        categorical: list[str],
        target: str,
        output: str,
        window: int = 1,
        horizon: int = 1,
        time_column: str | None = None,
        calendar: bool = True,
    ):
        self.target = target
        self.task = output
        self.window = window
        self.horizon = horizon
        self.time_column = time_column
        self.calendar = calendar
        numeric, categorical = list(numeric), list(categorical)
        if output == "regression" and target not in numeric:
            numeric.append(target)  # the past of the target is the first thing a forecast should see
        elif output != "regression" and target not in categorical:
            categorical.append(target)
        self.tabular = TabularPreprocessor(numeric, categorical, target=target, task=output, encoding="one_hot")

    # ------------------------------------------------------------------------------------------------ fitting
    def fit(self, rows: pd.DataFrame, time: pd.Series) -> SeriesPreprocessor:
        self.tabular.fit(rows)
        self.use_calendar_ = bool(self.calendar and pd.api.types.is_datetime64_any_dtype(time))
        self.feature_names_ = list(self.tabular.feature_names_) + (
            ["day_of_year_sin", "day_of_year_cos", "day_of_week_sin", "day_of_week_cos"] if self.use_calendar_ else []
        )
        return self

    @property
    def columns(self) -> list[str]:
        """Raw input columns (the target's past included)."""
        return self.tabular.columns

    @property
    def classes_(self):
        return self.tabular.classes_

    @property
    def target_stats_(self):
        return self.tabular.target_stats_

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {FEATURES: {"shape": (self.window, len(self.feature_names_)), "dtype": "float32"}}

    # ------------------------------------------------------------------------------------------- transforming
    def row_features(self, rows: pd.DataFrame, time: pd.Series, arrays: dict | None = None) -> np.ndarray:
        """[n_rows, d] float32 features of each row (``arrays``: ``self.tabular.transform(rows)`` if at hand)."""
        features = (arrays if arrays is not None else self.tabular.transform(rows))[FEATURES]
        if self.use_calendar_:
            t = pd.DatetimeIndex(time)
            doy = 2 * np.pi * (t.day_of_year.to_numpy() - 1) / 365.25
            dow = 2 * np.pi * t.day_of_week.to_numpy() / 7
            features = np.hstack(
                [features, np.column_stack([np.sin(doy), np.cos(doy), np.sin(dow), np.cos(dow)]).astype(np.float32)]
            )
        return features

    def n_samples(self, n_rows: int) -> int:
        return max(n_rows - self.window + 1 - self.horizon, 0)

    def samples(self, rows: pd.DataFrame, time: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All windows with a known target: x [m, window, d] (a view), y [m], and each sample's target row."""
        m = self.n_samples(len(rows))
        if m <= 0:
            raise DataError(
                f"{len(rows)} row(s) are too few for a window of {self.window} and a horizon of {self.horizon}.",
                expected=f"at least {self.window + self.horizon} rows",
                fix="pass more rows, or lower problem.window / problem.horizon.",
            )
        x = self.windows(self.row_features(rows, time))[:m]
        target_rows = np.arange(m) + self.window - 1 + self.horizon
        y = self.tabular.transform_target(rows[self.target].iloc[target_rows])
        return x, y, target_rows

    def windows(self, features: np.ndarray) -> np.ndarray:
        """[n_rows - window + 1, window, d] strided view: no copy."""
        return sliding_window_view(features, self.window, axis=0).transpose(0, 2, 1)

    def transform_target(self, y: pd.Series) -> np.ndarray:
        return self.tabular.transform_target(y)

    # ---------------------------------------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "deepwise.series/1",
            "target": self.target,
            "task": self.task,
            "window": self.window,
            "horizon": self.horizon,
            "time_column": self.time_column,
            "calendar": self.calendar,
            "use_calendar": self.use_calendar_,
            "feature_names": self.feature_names_,
            "tabular": self.tabular.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SeriesPreprocessor:
        prep = cls.__new__(cls)
        prep.target, prep.task = state["target"], state["task"]
        prep.window, prep.horizon = state["window"], state["horizon"]
        prep.time_column, prep.calendar = state["time_column"], state["calendar"]
        prep.use_calendar_ = state["use_calendar"]
        prep.feature_names_ = state["feature_names"]
        prep.tabular = TabularPreprocessor.from_dict(state["tabular"])
        return prep

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def load_preprocessor(path: str | Path) -> TabularPreprocessor | SeriesPreprocessor:
    """Read preprocessing.json of either kind."""
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    if state.get("format", "").startswith("deepwise.series"):
        return SeriesPreprocessor.from_dict(state)
    if state.get("format", "").startswith("deepwise.images"):
        from deepwise.prepare.images import ImagePreprocessor

        return ImagePreprocessor.from_dict(state)
    return TabularPreprocessor.from_dict(state)
