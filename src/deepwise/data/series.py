"""Time series: the time column (dates or an ordered index), its order, gaps, duplicates and seasonality.

Example:
    >>> frame, time, notes = order_by_time(df, "DATE")      # sorted, duplicates refused
    >>> regular_gaps(time)["missing_steps"]
    0
    >>> season_length(time, y_train)
    365
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError

_DATE_NAME = re.compile(r"date|time|day|timestamp|datetime|^year$|^period$", re.IGNORECASE)


def parse_time(col: pd.Series) -> pd.Series:
    """Dates as datetime64, or an ordered numeric index as floats. YYYYMMDD integers are read as dates."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    if pd.api.types.is_numeric_dtype(col):
        values = col.dropna().to_numpy()
        if (
            len(values)
            and pd.api.types.is_integer_dtype(col)
            and ((values >= 1000_01_01) & (values <= 2999_12_31)).all()
            and ((values % 100 >= 1) & (values % 100 <= 31)).all()
        ):
            dates = _yyyymmdd(values) if len(values) == len(col) else None
            if dates is not None:
                return pd.Series(dates, index=col.index, name=col.name)
        return col.astype(float)
    parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = parsed.isna() & col.notna()
    if bad.any():
        raise DataError(
            f"The time column '{col.name}' holds values that are not dates: "
            f"{', '.join(map(repr, col[bad].astype(str).head(5)))}.",
            expected="dates (e.g. 2024-01-31) or an ordered number in every row",
            fix="correct those cells, or choose another data.time_column.",
        )
    return parsed


def _yyyymmdd(values: np.ndarray) -> np.ndarray | None:
    """YYYYMMDD integers as datetime64[us] by arithmetic (15x faster than parsing their text), or None if any is
    not a calendar date (a month 13, a 30 February)."""
    values = values.astype(np.int64)  # unsigned years before 1970 would wrap around below
    year, month, day = values // 10000, values // 100 % 100, values % 100
    if not ((month >= 1) & (month <= 12)).all():
        return None
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (day - 1)
    if not (dates.astype("datetime64[M]") == months).all():  # the day ran over into the next month
        return None
    return dates.astype("datetime64[us]")


def looks_like_time(col: pd.Series) -> bool:
    """Is this column a plausible time axis (for `init` to propose forecasting)?"""
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if not _DATE_NAME.search(str(col.name)):
        return False
    try:
        parsed = parse_time(col)
    except DataError:
        return False
    return pd.api.types.is_datetime64_any_dtype(parsed) or bool(parsed.is_monotonic_increasing)


def order_by_time(df: pd.DataFrame, time_column: str | None) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Sort rows by time (with a note if they were not sorted); duplicated timestamps are an error."""
    notes: list[str] = []
    if time_column is None:
        return df.reset_index(drop=True), pd.Series(np.arange(len(df)), name="row"), notes
    if time_column not in df.columns:
        raise DataError(
            f"The time column '{time_column}' is not in the data.",
            expected="one of the columns: " + ", ".join(map(str, df.columns[:30])),
            fix="correct data.time_column, or set it to null to use the row order.",
        )
    time = parse_time(df[time_column])
    if time.isna().any():
        raise DataError(
            f"The time column '{time_column}' is empty in {int(time.isna().sum())} row(s).",
            expected="a time value in every row",
            fix="fill in or drop those rows.",
        )
    values = time.to_numpy()
    if len(values) < 2 or (values[1:] > values[:-1]).all():  # strictly increasing: in order, no duplicates
        return df.reset_index(drop=True), time.reset_index(drop=True), notes
    duplicated = time.duplicated(keep=False)
    if duplicated.any():
        examples = ", ".join(time[duplicated].drop_duplicates().head(5).astype(str))
        raise DataError(
            f"The time column '{time_column}' has {int(time.duplicated().sum())} duplicated timestamp(s), e.g. "
            f"{examples}; a series needs one row per time step.",
            expected="each timestamp once",
            fix="aggregate the rows of each timestamp (e.g. df.groupby(time).mean()), or drop the duplicates.",
        )
    if not time.is_monotonic_increasing:
        notes.append(f"The rows were not in time order; they were sorted by '{time_column}'.")
        order = np.argsort(time.to_numpy(), kind="stable")
        df, time = df.iloc[order], time.iloc[order]
    return df.reset_index(drop=True), time.reset_index(drop=True), notes


def step_size(time: pd.Series) -> Any:
    """The typical step between rows (a Timedelta for dates, a number for an index)."""
    diffs = time.diff().dropna()
    return diffs.median() if len(diffs) else None


def regular_gaps(time: pd.Series) -> dict[str, Any]:
    """Missing time steps: where the step between rows is larger than the typical one."""
    step = step_size(time)
    if step is None or (not isinstance(step, pd.Timedelta) and step == 0):
        return {"step": None, "gaps": 0, "missing_steps": 0, "examples": []}
    diffs = time.diff()
    ratio = (diffs / step).to_numpy(dtype=float)
    big = np.nan_to_num(ratio) > 1.5
    missing = int(np.round(ratio[big]).sum() - big.sum()) if big.any() else 0
    examples = [f"{time.iloc[i - 1]} -> {time.iloc[i]}" for i in np.flatnonzero(big)[:5]]
    return {"step": str(step), "gaps": int(big.sum()), "missing_steps": missing, "examples": examples}


def season_length(time: pd.Series, y_train: np.ndarray, max_lag: int | None = None) -> int | None:
    """Steps per season: from the calendar for dates (a year of daily/weekly/monthly data), else the first
    clear autocorrelation peak of the training target."""
    step = step_size(time)
    n = len(y_train)
    if isinstance(step, pd.Timedelta):
        days = step / pd.Timedelta(days=1)
        for period_days, label in ((1, 365), (7, 52), (30.4, 12), (1 / 24, 24)):
            if abs(days - period_days) / period_days < 0.2 and n > 2 * label:
                return label
    y = np.asarray(y_train, dtype=float)
    y = y[np.isfinite(y)]
    if len(y) < 8:
        return None
    y = y - y.mean()
    denom = float((y * y).sum()) or 1.0
    max_lag = max_lag or min(len(y) // 2, 400)
    acf = np.array([float((y[:-lag] * y[lag:]).sum()) / denom for lag in range(1, max_lag)])
    below = np.flatnonzero(acf < 0)
    if not len(below):
        return None
    start = below[0]
    peak = start + int(np.argmax(acf[start:]))
    return peak + 1 if acf[peak] > 0.2 else None
