"""The time axis of a series: YYYYMMDD integers read as dates (by arithmetic, checked against pandas' parser),
anything else that is a number kept as an ordered index, and rows put in order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepwise.data.series import order_by_time, parse_time
from deepwise.errors import DataError


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint32", "Int64"])
def test_yyyymmdd_integers_are_the_dates_pandas_parses(dtype):
    days = pd.date_range("1899-12-25", "2031-03-05", freq="D")  # leap years, 1900 (not leap), 2000 (leap)
    col = pd.Series(days.strftime("%Y%m%d").astype(int), name="DATE", index=np.arange(len(days)) + 7).astype(dtype)
    parsed = parse_time(col)
    expected = pd.to_datetime(col.astype("int64").astype(str), format="%Y%m%d")
    pd.testing.assert_series_equal(parsed, expected)


@pytest.mark.parametrize("bad", [20010230, 20011301, 19000229, 20240631])
def test_a_non_date_makes_the_column_a_plain_number_index(bad):
    col = pd.Series([20010101, 20010102, bad], name="t")
    parsed = parse_time(col)
    assert parsed.dtype == np.float64 and parsed.tolist() == [20010101.0, 20010102.0, float(bad)]


def test_missing_yyyymmdd_value_is_not_read_as_dates():
    col = pd.Series([20010101, None, 20010103], dtype="Int64", name="t")
    assert parse_time(col).dtype == np.float64


def test_rows_in_order_stay_and_rows_out_of_order_are_sorted():
    df = pd.DataFrame({"t": [20010103, 20010101, 20010102], "x": [3, 1, 2]})
    rows, time, notes = order_by_time(df, "t")
    assert rows["x"].tolist() == [1, 2, 3] and time.is_monotonic_increasing and notes
    rows, time, notes = order_by_time(rows, "t")
    assert rows["x"].tolist() == [1, 2, 3] and not notes


def test_duplicated_timestamps_are_refused_in_order_or_not():
    for values in ([20010101, 20010101, 20010102], [20010102, 20010101, 20010102]):
        with pytest.raises(DataError, match="duplicated timestamp"):
            order_by_time(pd.DataFrame({"t": values, "x": [1, 2, 3]}), "t")
