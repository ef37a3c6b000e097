"""Rules for a class label: thresholds on single columns, comparisons of two columns (differences and ratios) and
boolean combinations of a few of them, found by shallow decision trees (depth 1 to :data:`MAX_RULE_DEPTH`) and
printed as ``label = (a > b) and (c > 0)``.

Each split's threshold is moved to the simplest number between the two nearest search rows on either side (0 for
a difference, so ``a - b > 0.0013`` becomes ``a > b``; 1 for a ratio), which leaves the search rows' routing
unchanged; sibling leaves of one class are merged.
"""

from __future__ import annotations

import warnings
from itertools import combinations
from typing import Any

import numpy as np

from deepwise.formula.candidates import Candidate, SearchData
from deepwise.formula.numbers import format_number, simplest_in_interval
from deepwise.formula.spec import quote, rule_class_indices, rule_feature

MAX_RULE_DEPTH = 3
SINGLE_POOL = 10  # columns tried on their own
PAIR_POOL = 6  # columns whose pairwise differences and ratios are tried
PAIR_RULES = 3  # best pairs of features (by an exhaustive score) given a depth-2 tree of their own


def _ranked_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Columns by their ANOVA F statistic with the class (a ranking; constant columns last)."""
    from sklearn.feature_selection import f_classif

    usable = np.ptp(x, axis=0) > 0
    scores = np.zeros(x.shape[1])
    if usable.any() and len(np.unique(y)) > 1:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            scores[usable] = np.nan_to_num(f_classif(x[:, usable], y)[0], nan=0.0, posinf=1e300)
    scores[~usable] = -1.0
    return np.argsort(-scores, kind="stable")


def rule_features(data: SearchData, filled: np.ndarray) -> list[dict[str, Any]]:
    """Single columns, pairwise differences and (for strictly positive columns) pairwise ratios."""
    ranked = _ranked_columns(filled, data.y_fit)
    names = data.names
    features = [{"op": "column", "columns": [names[j]]} for j in ranked[:SINGLE_POOL]]
    pair_pool = sorted(ranked[:PAIR_POOL])  # table order: "a > b", not "b <= a"
    for i, j in combinations(pair_pool, 2):
        features.append({"op": "difference", "columns": [names[i], names[j]]})
    positive = [j for j in pair_pool if np.all(filled[:, j] > 0)]
    for i, j in combinations(positive, 2):
        features.append({"op": "ratio", "columns": [names[i], names[j]]})
    return features


def best_stumps(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For a 0/1 label, the threshold of each feature column that classifies the most rows correctly with
    ``feature > threshold`` (or its negation), a midpoint between two observed values."""
    n = len(y)
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    ones_left = np.cumsum(y[order], axis=0)
    zeros_left = np.arange(1, n + 1)[:, None] - ones_left
    correct = zeros_left + ones_left[-1] - ones_left  # "x > t -> 1" with t at each sorted position
    correct = np.maximum(correct, n - correct).astype(np.float64)
    correct[:-1][ordered[:-1] == ordered[1:]] = -1.0  # no threshold between equal values
    position = np.argmax(correct[:-1], axis=0) if n > 1 else np.zeros(values.shape[1], dtype=int)
    columns = np.arange(values.shape[1])
    return (ordered[position, columns] + ordered[np.minimum(position + 1, n - 1), columns]) / 2


def feature_pairs(values: np.ndarray, y: np.ndarray, features: list[dict[str, Any]], top: int) -> list[tuple]:
    """The pairs of features whose best conjunction of two thresholds (at each feature's best stump or its
    neutral value, either side, the result negated or not) classifies the most rows of a 0/1 label, best first.
    Every pair is scored (one matrix product), so a boolean combination is not missed by a greedy tree."""
    neutral = np.array([1.0 if f["op"] == "ratio" else 0.0 for f in features])
    owners, literals = [], []
    for thresholds in (best_stumps(values, y), neutral):
        above = values > thresholds
        literals += [above, ~above]
        owners += [np.arange(len(features))] * 2
    matrix = np.concatenate(literals, axis=1).astype(np.float32)
    owner = np.concatenate(owners)
    signed = matrix * (2.0 * y - 1.0).astype(np.float32)[:, None]
    correct = float(np.sum(y == 0)) + signed.T @ matrix  # rows right with "literal p and literal q -> 1"
    correct = np.maximum(correct, len(y) - correct)
    correct[owner[:, None] == owner[None, :]] = -1.0
    best: dict[tuple[int, int], float] = {}
    for p, q in zip(*np.unravel_index(np.argsort(-correct, axis=None, kind="stable"), correct.shape), strict=True):
        pair = tuple(sorted((int(owner[p]), int(owner[q]))))
        if correct[p, q] < 0 or len(best) >= top:
            break
        best.setdefault(pair, float(correct[p, q]))
    return list(best)


