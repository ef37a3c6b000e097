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
    if "accuracy" in scores and "macro_f1" in scores:
        return f"accuracy {scores['accuracy']:.3f} · macro F1 {scores['macro_f1']:.3f}"
    return " · ".join(f"{k} {v:.4g}" for k, v in list(headline_scores(scores).items())[:3])


def headline_scores(scores: dict[str, Any], limit: int = 3) -> dict[str, float]:
    """The first ``limit`` single-number metrics of a scores dict, in its order (the order a kind scores them in:
    accuracy, macro F1, balanced accuracy; RMSE, MAE, R²; chrF, BLEU, exact match; ...)."""
    numbers = {k: v for k, v in scores.items() if k != "n" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return dict(list(numbers.items())[:limit])


#: metrics where a smaller value is better (everything else deepwise reports is better when larger)
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mse", "mape", "smape", "mase", "loss"})


def row_metric(task: str, y: np.ndarray, output: np.ndarray) -> tuple[str, Any]:
    """The verdict's metric for a task and a function of row indices that computes it (for the paired bootstrap
    and permutation importance): R² for regression, accuracy for classification."""
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

