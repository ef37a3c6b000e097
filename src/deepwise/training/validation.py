"""The validation loss and metrics of each epoch, from the network's outputs and NumPy.

Keras validates each epoch with ``evaluate``: about 1.3 ms of Python per call on a small table (its iterator,
callbacks, metric resets and results, each a few JAX dispatches) and a test program of its own to compile (0.13-0.2 s
cold). Here the validation rows go through the predict program that evaluation compiles anyway
(:func:`deepwise.models.inference.predict_rows`, 0.13 ms a call) and the loss and metrics are computed in NumPy,
as Keras defines them (float32 outputs, probabilities clipped to ``keras.config.epsilon()``). The values land in
the epoch's logs as ``val_loss`` and ``val_<metric>`` before any other callback reads them (early stopping, the
run's history, TensorBoard, a tuner's pruning).

Only for what it can compute exactly: one output, a loss of :data:`LOSSES`, metrics of :data:`METRICS`, no
regularization loss (an L2 penalty is part of Keras' validation loss), and narrow rows (at most 512 bytes: a
table's, or a short window of a series, which go through the model 128 rows at least and in chunks of up to
64 MiB); anything else, images and text among them, keeps Keras' own validation in batches of about 1 MiB
(:func:`validation_callback` returns None).

Example:
    >>> score = numpy_validation(model)
    >>> score(model, x_validation, y_validation)
    {'loss': 0.0112, 'accuracy': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.models.inference import SMALL_CHUNK_ROWS, predict_rows, smallest_rows


def _probabilities(output: np.ndarray) -> np.ndarray:
    eps = keras_module().config.epsilon()
    return np.clip(output, eps, 1.0 - eps)


def sparse_categorical_crossentropy(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per-row loss as Keras computes it from softmax probabilities (normalized, clipped, -log p[true])."""
    p = _probabilities(output / output.sum(axis=-1, keepdims=True))
    return -np.log(np.take_along_axis(p, y.reshape(-1, 1).astype(np.int64), axis=-1))[:, 0]


def binary_crossentropy(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    p = _probabilities(output)
    y = y.reshape(p.shape).astype(p.dtype)
    return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)).mean(axis=-1)


def mean_squared_error(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    return ((output - y.reshape(output.shape).astype(output.dtype)) ** 2).mean(axis=-1)


def _accuracy(y: np.ndarray, output: np.ndarray) -> float:
    if output.shape[-1] == 1:  # one sigmoid unit: Keras' binary accuracy at 0.5
        return float(np.mean((output[:, 0] > 0.5) == (y.reshape(-1) > 0.5)))
    return float(np.mean(output.argmax(axis=-1) == y.reshape(-1)))


def _errors(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    return output - y.reshape(output.shape).astype(output.dtype)


LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error,
}
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "root_mean_squared_error": lambda y, out: float(np.sqrt(np.mean(_errors(y, out) ** 2))),
    "mean_absolute_error": lambda y, out: float(np.mean(np.abs(_errors(y, out)))),
}


def numpy_validation(model) -> Callable[[Any, Any, np.ndarray], dict[str, float]] | None:
    """A function ``(model, x, y) -> {"loss": ..., metric: ...}`` equal to Keras' ``evaluate`` for this compiled
    model, or None when it has a loss, metric, output or regularization this module does not compute."""
    compiled = model.get_compile_config() or {}
    loss, metrics = compiled.get("loss"), list(compiled.get("metrics") or [])
    if not isinstance(loss, str) or loss not in LOSSES or not all(isinstance(m, str) and m in METRICS for m in metrics):
        return None
    if len(model.outputs) != 1 or model.losses or compiled.get("loss_weights") or compiled.get("weighted_metrics"):
        return None

    def score(model, x: Any, y: np.ndarray) -> dict[str, float]:
        output = np.asarray(predict_rows(model, x, smallest=smallest_rows(x)), dtype=np.float32)
        found = {"loss": float(np.mean(LOSSES[loss](y, output), dtype=np.float64))}
        found.update({name: METRICS[name](y, output) for name in metrics})
        return found

    return score


def validation_callback(model, x: Any, y: np.ndarray):
    """A Keras callback that writes ``val_loss`` and ``val_<metric>`` into each epoch's logs (put it first in the
    list), or None when :func:`numpy_validation` cannot compute this model's or the rows are not narrow."""
    score = numpy_validation(model)
    if score is None or smallest_rows(x) < SMALL_CHUNK_ROWS:
        return None
    keras = keras_module()

    class NumpyValidation(keras.callbacks.Callback):
        def score_of(self, model) -> dict[str, float]:
            """The validation numbers of ``model`` now (also outside fit: the start early stopping must beat)."""
            return score(model, x, y)

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:  # in Keras' order (sorted by name), so history.csv keeps its columns' order
                logs.update(sorted((f"val_{name}", value) for name, value in self.score_of(self.model).items()))

    return NumpyValidation()
