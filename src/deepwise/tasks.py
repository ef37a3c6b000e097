"""Task -> output layer, loss and metrics: one table, one place.

Example:
    >>> spec = TASKS["multiclass"]
    >>> spec.loss, spec.output_units(3)
    ('sparse_categorical_crossentropy', 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    name: str
    activation: str
    loss: str
    keras_metrics: tuple[str, ...]
    main_metric: str  # key in metrics.json["test"] that ranks models
    greater_is_better: bool
    why_output: str
    why_loss: str
    why_metrics: str

    def output_units(self, n_classes: int) -> int:
        return n_classes if self.name == "multiclass" else 1

    @property
    def is_classification(self) -> bool:
        return self.name in ("binary", "multiclass")

    def constant_loss(self, y_train: np.ndarray, y_validation: np.ndarray) -> float:
        """The loss (:attr:`loss`) on ``y_validation`` of the best constant prediction learned from ``y_train``:
        the training split's mean (regression) or class shares (classification); the loss of knowing nothing
        about the inputs.

        Example:
            >>> round(TASKS["multiclass"].constant_loss(np.array([0, 1, 2]), np.array([0, 1, 2])), 4)  # ln 3
            1.0986
        """
        train = np.asarray(y_train, dtype=float)
        validation = np.asarray(y_validation, dtype=float)
        if self.name == "regression":
            return float(np.mean((validation - train.mean(axis=0)) ** 2))
        if self.name == "binary":
            p = float(np.clip(train.mean(), 1e-7, 1 - 1e-7))
            return float(-np.mean(validation * np.log(p) + (1 - validation) * np.log(1 - p)))
        labels = validation.astype(int).ravel()
        counts = np.bincount(train.astype(int).ravel(), minlength=int(labels.max(initial=0)) + 1)
        shares = np.clip(counts / max(1, counts.sum()), 1e-7, 1.0)
        return float(-np.mean(np.log(shares[labels])))


TASKS: dict[str, TaskSpec] = {
    "binary": TaskSpec(
        name="binary",
        activation="sigmoid",
        loss="binary_crossentropy",
        keras_metrics=("accuracy",),
        main_metric="accuracy",
        greater_is_better=True,
        why_output="one unit with a sigmoid, which outputs the probability of the second class",
        why_loss="binary cross-entropy, which punishes confident wrong probabilities most (it is the "
        "negative log-likelihood of the labels)",
        why_metrics="accuracy (share of rows classified right), macro F1 (balances precision and recall over "
        "both classes, honest under imbalance), per-class precision/recall and the confusion matrix",
    ),
    "multiclass": TaskSpec(
        name="multiclass",
        activation="softmax",
        loss="sparse_categorical_crossentropy",
        keras_metrics=("accuracy",),
        main_metric="accuracy",
        greater_is_better=True,
        why_output="one unit per class with a softmax, which turns scores into probabilities that sum to 1",
        why_loss="categorical cross-entropy, the negative log-probability given to the true class",
        why_metrics="accuracy, macro F1 (the mean F1 over classes, so small classes count as much as big "
        "ones), per-class precision/recall and the confusion matrix",
    ),
    "regression": TaskSpec(
        name="regression",
        activation="linear",
        loss="mean_squared_error",
        keras_metrics=("root_mean_squared_error", "mean_absolute_error"),
        main_metric="r2",
        greater_is_better=True,
        why_output="one linear unit (rescaled to the target's units), which outputs the predicted number",
        why_loss="mean squared error, which punishes large errors most and is minimised by the mean",
        why_metrics="RMSE (typical error, in the target's units), MAE (average absolute error) and R² "
        "(share of the variance explained; 0 = no better than predicting the mean)",
    ),
}


def get_task(name: str) -> TaskSpec:
    return TASKS[name]
