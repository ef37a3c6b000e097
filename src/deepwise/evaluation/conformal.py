"""How sure is a prediction? Split-conformal prediction intervals (numbers) and prediction sets (classes),
calibrated on the validation split and measured on the test split.

For a number: the absolute errors of the network on the validation rows give the ``ceil((n + 1)(1 - alpha)) / n``
quantile q, and the interval of a new prediction is ``prediction ± q``. For classes: the score of a validation row is
one minus the probability the network gave its true class, q is the same quantile of those scores, and the set of a
new row holds every class whose probability is at least ``1 - q``. If the validation and test rows are exchangeable
(drawn the same way), the interval or set holds the truth at least ``1 - alpha`` of the time (Vovk et al. 2005; Lei
et al. 2018; Sadinle et al. 2019). The test split measures how often it did.

These are a few lines of NumPy, not MAPIE or crepes: both fit the same quantile, and their fitted objects are saved
with pickle, which deepwise never uses; the quantile is stored in metrics.json instead.

Example:
    >>> q = interval_quantile(y_val - pred_val, alpha=0.1)
    >>> lower, upper = pred_test - q, pred_test + q
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepwise.evaluation.metrics import class_probabilities

DEFAULT_ALPHA = 0.1  # 90 % intervals and sets


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha)) / n`` empirical quantile of calibration scores (inf when n is too small)."""
    scores = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha))
    return float("inf") if rank > n else float(scores[rank - 1])


def class_scores(task: str, output: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One minus the probability given to the true class, per row."""
    proba = class_probabilities(task, output)
    return 1.0 - proba[np.arange(len(proba)), np.asarray(y).astype(int).reshape(-1)]


def prediction_sets(task: str, output: np.ndarray, q: float) -> np.ndarray:
    """[n, n_classes] booleans: class k is in a row's set when its probability is at least 1 - q (never empty: the
    most probable class is always in)."""
    proba = class_probabilities(task, output)
    sets = proba >= 1.0 - q
    sets[np.arange(len(proba)), proba.argmax(axis=1)] = True
    return sets


def calibrate(task: str, validation_output: np.ndarray, y_validation: np.ndarray, alpha: float = DEFAULT_ALPHA) -> dict:
    """The calibration of a network on its validation split: the quantile and what it means."""
    if task == "regression":
        truth = np.asarray(y_validation, dtype=np.float64).reshape(-1)
        errors = np.abs(truth - np.asarray(validation_output).reshape(-1))
        return {"kind": "interval", "alpha": alpha, "quantile": conformal_quantile(errors, alpha),
                "calibration_rows": int(len(errors))}  # fmt: skip
    scores = class_scores(task, validation_output, y_validation)
    return {"kind": "set", "alpha": alpha, "quantile": conformal_quantile(scores, alpha),
            "calibration_rows": int(len(scores))}  # fmt: skip


def measure(task: str, calibration: dict[str, Any], test_output: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """``calibration`` with the coverage measured on the test split and the size of the intervals or sets."""
    q = calibration["quantile"]
    if task == "regression":
        errors = np.abs(np.asarray(y_test, dtype=np.float64).reshape(-1) - np.asarray(test_output).reshape(-1))
        covered = errors <= q
        size = {"mean_width": 2 * q}
    else:
        sets = prediction_sets(task, test_output, q)
        covered = sets[np.arange(len(sets)), np.asarray(y_test).astype(int).reshape(-1)]
        size = {"mean_set_size": float(sets.sum(axis=1).mean()), "single_class_share": float((sets.sum(1) == 1).mean())}
    return {
        **calibration,
        "nominal_coverage": 1 - calibration["alpha"],
        "test_coverage": float(np.mean(covered)),
        "test_rows": int(len(covered)),
        **size,
    }