def _to_spec(
    tree: Any, values: np.ndarray, y: np.ndarray, features: list[dict], chosen: list[int], node: int, rows: np.ndarray
) -> dict:
    """The fitted tree (on the features ``chosen``) as a spec node, thresholds moved to the simplest number in each
    split's gap, a comparison replaced by a single column that splits the same rows, sibling leaves of one class
    merged (a leaf predicts the most common class of the search rows it receives)."""
    t = tree.tree_
    if t.children_left[node] == -1 or len(rows) == 0:
        if len(rows) == 0:
            return {"class_index": int(np.argmax(t.value[node][0]))}
        return {"class_index": int(np.argmax(np.bincount(y[rows])))}
    used = chosen[t.feature[node]]
    column = values[rows, used]
    goes_left = column <= t.threshold[node]
    if goes_left.all() or not goes_left.any():
        child = t.children_left[node] if goes_left.all() else t.children_right[node]
        return _to_spec(tree, values, y, features, chosen, child, rows)
    low, high = float(column[goes_left].max()), float(column[~goes_left].min())
    feature = features[used]
    threshold = 1.0 if feature["op"] == "ratio" and low <= 1.0 < high else simplest_in_interval(low, high)
    left = _to_spec(tree, values, y, features, chosen, t.children_left[node], rows[goes_left])
    right = _to_spec(tree, values, y, features, chosen, t.children_right[node], rows[~goes_left])
    if feature["op"] != "column":  # one column that splits these rows the same way reads simpler
        for j, other in enumerate(features):
            if other["op"] != "column":
                continue
            v = values[rows, j]
            if v[goes_left].max() < v[~goes_left].min():
                feature, threshold = other, simplest_in_interval(v[goes_left].max(), v[~goes_left].min())
                break
            if v[~goes_left].max() < v[goes_left].min():
                feature, threshold = other, simplest_in_interval(v[~goes_left].max(), v[goes_left].min())
                left, right = right, left
                break
    if "class_index" in left and left == right:
        return left
    return {"feature": feature, "threshold": threshold, "left": left, "right": right}


def _internal_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "feature" not in node:
        return []
    return [node, *_internal_nodes(node["left"]), *_internal_nodes(node["right"])]


def _neutral_thresholds(tree: dict[str, Any], errors_of: Any) -> None:
    """Move each threshold to the neutral value of its feature (0; 1 for a ratio) when the rule then makes no more
    errors on the search rows: ``a - b > 0.014`` becomes ``a > b`` when the data cannot tell them apart."""
    errors = errors_of(tree)
    for node in _internal_nodes(tree):
        neutral = 1.0 if node["feature"]["op"] == "ratio" else 0.0
        if node["threshold"] == neutral:
            continue
        kept, node["threshold"] = node["threshold"], neutral
        trial = errors_of(tree)
        if trial <= errors:
            errors = trial
        else:
            node["threshold"] = kept


def search_rules(data: SearchData, classes: list[Any]) -> list[Candidate]:
    """Rule candidates from decision trees of depth 1, 2 and 3 on :func:`rule_features`."""
    from sklearn.tree import DecisionTreeClassifier

    with np.errstate(all="ignore"):
        medians = np.nan_to_num(np.nanmedian(data.x_fit, axis=0)) if np.isnan(data.x_fit).any() else 0.0
    filled = np.where(np.isnan(data.x_fit), medians, data.x_fit)
    features = rule_features(data, filled)
    index = data.index
    values = np.column_stack([rule_feature(f, lambda name: filled[:, index[name]]) for f in features])
    values = np.where(np.isfinite(values), values, 0.0)
    small = np.all(np.abs(values) < 1e30, axis=0)  # a tree works in float32
    features, values = [f for f, keep in zip(features, small, strict=True) if keep], values[:, small]
    if not features:
        return []
    n_rows = len(values)

    def errors_of(node: dict[str, Any]) -> float:
        predicted = rule_class_indices(node, lambda name: filled[:, index[name]], n_rows)
        return float(np.mean(predicted != data.y_fit))

    def candidate(depth: int, chosen: list[int]) -> Candidate:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "more classes than half the rows": a rule is still worth a look
            tree = DecisionTreeClassifier(max_depth=depth, random_state=data.seed)
            tree.fit(values[:, chosen], data.y_fit)
        node = _to_spec(tree, values, data.y_fit, features, chosen, 0, np.arange(n_rows))
        _neutral_thresholds(node, errors_of)
        return Candidate({"kind": "rule", "classes": classes, "tree": node}, errors_of(node))

    everything = list(range(len(features)))
    out: list[Candidate] = []
    for depth in range(1, MAX_RULE_DEPTH + 1):
        if data.out_of_time():
            break
        out.append(candidate(depth, everything))
        if depth == 1 and len(classes) == 2:  # two conditions: every pair of features, not only the greedy one
            out += [candidate(2, list(pair)) for pair in feature_pairs(values, data.y_fit, features, PAIR_RULES)]
        if any(c.fit_unexplained == 0 for c in out):
            break
    return out


