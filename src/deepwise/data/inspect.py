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

import html
import json
import math
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.schema import (
    ColumnChoice,
    check_mixed_target,
    check_numeric_junk,
    check_target_values,
    choose_inputs,
    infer_task,
    is_numeric,
)
from deepwise.data.tables import read_table
from deepwise.errors import DataError

SEVERITIES = ("info", "warning", "problem")
TASKS = ("binary", "multiclass", "regression")

MISSING_WARNING_SHARE = 0.05  # a column with more missing values than this gets a warning
MINORITY_WARNING_SHARE = 0.10  # the smallest class below this share of rows: imbalanced
OUTLIER_IQR_FENCE = 3.0  # Tukey's "far out" values: beyond 3 x IQR from the quartiles
OUTLIER_MIN_SHARE = 1e-5  # a normal distribution has ~2.4 such values per million; flag more than that...
OUTLIER_FAR_IQR = 10.0  # ...or any single value this many IQRs beyond the quartiles
SKEW_LIMIT = 2.0
CORRELATION_LIMIT = 0.95
MAX_REPORTED_PAIRS = 10
LEAK_PROBLEM = 0.99  # single-column cross-validated balanced accuracy (classification) or R² (regression)
LEAK_WARNING = 0.95
LEAK_FOLDS = 3
LEAK_TREE_DEPTH = 6
WIDE_COLUMNS = 200  # above this many numeric inputs, correlation and leakage use the vectorized / screened paths
LEAK_SCREEN_BINS = 64
ENOUGH_ROWS = 1000
ENOUGH_ROWS_PER_CLASS = 50


# --------------------------------------------------------------------------------------------------- the findings
@dataclass
class Finding:
    """One thing found in the data: what, how serious, why it matters, and what to do."""

    code: str
    severity: str
    message: str
    action: str
    columns: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


