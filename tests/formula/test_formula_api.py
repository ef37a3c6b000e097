"""The formula finder's contract: JSON results, a formula that recomputes on new rows, determinism, errors that say
what to do, odd inputs that never crash, the simplicity order, and the cost on a 100,000 x 50 table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepwise.errors import ConfigError, DataError
from deepwise.formula import evaluate_formula, find_formula
from deepwise.formula.numbers import (
    SIMPLE_EXPONENTS,
    format_number,
    nearest_simple,
    shortest_rounding,
    simplest_in_interval,
)


def table(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(1, 10, rows) for name in "abcd"})
    frame["z"] = rng.normal(size=rows)
    frame["y"] = frame[["a", "b", "c"]].max(axis=1)
    return frame


def test_result_is_json_and_the_formula_recomputes_on_new_rows() -> None:
    result = find_formula(table(), "y", "regression")
    assert result.found and result.formula == "y = max(a, b, c)"
    saved = json.loads(json.dumps(result.to_dict()))
    new_rows = table(rows=50, seed=7)
    np.testing.assert_allclose(evaluate_formula(saved["spec"], new_rows), new_rows["y"].to_numpy())
    np.testing.assert_allclose(result.predict(new_rows), new_rows["y"].to_numpy())
    finding = result.as_finding()
    assert finding["code"] == "formula" and finding["severity"] == "warning" and finding["columns"] == ["a", "b", "c"]
    json.dumps(finding)


def test_a_rule_recomputes_class_labels() -> None:
    frame = table()
    frame["label"] = np.where(frame["a"] > frame["b"], "up", "down")
    result = find_formula(frame.drop(columns="y"), "label")
    assert result.task == "binary" and result.formula == "label = 'up' if (a > b) else 'down'"
    spec = json.loads(json.dumps(result.spec))
    assert list(evaluate_formula(spec, frame.head(20))) == list(frame["label"].head(20))


def test_same_seed_same_result() -> None:
    frame = table()
    frame["y"] = frame["a"] * frame["b"] + np.random.default_rng(3).normal(0, 0.5, len(frame))
    first, second = (find_formula(frame, "y", "regression", seed=4).to_dict() for _ in range(2))
    first.pop("seconds"), second.pop("seconds")
    assert first == second


def test_errors_say_what_was_received_expected_and_how_to_fix() -> None:
    frame = table()
    with pytest.raises(DataError) as missing:
        find_formula(frame, "total")
    assert "'total'" in str(missing.value) and missing.value.expected and missing.value.fix
    with pytest.raises(ConfigError) as task:
        find_formula(frame, "y", "classify")
    assert "'classify'" in str(task.value) and task.value.fix
    with pytest.raises(DataError):
        find_formula(frame, "y", inputs=["a", "nope"])
    with pytest.raises(DataError):
        find_formula(frame.to_numpy(), "y")
    not_found = find_formula(frame.assign(y=np.random.default_rng(0).normal(size=len(frame))), "y", "regression")
    with pytest.raises(DataError) as nothing:
        not_found.predict(frame)
    assert "near_miss" in nothing.value.fix
    with pytest.raises(DataError):
        evaluate_formula({"kind": "linear", "columns": ["q"], "coefficients": [1.0], "intercept": 0.0}, frame)


def test_odd_inputs_never_crash() -> None:
    frame = table()
    frame["text"] = "word"
    frame["when"] = pd.date_range("2000-01-01", periods=len(frame))
    frame["empty"] = np.nan
    frame["infinite"] = np.inf
    frame["constant"] = 3.0
    frame.loc[::7, "d"] = np.nan
    result = find_formula(frame, "y", "regression")
    assert result.found and result.formula == "y = max(a, b, c)"
    assert {"text", "when", "empty", "infinite", "constant"} <= set(result.skipped_columns)
    assert "constant" in find_formula(frame.assign(k=1.0), "k", "regression").message
    assert "usable rows" in find_formula(frame.head(9), "y", "regression").message
    assert "not numeric" in find_formula(frame, "text", "regression").message
    assert "single class" in find_formula(frame.assign(one="x"), "one", "binary").message
    assert "no numeric input" in find_formula(frame[["text", "y"]], "y", "regression").message
    assert not find_formula(frame.assign(y=np.nan), "y", "regression").found


def test_inputs_restrict_the_search_and_max_rows_bounds_it() -> None:
    frame = table()
    assert not find_formula(frame, "y", "regression", inputs=["a", "b", "z"]).found
    bounded = find_formula(frame, "y", "regression", max_rows=400)
    assert bounded.rows_searched + bounded.rows_held_out == 400 and bounded.found


def test_a_small_term_is_not_dropped_for_simplicity() -> None:
    """``big`` alone explains ``big + small`` to R² 0.9999, but the sum is exact: the sum is reported."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"big": rng.uniform(0, 1000, 2000), "small": rng.uniform(0, 10, 2000)})
    frame["y"] = frame["big"] + frame["small"]
    result = find_formula(frame, "y", "regression")
    assert result.formula == "y = big + small"
    assert any(alt["columns"] == ["big"] for alt in result.alternatives)


def test_single_column_relation_is_a_known_equation_or_a_leak() -> None:
    frame = pd.DataFrame({"height": np.linspace(1, 100, 500)})
    frame["fall_time"] = np.sqrt(2 * frame["height"] / 9.81)
    result = find_formula(frame, "fall_time", "regression")
    assert result.formula == "fall_time = 0.4515 * height^0.5" and result.single_column
    assert "known equation or a leak" in result.message


def test_cost_on_100k_rows_by_50_columns() -> None:
    """Bounded search: the bench (bench/formula.py) holds it to 2 s; here 2x slack for a shared machine."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(0.5, 10, size=(100_000, 50)), columns=[f"x{i:02d}" for i in range(50)])
    frame["y"] = frame[["x03", "x07", "x11"]].median(axis=1)
    result = find_formula(frame, "y", "regression")
    assert result.formula == "y = median(x03, x07, x11)"
    assert result.seconds < 4.0


def test_numbers_are_snapped_and_rounded_sensibly() -> None:
    assert nearest_simple(0.4987, SIMPLE_EXPONENTS) == 0.5
    assert nearest_simple(0.41, SIMPLE_EXPONENTS) is None
    assert shortest_rounding(0.451524, lambda v: ((v - 0.451524) / 0.451524) ** 2, 0.0) == 0.4515
    assert simplest_in_interval(-0.3, 0.2) == 0.0
    assert simplest_in_interval(2.4831, 2.5172) == 2.5
    assert simplest_in_interval(1234.2, 1290.0) == 1250.0
    assert [format_number(v) for v in (2.0, -0.25, 1 / 3, 0.4515)] == ["2", "-0.25", "1/3", "0.4515"]
