"""Infer the task from the target, choose the inputs, and check the columns' contents.

Example:
    >>> task, why = infer_task(df["species"])
    >>> task, why
    ('multiclass', "'species' holds 3 distinct text values, so each is a class.")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepwise.errors import DataError

MAX_INTEGER_CLASSES = 10
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|index|idx|key|row)$|^unnamed: ?\d+$", re.IGNORECASE)


@dataclass
class ColumnChoice:
    """Why a column is (or is not) an input."""

    name: str
    kind: str  # "numeric" | "categorical"
    used: bool
    reason: str


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def infer_task(y: pd.Series) -> tuple[str, str]:
    """Return ``(task, reason)`` for a target column: binary, multiclass or regression."""
    name = y.name
    values = y.dropna()
    n_unique = values.nunique()
    if len(values) == 0:
        raise DataError(
            f"The target column '{name}' is empty: every value is missing.",
            expected="a target column with a value in most rows",
            fix="choose another --target, or fill in the column.",
        )
    if n_unique < 2:
        raise DataError(
            f"The target column '{name}' has a single value ({values.iloc[0]!r}) in all {len(values)} labelled "
            "rows, so there is nothing to predict.",
            expected="at least two classes, or varying numbers for regression",
            fix="choose another --target, or add rows of the other class(es).",
        )
    if not is_numeric(values):
        if n_unique == 2:
            return "binary", f"'{name}' holds 2 distinct values, so this is binary classification."
        return "multiclass", f"'{name}' holds {n_unique} distinct text values, so each is a class."
    integral = bool(np.all(np.equal(np.mod(values.to_numpy(dtype=float), 1), 0)))
    if integral and n_unique == 2:
        return "binary", f"'{name}' holds only 2 distinct numbers ({_few(values)}), so they are treated as classes."
    if integral and n_unique <= MAX_INTEGER_CLASSES:
        return "multiclass", (
            f"'{name}' holds only {n_unique} distinct whole numbers ({_few(values)}), so each is treated as a "
            "class; set problem.task: regression if they are amounts to be predicted as numbers."
        )
    return "regression", (f"'{name}' holds {n_unique} distinct numbers, so this is regression (predicting a number).")


def _few(values: pd.Series, k: int = 5) -> str:
    uniq = sorted(values.unique().tolist())
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in uniq[:k])
    return shown + (", ..." if len(uniq) > k else "")


def choose_inputs(
    df: pd.DataFrame,
    target: str,
    exclude: list[str] | tuple[str, ...] = (),
    categorical: list[str] | None = None,
) -> list[ColumnChoice]:
    """Decide, for every column but the target, whether it is an input and of which kind, with a reason."""
    choices: list[ColumnChoice] = []
    n = len(df)
    for name in df.columns:
        if name == target:
            continue
        col = df[name]
        forced_categorical = categorical is not None and name in categorical
        kind = "categorical" if forced_categorical or not is_numeric(col) else "numeric"
        if kind == "numeric" and categorical is None and pd.api.types.is_bool_dtype(col):
            kind = "categorical"
        n_unique = col.nunique(dropna=True)
        if name in exclude:
            choices.append(ColumnChoice(name, kind, False, "excluded in the config"))
        elif col.isna().all():
            choices.append(ColumnChoice(name, kind, False, "every value is missing"))
        elif n_unique <= 1:
            choices.append(ColumnChoice(name, kind, False, f"constant (always {col.dropna().iloc[0]!r})"))
        elif _looks_like_id(col, n_unique, n):
            choices.append(ColumnChoice(name, kind, False, "looks like a row identifier (unique per row)"))
        elif kind == "categorical" and n >= 20 and n_unique > 0.5 * n:
            choices.append(
                ColumnChoice(
                    name, kind, False, f"text with {n_unique} distinct values in {n} rows (free text or an ID)"
                )
            )
        else:
            choices.append(ColumnChoice(name, kind, True, kind))
    return choices


def _looks_like_id(col: pd.Series, n_unique: int, n: int) -> bool:
    if n < 10 or n_unique < n or col.isna().any():
        return False
    if _ID_NAME.search(str(col.name)):
        return True
    if not is_numeric(col):
        return True  # every row has its own text value: a name or a key
    if pd.api.types.is_integer_dtype(col):
        return bool(col.is_monotonic_increasing or col.is_monotonic_decreasing)
    return False


def check_numeric_junk(df: pd.DataFrame, columns: list[str]) -> None:
    """Raise if a column that is mostly numbers holds a few non-numeric strings (e.g. 'n/a?', '12,5')."""
    for name in columns:
        col = df[name]
        if is_numeric(col):
            continue
        present = col.dropna()
        if len(present) == 0:
            continue
        as_text = present.astype(str).str.strip()
        parsed = pd.to_numeric(as_text, errors="coerce")
        bad = parsed.isna()
        if bad.any() and (~bad).mean() >= 0.8:
            examples = ", ".join(
                f"row {i + 2}: {v!r}" for i, v in zip(present.index[bad][:5], as_text[bad][:5], strict=False)
            )
            junk = sorted(set(as_text[bad]))[:5]
            raise DataError(
                f"Column '{name}' holds numbers, except for {int(bad.sum())} value(s) that are not numbers "
                f"({examples}; line numbers count the header as line 1).",
                expected=f"only numbers (or empty cells for missing values) in '{name}'",
                fix=(
                    f"correct those cells, or list the placeholders as missing with data.na_values: {junk} "
                    f"in the config, or declare the column categorical with data.categorical: ['{name}']."
                ),
            )


def _rows(index: pd.Index, k: int = 5) -> str:
    """Line numbers of the first rows (the header is line 1)."""
    shown = ", ".join(str(i + 2) if isinstance(i, (int, np.integer)) else repr(i) for i in index[:k])
    return shown + (", ..." if len(index) > k else "")


def check_target_values(df: pd.DataFrame, target: str) -> None:
    """Infinite target values (a division by zero upstream, usually) are an error, not a number to learn."""
    col = df[target]
    if not is_numeric(col):
        return
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(
            f"The target '{target}' holds {int(infinite.sum())} infinite value(s) (inf or -inf), on line(s) "
            f"{_rows(df.index[infinite])} (the header is line 1).",
            expected="finite numbers in the target (an empty cell for a row without a value)",
            fix="correct those cells, or empty them (rows without a target value are left out); infinite values "
            "usually come from a division by zero where the data was computed.",
        )


def check_mixed_target(df: pd.DataFrame, target: str) -> None:
    """A target that is numbers except for a few text cells: neither classes nor a number to regress on."""
    col = df[target]
    if is_numeric(col) or pd.api.types.is_bool_dtype(col):
        return
    present = col.dropna()
    if len(present) == 0:
        return
    as_text = present.astype(str).str.strip()
    parsed = pd.to_numeric(as_text, errors="coerce")
    text = parsed.isna().to_numpy()
    if text.any() and (~text).mean() >= 0.8 and parsed.nunique() > 2:
        examples = ", ".join(
            f"line {i + 2}: {v!r}" for i, v in list(zip(present.index[text], as_text[text], strict=True))[:5]
        )
        junk = sorted(set(as_text[text]))[:5]
        raise DataError(
            f"The target '{target}' mixes numbers and text: {int((~text).sum())} of {len(present)} values are "
            f"numbers but {int(text.sum())} are not ({examples}).",
            expected=f"one kind of value in '{target}': numbers (regression) or labels (classification)",
            fix=f"correct those cells, or empty them (rows without a target are left out), or list the "
            f"placeholders as missing with data.na_values: {junk}; if the values are really class labels, set "
            "problem.task: multiclass.",
        )
