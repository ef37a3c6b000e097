"""Tables: one row per example, numeric and categorical columns, one column to predict (the default kind).

Example:
    >>> data = TableKind().prepare(Config(problem={"target": "species"}, data={"path": "penguins.csv"}))
    >>> data.describe_network(data.build_network())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, Problem, SavedRun

if TYPE_CHECKING:
    from deepwise.kinds.table.data import TableData
    from deepwise.kinds.table.predict import TablePredictor
    from deepwise.prepare.tabular import TabularPreprocessor


class TableKind(DataKind):
    name: ClassVar[str] = "table"
    title: ClassVar[str] = "a table"
    model_types: ClassVar[tuple[str, ...]] = ("mlp",)

    def claims(self, config: Config) -> bool:
        return True  # the default: any table that no other kind claims

    def formulate(self, config: Config) -> Problem:
        from deepwise.kinds.table.data import formulate_table

        return formulate_table(config)

    def prepare(self, config: Config) -> TableData:
        from deepwise.kinds.table.data import prepare_table

        return prepare_table(config)

    def load_preprocessor(self, state: dict[str, Any]) -> TabularPreprocessor:
        from deepwise.prepare.tabular import TabularPreprocessor

        return TabularPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun) -> TablePredictor:
        from deepwise.kinds.table.predict import TablePredictor

        return TablePredictor(run)

    def report_sections(self, ctx):
        from deepwise.render.outputs import output_sections

        return output_sections(ctx)

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.table.serve import add_table_routes  # FastAPI only when serving

        add_table_routes(app, run, run.path.resolve().name, responses, limits)

    def inspect_data(self, config: Config, target: str | None, time_column: str | None):
        from deepwise.inspection import inspect

        return inspect(config.data.path, target=target, time_column=time_column)

    def keras_script(self, run: SavedRun) -> str:
        from deepwise.kinds.table.script import table_script

        return table_script(run)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        from deepwise.kinds.feeding import model_input

        arrays = run.preprocessor.transform(sample_rows(run.preprocessor, n, seed))
        return model_input(arrays), arrays


def sample_rows(prep: TabularPreprocessor, n: int, seed: int = 0):
    """Synthetic raw rows within the training ranges and vocabularies (to check an exported model)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for name in prep.numeric:
        stats = prep.numeric_stats_[name]
        columns[name] = rng.uniform(stats["min"], stats["max"], n)
    for name in prep.categorical:
        vocab = prep.vocabularies_[name] or ["?"]
        columns[name] = rng.choice(np.asarray(vocab, dtype=object), n)
    return pd.DataFrame(columns)
