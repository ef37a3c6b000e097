"""A formula as JSON (a *spec*), how to compute it on new rows and how to print it.

Kinds of spec (column names, never positions, so a spec saved in a run works on any table with those columns):

- ``{"kind": "linear", "columns": [...], "coefficients": [...], "intercept": b}``
- ``{"kind": "aggregate", "function": "median", "columns": [...], "scale": a, "offset": b}``
- ``{"kind": "power_law", "columns": [...], "exponents": [...], "scale": c, "offset": b}``
- ``{"kind": "unary", "function": "log", "columns": [x], "scale": a, "offset": b}`` (optional ``"shift": s``:
  ``log(x + s)``)
- ``{"kind": "rule", "classes": [...], "tree": node}`` where a node is ``{"class_index": i}`` or
  ``{"feature": {"op": "column" | "difference" | "ratio", "columns": [...]}, "threshold": t, "left": node,
  "right": node}`` (rows with feature <= threshold go left).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from deepwise.formula.numbers import format_number

ColumnGetter = Callable[[str], np.ndarray]

AGGREGATES = (
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "range",
    "std",
    "std0",
    "count_nonmissing",
    "count_positive",
)
UNARY = {
    "log": np.log,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "square": np.square,
    "cube": lambda x: np.power(x, 3),
    "reciprocal": np.reciprocal,
}


def aggregate(function: str, block: np.ndarray) -> np.ndarray:
    """A row-wise aggregate of a (rows, columns) block; missing values are skipped (as pandas does), a row with
    none present gives NaN (0 for the sum and the counts, as pandas' ``sum(axis=1)``).

    Example:
        >>> aggregate("range", np.array([[1.0, 4.0, 2.0]]))
        array([3.])
    """
    if function not in AGGREGATES:
        raise ValueError(f"unknown aggregate {function!r}: expected one of {', '.join(AGGREGATES)}")
    if function == "count_nonmissing":
        return np.sum(~np.isnan(block), axis=1).astype(np.float64)
    if function == "count_positive":
        with np.errstate(invalid="ignore"):
            return np.sum(block > 0, axis=1).astype(np.float64)
    missing = np.isnan(block).any()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if not missing:
            plain = {"sum": np.sum, "mean": np.mean, "median": np.median, "min": np.min, "max": np.max}
            if function in plain:
                return plain[function](block, axis=1)
            if function == "range":
                return block.max(axis=1) - block.min(axis=1)
            return block.std(axis=1, ddof=1 if function == "std" else 0)
        present = (~np.isnan(block)).sum(axis=1)
        if function == "sum":
            out = np.nansum(block, axis=1)
        elif function == "range":
            out = np.nanmax(block, axis=1) - np.nanmin(block, axis=1)
        elif function in ("std", "std0"):
            out = np.nanstd(block, axis=1, ddof=1 if function == "std" else 0)
        else:
            out = getattr(np, f"nan{function}")(block, axis=1)
        return out if function == "sum" else np.where(present > 0, out, np.nan)


def power(x: np.ndarray, exponent: float) -> np.ndarray:
    """``x ** exponent``: whole exponents for any sign, fractional ones for non-negative ``x`` only (NaN else)."""
    with np.errstate(all="ignore"):
        if float(exponent).is_integer():
            out = np.power(x, exponent)
        else:
            out = np.where(x >= 0, np.power(np.abs(x), exponent), np.nan)
        return np.where(np.isfinite(out), out, np.nan)


def rule_feature(feature: dict[str, Any], column: ColumnGetter) -> np.ndarray:
    """The value a rule compares with its threshold: a column, a difference or a ratio of two columns."""
    values = [column(name) for name in feature["columns"]]
    with np.errstate(all="ignore"):
        if feature["op"] == "column":
            return values[0]
        if feature["op"] == "difference":
            return values[0] - values[1]
        out = values[0] / values[1]
        return np.where(np.isfinite(out), out, np.nan)


def rule_class_indices(node: dict[str, Any], column: ColumnGetter, n_rows: int) -> np.ndarray:
    """The class index a rule tree gives every row (-1 where a value it needs is missing)."""
    if "class_index" in node:
        return np.full(n_rows, int(node["class_index"]), dtype=np.int64)
    values = rule_feature(node["feature"], column)
    left = rule_class_indices(node["left"], column, n_rows)
    right = rule_class_indices(node["right"], column, n_rows)
    with np.errstate(invalid="ignore"):
        out = np.where(values <= node["threshold"], left, right)
    return np.where(np.isnan(values), -1, out)


def evaluate_spec(spec: dict[str, Any], column: ColumnGetter, n_rows: int) -> np.ndarray:
    """The formula's value on every row (float; NaN where undefined), or for a rule the class index (-1 where
    undefined). ``column(name)`` returns a float column."""
    kind = spec["kind"]
    if kind == "rule":
        return rule_class_indices(spec["tree"], column, n_rows)
    with np.errstate(all="ignore"):
        if kind == "linear":
            out = np.full(n_rows, float(spec["intercept"]))
            for name, weight in zip(spec["columns"], spec["coefficients"], strict=True):
                out = out + weight * column(name)
        elif kind == "aggregate":
            block = np.column_stack([column(name) for name in spec["columns"]])
            out = spec["scale"] * aggregate(spec["function"], block) + spec["offset"]
        elif kind == "power_law":
            out = np.full(n_rows, float(spec["scale"]))
            for name, exponent in zip(spec["columns"], spec["exponents"], strict=True):
                out = out * power(column(name), exponent)
            out = out + spec.get("offset", 0.0)
        elif kind == "unary":
            argument = column(spec["columns"][0]) + spec.get("shift", 0.0)
            out = spec["scale"] * UNARY[spec["function"]](argument) + spec["offset"]
        else:
            raise ValueError(f"unknown formula kind {kind!r}")
        return np.where(np.isfinite(out), out, np.nan)


# ------------------------------------------------------------------------------------------------------ printing
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def quote(name: str) -> str:
    """A column name as printed in a formula: as is when it is a plain identifier, else in backticks."""
    return name if _IDENTIFIER.match(name) else f"`{name}`"


def _factor(value: float) -> str:
    """A constant as a factor: ``(1/3)`` in parentheses, so ``(1/3) * b`` does not read as ``1 / (3 * b)``."""
    text = format_number(value)
    return f"({text})" if "/" in text else text


def _affine(expression: str, scale: float, offset: float, atomic: bool) -> str:
    text = expression
    if scale == -1:
        text = f"-{expression}" if atomic else f"-({expression})"
    elif scale != 1:
        text = f"{_factor(scale)} * {expression if atomic else f'({expression})'}"
    if offset:
        text += f" {'-' if offset < 0 else '+'} {format_number(abs(offset))}"
    return text


def _power_term(name: str, exponent: float) -> str:
    exponent = abs(exponent)
    if exponent == 1:
        return quote(name)
    text = format_number(exponent)
    return f"{quote(name)}^{f'({text})' if '/' in text else text}"


def format_linear(spec: dict[str, Any]) -> str:
    terms: list[str] = []
    for name, weight in zip(spec["columns"], spec["coefficients"], strict=True):
        magnitude = "" if abs(weight) == 1 else f"{_factor(abs(weight))} * "
        sign = "-" if weight < 0 else "+"
        terms.append(f"{sign} {magnitude}{quote(name)}")
    if spec["intercept"]:
        value = spec["intercept"]
        terms.append(f"{'-' if value < 0 else '+'} {format_number(abs(value))}")
    text = " ".join(terms)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def format_aggregate(spec: dict[str, Any]) -> str:
    names = ", ".join(quote(n) for n in spec["columns"])
    function = spec["function"]
    if function == "sum":
        expression, atomic = " + ".join(quote(n) for n in spec["columns"]), False
    elif function == "range":
        expression, atomic = f"max({names}) - min({names})", False
    elif function == "std0":
        expression, atomic = f"std({names}, ddof=0)", True
    else:
        expression, atomic = f"{function}({names})", True
    return _affine(expression, spec["scale"], spec["offset"], atomic)


def format_power_law(spec: dict[str, Any]) -> str:
    pairs = list(zip(spec["columns"], spec["exponents"], strict=True))
    numerator = [_power_term(n, e) for n, e in pairs if e > 0]
    denominator = [_power_term(n, e) for n, e in pairs if e < 0]
    scale = spec["scale"]
    head = " * ".join(([] if abs(scale) == 1 else [_factor(abs(scale))]) + numerator) or "1"
    if denominator:
        below = denominator[0] if len(denominator) == 1 else f"({' * '.join(denominator)})"
        head = f"{head} / {below}"
    text = f"-{head}" if scale < 0 else head
    offset = spec.get("offset", 0.0)
    if offset:
        text += f" {'-' if offset < 0 else '+'} {format_number(abs(offset))}"
    return text


def format_unary(spec: dict[str, Any]) -> str:
    name = quote(spec["columns"][0])
    if spec.get("shift"):
        name = f"{name} + {format_number(spec['shift'])}"
        if spec["function"] != "log":
            name = f"({name})"
    if spec["function"] == "reciprocal":
        scale = spec["scale"]
        below = name if not spec.get("shift") else f"({name})"
        text = f"{'-' if scale < 0 else ''}{format_number(abs(scale))} / {below}"
        return _affine(text, 1.0, spec["offset"], True)
    powers = {"square": f"{name}^2", "cube": f"{name}^3"}
    expression = powers.get(spec["function"], f"{spec['function']}({name})")
    return _affine(expression, spec["scale"], spec["offset"], True)


def format_expression(spec: dict[str, Any]) -> str:
    """The right-hand side of the formula in plain notation, e.g. ``0.4515 * height^0.5``."""
    kind = spec["kind"]
    if kind == "rule":
        from deepwise.formula.rules import format_rule

        return format_rule(spec)
    formatter = {
        "linear": format_linear,
        "aggregate": format_aggregate,
        "power_law": format_power_law,
        "unary": format_unary,
    }[kind]
    return formatter(spec)


def spec_columns(spec: dict[str, Any]) -> list[str]:
    """The input columns a formula uses, in order of first use."""
    if spec["kind"] != "rule":
        return list(spec["columns"])
    seen: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "feature" in node:
            seen.extend(c for c in node["feature"]["columns"] if c not in seen)
            walk(node["left"])
            walk(node["right"])

    walk(spec["tree"])
    return seen
