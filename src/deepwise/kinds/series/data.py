"""Steps 1-3 for a time series: rows in time order, a chronological split (oldest rows train, newest test), the
preprocessing fitted on the training period, and windows of past rows as the network's input.

Example:
    >>> data = prepare_series(config)   # config: problem.task forecasting, data.time_column DATE
    >>> data.x["train"]["features"].shape
    (2543, 1, 167)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.series import order_by_time, season_length
from deepwise.data.tables import fingerprint, read_table
from deepwise.errors import DataError
from deepwise.evaluation import grouped_permutation_importance
from deepwise.guard import OODGuard
from deepwise.inspection import inspect
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import fit_arrays, model_input
from deepwise.kinds.series import SEQUENCE_MODELS
from deepwise.kinds.table.formulate import check_model_type, check_target, choose_columns, output_task
from deepwise.models.activations import check_activation
from deepwise.models.inference import predict_rows
from deepwise.models.linear_start import start_from_linear_fit
from deepwise.models.mlp import describe_model
from deepwise.models.sequence import build_sequence_model, describe_sequence_model
from deepwise.prepare.series import SeriesPreprocessor
from deepwise.prepare.tabular import FEATURES
from deepwise.tasks import TASKS


@dataclass
class SeriesProblem(Problem):
    """A series' problem: also the parsed, sorted time axis."""

    time: pd.Series | None = None

    @property
    def output(self) -> str:
        return self.config.problem.output

    def explain(self) -> list[str]:
        p = self.config.problem
        forecast = (
            f"Forecast: '{p.target}' {p.horizon} step(s) ahead from the last {p.window} step(s) "
            f"({self.output}); time axis: {self.config.data.time_column or 'the row order'}. The split is "
            "chronological: the oldest rows train, the newest test."
        )
        lines = super().explain()
        return [lines[0], forecast, *lines[1:]]


def formulate_series(config: Config) -> SeriesProblem:
    """Rows in time order, the target checked at every step, the output task and the input columns."""
    cfg = config.model_copy(deep=True)
    check_activation(cfg)
    df = read_table(cfg.data.path, cfg.data.na_values)
    target = cfg.problem.target
    check_target(df, target)
    df, time, notes = order_by_time(df, cfg.data.time_column)
    n_missing = int(df[target].isna().sum())
    if n_missing:
        raise DataError(
            f"The target '{target}' of the series is missing in {n_missing} row(s).",
            expected="a target value at every time step of a series",
            fix="fill the gaps (e.g. interpolate) or drop those time steps before training.",
        )
    output, reason = output_task(df, target, cfg.problem.output, "problem.output")
    excluded = [*cfg.data.exclude, *([cfg.data.time_column] if cfg.data.time_column else [])]
    inputs, categorical, columns = choose_columns(cfg, df, excluded, need_inputs=False)  # its past is an input
    cfg.problem.output = output
    cfg.data.inputs = inputs
    cfg.data.categorical = categorical
    cfg.data.split.test = cfg.data.split.test_fraction(True)
    if cfg.model.dropout is None:  # series overfit fast: measured on the weather forecast (issue 5)
        cfg.model.dropout = 0.3
    check_model_type(cfg, SEQUENCE_MODELS, "a time series")
    reason = "set in the config (problem.task: forecasting). " + reason
    return SeriesProblem(cfg, df, reason, columns, notes, time=time)


