"""The rows a search sees and the formulas it proposes (candidates), with the simplicity order between them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepwise.formula.numbers import SIMPLE_EXPONENTS, unexplained
from deepwise.formula.spec import ColumnGetter, evaluate_spec, format_expression, spec_columns

#: Tie-break between families of equal size: the one a person would write first.
FAMILY_ORDER = {"aggregate": 0, "linear": 1, "power_law": 2, "unary": 3, "rule": 4}


@dataclass
class SearchData:
    """Numeric input columns (float64, NaN = missing) on the search rows and on the held-out rows.

    ``y_fit``/``y_held`` are floats for regression and class indices (int64) for classification.
    """

    names: list[str]
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray
    seed: int = 0
    deadline: float = math.inf
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {name: i for i, name in enumerate(self.names)}

    def getter(self, held_out: bool) -> ColumnGetter:
        matrix = self.x_held if held_out else self.x_fit
        return lambda name: matrix[:, self.index[name]]

    def out_of_time(self) -> bool:
        return time.perf_counter() > self.deadline


def count_constants(spec: dict[str, Any]) -> int:
    """Fitted numbers a formula prints (a weight of 1, an offset of 0, a simple exponent or a threshold of 0 -- or
    of 1 for a ratio -- are structure, not constants)."""
    kind = spec["kind"]
    if kind == "linear":
        return sum(abs(w) != 1 for w in spec["coefficients"]) + (spec["intercept"] != 0)
    if kind in ("aggregate", "unary"):
        return (abs(spec["scale"]) != 1) + (spec["offset"] != 0)
    if kind == "power_law":
        odd_exponents = sum(not np.any(np.isclose(SIMPLE_EXPONENTS, e, rtol=0, atol=1e-12)) for e in spec["exponents"])
        return (abs(spec["scale"]) != 1) + (spec.get("offset", 0.0) != 0) + odd_exponents
    count = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal count
        if "feature" in node:
            neutral = 1.0 if node["feature"]["op"] == "ratio" else 0.0
            count += node["threshold"] != neutral
            walk(node["left"])
            walk(node["right"])

    walk(spec["tree"])
    return count


@dataclass
class Candidate:
    """A proposed formula, its fit on the search rows and, once scored, on the held-out rows."""

    spec: dict[str, Any]
    fit_unexplained: float = math.nan
    score: float = math.nan  # held-out R² (regression) or accuracy (rules)
    coverage: float = math.nan  # share of held-out rows where the formula is defined
    n_scored: int = 0

    @property
    def columns(self) -> list[str]:
        return spec_columns(self.spec)

    @property
    def constants(self) -> int:
        return count_constants(self.spec)

    @property
    def expression(self) -> str:
        return format_expression(self.spec)

    def simplicity(self) -> tuple[int, int, int, float]:
        """Sort key: fewer columns, then fewer constants, then the family a person writes first, then the score."""
        return (len(self.columns), self.constants, FAMILY_ORDER[self.spec["kind"]], -np.nan_to_num(self.score))

    def score_on(self, data: SearchData) -> Candidate:
        """Fill in the held-out score of this candidate (R² for numbers, accuracy for class indices)."""
        n = len(data.y_held)
        prediction = evaluate_spec(self.spec, data.getter(held_out=True), n)
        if self.spec["kind"] == "rule":
            defined = prediction >= 0
            self.n_scored = int(defined.sum())
            self.score = float(np.mean(prediction[defined] == data.y_held[defined])) if self.n_scored else math.nan
        else:
            defined = np.isfinite(prediction)
            self.n_scored = int(defined.sum())
            self.score = 1.0 - unexplained(data.y_held, prediction)
        self.coverage = self.n_scored / max(n, 1)
        return self

    def describe(self, target: str) -> dict[str, Any]:
        """JSON-able summary: the formula, its kind, columns, constants and held-out score."""
        return {
            "formula": f"{target} = {self.expression}",
            "kind": self.spec["kind"],
            "columns": self.columns,
            "constants": self.constants,
            "held_out_score": None if math.isnan(self.score) else float(self.score),
            "held_out_rows": self.n_scored,
            "coverage": None if math.isnan(self.coverage) else float(self.coverage),
            "spec": self.spec,
        }
