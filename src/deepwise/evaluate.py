"""Metrics on held-out data (scikit-learn), the same for the network and every baseline.

Example:
    >>> score("multiclass", y_true=[0, 1, 2], output=np.eye(3), classes=["a", "b", "c"])["accuracy"]
    1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm


def class_probabilities(task: str, output: np.ndarray) -> np.ndarray:
    """Model output -> [n, n_classes] probabilities (binary sigmoid output becomes two columns)."""
    output = np.asarray(output, dtype=np.float64)
    if task == "binary":
        p1 = output.reshape(-1)
        return np.column_stack([1.0 - p1, p1])
    return output


def _normalized(proba: np.ndarray) -> np.ndarray:
    clipped = np.clip(proba, 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)


def score(task: str, y_true: np.ndarray, output: np.ndarray, classes: list | None = None) -> dict[str, Any]:
    """Every metric deepwise reports for a task.

    ``y_true``: class indices (classification) or values (regression); ``output``: the model's raw output
    (probabilities for classification, values for regression).
    """
    y_true = np.asarray(y_true)
    if task == "regression":
        pred = np.asarray(output, dtype=np.float64).reshape(-1)
        y = y_true.astype(np.float64).reshape(-1)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
            "mae": float(skm.mean_absolute_error(y, pred)),
            "r2": float(skm.r2_score(y, pred)) if len(y) > 1 else float("nan"),
            "n": int(len(y)),
        }
    proba = class_probabilities(task, output)
    n_classes = proba.shape[1]
    y = y_true.astype(int).reshape(-1)
    pred = proba.argmax(axis=1)
    labels = list(range(n_classes))
    names = [str(c) for c in (classes if classes is not None else labels)]
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    result: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "macro_f1": float(skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "log_loss": float(skm.log_loss(y, _normalized(proba), labels=labels)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": {
            "labels": names,
            "matrix": skm.confusion_matrix(y, pred, labels=labels).tolist(),
            "rows": "true class",
            "columns": "predicted class",
        },
        "n": int(len(y)),
    }
    present = np.unique(y)
    if len(present) == n_classes:
        if task == "binary":
            result["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
        else:
            result["roc_auc_ovr"] = float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels))
    return result


def headline(task: str, scores: dict[str, Any]) -> str:
    """One line with the metrics a reader looks at first."""
    if task == "regression":
        return f"RMSE {scores['rmse']:.4g} · MAE {scores['mae']:.4g} · R² {scores['r2']:.3f}"
    return f"accuracy {scores['accuracy']:.3f} · macro F1 {scores['macro_f1']:.3f}"


# ------------------------------------------------------------------------------------------------------ baselines

BASELINE_NAMES = {
    "dummy": "majority class / mean (a guess that ignores the inputs)",
    "linear": "logistic regression / ridge regression",
    "gradient_boosting": "gradient-boosted trees (HistGradientBoosting)",
}


def baseline_models(task: str, seed: int, images: bool = False) -> dict[str, Any]:
    """The simple models every run is compared with (scikit-learn, sensible defaults).

    For images: the dummy and logistic regression on downsampled pixels (trees on pixels are slow and no better).
    """
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV

    if task == "regression":
        return {
            "dummy": DummyRegressor(strategy="mean"),
            "linear": RidgeCV(alphas=np.logspace(-3, 3, 13)),
            "gradient_boosting": HistGradientBoostingRegressor(random_state=seed),
        }
    models = {
        "dummy": DummyClassifier(strategy="most_frequent"),
        "linear": LogisticRegression(max_iter=5000),
        "gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }
    if images:
        del models["gradient_boosting"]
    return models


def model_output(task: str, model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """A fitted scikit-learn model's output in the network's format (probabilities per class, or values)."""
    if task == "regression":
        return model.predict(x)
    proba = np.zeros((len(x), n_classes))
    proba[:, model.classes_.astype(int)] = model.predict_proba(x)
    return proba[:, 1] if task == "binary" else proba


def fit_baselines(
    task: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    seed: int,
    images: bool = False,
) -> dict[str, dict[str, Any]]:
    """Fit each baseline on the training split; return {name: {"output": test output, "fit_seconds": ...}}."""
    import time
    import warnings

    results: dict[str, dict[str, Any]] = {}
    for name, model in baseline_models(task, seed, images).items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the score says how well it did
            model.fit(x_train, y_train)
        step = 100_000  # big test splits (streamed tables) are scored a slice at a time
        outputs = [model_output(task, model, x_test[i : i + step], n_classes) for i in range(0, len(x_test), step)]
        results[name] = {
            "output": np.concatenate(outputs) if len(outputs) > 1 else outputs[0],
            "fit_seconds": round(time.perf_counter() - start, 3),
            "model": type(model).__name__,
        }
    return results


# -------------------------------------------------------------------------------------------------------- verdict


def _row_metric(task: str, y: np.ndarray, output: np.ndarray) -> tuple[str, Any]:
    """The verdict's metric and a function of row indices that computes it (for the paired bootstrap)."""
    if task == "regression":
        pred = np.asarray(output, dtype=np.float64).reshape(-1)
        y = y.astype(np.float64).reshape(-1)
        sq = (y - pred) ** 2

        def r2(idx: np.ndarray) -> float:
            yy = y[idx]
            sst = float(((yy - yy.mean()) ** 2).sum())
            return 1.0 - float(sq[idx].sum()) / sst if sst > 0 else 0.0

        return "r2", r2
    correct = class_probabilities(task, output).argmax(axis=1) == y.astype(int).reshape(-1)

    def accuracy(idx: np.ndarray) -> float:
        return float(correct[idx].mean())

    return "accuracy", accuracy


