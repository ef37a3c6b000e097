"""Time series: rows in time order, forecast ``horizon`` steps ahead from a window of past rows
(``problem.task: forecasting``).

Example:
    >>> data = SeriesKind().prepare(config)   # problem: {target: BASEL_sunshine, task: forecasting}
    >>> data.naive_outputs("test").keys()
    dict_keys(['persistence', 'seasonal_persistence'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun
from deepwise.prepare.tabular import FEATURES

if TYPE_CHECKING:
    from deepwise.kinds.series.data import SeriesData, SeriesProblem
    from deepwise.kinds.series.predict import SeriesPredictor
    from deepwise.prepare.series import SeriesPreprocessor

SEQUENCE_MODELS = ("mlp", "conv1d", "lstm", "gru")


class SeriesKind(DataKind):
    name: ClassVar[str] = "series"
    title: ClassVar[str] = "a time series"
    unit: ClassVar[str] = "samples"
    data_noun: ClassVar[str] = "series"
    model_types: ClassVar[tuple[str, ...]] = SEQUENCE_MODELS

    def claims(self, config: Config) -> bool:
        return config.problem.task == "forecasting"

    def formulate(self, config: Config) -> SeriesProblem:
        from deepwise.kinds.series.data import formulate_series

        return formulate_series(config)

    def prepare(self, config: Config) -> SeriesData:
        from deepwise.kinds.series.data import prepare_series

        return prepare_series(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "forecasting", "output": prepared.task.name}

    def load_preprocessor(self, state: dict[str, Any]) -> SeriesPreprocessor:
        from deepwise.prepare.series import SeriesPreprocessor

        return SeriesPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun) -> SeriesPredictor:
        from deepwise.kinds.series.predict import SeriesPredictor

        return SeriesPredictor(run)

    def report_sections(self, ctx):
        from deepwise.kinds.series.report import forecasting_sections

        return forecasting_sections(ctx)

    def task_label(self, ctx) -> str:
        return f"forecasting ({ctx.output})"

    def card_source(self, ctx, n_inputs: int) -> str:
        from deepwise.kinds.series.report import series_card_source

        return series_card_source(ctx)

    def card_inputs(self, ctx) -> list[list[str]]:
        from deepwise.kinds.series.report import series_card_inputs

        return series_card_inputs(ctx)

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.series.report import series_card_usage

        return series_card_usage(ctx, columns, proba_note)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.series.report import SERIES_SCOPE

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
