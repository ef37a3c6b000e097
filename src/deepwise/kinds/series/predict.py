"""Step 8 for a time series: the forecast ``horizon`` steps after the last row of the rows given.

Example:
    >>> SeriesPredictor(run).forecast(recent_rows)[["forecast_for", "prediction", "ood"]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.series import order_by_time
from deepwise.errors import DataError
from deepwise.evaluation import score
from deepwise.guard import GuardReport
from deepwise.kinds.base import Predictor
from deepwise.kinds.table.predict import labelled_rows, read_rows
from deepwise.models.inference import predict_rows


class SeriesPredictor(Predictor):
    """Forecasts of a series run: one row, for ``horizon`` steps after the last time given."""

    @property
    def rows_preprocessor(self):
        return self.run.preprocessor.tabular

    def ordered(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """Rows of a series, sorted by time, with the time axis."""
        self.rows_preprocessor.check_columns(df)
        return order_by_time(df, self.run.preprocessor.time_column)[:2]

    def check(self, df: pd.DataFrame, arrays: dict | None = None, values: np.ndarray | None = None) -> GuardReport:
        guard = self.run.guard
        return None if guard is None else guard.check(self.rows_preprocessor, df, arrays, values)

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        return self.forecast(read_rows(data, self.run.config.data.na_values), guard=guard)

    def forecast(self, df: pd.DataFrame, *, guard: bool = True) -> pd.DataFrame:
        """The forecast after the last row of a series: one row, for ``horizon`` steps after its last time."""
        rows, time = self.ordered(df)
        prep = self.run.preprocessor
        if len(rows) < prep.window:
            raise DataError(
                f"{len(rows)} row(s) are fewer than the model's window of {prep.window} time steps.",
                expected=f"at least the last {prep.window} rows of the series",
                fix="pass more of the series' recent rows.",
            )
        recent = slice(len(rows) - prep.window, None)  # features are per row: only the last window's rows matter
        recent_rows = rows.iloc[recent]
        values = prep.tabular.numeric_values(recent_rows)  # once, for the model and for the guard
        arrays = prep.tabular.transform(recent_rows, values)
        window = prep.windows(prep.row_features(recent_rows, time.iloc[recent], arrays))[-1:]
        result = self.format(np.asarray(self.run.model.predict_on_batch(window)), index=[0])
        step = time.diff().median() if len(time) > 1 else None
        last = time.iloc[-1]
        result.insert(0, "forecast_for", last + prep.horizon * step if step is not None else None)
        result.insert(1, "last_time", last)
        report = self.check(recent_rows, arrays, values) if guard else None
        if report is not None:
            result["ood"] = bool(report.ood.any())
            result["ood_score"] = float(report.score.max())
            result.attrs["guard"] = report.to_dict()
        return result

    def evaluate(self, data: Any) -> dict[str, Any]:
        df = labelled_rows(data, self.run.config.problem.target, self.run.config.data.na_values)
        rows, time = self.ordered(df)
        x, y, _ = self.run.preprocessor.samples(rows, time)
        return score(self.run.output, y, predict_rows(self.run.model, x), self.run.preprocessor.classes_)