class Findings(list):
    """A list of :class:`Finding`, with views by severity and JSON, HTML and terminal output."""

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self if f.severity == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self if f.severity == "warning"]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self if f.code == code]

    def to_dicts(self) -> list[dict]:
        return [f.to_dict() for f in self]

    def to_json(self) -> str:
        return json.dumps(self.to_dicts(), indent=2, allow_nan=False)

    def _repr_html_(self) -> str:
        colours = {"problem": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
        rows = []
        for f in self:
            colour = colours.get(f.severity, "inherit")
            rows.append(
                "<tr>"
                f'<td style="color:{colour};font-weight:bold;vertical-align:top">{html.escape(f.severity)}</td>'
                f'<td style="text-align:left;vertical-align:top"><b>{html.escape(f.code)}</b><br>'
                f"{html.escape(f.message)}</td>"
                f'<td style="text-align:left;vertical-align:top">{html.escape(f.action)}</td>'
                "</tr>"
            )
        summary = f"{len(self.problems)} problem(s), {len(self.warnings)} warning(s), {len(self)} finding(s) in all"
        return (
            '<table class="deepwise-findings">'
            f'<caption style="text-align:left">{html.escape(summary)}</caption>'
            "<thead><tr><th>severity</th><th>finding</th><th>suggested action</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def render(self, console: Any) -> None:
        """Print the findings as a table on a ``rich.console.Console``."""
        from rich.table import Table
        from rich.text import Text

        styles = {"problem": "bold red", "warning": "yellow", "info": "cyan"}
        table = Table(
            title="What deepwise found in the data",
            caption=f"{len(self.problems)} problem(s), {len(self.warnings)} warning(s)",
            show_lines=True,
            expand=True,
        )
        table.add_column("severity", no_wrap=True)
        table.add_column("finding", ratio=3)
        table.add_column("suggested action", ratio=2)
        for f in self:
            finding = Text(f.code, style="bold")
            finding.append("\n" + f.message, style="")
            table.add_row(Text(f.severity, style=styles.get(f.severity, "")), finding, Text(f.action))
        console.print(table)


def _jsonable(value: Any) -> Any:
    """Plain Python values for JSON: numpy scalars unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


# ------------------------------------------------------------------------------------------------------ inspect
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
        from deepwise.data.images import is_image_source, open_images

        if is_image_source(data):
            return inspect_images(open_images(data, on_bad_files="skip"), target or "label", seed)
        from deepwise.data.stream import TableSource, is_streamable, may_be_too_big

        if time_column is None and is_streamable(data) and may_be_too_big(data):
            source = TableSource.open(data)
            if source.too_big_for_memory():  # a uniform sample of rows, never the whole table in memory
                from deepwise.prepare.stream import SAMPLE_ROWS, sample_rows

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
            f"The table has more than one column named {_names(repeated)}.",
            expected="a distinct name for every column",
            fix="rename the repeated columns.",
        )
    if target is not None and target not in df.columns:
        from difflib import get_close_matches

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

    rng = np.random.default_rng(seed)
    findings = Findings()
    if time_column is not None:
        df, time_findings = _time_series(df, time_column)
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

    kinds = _column_kinds(df, choices)
    findings += _overview(df, target, task_name, task_reason, kinds)
    findings += _missing_values(df, target)
    findings += _unused_columns(df, choices, kinds)

    used = [c for c in choices if c.used]
    numeric = [c.name for c in used if c.kind == "numeric"]
    categorical = [c.name for c in used if c.kind == "categorical"]
    labelled = df if target is None else df[df[target].notna()]
    sample = _sample(labelled, max_rows_for_models, rng)
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
    findings += _numeric_junk(
        df, _sample(df, max_rows_for_models, rng), [c for c, k in kinds.items() if k in ("categorical", "id-like")]
    )
    findings += _duplicates(df, target, [c for c, k in kinds.items() if k != "id-like"])
    class_counts = labelled[target].value_counts() if task_name in ("binary", "multiclass") else None
    if class_counts is not None:
        findings += _class_balance(class_counts, str(target))
    skew_columns = numeric + ([target] if task_name == "regression" else [])
    findings += _outliers_and_skew(df, skew_columns, target)
    findings += _correlated(sample, numeric)
    if target is not None:
        leak_frame = sample
        if time_column is not None:  # a forecast predicts the target `horizon` steps ahead of the inputs
            ahead = labelled.assign(**{target: labelled[target].shift(-horizon)}).iloc[:-horizon]
            leak_frame = _sample(ahead, max_rows_for_models, rng)
        findings += _leakage(leak_frame, target, task_name, numeric, categorical, seed)
    findings += _data_size(sample, len(labelled), class_counts, task_name, numeric, categorical, hidden_units)
    return findings


def _time_series(df: pd.DataFrame, time_column: str) -> tuple[pd.DataFrame, list[Finding]]:
    """Order by time (noting unsorted rows), refuse duplicated timestamps, report gaps."""
    from deepwise.data.series import order_by_time, regular_gaps

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


def _sample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    rows = np.sort(rng.choice(len(df), size=n, replace=False))
    return df.iloc[rows]


def _fmt_share(share: float) -> str:
    pct = 100 * share
    if pct == 0:
        return "0%"
    return f"{pct:.2g}%" if pct < 1 else f"{pct:.1f}%"


def _names(columns: list[str], k: int = 8) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:k])
    return shown + (f" and {len(columns) - k} more" if len(columns) > k else "")


# ------------------------------------------------------------------------------------------------------ overview
def _column_kinds(df: pd.DataFrame, choices: list[ColumnChoice]) -> dict[str, str]:
    """numeric / categorical (used as inputs), or id-like / constant / empty (left out), or target."""
    kinds: dict[str, str] = {}
    for c in choices:
        if c.used:
            kinds[c.name] = c.kind
        elif df[c.name].isna().all():
            kinds[c.name] = "empty"
        elif df[c.name].nunique(dropna=True) <= 1:
            kinds[c.name] = "constant"
        else:
            kinds[c.name] = "id-like"
    return {name: kinds.get(name, "target") for name in df.columns}


def _overview(
    df: pd.DataFrame, target: str | None, task: str | None, reason: str | None, kinds: dict[str, str]
) -> list[Finding]:
    counts = pd.Series(list(kinds.values())).value_counts().to_dict()
    inputs = counts.get("numeric", 0) + counts.get("categorical", 0)
    if target is None:
        what = "No target given, so only the checks that need no target were run."
        action = "Pass a target (the column to predict) to also check class balance and leakage."
    else:
        what = f"The target is '{target}'; the task is {task}: {reason}"
        action = "Check that the task is what you mean; set problem.task in the config if it is not."
    message = (
        f"{len(df):,} rows and {df.shape[1]} columns. {what} {inputs} column(s) would be used as inputs "
        f"({counts.get('numeric', 0)} numeric, {counts.get('categorical', 0)} categorical)."
    )
    overview = Finding(
        "overview",
        "info",
        message,
        action,
        evidence={"rows": len(df), "columns": df.shape[1], "target": target, "task": task, "inputs": inputs},
    )
    described = {
        "numeric": "numeric (standardized)",
        "categorical": "categorical (one category per distinct value)",
        "id-like": "ID-like or free text (left out)",
        "constant": "constant (left out)",
        "empty": "empty (left out)",
        "target": "the target",
    }
    groups = [f"{described[k]}: {_names([c for c, v in kinds.items() if v == k], 6)}" for k in described if k in counts]
    types = Finding(
        "column_types",
        "info",
        "How each column would be read: " + "; ".join(groups) + ".",
        "If a column of numbers is really a code (e.g. a site number), declare it with data.categorical; "
        "to leave a column out, list it in data.exclude.",
        columns=list(df.columns),
        evidence={"column_types": kinds, "dtypes": {c: str(df[c].dtype) for c in df.columns}},
    )
    return [overview, types]


# ------------------------------------------------------------------------------------------------ missing values
def _missing_values(df: pd.DataFrame, target: str | None) -> list[Finding]:
    counts = df.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return [Finding("missing_values", "info", "No missing values in any column.", "Nothing to do.")]
    n = len(df)
    out: list[Finding] = []
    how = (
        "deepwise fills a missing number with the training median (and adds a 'was missing' indicator) and gives "
        "missing categories their own 'missing' category."
    )
    if target is not None and target in counts:
        how += f" Rows without a '{target}' value ({int(counts[target]):,}) are left out of training."
    for severity, mask in (
        ("warning", counts / n >= MISSING_WARNING_SHARE),
        ("info", counts / n < MISSING_WARNING_SHARE),
    ):
        part = counts[mask].sort_values(ascending=False)
        if part.empty:
            continue
        listed = ", ".join(f"'{c}' {_fmt_share(v / n)} ({int(v):,})" for c, v in part.head(8).items())
        listed += f" and {len(part) - 8} more" if len(part) > 8 else ""
        if severity == "warning":
            message = (
                f"{len(part)} column(s) have {_fmt_share(MISSING_WARNING_SHARE)} or more missing values: {listed}. "
                f"{how} With many gaps, whether a value is missing can itself carry information (or bias)."
            )
            action = (
                "Find out why values are missing (not recorded? below detection limit?); if a column is mostly "
                "empty, consider leaving it out with data.exclude."
            )
        else:
            message = f"{len(part)} column(s) have a few missing values: {listed}. {how}"
            action = "Usually fine as is."
        evidence = {c: {"count": int(v), "share": float(v / n)} for c, v in part.items()}
        out.append(Finding("missing_values", severity, message, action, list(part.index), {"columns": evidence}))
    return out


# -------------------------------------------------------------------------------------------- constant and ID
def _unused_columns(df: pd.DataFrame, choices: list[ColumnChoice], kinds: dict[str, str]) -> list[Finding]:
    out: list[Finding] = []
    reasons = {c.name: c.reason for c in choices}
    constant = [c for c, k in kinds.items() if k in ("constant", "empty")]
    if constant:
        out.append(
            Finding(
                "constant_column",
                "warning",
                f"{len(constant)} column(s) hold a single value (or none) in every row: "
                + "; ".join(f"'{c}': {reasons[c]}" for c in constant[:8])
                + ". A column that never changes cannot help predict anything, so deepwise leaves it out.",
                "Nothing to do, unless you expected this column to vary (then check the export).",
                constant,
                {"columns": {c: reasons[c] for c in constant}},
            )
        )
    ids = [c for c, k in kinds.items() if k == "id-like"]
    if ids:
        out.append(
            Finding(
                "id_column",
                "warning",
                f"{len(ids)} column(s) look like row identifiers or free text: "
                + "; ".join(f"'{c}': {reasons[c]}" for c in ids[:8])
                + ". A value that is different in every row cannot generalize to new rows (the model would just "
                "memorize it), so deepwise leaves these columns out.",
                "Nothing to do if they are IDs. If one is a real measurement, list it in data.inputs; if it names "
                "a group (patient, site), keep rows of one group together when splitting.",
                ids,
                {"columns": {c: reasons[c] for c in ids}},
            )
        )
    return out


# ------------------------------------------------------------------------------------------- numbers with junk
def _numeric_junk(df: pd.DataFrame, sample: pd.DataFrame, columns: list[str]) -> list[Finding]:
    """Text columns that are numbers except for a few cells (e.g. 'n/a?', '12,5'): training would refuse them."""
    out: list[Finding] = []
    for name in columns:
        if is_numeric(df[name]):
            continue
        try:
            check_numeric_junk(sample, [name])  # cheap screen on the sample, then the exact message from all rows
            check_numeric_junk(df, [name])
        except DataError as err:
            out.append(
                Finding(
                    "numeric_junk",
                    "problem",
                    err.problem + " So the column is read as text, and training stops with an error.",
                    err.fix or "",
                    [name],
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------- duplicates
def _row_hashes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.zeros(len(df), dtype=np.uint64)
    return pd.util.hash_pandas_object(df[columns], index=False).to_numpy()


def _duplicates(df: pd.DataFrame, target: str | None, columns: list[str]) -> list[Finding]:
    """Exact duplicate rows (ID-like columns ignored); with a target, equal inputs that have different targets."""
    n = len(df)
    if not [c for c in columns if c != target]:
        return []
    rows = _row_hashes(df, columns)
    n_dup = int(pd.Series(rows).duplicated().sum())
    ignored = [c for c in df.columns if c not in columns]
    evidence: dict[str, Any] = {"duplicate_rows": n_dup, "share": n_dup / n, "ignored_columns": ignored}
    n_conflict = 0
    if target is not None:
        labelled = df[target].notna().to_numpy()
        inputs = _row_hashes(df, [c for c in columns if c != target])[labelled]
        y = pd.util.hash_pandas_object(df[target], index=False).to_numpy()[labelled]
        pairs = pd.DataFrame({"x": inputs, "y": y}).drop_duplicates()
        conflicted = pairs["x"][pairs["x"].duplicated(keep=False)].unique()
        n_conflict = int(np.isin(inputs, conflicted).sum())
        evidence.update({"conflicting_rows": n_conflict, "conflicting_groups": len(conflicted)})
    if n_dup == 0 and n_conflict == 0:
        return [Finding("duplicate_rows", "info", "No duplicate rows.", "Nothing to do.", evidence=evidence)]
    parts = []
    if n_dup:
        ignoring = f" (ignoring the ID-like column(s) {_names(ignored, 4)})" if ignored else ""
        parts.append(
            f"{n_dup:,} row(s) ({_fmt_share(n_dup / n)}) are exact copies of an earlier row{ignoring}. Copies can "
            "land in both the training and the test split, so the test score rewards memorizing and comes out too "
            "optimistic; they also give those rows extra weight."
        )
    if n_conflict:
        parts.append(
            f"{n_conflict:,} row(s) in {evidence['conflicting_groups']:,} group(s) have identical inputs but "
            f"different '{target}' values: no model can tell them apart, which caps the achievable score."
        )
    return [
        Finding(
            "duplicate_rows",
            "warning",
            " ".join(parts),
            "Check whether the copies are real repeated measurements or an export/merge mistake; remove the "
            "mistakes (df.drop_duplicates()). For conflicting labels, check the labelling.",
            evidence=evidence,
        )
    ]


# ------------------------------------------------------------------------------------------------- class balance
def _class_balance(counts: pd.Series, target: str) -> list[Finding]:
    n = int(counts.sum())
    majority = float(counts.iloc[0] / n)
    smallest_share = float(counts.iloc[-1] / n)
    evidence = {
        "counts": {str(k): int(v) for k, v in counts.items()},
        "majority_class": str(counts.index[0]),
        "majority_accuracy": majority,
        "smallest_class": str(counts.index[-1]),
        "smallest_share": smallest_share,
    }
    shown = ", ".join(f"{k!s}: {int(v):,} ({_fmt_share(v / n)})" for k, v in counts.head(10).items())
    shown += f" and {len(counts) - 10} more classes" if len(counts) > 10 else ""
    guess = (
        f"Always guessing the most common class ('{counts.index[0]}') is already right {_fmt_share(majority)} "
        "of the time: a model must beat that."
    )
    # rare means below 10 % of rows, and below half of an equal share (with 10+ classes, 10 % each is balanced)
    if smallest_share < min(MINORITY_WARNING_SHARE, 0.5 / len(counts)):
        return [
            Finding(
                "class_balance",
                "warning",
                f"The classes are imbalanced: {shown}. {guess} With a class this rare, accuracy is misleading (a "
                f"model can ignore '{counts.index[-1]}' and still score high).",
                "Judge models by macro F1 or balanced accuracy (deepwise reports both), look at the rare class's "
                "recall, and consider class weights; if you can, collect more rows of the rare class.",
                [target],
                evidence,
            )
        ]
    return [
        Finding(
            "class_balance",
            "info",
            f"Rows per class: {shown}. {guess}",
            "Compare the model's accuracy with this majority-class baseline.",
            [target],
            evidence,
        )
    ]


# ------------------------------------------------------------------------------------------- outliers and skew
def _outliers_and_skew(df: pd.DataFrame, columns: list[str], target: str | None) -> list[Finding]:
    outliers: dict[str, dict[str, float]] = {}
    skewed: dict[str, dict[str, float]] = {}
    for name in columns:
        values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        if values.size < 10:
            continue
        q1, q3 = np.quantile(values, [0.25, 0.75])
        iqr, lo, hi = q3 - q1, float(values.min()), float(values.max())
        skew = float(pd.Series(values).skew())
        flag_skew = math.isfinite(skew) and abs(skew) > SKEW_LIMIT
        flag_outliers = False
        if iqr > 0:
            low, high = q1 - OUTLIER_IQR_FENCE * iqr, q3 + OUTLIER_IQR_FENCE * iqr
            count = int(np.count_nonzero((values < low) | (values > high)))
            farthest = max(q1 - lo, hi - q3) / iqr
            flag_outliers = count > 0 and (count / values.size > OUTLIER_MIN_SHARE or farthest > OUTLIER_FAR_IQR)
        if (flag_skew or flag_outliers) and np.unique(values[:100_000]).size <= 2:
            continue  # a 0/1 indicator: rare values are not outliers, and its skew only says one value is rare
        if flag_outliers:
            outliers[name] = {
                "count": count,
                "share": count / values.size,
                "lower_fence": low,
                "upper_fence": high,
                "min": lo,
                "max": hi,
                "farthest_in_iqr": farthest,
            }
        if flag_skew:
            skewed[name] = {"skew": skew, "min": lo}
    out: list[Finding] = []
    far = {c: e for c, e in outliers.items() if e["farthest_in_iqr"] > OUTLIER_FAR_IQR}
    near = {c: e for c, e in outliers.items() if c not in far}
    for severity, group in (("warning", far), ("info", near)):
        if not group:
            continue
        listed = "; ".join(
            f"'{c}': {int(e['count']):,} value(s) ({_fmt_share(e['share'])}) outside [{e['lower_fence']:.4g}, "
            f"{e['upper_fence']:.4g}], range {e['min']:.4g} to {e['max']:.4g}"
            for c, e in list(group.items())[:8]
        )
        listed += f"; and {len(group) - 8} more column(s)" if len(group) > 8 else ""
        if severity == "warning":
            message = (
                f"{len(group)} numeric column(s) have extreme values, more than {OUTLIER_FAR_IQR:g}×IQR beyond the "
                f"quartiles (the interquartile range IQR is the spread of the middle half of the values): {listed}. "
                "Values this far out are often errors (placeholders like -999 or 9999, wrong units, typos). "
                "deepwise standardizes with the mean and standard deviation, which such values distort; if they "
                "are errors, the model learns from wrong numbers."
            )
            action = (
                "Look at these rows: placeholders for missing belong in data.na_values, unit or typing errors "
                "should be corrected. If the values are real (a heavy tail), consider a log transform or clipping."
            )
        else:
            message = (
                f"{len(group)} numeric column(s) have a few far-out values, more than {OUTLIER_IQR_FENCE:g}×IQR "
                f"beyond the quartiles (a normal distribution has about 2 in a million): {listed}. Usually a long "
                "tail rather than errors."
            )
            action = "Have a quick look at the largest values; nothing to do if they are plausible."
        evidence = {"columns": group, "fence_iqr": OUTLIER_IQR_FENCE, "far_iqr": OUTLIER_FAR_IQR}
        out.append(Finding("outliers", severity, message, action, list(group), evidence))
    if skewed:

        def advice(c: str, e: dict[str, float]) -> str:
            if e["skew"] < 0:
                return f"'{c}' (skew {e['skew']:.1f}, long tail to the left)"
            transform = "log(x)" if e["min"] > 0 else "log(1 + x)" if e["min"] >= 0 else "a signed log or clipping"
            return f"'{c}' (skew {e['skew']:.1f}, try {transform})"

        listed = ", ".join(advice(c, e) for c, e in list(skewed.items())[:8])
        target_note = (
            f" For the target '{target}', a log transform also makes the loss weigh large and small values more evenly."
            if target in skewed
            else ""
        )
        out.append(
            Finding(
                "skew",
                "info",
                f"{len(skewed)} numeric column(s) are heavily skewed (|skew| > {SKEW_LIMIT:g}): {listed}. Most "
                "values are squeezed together while a few lie far out, which networks learn from less easily."
                + target_note,
                "For positive quantities (concentrations, counts, incomes), add a log-transformed column and drop "
                "the original, then compare runs.",
                list(skewed),
                {"columns": skewed},
            )
        )
    return out


# --------------------------------------------------------------------------------------------------- correlation
def _correlated(sample: pd.DataFrame, numeric: list[str]) -> list[Finding]:
    if len(numeric) < 2:
        return []
    frame = sample[numeric].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    if len(numeric) <= WIDE_COLUMNS:
        corr = frame.corr().to_numpy()
        upper = np.triu(np.abs(np.nan_to_num(corr, nan=0.0)) >= CORRELATION_LIMIT, k=1)
        i, j = np.nonzero(upper)
        r = corr[i, j]
    else:  # a wide table: pandas' pairwise loop is quadratic in Python; this is matrix products, in blocks
        i, j, r = correlated_pairs(frame.to_numpy(), CORRELATION_LIMIT)
    if i.size == 0:
        return []
    order = np.argsort(-np.abs(r), kind="stable")
    pairs = [{"a": numeric[i[k]], "b": numeric[j[k]], "r": float(r[k])} for k in order[:MAX_REPORTED_PAIRS]]
    more = int(i.size - len(pairs))
    identical = any(abs(p["r"]) >= 0.999 for p in pairs)
    listed = ", ".join(f"'{p['a']}' & '{p['b']}' (r = {p['r']:.3f})" for p in pairs)
    listed += f" and {more} more pair(s)" if more else ""
    columns = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs}, key=numeric.index)
    return [
        Finding(
            "correlated_features",
            "warning" if identical else "info",
            f"{i.size} pair(s) of numeric columns are almost perfectly correlated (|r| ≥ {CORRELATION_LIMIT:g}): "
            f"{listed}. They carry nearly the same information: harmless for predictions, but it makes "
            "'which column matters' questions unanswerable"
            + (
                ", and |r| ≥ 0.999 suggests one column is a copy or a unit conversion of the other."
                if identical
                else "."
            ),
            "Keep one column of each pair if you want to interpret the model (data.exclude the other); for "
            "prediction alone you can leave them.",
            columns,
            {"pairs": pairs, "more_pairs": more, "threshold": CORRELATION_LIMIT},
        )
    ]


def correlated_pairs(x: np.ndarray, limit: float, block: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, r)`` for the column pairs ``i < j`` of ``x`` with ``|r| >= limit``: Pearson's r over the rows where
    both values are finite (pairwise complete, as ``DataFrame.corr``), by matrix products over blocks of columns,
    so that memory stays ``O(rows x columns + columns x block)`` however wide the table is."""
    n, p = x.shape
    present = np.isfinite(x)
    counts = present.sum(axis=0)
    mean = np.divide(np.where(present, x, 0.0).sum(axis=0), counts, out=np.zeros(p), where=counts > 0)
    xc = np.where(present, x - mean, 0.0)  # centred: sums of squares without cancellation
    found_i, found_j, found_r = [], [], []
    if present.all():
        scale = np.sqrt((xc * xc).sum(axis=0))
        usable = scale > 1e-12 * np.maximum(np.abs(mean) * np.sqrt(n), 1e-300)
        z = np.divide(xc, scale, out=np.zeros_like(xc), where=usable)
        for start in range(0, p, block):
            stop = min(start + block, p)
            r = z[:, :stop].T @ z[:, start:stop]  # rows: columns 0..stop, cols: this block
            r[~usable[:stop], :] = 0.0
            r[:, ~usable[start:stop]] = 0.0
            _collect(r, start, limit, found_i, found_j, found_r)
    else:
        m = present.astype(np.float64)
        xc2 = xc * xc
        for start in range(0, p, block):
            stop = min(start + block, p)
            a, a2, ma = xc[:, :stop], xc2[:, :stop], m[:, :stop]
            b, b2, mb = xc[:, start:stop], xc2[:, start:stop], m[:, start:stop]
            nn = ma.T @ mb  # rows where both are present
            sx, sy = a.T @ mb, ma.T @ b
            sxx, syy = a2.T @ mb, ma.T @ b2
            sxy = a.T @ b
            with np.errstate(divide="ignore", invalid="ignore"):
                vx = sxx - sx * sx / nn
                vy = syy - sy * sy / nn
                r = (sxy - sx * sy / nn) / np.sqrt(vx * vy)
            ok = (nn >= 2) & (vx > 1e-10 * sxx) & (vy > 1e-10 * syy)
            _collect(np.where(ok, np.clip(r, -1.0, 1.0), 0.0), start, limit, found_i, found_j, found_r)
    if not found_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_r)


def _collect(r: np.ndarray, start: int, limit: float, found_i: list, found_j: list, found_r: list) -> None:
    rows, cols = np.nonzero(np.abs(np.nan_to_num(r)) >= limit)
    cols_global = cols + start
    keep = rows < cols_global
    found_i.append(rows[keep])
    found_j.append(cols_global[keep])
    found_r.append(r[rows[keep], cols[keep]])


# ------------------------------------------------------------------------------------------------------- leakage
def _screen_scores(
    sample: pd.DataFrame, numeric: list[str], y: np.ndarray, folds: list, classification: bool, n_classes: int
) -> dict[str, float]:
    """A cheap out-of-fold score per numeric column (the target predicted from quantile bins of the column), to
    pick the columns worth the decision-tree check in a wide table. A column that gives the target away scores
    high here too."""
    scores: dict[str, float] = {}
    n_bins = LEAK_SCREEN_BINS
    for name in numeric:
        x = pd.to_numeric(sample[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(x)
        if not finite.any():
            continue
        edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, n_bins + 1))[1:-1])
        codes = np.where(finite, np.searchsorted(edges, np.where(finite, x, 0.0), side="right"), n_bins)
        pred = np.zeros(len(y), dtype=np.float64)
        for train, test in folds:
            if classification:
                table = np.bincount(codes[train] * n_classes + y[train], minlength=(n_bins + 1) * n_classes)
                table = table.reshape(n_bins + 1, n_classes)
                lookup = table.argmax(axis=1)
                lookup[table.sum(axis=1) == 0] = np.bincount(y[train], minlength=n_classes).argmax()
            else:
                sums = np.bincount(codes[train], weights=y[train], minlength=n_bins + 1)
                seen = np.bincount(codes[train], minlength=n_bins + 1)
                lookup = np.where(seen > 0, sums / np.maximum(seen, 1), y[train].mean())
            pred[test] = lookup[codes[test]]
        if classification:
            recalls = [np.mean(pred[y == c] == c) for c in range(n_classes) if np.any(y == c)]
            scores[name] = float(np.mean(recalls))
        else:
            total = float(np.sum((y - y.mean()) ** 2))
            scores[name] = 1.0 - float(np.sum((y - pred) ** 2)) / total if total > 0 else 0.0
    return scores


