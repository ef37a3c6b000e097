"""Step 3 for a table: split the rows, fit the preprocessing on the training rows, and feed the network.

A table that fits in memory becomes :class:`TableData`; one too big for memory (or any table with
``data.in_memory: false``) is streamed into arrays on disk (:class:`StreamedTableData`, see
:mod:`deepwise.prepare.stream`).

Example:
    >>> data = prepare_table(config)
    >>> data.x["train"]["features"].shape, len(data.y["test"])
    ((223, 9), 69)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.stream import TableSource, is_streamable, may_be_too_big
from deepwise.data.tables import fingerprint, read_table
from deepwise.errors import ConfigError
from deepwise.evaluation import permutation_importance
from deepwise.evaluation.importance import IMPORTANCE_MAX_ROWS, IMPORTANCE_REPEATS
from deepwise.guard import OODGuard
from deepwise.inspection import inspect
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import fit_arrays, merged_splits, model_input
from deepwise.kinds.table.formulate import chronological_splits, column_splits, resolve_table
from deepwise.models.activations import check_activation
from deepwise.models.inference import MAX_CHUNK_ROWS, padded_rows, predict_rows, smallest_rows
from deepwise.models.linear_start import start_from_linear_fit
from deepwise.models.mlp import build_mlp, describe_model
from deepwise.prepare.split import split_indices
from deepwise.prepare.stream import FlatRows, StreamedTable, disk_batches_class, stream_table
from deepwise.prepare.tabular import FEATURES, TabularPreprocessor
from deepwise.tasks import TASKS

IMPORTANCE_CALLS = 256  # ~0.13 ms each for a small MLP: fewer than compiling a program costs (~0.08 s)


@dataclass
class TableData(Prepared):
    """Rows of a table in memory: model inputs per split, as arrays."""

    baselines_while_training: ClassVar[bool] = True

    x: dict[str, dict[str, np.ndarray]] | None = None

    # --------------------------------------------------------------------------------------------- feeding Keras
    def constant_loss(self) -> float | None:
        """The validation loss of predicting the training split's mean or class shares for every row."""
        return self.task.constant_loss(self.y["train"], self.y["validation"])

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        fit_arrays(model, self.config, self.x, self.y, callbacks, epochs, initial_epoch)

    def predict(self, model, split: str) -> np.ndarray:
        x = model_input(self.x[split])
        return predict_rows(model, x, smallest=smallest_rows(x))

    def probe_batch(self, batch_size: int):
        return model_input(self.x["train"]), self.y["train"]

    def build_network(self):
        model = build_mlp(
            self.prep.input_specs(), self.task, self.n_classes, self.config.model, target_stats=self.prep.target_stats_
        )
        start_from_linear_fit(
            model, self.x["train"][FEATURES], self.y["train"], self.task, self.prep.target_stats_, self.config.seed
        )
        return model

    def describe_network(self, model) -> str:
        return describe_model(model, self.config.model)

    # ------------------------------------------------------------------------------------------------ the rows
    def frame(self, split: str) -> pd.DataFrame:
        """The raw rows of a split."""
        return self.problem.frame.iloc[self.splits[split]]

    def formula_rows(self, split: str) -> pd.DataFrame:
        return self.frame(split)[self.inspected_columns()]

    def inspect(self):
        cfg = self.config
        return inspect(
            self.problem.frame[self.inspected_columns()],
            target=cfg.problem.target,
            task=self.task.name,
            hidden_units=cfg.model.hidden_units,
            seed=cfg.seed,
            horizon=cfg.problem.horizon,
        )

    def baseline_inputs(self):
        flat = self.prep.transform_flat
        return flat(self.frame("train")), self.y["train"], flat(self.frame("test"))

    def importance_rows(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Raw test rows and their targets for permutation importance."""
        return self.frame("test"), self.y["test"]

    def importance(self, model) -> dict[str, Any]:
        frame, y = self.importance_rows()
        # The shuffled copies go through the program compiled for the test rows (one compilation fewer, ~0.08 s)
        # unless that takes more than IMPORTANCE_CALLS calls.
        smallest = smallest_rows(model_input(self.x["test"]))
        measured = min(len(y), IMPORTANCE_MAX_ROWS)  # permutation_importance samples this many test rows
        shape = padded_rows(measured, smallest)
        rows = measured * len(self.prep.columns) * IMPORTANCE_REPEATS
        largest = shape if rows <= IMPORTANCE_CALLS * shape else MAX_CHUNK_ROWS

        def predict(frame: pd.DataFrame) -> np.ndarray:
            return predict_rows(model, model_input(self.prep.transform(frame)), largest=largest, smallest=smallest)

        return permutation_importance(
            predict,
            frame,
            y,
            self.prep.columns,
            self.task.name,
            seed=self.config.seed,
        )

    def fit_guard(self, model, validation_output, test_output):
        cfg = self.config
        guard = OODGuard(cfg.guard.false_alarm_rate, cfg.guard.neighbors, seed=cfg.seed)
        guard.fit(self.prep, self.frame("train"), self.frame("validation"))
        return guard, float(np.mean(guard.check(self.prep, self.frame("test")).ood))


@dataclass
class StreamedTableData(TableData):
    """A table too big for memory: model inputs in arrays on disk, and a uniform sample of the raw rows for the
    data checks, baselines, guard and importance (scikit-learn's models need their rows in memory)."""

    baselines_while_training: ClassVar[bool] = False  # its test rows are read from disk, as training reads its own
    stream: StreamedTable | None = None

    @property
    def n_rows(self) -> int:
        return self.stream.n_rows

    @property
    def streamed(self) -> bool:
        return True

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        batches = disk_batches_class()
        batch_size, seed = self.config.training.batch_size, self.config.seed
        model.fit(
            batches(self.x["train"], self.y["train"], batch_size, shuffle=True, seed=seed),
            validation_data=batches(self.x["validation"], self.y["validation"], 1024),
            shuffle=False,  # the batches shuffle themselves; Keras' random batch order would defeat the read-ahead
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
        )

    def predict(self, model, split: str) -> np.ndarray:
        return np.asarray(model.predict(disk_batches_class()(self.x[split], None, 1024), verbose=0))

    def probe_batch(self, batch_size: int):
        x = self.x["train"]
        return (x[FEATURES] if list(x) == [FEATURES] else x), self.y["train"]

    def frame(self, split: str) -> pd.DataFrame:
        """The split's rows in the uniform sample."""
        return self.stream.rows(split)

    def _sampled(self, split: str) -> tuple[pd.DataFrame, np.ndarray]:
        rows = self.frame(split)
        return rows, self.prep.transform_target(rows[self.config.problem.target])

    def inspect(self):
        cfg = self.config
        return inspect(
            self.problem.frame[self.inspected_columns()],
            target=cfg.problem.target,
            task=self.task.name,
            hidden_units=cfg.model.hidden_units,
            seed=cfg.seed,
        )

    def baseline_inputs(self):
        rows, y = self._sampled("train")
        # every test row, read from disk a slice at a time by its user
        return self.prep.transform_flat(rows), y, FlatRows(self.prep, self.x["test"])

    def importance_rows(self):
        return self._sampled("test")


def streamed_source(config: Config) -> TableSource | None:
    """The table to stream, or None to load it whole: ``data.in_memory`` decides (null: stream when the whole
    table would take more than about 768 MB or a quarter of the free memory: see deepwise.data.stream)."""
    cfg = config
    if cfg.data.in_memory is True:
        return None
    path = Path(cfg.data.path)
    if not is_streamable(path) or (cfg.data.in_memory is None and not may_be_too_big(path)):
        return None
    source = TableSource.open(path, cfg.data.na_values)
    if cfg.data.in_memory is False or source.too_big_for_memory():
        return source
    return None


def formulate_table(config: Config) -> Problem:
    cfg = config.model_copy(deep=True)
    check_activation(cfg)
    return resolve_table(cfg, read_table(cfg.data.path, cfg.data.na_values))


def prepare_table(config: Config) -> TableData:
    """Read, resolve, split and preprocess a table (fitted on the training rows only); streamed when too big."""
    source = streamed_source(config)
    if source is not None:
        return _prepare_streamed(config, source)
    problem = formulate_table(config)
    cfg = problem.config
    cfg.data.in_memory = True  # resolved: a resume or re-evaluation rebuilds this split, not a streamed one
    task = TASKS[cfg.problem.task]
    df = problem.frame
    target = df[cfg.problem.target]
    split = cfg.data.split
    if split.column is not None:
        chosen = column_splits(df, split.column)
    elif split.chronological:
        chosen = chronological_splits(df, cfg.data.time_column, split.validation, split.test)
    else:
        chosen = split_indices(target, task.name, split.validation, split.test, cfg.seed, split.stratify)
    splits = merged_splits(chosen, cfg)
    inputs = cfg.data.inputs or []
    categorical = cfg.data.categorical or []
    prep = TabularPreprocessor(
        numeric=[c for c in inputs if c not in categorical],
        categorical=categorical,
        target=cfg.problem.target,
        task=task.name,
        encoding=cfg.model.categorical_encoding,
    ).fit(df.iloc[splits["train"]])
    x = {name: prep.transform(df.iloc[idx]) for name, idx in splits.items()}
    y = {name: prep.transform_target(target.iloc[idx]) for name, idx in splits.items()}
    return TableData(problem, task, prep, splits, y, fingerprint(cfg.data.path), x=x)


def _prepare_streamed(config: Config, source: TableSource) -> StreamedTableData:
    cfg = config.model_copy(deep=True)
    check_activation(cfg)
    problem, prep, streamed = stream_table(cfg, source, resolve_table)
    problem.config.data.in_memory = False  # resolved: a resume or re-evaluation streams (and splits) the same way
    if problem.config.data.split.column is not None:
        raise ConfigError(
            f"data.split.column ('{problem.config.data.split.column}') is not available for a table too big for "
            "memory: streamed tables are split by each row's position (hashed).",
            expected="data.split.column unset for a streamed table",
            fix="leave data.split.column unset, or set data.in_memory: true if the table fits in memory.",
        )
    if problem.config.data.split.chronological:
        problem.config.data.split.chronological = False
        problem.notes.append(
            "This table is streamed, and streamed tables are split at random by each row's position (hashed): a "
            "split in time order is not available for them yet, so the test score may be optimistic for new days."
        )
    task = TASKS[problem.config.problem.task]
    splits = {name: range(len(streamed.y[name])) for name in streamed.y}
    return StreamedTableData(
        problem, task, prep, splits, streamed.y, fingerprint(source.path), x=streamed.x, stream=streamed
    )
