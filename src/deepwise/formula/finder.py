"""The formula finder: is the target a closed form of the inputs (a sum, a median, a ratio, a power law, a rule)?

Deep learning is the wrong tool for a total, an average, a range or a known physical law: the answer is a formula,
and a network only approximates it. :func:`find_formula` searches a small, explicit space of closed forms on a
sample of rows, confirms each on held-out rows and reports the simplest that explains the target (R² >= 0.999, or
accuracy 1.0 on at least :data:`MIN_RULE_ROWS` rows), or else the closest one (the near miss).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import ConfigError, DataError
from deepwise.formula.candidates import Candidate, SearchData
from deepwise.formula.numbers import MIN_COVERAGE, SIMPLE_EXPONENTS
from deepwise.formula.regression import FAMILIES
from deepwise.formula.rules import search_rules
from deepwise.formula.spec import evaluate_spec

#: A regression formula explains the target at this held-out R² (the verdict's "looks like a computation" bar).
FORMULA_R2 = 0.999
#: A power law whose exponents are not simple fractions, or a formula with more than MAX_CONSTANTS fitted numbers,
#: is a curve fitted to the data more than a law: it must fit ten times closer (two trending series, such as GDP and
#: consumption, reach R² 0.999 with an exponent of 0.92; a regression of population on 8 other series too).
STRICT_R2 = 0.9999
MAX_CONSTANTS = 4
#: Above this held-out R² a formula is called exact; between FORMULA_R2 and this, "almost exactly".
EXACT_R2 = 0.99999
#: A rule explains a class label when it classifies every one of at least this many held-out rows correctly.
MIN_RULE_ROWS = 200
#: A regression formula needs at least this many held-out rows to be confirmed.
MIN_REGRESSION_ROWS = 30
#: Rows the search fits constants on (the rest of ``max_rows``, up to all, confirm them).
SEARCH_ROWS = 4000
#: A more complex passing formula replaces a simpler one when it leaves under this share of its error ...
BETTER_BY = 0.1
#: ... and the simpler one is not already exact to this share of the variance (real data are rounded).
EXACT = 1e-6
TASKS = ("regression", "binary", "multiclass")


@dataclass
class FormulaResult:
    """What :func:`find_formula` found. ``formula`` is ``"target = ..."`` when ``found``, else ``""`` (the
    closest formula is then in ``near_miss``); ``held_out_score`` is the held-out R² or accuracy (``metric``)."""

    found: bool
    target: str
    task: str
    formula: str
    kind: str | None
    columns: list[str]
    held_out_score: float | None
    metric: str
    single_column: bool
    near_miss: dict[str, Any] | None
    message: str
    spec: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    rows_searched: int = 0
    rows_held_out: int = 0
    skipped_columns: list[str] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)
    budget_exhausted: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able values (the spec recomputes the formula with :func:`evaluate_formula`).

        Example:
            >>> import json; json.dumps(result.to_dict())  # doctest: +SKIP
        """
        return asdict(self)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The found formula computed on new rows (class labels for a rule). Raises DataError when nothing was
        found or a column it needs is missing.

        Example:
            >>> find_formula(df, "total", "regression").predict(new_rows)  # doctest: +SKIP
        """
        if self.spec is None:
            raise DataError(
                f"No formula was found for '{self.target}', so there is nothing to compute.",
                expected="a FormulaResult with found=True",
                fix="check result.found first; result.near_miss holds the closest formula and its score",
            )
        return evaluate_formula(self.spec, frame)

    def as_finding(self) -> dict[str, Any]:
        """The result as a data-check finding: code, severity, message, action, columns, evidence."""
        if not self.found:
            action = "Nothing to do: the target is not a simple closed form of the inputs."
        elif self.single_column:
            action = (
                f"If {self.columns[0]!r} is known when you predict, compute the formula instead of training a "
                f"model; if it is recorded after the target, drop it (data.exclude: [{self.columns[0]!r}])."
            )
        else:
            action = "Compute the formula (or check how the target was made) instead of training a network."
        return {
            "code": "formula",
            "severity": "warning" if self.found else "info",
            "message": self.message,
            "action": action,
            "columns": self.columns or list((self.near_miss or {}).get("columns", [])),
            "evidence": self.to_dict(),
        }


def evaluate_formula(spec: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Compute a saved formula spec on the rows of ``frame`` (class labels for a rule, floats otherwise; NaN or
    None where a value it needs is missing).

    Example:
        >>> evaluate_formula({"kind": "aggregate", "function": "max", "columns": ["a", "b"], "scale": 1.0,
        ...                   "offset": 0.0}, pd.DataFrame({"a": [1.0, 5.0], "b": [3.0, 2.0]}))
        array([3., 5.])
    """
    from deepwise.formula.spec import spec_columns

    missing = [c for c in spec_columns(spec) if c not in frame.columns]
    if missing:
        raise DataError(
            f"The formula needs column(s) {missing} that the table does not have.",
            expected=f"columns {spec_columns(spec)}",
            fix="pass a table with the same columns the formula was found on",
        )
    cache: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = _numeric(frame[name])
        return cache[name]

    values = evaluate_spec(spec, column, len(frame))
    if spec["kind"] != "rule":
        return values
    labels = np.array([*spec["classes"], None], dtype=object)
    return labels[np.where(values < 0, len(spec["classes"]), values)]


