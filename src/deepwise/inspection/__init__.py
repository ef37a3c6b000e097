"""Know your data: checks that find what would mislead a model, or its evaluation, before training.

Each check returns :class:`Finding` objects with a severity ("info", "warning" or "problem"), a plain-language
explanation, a suggested action and the numbers behind it. A "problem" (e.g. a column that gives the answer away)
should be fixed before training; a "warning" deserves a look; "info" describes the data.

Example:
    >>> findings = inspect("examples/penguins/penguins.csv", target="species")
    >>> [f.code for f in findings][:3]
    ['overview', 'column_types', 'missing_values']
    >>> findings.problems
    []
    >>> findings.render(rich.console.Console())     # or display(findings) in a notebook
"""

from __future__ import annotations

from collections import Counter
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd

from deepwise.data.images import is_image_source, open_images
from deepwise.data.schema import (
    check_mixed_target,
    check_target_values,
    choose_inputs,
    infer_task,
    is_numeric,
)
from deepwise.data.series import order_by_time, regular_gaps
from deepwise.data.stream import TableSource, is_streamable, may_be_too_big
from deepwise.data.tables import read_table
from deepwise.errors import DataError
from deepwise.inspection.checks import (
    class_balance,
    column_kinds,
    correlated,
    duplicates,
    listed_names,
    missing_values,
    numeric_junk,
    outliers_and_skew,
    overview,
    sample_of,
    unused_columns,
)
from deepwise.inspection.findings import Finding, Findings
from deepwise.inspection.formula import formula_check, known_equation_note
from deepwise.inspection.images import inspect_images
from deepwise.inspection.leakage import leakage
from deepwise.inspection.size import data_size
from deepwise.prepare.stream import SAMPLE_ROWS, sample_rows

TASKS = ("binary", "multiclass", "regression")


# ------------------------------------------------------------------------------------------------------ inspect
# One piece: the checks in the order findings.json lists them, each a call; what remains is the sample and the
# columns they share.
def inspect(
    data: pd.DataFrame | str | Path,
    target: str | None = None,
    *,
    task: str | None = None,
    hidden_units: list[int] = [64, 32],  # noqa: B006  (never mutated; the default model's layers)
    max_rows_for_models: int = 20000,
    seed: int = 0,
    time_column: str | None = None,
    horizon: int = 1,
) -> Findings:
    """Run every check on a table (a DataFrame or a CSV/TSV/Parquet path) and return the findings.

    Without ``target``, the checks that need one (class balance, leakage, conflicting labels) are skipped.
    ``task`` overrides the task inferred from the target ("binary", "multiclass" or "regression").
    Checks that fit models (leakage, correlation) use a random sample of at most ``max_rows_for_models`` rows.
    With ``time_column`` the rows are a time series: order, duplicated timestamps and gaps are checked, and
    leakage is measured against the target ``horizon`` steps ahead (what a forecast predicts).
    """
    if isinstance(data, (str, Path)):
        if is_image_source(data):
            return inspect_images(open_images(data, on_bad_files="skip"), target or "label", seed)
        if time_column is None and is_streamable(data) and may_be_too_big(data):
            source = TableSource.open(data)
            if source.too_big_for_memory():  # a uniform sample of rows, never the whole table in memory
                return _sampled(source, target, task, hidden_units, seed)
    df = _checked_table(data, target, task, max_rows_for_models)
    rng = np.random.default_rng(seed)
    findings = Findings()
    if time_column is not None:
        df, time_findings = time_series_checks(df, time_column)
        findings += time_findings
    choices = choose_inputs(df, target, [time_column] if time_column else [])
    task_name, task_reason = None, None
    if target is not None:
        check_target_values(df, target)  # infinite values: the same refusal as training
        if task in (None, "auto"):
            check_mixed_target(df, target)
        task_name, task_reason = infer_task(df[target])  # raises DataError for an empty or single-valued target
        if task not in (None, "auto"):
            if task == "regression" and not is_numeric(df[target]):
                raise DataError(
                    f"task is regression but the target '{target}' is not numeric.",
                    expected="numbers in the target column for regression",
                    fix="leave task out (or use binary/multiclass), or clean the target column.",
                )
            task_name, task_reason = task, "given explicitly."

    kinds = column_kinds(df, choices)
    findings += overview(df, target, task_name, task_reason, kinds)
    findings += missing_values(df, target)
    findings += unused_columns(df, choices, kinds)

    used = [c for c in choices if c.used]
    numeric = [c.name for c in used if c.kind == "numeric"]
    categorical = [c.name for c in used if c.kind == "categorical"]
    labelled = df if target is None else df[df[target].notna()]
    sample = sample_of(labelled, max_rows_for_models, rng)
    if target is not None and not used:
        findings.append(
            Finding(
                "no_inputs",
                "problem",
                f"No column besides '{target}' can be used as an input: every other column is constant, empty or "
                "ID-like (see above), so there is nothing to predict from.",
                "Add input columns to the data, or list the ones to use explicitly in data.inputs.",
            )
        )
    findings += numeric_junk(
        df, sample_of(df, max_rows_for_models, rng), [c for c, k in kinds.items() if k in ("categorical", "id-like")]
    )
    findings += duplicates(df, target, [c for c, k in kinds.items() if k != "id-like"])
    class_counts = labelled[target].value_counts() if task_name in ("binary", "multiclass") else None
    if class_counts is not None:
        findings += class_balance(class_counts, str(target))
    skew_columns = numeric + ([target] if task_name == "regression" else [])
    findings += outliers_and_skew(df, skew_columns, target)
    findings += correlated(sample, numeric)
    if target is not None:
        leak_frame = sample
        if time_column is not None:  # a forecast predicts the target `horizon` steps ahead of the inputs
            ahead = labelled.assign(**{target: labelled[target].shift(-horizon)}).iloc[:-horizon]
            leak_frame = sample_of(ahead, max_rows_for_models, rng)
        leaks = leakage(leak_frame, target, task_name, numeric, categorical, seed)
        formula_findings, formula = formula_check(leak_frame, target, task_name, numeric, seed)
        known_equation_note(leaks, formula)
        findings += leaks + formula_findings
    findings += data_size(sample, len(labelled), class_counts, task_name, numeric, categorical, hidden_units)
    return findings