BOOTSTRAP_CELLS = 200_000_000  # resampled rows in all; beyond it regression uses fewer resamples (at least 200)


def paired_bootstrap(
    task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Difference metric(a) - metric(b) on the same test rows, with a 95 % interval from resampling those rows.

    Accuracy on more than 100,000 rows: each resample is drawn as multinomial counts of the rows where a alone,
    b alone, or both/neither are right (the same distribution as resampling rows, in constant time per resample).
    Regression on millions of rows: fewer resamples (``resamples`` in the result says how many).
    """
    _, fa = _row_metric(task, y, a)
    _, fb = _row_metric(task, y, b)
    n = len(y)
    rng = np.random.default_rng(seed)
    every = np.arange(n)
    if task != "regression" and n > 100_000:
        pa, pb = class_probabilities(task, a).argmax(axis=1), class_probabilities(task, b).argmax(axis=1)
        truth = y.astype(int).reshape(-1)
        d = (pa == truth).astype(np.int8) - (pb == truth).astype(np.int8)
        p = np.array([np.mean(d == -1), np.mean(d == 0), np.mean(d == 1)])
        diffs = rng.multinomial(n, p / p.sum(), size=n_boot) @ np.array([-1.0, 0.0, 1.0]) / n
    else:
        n_boot = max(200, min(n_boot, BOOTSTRAP_CELLS // max(n, 1)))
        diffs = np.empty(n_boot)
        for i in range(n_boot):
            idx = rng.integers(0, n, n)
            diffs[i] = fa(idx) - fb(idx)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"difference": fa(every) - fb(every), "ci95_low": float(lo), "ci95_high": float(hi), "resamples": n_boot}


VERDICTS = (
    "deep_learning_helps",
    "simpler_model_suffices",
    "looks_like_a_computation",
    "not_enough_data",
    "worse_than_chance",
)
MIN_TRAIN_ROWS = 100
COMPUTATION_R2 = 0.999


def verdict(
    task: str,
    y_test: np.ndarray,
    network_output: np.ndarray,
    baseline_outputs: dict[str, np.ndarray],
    n_train: int,
    min_class_train_rows: int | None = None,
    generalization_gap: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Does the network help? Compares it with every baseline on the same test rows, with bootstrap noise.

    ``generalization_gap``: {"metric", "train", "validation"} at the best epoch (overfitting evidence).

    Returns ``{"code", "message", "evidence"}``; ``code`` is one of :data:`VERDICTS`.
    """
    metric, f_net = _row_metric(task, y_test, network_output)
    every = np.arange(len(y_test))
    net_score = f_net(every)
    base_scores = {name: _row_metric(task, y_test, out)[1](every) for name, out in baseline_outputs.items()}
    simple = {k: v for k, v in base_scores.items() if k != "dummy"}
    best_name = max(simple, key=simple.get)
    vs_best = paired_bootstrap(task, y_test, network_output, baseline_outputs[best_name], seed=seed)
    vs_dummy = paired_bootstrap(task, y_test, network_output, baseline_outputs["dummy"], seed=seed)
    evidence = {
        "metric": metric,
        "network": net_score,
        "baselines": base_scores,
        "best_baseline": best_name,
        "network_minus_best_baseline": vs_best,
        "network_minus_dummy": vs_dummy,
        "n_test": int(len(y_test)),
        "n_train": int(n_train),
        "bootstrap": f"{vs_best['resamples']} resamples of the test rows, the network and the baseline scored on "
        "the same resample",
        "generalization_gap": generalization_gap,
    }
    noise = (
        f"(95 % interval of the difference from {vs_best['resamples']:,} bootstrap resamples of the "
        f"{len(y_test):,} test rows: "
        f"{vs_best['ci95_low']:+.3f} to {vs_best['ci95_high']:+.3f})"
    )
    label = {"dummy": "the dummy baseline", "linear": "the linear model", "gradient_boosting": "gradient boosting"}

    persistence_note = ""
    if "persistence" in baseline_outputs:
        vs_naive = paired_bootstrap(task, y_test, network_output, baseline_outputs["persistence"], seed=seed)
        evidence["network_minus_persistence"] = vs_naive
        if vs_naive["ci95_high"] < 0:
            persistence_note = (
                f" The network is WORSE than the naive forecast 'the next value equals the last one' ({metric} "
                f"{base_scores['persistence']:.3f} vs {net_score:.3f}): do not use it."
            )
        elif vs_naive["ci95_low"] > 0:
            persistence_note = (
                f" It beats the naive forecast 'the next value equals the last one' ({metric} "
                f"{base_scores['persistence']:.3f}) beyond the noise."
            )
        else:
            persistence_note = (
                f" It does no better than the naive forecast 'the next value equals the last one' ({metric} "
                f"{base_scores['persistence']:.3f}) within the noise."
            )
    label.update(persistence="persistence", seasonal_persistence="seasonal persistence")

    def result(code: str, message: str) -> dict[str, Any]:
        return {"code": code, "message": message + persistence_note, "evidence": evidence}

    if task == "regression" and simple[best_name] >= COMPUTATION_R2:
        return result(
            "looks_like_a_computation",
            f"{label[best_name].capitalize()} predicts the target almost exactly (R² {simple[best_name]:.4f}): the "
            "target looks like a fixed computation of the inputs (a sum, a ratio, a formula). Deep learning is a "
            "wasteful and approximate way to compute it; find the formula or use the simple model.",
        )
    small = n_train < MIN_TRAIN_ROWS or (min_class_train_rows is not None and min_class_train_rows < 10)
    overfit, gap_text = False, ""
    if generalization_gap is not None:
        g = generalization_gap
        if g["metric"] == "accuracy":
            overfit = g["train"] - g["validation"] > 0.1
            gap_text = f", and training accuracy {g['train']:.2f} vs validation {g['validation']:.2f}"
        else:
            overfit = g["validation"] > 1.5 * g["train"]
            gap_text = f", and validation RMSE {g['validation']:.3g} vs training {g['train']:.3g}"
    learns = vs_dummy["ci95_low"] > 0
    if small or (learns and n_train < 500 and overfit and vs_best["ci95_low"] <= 0):
        why = (
            f"only {n_train} training rows"
            + (f" (the smallest class has {min_class_train_rows})" if min_class_train_rows is not None else "")
            + (gap_text if overfit else "")
        )
        return result(
            "not_enough_data",
            f"Not enough data for a network to learn reliably: {why}. The network scored {metric} {net_score:.3f}, "
            f"{label[best_name]} {simple[best_name]:.3f}; with this little data the scores are noisy and simple "
            "models are the safer choice. Collect more rows before trusting a network here.",
        )
    if not learns:
        return result(
            "worse_than_chance",
            f"The network ({metric} {net_score:.3f}) does not beat the dummy baseline that ignores the inputs "
            f"({base_scores['dummy']:.3f}) by more than the test-set noise (95 % interval of the difference "
            f"{vs_dummy['ci95_low']:+.3f} to {vs_dummy['ci95_high']:+.3f}). The inputs may not carry information "
            "about the target, or the network failed to learn it.",
        )
    if vs_best["ci95_low"] > 0:
        return result(
            "deep_learning_helps",
            f"The network ({metric} {net_score:.3f}) beats the best simple model, {label[best_name]} "
            f"({simple[best_name]:.3f}), by {vs_best['difference']:+.3f}, more than the test-set noise {noise}.",
        )
    better = vs_best["ci95_high"] < 0
    return result(
        "simpler_model_suffices",
        f"{label[best_name].capitalize()} scores {metric} {simple[best_name]:.3f} against the network's "
        f"{net_score:.3f}: "
        + ("the simple model is better beyond the test-set noise " if better else "as good within the noise ")
        + f"{noise}. Prefer the simpler model unless you need something only the network gives.",
    )


# ------------------------------------------------------------------------------------------ feature importance


IMPORTANCE_MAX_COLUMNS = 200  # above this, importance would take columns x repeats model calls: skipped, and said
IMPORTANCE_CELLS_PER_CALL = 5_000_000  # shuffled copies go through the model in calls of at most this many cells


def permutation_importance(
    predict_output: Any,
    frame: Any,
    y: np.ndarray,
    columns: list[str],
    task: str,
    n_repeats: int = 5,
    seed: int = 0,
    max_rows: int = 2000,
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
    metric, f = _row_metric(task, y, np.asarray(predict_output(frame)))
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
            drops[column].append(reference - _row_metric(task, y, outputs[i * n : (i + 1) * n])[1](every))
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
    metric, f = _row_metric(task, y, np.asarray(predict_batch(x)))
    reference = f(every)
    result: dict[str, dict[str, float]] = {}
    for column, idx in groups.items():
        shuffled = np.concatenate([x] * n_repeats)
        for r in range(n_repeats):
            block = shuffled[r * n : (r + 1) * n]
            block[..., idx] = x[rng.permutation(n)][..., idx]
        out = np.asarray(predict_batch(shuffled))
        drops = [reference - _row_metric(task, y, out[r * n : (r + 1) * n])[1](every) for r in range(n_repeats)]
        result[column] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    ordered = dict(sorted(result.items(), key=lambda kv: -kv[1]["mean"]))
    return {"metric": metric, "n_repeats": n_repeats, "rows": n, "columns": ordered}
