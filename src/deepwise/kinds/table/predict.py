"""Step 8 for a table: predictions for new rows (same columns, any order; extras ignored), in memory or a chunk at a
time for files too big for memory, with the out-of-distribution guard's flags.

Example:
    >>> TablePredictor(run).predict(new_rows)[["prediction", "ood"]]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.stream import TableSource, is_streamable, may_be_too_big
from deepwise.data.tables import read_table
from deepwise.errors import DataError
from deepwise.evaluation import score
from deepwise.guard import GuardReport
from deepwise.kinds.base import Predictor
from deepwise.kinds.feeding import model_input
from deepwise.models.inference import predict_rows, smallest_rows


def read_rows(data: Any, na_values: list[str]) -> pd.DataFrame:
    """A DataFrame, or the table file at a path, with at least one row."""
    df = read_table(data, na_values) if isinstance(data, (str, Path)) else data
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"predict() received {type(df).__name__}.",
            expected="a pandas DataFrame or the path of a CSV/TSV/Parquet file",
            fix="pass pd.DataFrame(rows) or a file path.",
        )
    if len(df) == 0:
        raise DataError("There are no rows to predict.", expected="at least one row", fix="check the input.")
    return df


def labelled_rows(data: Any, target: str, na_values: list[str]) -> pd.DataFrame:
    """Rows that carry the target (a labelled table for ``evaluate``)."""
    df = read_table(data, na_values) if isinstance(data, (str, Path)) else data
    if target not in df.columns:
        raise DataError(
            f"The labelled data has no target column '{target}'.",
            expected=f"the inputs and the target column '{target}'",
            fix=f"add '{target}', or use `deepwise predict` for unlabelled rows.",
        )
    return df[df[target].notna()]


class TablePredictor(Predictor):
    """Predictions of a table run: one per row, same order and index as the input."""

    @property
    def rows_preprocessor(self):
        return self.run.preprocessor

    def raw_output(self, df: pd.DataFrame, arrays: dict | None = None) -> np.ndarray:
        """The network's output for every row."""
        arrays = self.run.preprocessor.transform(df) if arrays is None else arrays
        x = model_input(arrays)
        return predict_rows(self.run.model, x, smallest=smallest_rows(x))

    def check(self, df: pd.DataFrame, arrays: dict | None = None, values: np.ndarray | None = None) -> GuardReport:
        """Which rows are unlike the training data, and which columns hold unseen values (None without a guard)."""
        guard = self.run.guard
        return None if guard is None else guard.check(self.rows_preprocessor, df, arrays, values)

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        df = read_rows(data, self.run.config.data.na_values)
        prep = self.run.preprocessor
        values = prep.numeric_values(df)  # once, for the model and the guard
        arrays = prep.transform(df, values)
        result = self.format(self.raw_output(df, arrays), df.index)
        report = self.check(df, arrays, values) if guard else None
        if report is not None:
            result["ood"] = report.ood
            result["ood_score"] = report.score
            result.attrs["guard"] = report.to_dict()
        return result

    def evaluate(self, data: Any) -> dict[str, Any]:
        df = labelled_rows(data, self.run.config.problem.target, self.run.config.data.na_values)
        y = self.run.preprocessor.transform_target(df[self.run.config.problem.target])
        return score(self.run.output, y, self.raw_output(df), self.run.preprocessor.classes_)

    def predict_to_csv(self, data: Any, output: Path, *, chunked: bool | None, guard: bool) -> GuardReport:
        """A table too big for memory (``chunked=None``: decided as for training) is predicted a chunk at a time."""
        small = chunked is None and is_streamable(data) and not may_be_too_big(data)
        if not is_streamable(data) or small:
            return super().predict_to_csv(data, output, chunked=chunked, guard=guard)
        source = TableSource.open(data, self.run.config.data.na_values)
        if not (chunked if chunked is not None else source.too_big_for_memory()):
            return super().predict_to_csv(data, output, chunked=chunked, guard=guard)
        tmp = output.with_name(f".tmp-{os.getpid()}-{output.name}")
        ood, scores, guards = [], [], []
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                first = True
                for chunk in source.chunks():
                    result = self.predict(chunk, guard=guard)
                    result.to_csv(fh, index=False, header=first)
                    first = False
                    if "ood" in result:
                        ood.append(result["ood"].to_numpy())
                        scores.append(result["ood_score"].to_numpy())
                    guards.append(result.attrs.get("guard"))
                if first:
                    raise DataError(
                        "There are no rows to predict.", expected="at least one row", fix="check the input."
                    )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
        if not ood:
            return GuardReport(np.zeros(0, dtype=bool), np.zeros(0))
        return merged_report(np.concatenate(ood), np.concatenate(scores), guards)


def merged_report(ood: np.ndarray, scores: np.ndarray, parts: list[dict | None]) -> GuardReport:
    """One GuardReport from every chunk's flags and guard findings."""
    out_of_range: dict[str, int] = {}
    unseen: dict[str, dict[str, Any]] = {}
    for part in parts:
        for col, n in (part or {}).get("out_of_range", {}).items():
            out_of_range[col] = out_of_range.get(col, 0) + int(n)
        for col, info in (part or {}).get("unseen_categories", {}).items():
            seen = unseen.setdefault(col, {"count": 0, "examples": []})
            seen["count"] += int(info["count"])
            seen["examples"] = (seen["examples"] + [e for e in info["examples"] if e not in seen["examples"]])[:5]
    return GuardReport(ood, scores, out_of_range, unseen)
