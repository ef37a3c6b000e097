"""What a table's columns are, for generating look-alike rows: numeric or categorical, their ranges, categories,
rounding and missing values; and one numeric encoding of rows shared by the generators and the quality checks.

- text, boolean and category columns are categorical; so are whole-number columns with at most
  :data:`LOW_CARDINALITY` distinct values (a year, a count of children): generated as one of the seen values;
- other numbers are numeric, generated within the seen range and rounded to the data's own decimals;
- ID-like columns (text with a distinct value on most rows) are left out: a generator would only invent IDs.

The schema is plain JSON (:meth:`TableSchema.to_json`). :func:`encode_rows` turns rows into a float matrix:
numeric columns standardised (a missing value as 0 plus a "missing" indicator column), categorical columns one-hot
(with a "missing" slot; an unseen value is all zeros).

Example:
    >>> schema = infer_schema(pd.read_csv("penguins.csv"))
    >>> [c.kind for c in schema.columns][:3], schema.left_out
    (['categorical', 'categorical', 'numeric'], [])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError

LOW_CARDINALITY = 10
ID_SHARE = 0.9  # text columns with more distinct values than this share of rows are ID-like
MAX_DECIMALS = 6


@dataclass
class ColumnSpec:
    """One column: ``kind`` numeric or categorical, and what generating it needs."""

    name: str
    kind: str
    missing_share: float = 0.0
    decimals: int = MAX_DECIMALS
    minimum: float = 0.0
    maximum: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    categories: list[Any] = field(default_factory=list)
    value_type: str = "str"


@dataclass
class TableSchema:
    """Every generated column in order, and the columns left out (with the reason)."""

    columns: list[ColumnSpec]
    left_out: list[dict[str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "left_out": self.left_out}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableSchema:
        return cls([ColumnSpec(**c) for c in data["columns"]], list(data.get("left_out", [])))


def _decimals(values: np.ndarray) -> int:
    for places in range(MAX_DECIMALS + 1):
        if np.allclose(values, np.round(values, places), rtol=0, atol=1e-9 * max(1.0, np.abs(values).max())):
            return places
    return MAX_DECIMALS


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def infer_schema(frame: pd.DataFrame, low_cardinality: int = LOW_CARDINALITY) -> TableSchema:
    """Decide each column's kind and record what generating it needs (see the module docstring).

    Example:
        >>> infer_schema(pd.DataFrame({"x": [1.5, 2.25], "c": ["a", "b"]})).column("x").decimals
        2
    """
    if len(frame) < 2 or frame.shape[1] == 0:
        raise DataError(
            f"The table has {len(frame)} rows and {frame.shape[1]} columns: too little to learn from.",
            expected="a table with columns and at least a few dozen rows",
            fix="check the file and its delimiter.",
        )
    columns, left_out = [], []
    for name in frame.columns:
        series = frame[name]
        present = series.dropna()
        missing = float(series.isna().mean())
        if present.empty:
            left_out.append({"column": str(name), "reason": "every value is missing"})
            continue
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric:
            values = present.to_numpy(dtype=np.float64)
            whole = bool(np.all(values == np.round(values)))
            distinct = np.unique(values)
            if not (whole and len(distinct) <= low_cardinality):
                columns.append(
                    ColumnSpec(
                        name=str(name), kind="numeric", missing_share=missing, decimals=_decimals(values),
                        minimum=float(values.min()), maximum=float(values.max()), mean=float(values.mean()),
                        std=float(values.std()) or 1.0,
                    )
                )
                continue
            categories = [int(v) if whole else float(v) for v in distinct]
            counts = present.value_counts()
            categories.sort(key=lambda v: -int(counts.get(v, 0)))
            columns.append(
                ColumnSpec(name=str(name), kind="categorical", missing_share=missing, categories=categories,
                           value_type="int" if whole else "float")
            )
            continue
        counts = present.astype(str).value_counts() if not pd.api.types.is_bool_dtype(series) else None
        if counts is not None and len(counts) > ID_SHARE * len(present) and len(counts) > low_cardinality:
            reason = f"ID-like: {len(counts)} distinct values in {len(present)} rows"
            left_out.append({"column": str(name), "reason": reason})
            continue
        if pd.api.types.is_bool_dtype(series):
            categories, value_type = [bool(v) for v in present.value_counts().index], "bool"
        else:
            categories, value_type = [str(v) for v in counts.index], "str"
        columns.append(ColumnSpec(name=str(name), kind="categorical", missing_share=missing,
                                  categories=[_plain(v) for v in categories], value_type=value_type))
    if not columns:
        reasons = "; ".join(f"{d['column']}: {d['reason']}" for d in left_out)
        raise DataError(
            f"No column of the table can be generated ({reasons}).",
            expected="numeric or categorical columns with values",
            fix="pass a table with measured values, not only IDs or empty columns.",
        )
    return TableSchema(columns, left_out)


def category_codes(series: pd.Series, spec: ColumnSpec) -> np.ndarray:
    """Index of each value in ``spec.categories``; -1 for missing, -2 for an unseen value."""
    lookup = {str(v): i for i, v in enumerate(spec.categories)}
    codes = np.full(len(series), -2, dtype=np.int64)
    values = series.to_numpy(dtype=object)
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            codes[row] = -1
        else:
            whole_number = spec.value_type == "int" and isinstance(value, (int, float, np.number))
            codes[row] = lookup.get(str(int(value)) if whole_number else str(value), -2)
    return codes


def encoded_width(spec: ColumnSpec) -> int:
    """Columns one table column takes in :func:`encode_rows`."""
    if spec.kind == "numeric":
        return 1 + (spec.missing_share > 0)
    return len(spec.categories) + (spec.missing_share > 0)


def encode_rows(frame: pd.DataFrame, schema: TableSchema, exclude: tuple[str, ...] = ()) -> np.ndarray:
    """Rows as a float matrix (see the module docstring); ``exclude``: columns to leave out (e.g. the target).

    Example:
        >>> encode_rows(penguins, infer_schema(penguins)).shape
        (344, 20)
    """
    missing_columns = [c.name for c in schema.columns if c.name not in frame.columns and c.name not in exclude]
    if missing_columns:
        raise DataError(
            f"The table lacks the columns {missing_columns}.",
            expected="every column the generator was fitted on: " + ", ".join(schema.names),
            fix="add those columns (empty values are allowed).",
        )
    parts = []
    for spec in schema.columns:
        if spec.name in exclude:
            continue
        series = frame[spec.name]
        if spec.kind == "numeric":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            parts.append(np.where(missing, 0.0, (values - spec.mean) / spec.std)[:, None])
            if spec.missing_share > 0:
                parts.append(missing[:, None].astype(np.float64))
        else:
            codes = category_codes(series, spec)
            width = encoded_width(spec)
            block = np.zeros((len(series), width))
            known = codes >= 0
            block[np.flatnonzero(known), codes[known]] = 1.0
            if spec.missing_share > 0:
                block[codes == -1, width - 1] = 1.0
            parts.append(block)
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))


def typed_categories(spec: ColumnSpec, codes: np.ndarray) -> pd.Series:
    """Category codes (-1: missing) back to the column's values and type."""
    values = np.array(spec.categories + [None], dtype=object)[np.where(codes < 0, len(spec.categories), codes)]
    series = pd.Series(values, name=spec.name)
    if spec.value_type == "int":
        return series.astype("Int64")
    if spec.value_type == "float":
        return series.astype("Float64")
    if spec.value_type == "bool":
        return series.astype("boolean")
    return series.astype("object")


def finish_numeric(spec: ColumnSpec, values: np.ndarray) -> pd.Series:
    """Generated numbers clipped to the seen range and rounded to the data's decimals (NaN stays missing)."""
    out = np.round(np.clip(values, spec.minimum, spec.maximum), spec.decimals)
    return pd.Series(out, name=spec.name, dtype=np.float64)
