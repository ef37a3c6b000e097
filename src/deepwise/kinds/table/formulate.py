"""Steps 1-2 for rows of a table: infer the task from the target and choose the inputs, each with its reason.

A time series chooses its columns the same way (:mod:`deepwise.kinds.series` calls :func:`choose_columns`).

Example:
    >>> problem = resolve_table(config, pd.read_csv("penguins.csv"))
    >>> problem.config.problem.task, problem.config.data.categorical
    ('multiclass', ['island', 'sex'])
"""

from __future__ import annotations

from difflib import get_close_matches

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.schema import (
    ColumnChoice,
    check_mixed_target,
    check_numeric_junk,
    check_target_values,
    choose_inputs,
    infer_task,
    is_numeric,
)
from deepwise.data.series import looks_like_time, parse_time
from deepwise.errors import ConfigError, DataError
from deepwise.kinds.base import Problem


def check_target(df: pd.DataFrame, target: str) -> None:
    """The target column exists and holds usable values (finite numbers, not numbers mixed with text)."""
    if target not in df.columns:
        close = get_close_matches(target, list(df.columns), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(
            f"The target column '{target}' is not in the data.{hint}",
            expected="one of the columns: " + ", ".join(map(str, df.columns[:30])),
            fix=f"pass the right column name with --target (or problem.target in the config).{hint}",
        )
    check_target_values(df, target)


def output_task(df: pd.DataFrame, target: str, requested: str, setting: str) -> tuple[str, str]:
    """``(binary | multiclass | regression, reason)``: inferred from the target, or as the config requests.

    ``setting`` names the config key that requested it (problem.task, or problem.output for a series)."""
    if requested == "auto":
        check_mixed_target(df, target)
        task, reason = infer_task(df[target])
    else:
        task, reason = requested, f"set in the config ({requested})."
        if task == "regression" and not is_numeric(df[target]):
            check_numeric_junk(df, [target])
            raise DataError(
                f"The config asks for regression but the target '{target}' is not numeric.",
                expected="numbers in the target column for regression",
                fix=f"set {setting} to auto, or clean the target column.",
            )
        infer_task(df[target])  # single-class and empty targets are errors whatever the task
    if task == "regression":
        check_numeric_junk(df, [target])
    return task, reason


def choose_columns(
    config: Config, df: pd.DataFrame, excluded: list[str], *, need_inputs: bool = True
) -> tuple[list[str], list[str], list[ColumnChoice]]:
    """``(inputs, categorical, every column considered)``: explicit data.inputs / data.categorical win; otherwise
    ID-like, constant and all-missing columns are left out, with the reason. ``need_inputs=False`` accepts a table
    with no usable input (a series always has its own past)."""
    target = config.problem.target
    explicit_categorical = config.data.categorical
    if config.data.inputs is not None:
        inputs = _explicit_inputs(config, df)
        columns = [c for c in choose_inputs(df, target, excluded, explicit_categorical) if c.name in inputs]
        for c in columns:
            c.used, c.reason = True, c.kind
    else:
        columns = choose_inputs(df, target, excluded, explicit_categorical)
        inputs = [c.name for c in columns if c.used]
        if not inputs and need_inputs:
            raise DataError(
                f"No usable input columns: every column besides '{target}' was set aside "
                f"({'; '.join(f'{c.name}: {c.reason}' for c in columns) or 'there are none'}).",
                expected="at least one input column with varying values",
                fix="add input columns to the data, or list them explicitly in data.inputs.",
            )
    kinds = {c.name: c.kind for c in columns}
    categorical = (
        explicit_categorical
        if explicit_categorical is not None
        else [c for c in inputs if kinds.get(c) == "categorical"]
    )
    unknown = [c for c in categorical if c not in inputs]
    if unknown:
        raise ConfigError(
            f"data.categorical names column(s) that are not inputs: {', '.join(unknown)}.",
            expected="a subset of data.inputs",
            fix="remove them from data.categorical or add them to data.inputs.",
        )
    # Text columns that are really numbers with a few junk cells are an error, not a category.
    if explicit_categorical is None:
        check_numeric_junk(df, categorical)
    check_numeric_junk(df, [c for c in inputs if c not in categorical])
    return inputs, categorical, columns


def _explicit_inputs(config: Config, df: pd.DataFrame) -> list[str]:
    target = config.problem.target
    inputs = list(config.data.inputs or [])
    missing = [c for c in inputs if c not in df.columns]
    if missing:
        raise DataError(
            f"data.inputs names column(s) that are not in the data: {', '.join(missing)}.",
            expected="columns of the data file: " + ", ".join(map(str, df.columns[:30])),
            fix="correct the names in data.inputs, or set it to null to use every column.",
        )
    if target in inputs:
        raise ConfigError(
            f"The target '{target}' is also listed in data.inputs.",
            expected="inputs that do not include the column to predict",
            fix=f"remove '{target}' from data.inputs.",
        )
    empty = [c for c in inputs if df[c].isna().all()]
    if empty:
        raise DataError(
            f"Input column(s) {', '.join(empty)} have no values at all (every cell is missing).",
            expected="inputs with values in most rows",
            fix="remove them from data.inputs, or fill them in.",
        )
    return inputs


def check_model_type(config: Config, allowed: tuple[str, ...], what: str, hint: str = "") -> None:
    """model.type: auto becomes the first allowed type; any other must be allowed for this kind of data."""
    if config.model.type == "auto":
        config.model.type = allowed[0]
    if config.model.type not in allowed:
        raise ConfigError(
            f"model.type '{config.model.type}' does not fit {what}{hint}.",
            expected="model.type: " + " | ".join(allowed),
            fix=f"set model.type: {allowed[0]}.",
        )


#: a column is taken as the rows' time axis (for the split) only with at least this many distinct times: a "year"
#: column of three values does not order the rows enough to split them in time
MIN_TIMES = 10


def resolve_time_order(config: Config, df: pd.DataFrame) -> list[str]:
    """Whether the rows are split in time order (``data.split.chronological``) and by which column; the notes say why.

    Rows that carry dates are split chronologically by default: at random, test days would sit between training
    days, and the neighbouring days a model has seen make its test score optimistic (measured on the weather data:
    bench/time_split.py). The time column is then not an input (the test period's dates lie beyond training's).
    """
    split = config.data.split
    if split.column is not None:  # the user's own split wins over any time order
        split.chronological = False
        return [f"The rows are split as the column '{split.column}' says (data.split.column)."]
    if config.data.time_column is None and split.chronological is not False:
        config.data.time_column = next(
            (
                n
                for n in df.columns
                if n != config.problem.target and df[n].nunique() >= MIN_TIMES and looks_like_time(df[n])
            ),
            None,
        )
    name = config.data.time_column
    if split.chronological is None:
        split.chronological = name is not None
        if not split.chronological:
            return []
        return [
            f"The rows carry dates ('{name}'), so they are split in time order: the oldest train, the newest test. "
            "A random split would put test days between training days and overstate the score on new days. "
            "Set data.split.chronological: false for a random split; to predict ahead, set problem.task: "
            f"forecasting and data.time_column: {name}."
        ]
    if split.chronological:
        how = f"'{name}'" if name else "the row order (no data.time_column)"
        return [f"The rows are split in time order by {how}, as data.split.chronological asks."]
    return []


SPLIT_NAMES = ("train", "validation", "test")


def column_splits(df: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    """Row positions of train / validation / test as a column of the table names them (``data.split.column``).

    Example:
        >>> column_splits(pd.DataFrame({"split": ["train", "test", "validation", "train"]}), "split")["train"]
        array([0, 3])
    """
    if column not in df.columns:
        raise ConfigError(
            f"data.split.column names '{column}', which is not a column of the table.",
            expected="a column whose values are 'train', 'validation' or 'test'",
            fix="check the spelling (columns: " + ", ".join(map(str, list(df.columns)[:12])) + ").",
        )
    values = df[column].astype("string").str.strip().str.lower()
    unknown = sorted(set(values.dropna()) - set(SPLIT_NAMES))
    if unknown or values.isna().any():
        found = ", ".join(repr(v) for v in unknown[:5]) or "missing values"
        raise DataError(
            f"The split column '{column}' holds {found}.",
            expected="'train', 'validation' or 'test' in every row",
            fix=f"give every row one of the three names in '{column}', or leave data.split.column unset.",
        )
    splits = {name: np.flatnonzero((values == name).to_numpy()) for name in SPLIT_NAMES}
    empty = [name for name, rows in splits.items() if len(rows) == 0]
    if empty:
        raise DataError(
            f"The split column '{column}' names no {' and no '.join(empty)} row.",
            expected="rows of each of 'train', 'validation' and 'test'",
            fix=f"mark some rows '{empty[0]}' in '{column}'.",
        )
    return splits


def chronological_splits(df: pd.DataFrame, time_column: str | None, validation: float, test: float) -> dict:
    """Row positions of train / validation / test in time order (by ``time_column``, or the row order)."""
    n = len(df)
    order = np.arange(n) if time_column is None else np.argsort(parse_time(df[time_column]).to_numpy(), kind="stable")
    n_test, n_val = int(np.ceil(test * n)), int(np.ceil(validation * n))
    n_train = n - n_val - n_test
    if n_train < 2 or n_val < 1 or n_test < 1:
        raise DataError(
            f"{n} rows are fewer than the split needs (in time order: {n_train} train, {n_val} validation, "
            f"{n_test} test).",
            expected="at least a few dozen rows (far more to learn anything)",
            fix="use more rows.",
        )
    return {
        "train": np.sort(order[:n_train]),
        "validation": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def resolve_table(config: Config, df: pd.DataFrame) -> Problem:
    """Fill in the task, inputs and categorical columns of ``config`` from the rows (explicit values win)."""
    target = config.problem.target
    check_target(df, target)
    notes: list[str] = []
    n_missing_target = int(df[target].isna().sum())
    if n_missing_target:
        notes.append(f"{n_missing_target} row(s) have no '{target}' value and are left out (nothing to learn from).")
        df = df[df[target].notna()].reset_index(drop=True)
    task, reason = output_task(df, target, config.problem.task, "problem.task")
    notes.extend(resolve_time_order(config, df))
    split = config.data.split
    excluded = [*config.data.exclude, *([config.data.time_column] if split.chronological else []), split.column]
    inputs, categorical, columns = choose_columns(config, df, [c for c in excluded if c])
    config.problem.task = task
    config.data.inputs = inputs
    config.data.categorical = categorical
    config.data.split.test = config.data.split.test_fraction(False)
    if config.model.dropout is None:
        config.model.dropout = 0.1
    check_model_type(config, ("mlp",), "a table", " (conv1d/lstm/gru need problem.task: forecasting)")
    return Problem(config=config, frame=df, task_reason=reason, columns=columns, notes=notes)