@dataclass
class SeriesData(Prepared):
    """Windows of a series: samples per split (contiguous, in time order), and the rows of each period."""

    baselines_while_training: ClassVar[bool] = True

    x: dict[str, dict[str, np.ndarray]] | None = None
    rows: dict[str, np.ndarray] | None = None  # the rows (time steps) of each period
    target_rows: np.ndarray | None = None  # the row whose target each sample forecasts

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        fit_arrays(model, self.config, self.x, self.y, callbacks, epochs, initial_epoch)

    def predict(self, model, split: str) -> np.ndarray:
        return predict_rows(model, model_input(self.x[split]))

    def probe_batch(self, batch_size: int):
        return model_input(self.x["train"]), self.y["train"]

    def build_network(self):
        model = build_sequence_model(
            self.prep.input_specs(), self.task, self.n_classes, self.config.model, target_stats=self.prep.target_stats_
        )
        start_from_linear_fit(
            model, self.x["train"][FEATURES], self.y["train"], self.task, self.prep.target_stats_, self.config.seed
        )
        return model

    def describe_network(self, model) -> str:
        model_config = self.config.model
        if model_config.type == "mlp":
            return describe_model(model, model_config)
        return describe_sequence_model(model, model_config)

    def frame(self, split: str) -> pd.DataFrame:
        """The raw rows of a split's period."""
        return self.problem.frame.iloc[self.rows[split]]

    def inspected_columns(self) -> list[str]:
        columns = super().inspected_columns()
        time_column = self.config.data.time_column
        return [*columns, time_column] if time_column and time_column not in columns else columns

    def inspect(self):
        cfg = self.config
        return inspect(
            self.problem.frame[self.inspected_columns()],
            target=cfg.problem.target,
            task=self.task.name,
            hidden_units=cfg.model.hidden_units,
            seed=cfg.seed,
            time_column=cfg.data.time_column,
            horizon=cfg.problem.horizon,
        )

    def baseline_inputs(self):
        def flat(split: str) -> np.ndarray:
            x = self.x[split][FEATURES]
            return x.reshape(len(x), -1)

        return flat("train"), self.y["train"], flat("test")

    def naive_outputs(self, split: str) -> dict[str, np.ndarray]:
        """Persistence ("the next value is the last one") and seasonal persistence, in the model's output format."""
        cfg = self.config
        y_rows = self.prep.transform_target(self.problem.frame[cfg.problem.target])
        target_rows = self.target_rows[self.splits[split]]
        last = target_rows - cfg.problem.horizon
        outputs = {"persistence": self._as_output(y_rows[last])}
        season = self.season_length
        if season:
            rows = np.where(target_rows - season >= 0, target_rows - season, last)
            outputs["seasonal_persistence"] = self._as_output(y_rows[rows])
        return outputs

    @property
    def season_length(self) -> int | None:
        cfg = self.config
        if cfg.data.season_length:
            return cfg.data.season_length
        y_train = self.problem.frame[cfg.problem.target].iloc[self.rows["train"]]
        values = y_train.to_numpy(dtype=float) if self.task.name == "regression" else self.y["train"]
        return season_length(self.problem.time.iloc[self.rows["train"]], values)

    def _as_output(self, values: np.ndarray) -> np.ndarray:
        if self.task.name in ("regression", "binary"):
            return values.astype(np.float64)
        return np.eye(self.n_classes)[values.astype(int)]

    def importance(self, model) -> dict[str, Any]:
        return grouped_permutation_importance(
            model.predict_on_batch,
            self.x["test"][FEATURES],
            self.y["test"],
            feature_groups(self.prep),
            self.task.name,
            seed=self.config.seed,
        )

    def fit_guard(self, model, validation_output, test_output):
        cfg = self.config
        guard = OODGuard(cfg.guard.false_alarm_rate, cfg.guard.neighbors, seed=cfg.seed)
        guard.fit(self.prep.tabular, self.frame("train"), self.frame("validation"))
        return guard, float(np.mean(guard.check(self.prep.tabular, self.frame("test")).ood))

    def metrics_extra(self) -> dict[str, Any]:
        cfg = self.config
        time = self.problem.time
        test_rows = self.rows["test"]
        return {
            "forecast": {
                "time_column": cfg.data.time_column,
                "horizon": cfg.problem.horizon,
                "window": cfg.problem.window,
                "season_length": self.season_length,
                "test_period": [str(time.iloc[test_rows[0]]), str(time.iloc[test_rows[-1]])],
            }
        }


def feature_groups(prep: SeriesPreprocessor) -> dict[str, list[int]]:
    """Feature indices of each raw column (all its encoded features move together), plus the calendar."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(prep.feature_names_):
        column = name.split("=", 1)[0].removesuffix("__missing")
        if name.startswith("day_of_"):
            column = "calendar (day of year / week)"
        groups.setdefault(column, []).append(i)
    return groups


def prepare_series(config: Config) -> SeriesData:
    """Chronological split by rows; preprocessing fitted on the training period; windows as views."""
    problem = formulate_series(config)
    cfg = problem.config
    p = cfg.problem
    task = TASKS[p.output]
    df, time = problem.frame, problem.time
    n = len(df)
    n_test = int(np.ceil(cfg.data.split.test * n))
    n_val = int(np.ceil(cfg.data.split.validation * n))
    n_train = n - n_val - n_test
    needed = p.window + p.horizon + 10
    if n_train < needed or min(n_val, n_test) < 2:
        raise DataError(
            f"The series has {n} time steps: too few for a window of {p.window}, a horizon of {p.horizon} and a "
            f"chronological split (training would get {n_train} steps).",
            expected=f"at least {needed} training steps plus validation and test periods (far more to learn well)",
            fix="use a longer series, or a shorter problem.window / problem.horizon.",
        )
    refit = cfg.data.split.train_on_validation
    fit_rows = n_train + n_val if refit else n_train
    rows = {
        "train": np.arange(0, fit_rows),
        "validation": np.arange(n_train, n_train + n_val),
        "test": np.arange(n_train + n_val, n),
    }
    inputs = cfg.data.inputs or []
    categorical = cfg.data.categorical or []
    prep = SeriesPreprocessor(
        numeric=[c for c in inputs if c not in categorical],
        categorical=categorical,
        target=p.target,
        output=task.name,
        window=p.window,
        horizon=p.horizon,
        time_column=cfg.data.time_column,
        calendar=cfg.data.calendar_features,
    ).fit(df.iloc[:fit_rows], time.iloc[:fit_rows])
    x_all, y_all, target_rows = prep.samples(df, time)
    bounds = np.searchsorted(target_rows, [n_train, n_train + n_val])
    train_end = bounds[1] if refit else bounds[0]
    ranges = {"train": (0, train_end), "validation": (bounds[0], bounds[1]), "test": (bounds[1], len(target_rows))}
    splits = {name: np.arange(a, b) for name, (a, b) in ranges.items()}
    x = {name: {FEATURES: x_all[a:b]} for name, (a, b) in ranges.items()}  # contiguous slices: still views
    y = {name: y_all[a:b] for name, (a, b) in ranges.items()}
    return SeriesData(
        problem, task, prep, splits, y, fingerprint(cfg.data.path), x=x, rows=rows, target_rows=target_rows
    )
