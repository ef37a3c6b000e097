"""Time series: rows in time order, forecast ``horizon`` steps ahead from a window of past rows
(``problem.task: forecasting``).

Example:
    >>> data = SeriesKind().prepare(config)   # problem: {target: BASEL_sunshine, task: forecasting}
    >>> data.naive_outputs("test").keys()
    dict_keys(['persistence', 'seasonal_persistence'])
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun
from deepwise.kinds.series.data import SEQUENCE_MODELS, SeriesData, SeriesProblem, formulate_series, prepare_series
from deepwise.kinds.series.predict import SeriesPredictor
from deepwise.kinds.series.report import (
    SERIES_SCOPE,
    forecasting_sections,
    series_card_inputs,
    series_card_source,
    series_card_usage,
)
from deepwise.prepare.series import SeriesPreprocessor
from deepwise.prepare.tabular import FEATURES


class SeriesKind(DataKind):
    name: ClassVar[str] = "series"
    title: ClassVar[str] = "a time series"
    unit: ClassVar[str] = "samples"
    data_noun: ClassVar[str] = "series"
    model_types: ClassVar[tuple[str, ...]] = SEQUENCE_MODELS

    def claims(self, config: Config) -> bool:
        return config.problem.task == "forecasting"

    def formulate(self, config: Config) -> SeriesProblem:
        return formulate_series(config)

    def prepare(self, config: Config) -> SeriesData:
        return prepare_series(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "forecasting", "output": prepared.task.name}

    def load_preprocessor(self, state: dict[str, Any]) -> SeriesPreprocessor:
        return SeriesPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun) -> SeriesPredictor:
        return SeriesPredictor(run)

    def report_sections(self, ctx):
        return forecasting_sections(ctx)

    def task_label(self, ctx) -> str:
        return f"forecasting ({ctx.output})"

    def card_source(self, ctx, n_inputs: int) -> str:
        return series_card_source(ctx)

    def card_inputs(self, ctx) -> list[list[str]]:
        return series_card_inputs(ctx)

    def card_usage(self, ctx, columns: str, proba_note: str):
        return series_card_usage(ctx, columns, proba_note)

    def card_scope_limit(self) -> str:
        return SERIES_SCOPE

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.series.serve import add_forecast_routes  # FastAPI only when serving

        add_forecast_routes(app, run, run.path.resolve().name, responses, limits)

    def keras_script(self, run: SavedRun) -> str:
        from deepwise.kinds.series.script import series_script

        return series_script(run)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Windows of standardized features (the network's input: preprocessed rows, ``window`` steps each)."""
        prep = run.preprocessor
        shape = prep.input_specs()[FEATURES]["shape"]
        windows = np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)
        return windows, {FEATURES: windows}
