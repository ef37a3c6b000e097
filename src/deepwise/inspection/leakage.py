"""Target leakage: a column that predicts the target almost perfectly on its own (it was derived from the target, or
recorded after it), measured by cross-validating a small tree on each column alone.

Example:
    >>> [f.code for f in leakage(sample, "y", "regression", numeric, categorical, seed=0)]
    ['target_leakage']
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from deepwise.inspection.checks import WIDE_COLUMNS
from deepwise.inspection.findings import Finding

LEAK_PROBLEM = 0.99  # single-column cross-validated balanced accuracy (classification) or R² (regression)
LEAK_WARNING = 0.95
LEAK_FOLDS = 3
LEAK_TREE_DEPTH = 6
LEAK_SCREEN_BINS = 64


# ------------------------------------------------------------------------------------------------------- leakage
def screen_scores(
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


# One piece: the screened path (wide tables) and the per-column cross-validation share the folds, the sample and
# the thresholds; the finding is written from both.
def leakage(
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
        screen = screen_scores(sample, numeric, y, folds, classification, len(classes) if classification else 0)
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