def _leakage(
    sample: pd.DataFrame,
    target: str,
    task: str,
    numeric: list[str],
    categorical: list[str],
    seed: int,
) -> list[Finding]:
    """How well each input alone predicts the target, out of fold: a near-perfect score is a likely leak."""
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    classification = task != "regression"
    if classification:
        y, classes = pd.factorize(sample[target], sort=True)
        counts = np.bincount(y, minlength=len(classes))
        n_splits = LEAK_FOLDS if counts.min() >= LEAK_FOLDS else 0
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed) if n_splits else None
        score_name = "balanced accuracy"
    else:
        y = pd.to_numeric(sample[target], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        splitter = KFold(LEAK_FOLDS, shuffle=True, random_state=seed)
        score_name = "R²"
    if splitter is None or len(y) < 3 * LEAK_FOLDS:
        splitter = KFold(LEAK_FOLDS, shuffle=True, random_state=seed)
    folds = list(splitter.split(np.zeros((len(y), 1)), y))

    def score(pred: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if classification:
                return float(balanced_accuracy_score(y, pred))
            return float(r2_score(y, pred))

    scores: dict[str, float] = {}
    screened = 0
    if len(numeric) > WIDE_COLUMNS and np.all(np.isfinite(y)):
        # a wide table: the tree check (about a millisecond a fit) only for the columns a cheap screen ranks first
        screen = _screen_scores(sample, numeric, y, folds, classification, len(classes) if classification else 0)
        ranked_screen = sorted(screen, key=lambda c: -screen[c])
        screened = len(numeric) - WIDE_COLUMNS
        numeric = ranked_screen[:WIDE_COLUMNS]
    for name in numeric:
        x = pd.to_numeric(sample[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        x = x.reshape(-1, 1)
        x[~np.isfinite(x)] = np.nan
        pred = np.zeros(len(y), dtype=y.dtype)
        try:
            for train, test in folds:
                model = (
                    DecisionTreeClassifier(max_depth=LEAK_TREE_DEPTH, min_samples_leaf=5, random_state=seed)
                    if classification
                    else DecisionTreeRegressor(max_depth=LEAK_TREE_DEPTH, min_samples_leaf=5, random_state=seed)
                )
                model.fit(x[train], y[train])
                pred[test] = model.predict(x[test])
        except ValueError:
            continue
        scores[name] = score(pred)
    for name in categorical:
        codes, uniques = pd.factorize(sample[name], use_na_sentinel=True)
        codes = codes + 1  # 0: missing, its own category
        n_cat = len(uniques) + 1
        pred = np.zeros(len(y), dtype=y.dtype)
        for train, test in folds:
            if classification:
                # the most common class of each category in the training folds; unseen categories get the majority
                table = np.bincount(codes[train] * len(classes) + y[train], minlength=n_cat * len(classes))
                table = table.reshape(n_cat, len(classes))
                lookup = table.argmax(axis=1)
                lookup[table.sum(axis=1) == 0] = np.bincount(y[train]).argmax()
            else:
                sums = np.bincount(codes[train], weights=y[train], minlength=n_cat)
                seen = np.bincount(codes[train], minlength=n_cat)
                lookup = np.where(seen > 0, sums / np.maximum(seen, 1), y[train].mean())
            pred[test] = lookup[codes[test]]
        scores[name] = score(pred)

    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    evidence_all = {"metric": score_name, "rows_used": len(y), "folds": len(folds), "scores": dict(ranked)}
    if screened:
        evidence_all["screened_out"] = screened  # columns ranked low by the quick screen, not tree-checked
    out: list[Finding] = []
    for name, value in ranked:
        if value < LEAK_WARNING:
            break
        problem = value >= LEAK_PROBLEM
        out.append(
            Finding(
                "target_leakage",
                "problem" if problem else "warning",
                f"'{name}' on its own predicts '{target}' {'almost perfectly' if problem else 'very well'} "
                f"(cross-validated {score_name} {value:.3f} from this one column). A single column that gives "
                "the answer away is usually derived from the target or recorded after it (a diagnosis code, a "
                "'result' field); a model trained with it looks excellent and fails on new data, where the "
                "column is not yet known.",
                f"If '{name}' would not be available when you make a prediction, drop it (data.exclude: "
                f"['{name}']). If it is a legitimate, known-in-advance input, keep it"
                + (" and train with --force." if problem else "; deep learning may then add little."),
                [name],
                {"metric": score_name, "score": value, "rows_used": len(y), "folds": len(folds)},
            )
        )
    if not out and ranked:
        best = ", ".join(f"'{c}' {v:.2f}" for c, v in ranked[:3])
        out.append(
            Finding(
                "target_leakage",
                "info",
                f"No single column predicts '{target}' suspiciously well on its own (best cross-validated "
                f"{score_name} of one column: {best}).",
                "Nothing to do.",
                [c for c, _ in ranked[:3]],
                evidence_all,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------- data size
def _mlp_parameters(prep: Any, hidden_units: list[int], n_outputs: int) -> int:
    """Weights and biases of the default MLP (embeddings included), counted without building it."""
    width = len(prep.feature_names_)
    params = 0
    for spec in prep.input_specs().values():
        if "vocab_size" in spec:
            dim = int(min(16, round(1.6 * spec["vocab_size"] ** 0.56)))  # the rule of models.mlp.embedding_dim
            params += spec["vocab_size"] * dim
            width += dim
    for units in [*hidden_units, n_outputs]:
        params += (width + 1) * units
        width = units
    return params


def _data_size(
    sample: pd.DataFrame,
    rows: int,
    class_counts: pd.Series | None,
    task: str | None,
    numeric: list[str],
    categorical: list[str],
    hidden_units: list[int],
) -> list[Finding]:
    """Rows (and rows per class) compared with the number of parameters of the default network."""
    from deepwise.prepare.tabular import TabularPreprocessor

    if not numeric and not categorical:
        return []
    # a numeric column with no value in the sample would stop the fit; it adds a column or two, ignore it here
    numeric = [c for c in numeric if pd.to_numeric(sample[c], errors="coerce").notna().any()]
    prep = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(sample)
    n_outputs = len(class_counts) if task == "multiclass" and class_counts is not None else 1
    params = _mlp_parameters(prep, list(hidden_units), n_outputs)
    min_class = int(class_counts.min()) if class_counts is not None else None
    evidence = {
        "rows": rows,
        "parameters": params,
        "features": len(prep.feature_names_),
        "hidden_units": list(hidden_units),
        "min_class_rows": min_class,
    }
    layers = " -> ".join(str(u) for u in hidden_units)
    size = (
        f"{rows:,} rows for a default network ({len(prep.feature_names_)} features -> {layers} -> {n_outputs}) "
        f"with {params:,} weights to learn"
        + (f"; the smallest class has {min_class:,} rows" if min_class is not None else "")
        + "."
    )
    reasons = []
    if rows < ENOUGH_ROWS:
        reasons.append(f"fewer than {ENOUGH_ROWS:,} rows")
    if rows < params:
        reasons.append("fewer rows than weights")
    if min_class is not None and min_class < ENOUGH_ROWS_PER_CLASS:
        reasons.append(f"fewer than {ENOUGH_ROWS_PER_CLASS} rows in a class")
    if reasons:
        return [
            Finding(
                "data_size",
                "warning",
                f"{size} That is little data for deep learning ({'; '.join(reasons)}): a network may not learn "
                "reliably, its score will vary from run to run, and simple models (logistic/linear regression, "
                "random forests) often do as well on this little data.",
                "Compare with the baselines deepwise trains alongside (they are in the verdict), prefer a small "
                "network (e.g. model.hidden_units: [16]) with dropout, and collect more data if you can.",
                evidence=evidence,
            )
        ]
    return [
        Finding(
            "data_size",
            "info",
            f"{size} That is enough rows for a network of this size to be worth trying.",
            "Nothing to do; deepwise still compares the network with simple baselines.",
            evidence=evidence,
        )
    ]


def inspect_images(images: Any, target: str = "label", seed: int = 0) -> Findings:
    """Findings for an image set (:class:`deepwise.data.images.ImageSet`): classes, sizes, channels,
    duplicates, unreadable files and whether there are enough images per class.

    Example:
        >>> inspect_images(open_images("digits/")).render(console)
    """
    from deepwise.data.images import describe

    stats = describe(images, seed=seed)
    findings = Findings()
    sizes = ", ".join(f"{k} ({v})" for k, v in list(stats["sizes"].items())[:5])
    channels = ", ".join(f"{k}: {v}" for k, v in stats["channels"].items())
    findings.append(
        Finding(
            "overview",
            "info",
            f"{stats['images']:,} images in {len(stats['class_counts'])} classes (from {images.source}). Sizes "
            f"(height x width, of {stats['checked']:,} checked): {sizes}; median {stats['median_size'][0]}x"
            f"{stats['median_size'][1]}. Channels: {channels}.",
            "deepwise resizes every image to one size (data.image_size) and one channel count (data.channels).",
            evidence={k: stats[k] for k in ("images", "checked", "sizes", "median_size", "channels")},
        )
    )
    if stats["skipped"]:
        findings.append(
            Finding(
                "unreadable_files",
                "warning",
                f"{len(stats['skipped'])} file(s) are not readable images and were skipped: "
                + ", ".join(stats["skipped"][:10]),
                "Remove or repair them.",
                evidence={"files": stats["skipped"]},
            )
        )
    if stats["duplicates"]:
        examples = "; ".join(" = ".join(group[:3]) for group in stats["duplicate_groups"][:3])
        findings.append(
            Finding(
                "duplicate_images",
                "warning",
                f"{stats['duplicates']} image(s) are exact copies of another (e.g. {examples}). Copies can land in "
                "both the training and the test split and make the test score look better than it is.",
                "Remove the duplicates before training.",
                evidence={"duplicates": stats["duplicates"], "groups": stats["duplicate_groups"]},
            )
        )
    if stats["class_counts"]:
        counts = pd.Series(stats["class_counts"]).sort_values(ascending=False)
        findings += _class_balance(counts, target)
        smallest = int(counts.min())
        severity = "warning" if smallest < 100 else "info"
        findings.append(
            Finding(
                "data_size",
                severity,
                f"{stats['images']:,} images; the smallest class has {smallest}. "
                + (
                    "That is little for a network trained from scratch: it may not learn reliably."
                    if severity == "warning"
                    else "Enough for a small CNN from scratch to learn."
                ),
                "With few images per class, transfer learning (model.type: pretrained) usually does better than "
                "training from scratch; augmentation helps too.",
                evidence={"images": stats["images"], "min_class_rows": smallest},
            )
        )
    return findings
