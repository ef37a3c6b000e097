"""Permutation feature importance on the test split: how much the test metric drops when one input is shuffled.

Example:
    >>> permutation_importance(lambda f: model.predict(prep.transform(f)), test_df, y_test, ["a", "b"], "binary")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.evaluation.metrics import row_metric

IMPORTANCE_MAX_COLUMNS = 200  # above this, importance would take columns x repeats model calls: skipped, and said
IMPORTANCE_REPEATS = 5  # shuffles of each column
IMPORTANCE_MAX_ROWS = 2000  # test rows measured (a sample of them on larger tests)
IMPORTANCE_CELLS_PER_CALL = 5_000_000  # shuffled copies go through the model in calls of at most this many cells


def permutation_importance(
    predict_output: Any,
    frame: Any,
    y: np.ndarray,
    columns: list[str],
    task: str,
    n_repeats: int = IMPORTANCE_REPEATS,
    seed: int = 0,
    max_rows: int = IMPORTANCE_MAX_ROWS,
    max_columns: int = IMPORTANCE_MAX_COLUMNS,
) -> dict[str, Any]:
    """Drop in the test metric when one raw input column is shuffled (all its encoded features move together).

    ``predict_output(frame) -> model output``. Shuffled copies go through the model a few at a time, so memory
    stays bounded (about ``IMPORTANCE_CELLS_PER_CALL`` cells per call) however wide the table. Tables with more
    than ``max_columns`` inputs are not measured (the cost grows with columns x rows x columns); the result says so.
    Returns {"metric", "n_repeats", "rows", "columns": {column: {"mean", "std"}}}, largest drop first.

    Example:
        >>> permutation_importance(lambda f: model.predict(prep.transform(f)), test_df, y_test, ["a", "b"], "binary")
    """
    import pandas as pd

    if len(columns) > max_columns:
        return {
            "skipped": f"{len(columns):,} input columns: permutation importance is measured for tables of up to "
            f"{max_columns} columns (it needs columns x {n_repeats} passes over the test rows).",
            "columns": {},
        }
    rng = np.random.default_rng(seed)
    if len(frame) > max_rows:
        keep = np.sort(rng.choice(len(frame), max_rows, replace=False))
        frame, y = frame.iloc[keep], y[keep]
    frame = frame.reset_index(drop=True)
    n = len(frame)
    per_call = max(1, IMPORTANCE_CELLS_PER_CALL // max(1, n * frame.shape[1]))
    every = np.arange(n)
    metric, f = row_metric(task, y, np.asarray(predict_output(frame)))
    reference = f(every)
    jobs = [(column, r) for column in columns for r in range(n_repeats)]
    drops: dict[str, list[float]] = {column: [] for column in columns}
    for start in range(0, len(jobs), per_call):
        chunk = jobs[start : start + per_call]
        copies = []
        for column, _ in chunk:
            shuffled = frame.copy()
            shuffled[column] = shuffled[column].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
        outputs = np.asarray(predict_output(pd.concat(copies, ignore_index=True)))
        for i, (column, _) in enumerate(chunk):
            drops[column].append(reference - row_metric(task, y, outputs[i * n : (i + 1) * n])[1](every))
    result = {column: {"mean": float(np.mean(d)), "std": float(np.std(d))} for column, d in drops.items()}
    ordered = dict(sorted(result.items(), key=lambda kv: -kv[1]["mean"]))
    return {"metric": metric, "n_repeats": n_repeats, "rows": n, "columns": ordered}


def grouped_permutation_importance(
    predict_batch: Any,
    x: np.ndarray,
    y: np.ndarray,
    groups: dict[str, list[int]],
    task: str,
    n_repeats: int = 3,
    seed: int = 0,
    max_rows: int = 2000,
) -> dict[str, Any]:
    """Permutation importance on model arrays ``x [n, ..., d]``: each group of feature indices (one raw column,
    at every step of a window) is shuffled across samples together. ``predict_batch(x) -> output``."""
    rng = np.random.default_rng(seed)
    if len(x) > max_rows:
        keep = np.sort(rng.choice(len(x), max_rows, replace=False))
        x, y = x[keep], y[keep]
    x = np.ascontiguousarray(x)
    n = len(x)
    every = np.arange(n)
    metric, f = row_metric(task, y, np.asarray(predict_batch(x)))
    reference = f(every)
    result: dict[str, dict[str, float]] = {}
    for column, idx in groups.items():
        shuffled = np.concatenate([x] * n_repeats)
        for r in range(n_repeats):
            block = shuffled[r * n : (r + 1) * n]
            block[..., idx] = x[rng.permutation(n)][..., idx]
        out = np.asarray(predict_batch(shuffled))
        drops = [reference - row_metric(task, y, out[r * n : (r + 1) * n])[1](every) for r in range(n_repeats)]
        result[column] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    ordered = dict(sorted(result.items(), key=lambda kv: -kv[1]["mean"]))
    return {"metric": metric, "n_repeats": n_repeats, "rows": n, "columns": ordered}
