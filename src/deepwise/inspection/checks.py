"""The data checks of a table, one function each: overview, missing values, unused columns, numbers with junk,
duplicates, class balance, outliers and skew, correlated inputs. Each returns a list of :class:`Finding`.

Example:
    >>> missing_values(df, target="species")[0].code
    'missing_values'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.schema import (
    ColumnChoice,
    check_numeric_junk,
    is_numeric,
)
from deepwise.errors import DataError
from deepwise.inspection.findings import Finding

MISSING_WARNING_SHARE = 0.05  # a column with more missing values than this gets a warning
MINORITY_WARNING_SHARE = 0.10  # the smallest class below this share of rows: imbalanced
OUTLIER_IQR_FENCE = 3.0  # Tukey's "far out" values: beyond 3 x IQR from the quartiles
OUTLIER_MIN_SHARE = 1e-5  # a normal distribution has ~2.4 such values per million; flag more than that...
OUTLIER_FAR_IQR = 10.0  # ...or any single value this many IQRs beyond the quartiles
SKEW_LIMIT = 2.0
CORRELATION_LIMIT = 0.95
MAX_REPORTED_PAIRS = 10
WIDE_COLUMNS = 200  # above this many numeric inputs, correlation and leakage use the vectorized / screened paths


def sample_of(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    rows = np.sort(rng.choice(len(df), size=n, replace=False))
    return df.iloc[rows]


def fmt_share(share: float) -> str:
    pct = 100 * share
    if pct == 0:
        return "0%"
    return f"{pct:.2g}%" if pct < 1 else f"{pct:.1f}%"


def listed_names(columns: list[str], k: int = 8) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:k])
    return shown + (f" and {len(columns) - k} more" if len(columns) > k else "")


# ------------------------------------------------------------------------------------------------------ overview
def column_kinds(df: pd.DataFrame, choices: list[ColumnChoice]) -> dict[str, str]:
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


def overview(
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
    groups = [
        f"{described[k]}: {listed_names([c for c, v in kinds.items() if v == k], 6)}" for k in described if k in counts
    ]
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
def missing_values(df: pd.DataFrame, target: str | None) -> list[Finding]:
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
        listed = ", ".join(f"'{c}' {fmt_share(v / n)} ({int(v):,})" for c, v in part.head(8).items())
        listed += f" and {len(part) - 8} more" if len(part) > 8 else ""
        if severity == "warning":
            message = (
                f"{len(part)} column(s) have {fmt_share(MISSING_WARNING_SHARE)} or more missing values: {listed}. "
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
def unused_columns(df: pd.DataFrame, choices: list[ColumnChoice], kinds: dict[str, str]) -> list[Finding]:
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
def numeric_junk(df: pd.DataFrame, sample: pd.DataFrame, columns: list[str]) -> list[Finding]:
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
def row_hashes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.zeros(len(df), dtype=np.uint64)
    return pd.util.hash_pandas_object(df[columns], index=False).to_numpy()


def duplicates(df: pd.DataFrame, target: str | None, columns: list[str]) -> list[Finding]:
    """Exact duplicate rows (ID-like columns ignored); with a target, equal inputs that have different targets."""
    n = len(df)
    if not [c for c in columns if c != target]:
        return []
    rows = row_hashes(df, columns)
    n_dup = int(pd.Series(rows).duplicated().sum())
    ignored = [c for c in df.columns if c not in columns]
    evidence: dict[str, Any] = {"duplicate_rows": n_dup, "share": n_dup / n, "ignored_columns": ignored}
    n_conflict = 0
    if target is not None:
        labelled = df[target].notna().to_numpy()
        inputs = row_hashes(df, [c for c in columns if c != target])[labelled]
        y = pd.util.hash_pandas_object(df[target], index=False).to_numpy()[labelled]
        pairs = pd.DataFrame({"x": inputs, "y": y}).drop_duplicates()
        conflicted = pairs["x"][pairs["x"].duplicated(keep=False)].unique()
        n_conflict = int(np.isin(inputs, conflicted).sum())
        evidence.update({"conflicting_rows": n_conflict, "conflicting_groups": len(conflicted)})
    if n_dup == 0 and n_conflict == 0:
        return [Finding("duplicate_rows", "info", "No duplicate rows.", "Nothing to do.", evidence=evidence)]
    parts = []
    if n_dup:
        ignoring = f" (ignoring the ID-like column(s) {listed_names(ignored, 4)})" if ignored else ""
        parts.append(
            f"{n_dup:,} row(s) ({fmt_share(n_dup / n)}) are exact copies of an earlier row{ignoring}. Copies can "
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
def class_balance(counts: pd.Series, target: str) -> list[Finding]:
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
    shown = ", ".join(f"{k!s}: {int(v):,} ({fmt_share(v / n)})" for k, v in counts.head(10).items())
    shown += f" and {len(counts) - 10} more classes" if len(counts) > 10 else ""
    guess = (
        f"Always guessing the most common class ('{counts.index[0]}') is already right {fmt_share(majority)} "
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
# One piece: outliers and skew are measured in one vectorized pass over the numeric columns (quantiles, fences
# and moments computed once for all columns); splitting it would repeat that pass.
def outliers_and_skew(df: pd.DataFrame, columns: list[str], target: str | None) -> list[Finding]:
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
            f"'{c}': {int(e['count']):,} value(s) ({fmt_share(e['share'])}) outside [{e['lower_fence']:.4g}, "
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
def correlated(sample: pd.DataFrame, numeric: list[str]) -> list[Finding]:
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
            collect_pairs(r, start, limit, found_i, found_j, found_r)
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
            collect_pairs(np.where(ok, np.clip(r, -1.0, 1.0), 0.0), start, limit, found_i, found_j, found_r)
    if not found_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_r)


def collect_pairs(r: np.ndarray, start: int, limit: float, found_i: list, found_j: list, found_r: list) -> None:
    rows, cols = np.nonzero(np.abs(np.nan_to_num(r)) >= limit)
    cols_global = cols + start
    keep = rows < cols_global
    found_i.append(rows[keep])
    found_j.append(cols_global[keep])
    found_r.append(r[rows[keep], cols[keep]])