# ------------------------------------------------------------------------------------------------------ printing
def _condition(feature: dict[str, Any], greater: bool, threshold: float) -> str:
    names = [quote(c) for c in feature["columns"]]
    sign = ">" if greater else "<="
    if feature["op"] == "column":
        return f"{names[0]} {sign} {format_number(threshold)}"
    neutral = 0.0 if feature["op"] == "difference" else 1.0
    if threshold == neutral:
        return f"{names[0]} {sign} {names[1]}"
    symbol = "-" if feature["op"] == "difference" else "/"
    return f"{names[0]} {symbol} {names[1]} {sign} {format_number(threshold)}"


def _paths(node: dict[str, Any], prefix: tuple = ()) -> list[tuple[int, tuple]]:
    """(class index, conditions) for every leaf; a condition is (feature key, feature, greater, threshold)."""
    if "class_index" in node:
        return [(node["class_index"], prefix)]
    key = (node["feature"]["op"], tuple(node["feature"]["columns"]))
    left = (key, node["feature"], False, node["threshold"])
    right = (key, node["feature"], True, node["threshold"])
    return _paths(node["left"], (*prefix, left)) + _paths(node["right"], (*prefix, right))


def _tighten(conditions: tuple) -> list[tuple]:
    """One condition per feature and direction: the tightest."""
    kept: dict[tuple, tuple] = {}
    for condition in conditions:
        key, _, greater, threshold = condition
        slot = (key, greater)
        if slot not in kept or (threshold > kept[slot][3] if greater else threshold < kept[slot][3]):
            kept[slot] = condition
    return list(kept.values())


def _absorb(paths: list[list[tuple]]) -> list[list[tuple]]:
    """``P or (not P and Q)`` is ``P or Q``: drop from longer paths the negation of a one-condition path."""
    singles = [p[0] for p in paths if len(p) == 1]
    out = []
    for path in paths:
        if len(path) > 1:
            path = [c for c in path if not any(s[0] == c[0] and s[2] != c[2] and s[3] == c[3] for s in singles)] or path
        out.append(path)
    return out


def _disjunction(paths: list[list[tuple]]) -> str:
    texts = []
    for path in paths:
        parts = [f"({_condition(c[1], c[2], c[3])})" for c in path]
        texts.append(" and ".join(parts))
    if len(texts) == 1:
        return texts[0]
    return " or ".join(f"({t})" if " and " in t else t for t in texts)


def _label(value: Any) -> str:
    return repr(value) if isinstance(value, str) else format_number(float(value))


def format_rule(spec: dict[str, Any]) -> str:
    """A rule tree as plain notation: ``(a > b)`` for a 0/1 or False/True label, else
    ``'yes' if (a > b) else 'no'``; with more classes one ``if ... else`` per class."""
    classes = spec["classes"]
    by_class: dict[int, list[list[tuple]]] = {}
    for class_index, conditions in _paths(spec["tree"]):
        by_class.setdefault(class_index, []).append(_tighten(conditions))
    by_class = {k: _absorb(v) for k, v in by_class.items()}
    if len(by_class) == 1:
        return _label(classes[next(iter(by_class))])
    boolean = len(classes) == 2 and all(not isinstance(c, str) and float(c) == i for i, c in enumerate(classes))
    if boolean and 1 in by_class:
        return _disjunction(by_class[1])
    first = (lambda k: -k) if len(classes) == 2 else (lambda k: k)  # 'yes' if ... else 'no'; else a, b, c

    def reads_first(k: int) -> tuple:  # fewest paths and conditions, then the most "greater than"
        greater = sum(c[2] for path in by_class[k] for c in path)
        return (len(by_class[k]), sum(map(len, by_class[k])), -greater, first(k))

    order = sorted(by_class, key=reads_first)
    text = _label(classes[order[-1]])
    for class_index in reversed(order[:-1]):
        text = f"{_label(classes[class_index])} if {_disjunction(by_class[class_index])} else {text}"
    return text