def _numeric(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _json_label(value: Any) -> Any:
    """A class label as a JSON value: numbers and text as they are, anything else (a date...) as text."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _infer_task(target: pd.Series) -> str:
    values = target.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "binary" if values.nunique() <= 2 else "multiclass"
    unique = values.unique()
    if len(unique) <= 10 and np.all(np.mod(unique.astype(np.float64), 1) == 0):
        return "binary" if len(unique) <= 2 else "multiclass"
    return "regression"


#: above this many inputs, the search covers the ones most correlated with the target (a formula of the others
#: would have to be a sum of many weak columns, which the linear family finds among these anyway)
MAX_SEARCH_COLUMNS = 50


def most_related(frame: pd.DataFrame, target: str, inputs: list[str], k: int, max_rows: int = 5000) -> list[str]:
    """The ``k`` numeric inputs most correlated (in absolute value) with the target, or with its class codes, on at
    most ``max_rows`` rows (one matrix product, not a loop over columns; missing values count as the mean)."""
    rows = frame.iloc[:max_rows]
    y = rows[target]
    y = pd.to_numeric(y, errors="coerce") if pd.api.types.is_numeric_dtype(y) else pd.Series(pd.factorize(y)[0])
    numbers = [c for c in inputs if pd.api.types.is_numeric_dtype(rows[c]) and not pd.api.types.is_bool_dtype(rows[c])]
    x = rows[numbers].to_numpy(dtype=np.float64)
    target_values = y.to_numpy(dtype=np.float64)
    keep = np.isfinite(target_values)
    x, target_values = x[keep], target_values[keep]
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: its mean is NaN, its strength 0
        x = np.where(np.isfinite(x), x, np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0))
        x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
        target_values = (target_values - target_values.mean()) / max(float(target_values.std()), 1e-12)
        strength = np.nan_to_num(np.abs(x.T @ target_values) / max(len(target_values), 1))
    chosen = np.argsort(-strength, kind="stable")[:k]
    return [numbers[i] for i in sorted(chosen)]  # in the table's column order, so a formula reads as the table does


def _check_arguments(frame: pd.DataFrame, target: str, task: str | None, inputs: list[str] | None) -> str:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"find_formula received a {type(frame).__name__}, not a table.",
            expected="a pandas DataFrame with the target and input columns",
            fix="load the data first, e.g. pd.read_csv(path)",
        )
    if target not in frame.columns:
        raise DataError(
            f"The target column {target!r} is not in the table.",
            expected=f"one of: {', '.join(map(str, list(frame.columns)[:20]))}",
            fix="pass the name of the column to explain as target",
        )
    unknown = [c for c in (inputs or []) if c not in frame.columns]
    if unknown:
        raise DataError(
            f"Input column(s) {unknown} are not in the table.",
            expected=f"names among: {', '.join(map(str, list(frame.columns)[:20]))}",
            fix="pass inputs=None to use every other numeric column",
        )
    if task == "classification":
        task = None if frame[target].nunique() <= 2 else "multiclass"
        task = task or "binary"
    if task is None:
        return _infer_task(frame[target])
    if task not in TASKS:
        raise ConfigError(
            f"Unknown task {task!r} for the formula finder.",
            expected="'regression', 'binary', 'multiclass' (or None to infer it from the target)",
            fix="pass task='regression' for a number, 'binary' or 'multiclass' for a class label",
        )
    return task


def _prepare(
    frame: pd.DataFrame, target: str, task: str, inputs: list[str] | None, seed: int, max_rows: int
) -> tuple[SearchData | None, list[Any], list[str], str | None]:
    """Search and held-out rows of the numeric inputs, the class labels, the skipped columns and, when the search
    cannot run, why."""
    names = [c for c in (inputs if inputs is not None else frame.columns) if c != target]
    raw_y = frame[target]
    classes: list[Any] = []
    if task == "regression":
        y_all = _numeric(raw_y)
        if not pd.api.types.is_numeric_dtype(raw_y) and len(y_all) and np.isnan(y_all).mean() > 0.5:
            return None, [], [], f"'{target}' is not numeric, so it cannot be a regression formula"
        keep = np.flatnonzero(np.isfinite(y_all))
    else:
        keep = np.flatnonzero(raw_y.notna().to_numpy())
    rng = np.random.default_rng(seed)
    rows = rng.permutation(keep)[:max_rows]
    sample = frame.iloc[rows]
    numeric, skipped, columns = [], [], []
    for name in names:
        series = sample[name]
        kind = series.dtype.kind
        if kind in "biuf":
            values = _numeric(series)
            if np.nanmax(values, initial=-np.inf) == np.nanmin(values, initial=np.inf) and not np.isnan(values).any():
                skipped.append(str(name))  # constant
                continue
            if np.isnan(values).all():
                skipped.append(str(name))
                continue
            numeric.append(str(name))
            columns.append(values)
        else:
            skipped.append(str(name))
    if task == "regression":
        y = y_all[rows]
        if np.ptp(y) == 0 if len(y) else True:
            return None, [], skipped, f"'{target}' is constant on these rows: there is nothing to explain"
    else:
        try:
            codes, uniques = pd.factorize(sample[target], sort=True)
        except TypeError:  # labels of mixed types (numbers and text) do not sort
            codes, uniques = pd.factorize(sample[target].astype(str), sort=True)
        classes = [_json_label(u) for u in uniques]
        y = codes.astype(np.int64)
        if len(classes) < 2:
            return None, classes, skipped, f"'{target}' has a single class on these rows: there is nothing to explain"
    if not numeric:
        return None, classes, skipped, "no numeric input column to build a formula from"
    x = np.column_stack(columns)
    n_fit = min(SEARCH_ROWS, len(y) // 2)
    data = SearchData(numeric, x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:], seed=seed)
    return data, classes, skipped, None


def _odd_exponents(spec: dict[str, Any]) -> bool:
    exponents = spec.get("exponents", []) if spec["kind"] == "power_law" else []
    return any(not np.any(np.isclose(SIMPLE_EXPONENTS, e, rtol=0, atol=1e-12)) for e in exponents)


def _passes(candidate: Candidate, task: str) -> bool:
    if math.isnan(candidate.score) or candidate.coverage < MIN_COVERAGE:
        return False
    if task == "regression":
        loose = _odd_exponents(candidate.spec) or candidate.constants > MAX_CONSTANTS
        bar = STRICT_R2 if loose else FORMULA_R2
        return candidate.score >= bar and candidate.n_scored >= MIN_REGRESSION_ROWS
    return candidate.score == 1.0 and candidate.n_scored >= MIN_RULE_ROWS


def _choose(passing: list[Candidate]) -> Candidate:
    """The simplest passing formula, unless a more complex one is near exact where the simpler one is not (a
    target that is ``a + b`` with ``b`` tiny passes as ``a`` alone, but ``a + b`` is the formula)."""
    ordered = sorted(passing, key=Candidate.simplicity)
    best = ordered[0]
    for candidate in ordered[1:]:
        error, challenger = 1.0 - best.score, 1.0 - candidate.score
        if error > EXACT and challenger < BETTER_BY * error:
            best = candidate
    return best


def _near_miss(candidates: list[Candidate]) -> Candidate | None:
    """The best-scoring formula, or a simpler one within a quarter of its error (noise decides the rest)."""
    scored = [c for c in candidates if not math.isnan(c.score) and c.coverage >= MIN_COVERAGE]
    if not scored:
        return None
    top = max(c.score for c in scored)
    margin = 0.25 * (1.0 - top) + 1e-9
    return min((c for c in scored if c.score >= top - margin), key=Candidate.simplicity)


def _search(data: SearchData, task: str, classes: list[Any]) -> tuple[list[Candidate], list[str], bool]:
    candidates: list[Candidate] = []
    searched: list[str] = []
    exhausted = False
    if task == "regression":
        for name, family in FAMILIES.items():
            if data.out_of_time():
                exhausted = True
                break
            try:
                candidates += family(data)
                searched.append(name)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError) as error:  # extreme values: skip, say so
                searched.append(f"{name} (skipped: {type(error).__name__}: {error})")
    else:
        candidates = search_rules(data, classes)
        searched.append("rules: thresholds, differences and ratios of columns, trees of depth 1-3")
        exhausted = data.out_of_time()
    unique: dict[str, Candidate] = {}
    for candidate in candidates:  # one formula found by two families: keep the family a person writes first
        key = candidate.expression
        if key not in unique or candidate.simplicity()[:3] < unique[key].simplicity()[:3]:
            unique[key] = candidate
    return [c.score_on(data) for c in unique.values()], searched, exhausted


def _message(result: FormulaResult, near: Candidate | None, rows: int) -> str:
    metric = result.metric
    if result.found:
        exact = result.held_out_score >= EXACT_R2
        score = f"held-out {metric} {result.held_out_score:.{4 if exact else 5}f} on {rows:,} rows"
        closeness = (
            ""
            if exact
            else (
                " The fit is close but not exact: a formula with rounding or noise, or a very strong relation (two "
                "trending series also fit this well)."
            )
        )
        if result.single_column:
            return (
                f"'{result.target}' is {'an exact' if exact else 'almost exactly a'} function of one column, "
                f"{result.columns[0]!r}: {result.formula} ({score}). This is a known equation or a leak: compute it "
                f"instead of training a network, or drop {result.columns[0]!r} if it is not known when you predict."
                + closeness
            )
        what = "a rule" if result.kind == "rule" else "a formula"
        return (
            f"'{result.target}' is {'' if exact else 'almost exactly '}{what} of the inputs: {result.formula} "
            f"({score}). Deep learning only approximates a known computation: compute it (or check how the target "
            "was made)." + closeness
        )
    if near is None:
        return f"No simple formula of the inputs explains '{result.target}'."
    bar = f"R² >= {FORMULA_R2}" if metric == "R²" else f"accuracy 1.0 on at least {MIN_RULE_ROWS} rows"
    return (
        f"No simple formula of the inputs explains '{result.target}' (bar: held-out {bar}); the closest is "
        f"{result.target} = {near.expression} (held-out {metric} {near.score:.4f} on {near.n_scored:,} rows)."
    )


def find_formula(
    frame: pd.DataFrame,
    target: str,
    task: str | None = None,
    inputs: list[str] | None = None,
    seed: int = 0,
    max_rows: int = 20_000,
    budget_s: float = 10.0,
) -> FormulaResult:
    """Search closed forms of the numeric input columns for the one that explains ``target`` on held-out rows.

    ``task``: "regression", "binary", "multiclass" (or None: inferred from the target). ``inputs``: the columns
    to use (default: every other column; non-numeric ones are skipped and listed). At most ``max_rows`` rows are
    used: up to :data:`SEARCH_ROWS` to search, the rest to confirm. ``budget_s`` is a soft time limit between
    families (the search is bounded and deterministic for a seed as long as it is not reached).

    Example:
        >>> df = pd.DataFrame({"height": np.linspace(1, 100, 500)})
        >>> df["fall_time"] = np.sqrt(2 * df["height"] / 9.81)
        >>> find_formula(df, "fall_time", "regression").formula
        'fall_time = 0.4515 * height^0.5'
    """
    started = time.perf_counter()
    task = _check_arguments(frame, target, task, inputs)
    metric = "R²" if task == "regression" else "accuracy"
    inputs = [c for c in frame.columns if c != target] if inputs is None else list(inputs)
    if len(inputs) > MAX_SEARCH_COLUMNS:  # a wide table: the search covers the inputs most related to the target
        inputs = most_related(frame, target, inputs, MAX_SEARCH_COLUMNS)
    data, classes, skipped, problem = _prepare(frame, target, task, inputs, seed, max(int(max_rows), 2))
    base = dict(target=target, task=task, metric=metric, skipped_columns=skipped)
    if data is None or len(data.y_held) < 10:
        reason = problem or f"only {0 if data is None else len(data.y_fit) + len(data.y_held)} usable rows"
        return FormulaResult(
            False,
            formula="",
            kind=None,
            columns=[],
            held_out_score=None,
            single_column=False,
            near_miss=None,
            message=f"No formula search for '{target}': {reason}.",
            seconds=time.perf_counter() - started,
            **base,
        )
    data.deadline = started + budget_s
    from threadpoolctl import threadpool_limits

    # the products are small: BLAS threads cost more than they give (2x slower on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        candidates, searched, exhausted = _search(data, task, classes)
    passing = [c for c in candidates if _passes(c, task)]
    chosen = _choose(passing) if passing else None
    near = None if chosen else _near_miss(candidates)
    result = FormulaResult(
        found=chosen is not None,
        formula=f"{target} = {chosen.expression}" if chosen else "",
        kind=chosen.spec["kind"] if chosen else None,
        columns=chosen.columns if chosen else [],
        held_out_score=float(chosen.score) if chosen else None,
        single_column=bool(chosen and len(chosen.columns) == 1),
        near_miss=near.describe(target) if near else None,
        message="",
        spec=chosen.spec if chosen else None,
        alternatives=[c.describe(target) for c in sorted(passing, key=Candidate.simplicity) if c is not chosen][:3],
        rows_searched=len(data.y_fit),
        rows_held_out=len(data.y_held),
        searched=searched,
        budget_exhausted=exhausted,
        **base,
    )
    result.message = _message(result, near, chosen.n_scored if chosen else 0)
    result.seconds = time.perf_counter() - started
    return result