def _sampled(source: TableSource, target: str | None, task: str | None, hidden_units: list[int], seed: int) -> Findings:
    """The checks of a table too big for memory, on a uniform sample of its rows (said in the first finding)."""
    sample, _, n_rows = sample_rows(source, seed)
    found = inspect(sample, target, task=task, hidden_units=hidden_units, seed=seed)
    note = Finding(
        "sampled",
        "info",
        f"The table has {n_rows:,} rows, too many to load at once: these checks ran on a uniform sample "
        f"of {len(sample):,} rows (row counts below are the sample's).",
        f"`deepwise train` streams the whole table (up to {SAMPLE_ROWS:,} sampled rows feed its checks).",
        evidence={"rows": n_rows, "sampled_rows": len(sample)},
    )
    return Findings([note, *found])


def _checked_table(data: pd.DataFrame | str | Path, target: str | None, task: str | None, max_rows: int):
    """The table to check, read and validated: not empty, distinct column names, the target present, a known task."""
    max_rows_for_models = max_rows
    df = read_table(data) if isinstance(data, (str, Path)) else data
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"inspect() received a {type(data).__name__}, not a table.",
            expected="a pandas DataFrame or the path of a CSV, TSV or Parquet file",
            fix="pass a DataFrame or a file path.",
        )
    if df.shape[1] == 0 or len(df) == 0:
        raise DataError(
            f"The table is empty ({len(df)} rows, {df.shape[1]} columns).",
            expected="a table with a header and at least a few rows",
            fix="check that the data was read or exported completely.",
        )
    df = df.copy(deep=False)
    df.columns = [str(c) for c in df.columns]
    repeated = sorted(name for name, count in Counter(df.columns).items() if count > 1)
    if repeated:
        raise DataError(
            f"The table has more than one column named {listed_names(repeated)}.",
            expected="a distinct name for every column",
            fix="rename the repeated columns.",
        )
    if target is not None and target not in df.columns:
        close = get_close_matches(target, list(df.columns), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(
            f"The target column '{target}' is not in the data.{hint}",
            expected="one of the columns: " + ", ".join(df.columns[:30]),
            fix=f"pass the right column name as target (--target).{hint}",
        )
    if task is not None and task != "auto" and task not in TASKS:
        raise DataError(
            f"Unknown task '{task}'.",
            expected="one of: auto, " + ", ".join(TASKS),
            fix="leave task out to infer it from the target, or pass one of the names above.",
        )
    if max_rows_for_models < 100:
        raise DataError(
            f"max_rows_for_models is {max_rows_for_models}, too few rows for the model-based checks.",
            expected="at least 100 (the default is 20000)",
            fix="pass a larger max_rows_for_models.",
        )

    return df


def time_series_checks(df: pd.DataFrame, time_column: str) -> tuple[pd.DataFrame, list[Finding]]:
    """Order by time (noting unsorted rows), refuse duplicated timestamps, report gaps."""
    ordered, time, notes = order_by_time(df, time_column)
    findings = [
        Finding("time_order", "warning", note, "Nothing to do: deepwise sorts the rows by time.", [time_column])
        for note in notes
    ]
    gaps = regular_gaps(time)
    if gaps["missing_steps"]:
        findings.append(
            Finding(
                "time_gaps",
                "warning",
                f"The series has {gaps['gaps']} gap(s) in '{time_column}' where {gaps['missing_steps']} time step(s) "
                f"of the usual {gaps['step']} are missing (e.g. {'; '.join(gaps['examples'][:3])}). A window then "
                "spans more time than it seems to.",
                "Fill the missing steps (e.g. reindex to a regular calendar and interpolate), or accept that windows "
                "across a gap are irregular.",
                [time_column],
                gaps,
            )
        )
    else:
        findings.append(
            Finding(
                "time_gaps",
                "info",
                f"'{time_column}' runs from {time.iloc[0]} to {time.iloc[-1]} in regular steps of {gaps['step']}, "
                "with no missing steps.",
                "Nothing to do.",
                [time_column],
                gaps,
            )
        )
    return ordered, findings


__all__ = ["Finding", "Findings", "inspect", "inspect_images"]
