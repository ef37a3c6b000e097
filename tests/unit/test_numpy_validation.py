"""Validation through the predict program and NumPy gives Keras' evaluate numbers, and only where it can."""

from __future__ import annotations

import numpy as np
import pytest

from deepwise.backend import keras_module
from deepwise.training.validation import numpy_validation, validation_callback

keras = keras_module()


def _model(units: int, activation: str, loss: str, metrics: list[str], l2: float = 0.0):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    out = keras.layers.Dense(units, activation=activation, kernel_regularizer=regularizer)(hidden)
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    return model


CASES = [
    (3, "softmax", "sparse_categorical_crossentropy", ["accuracy"], lambda r, n: r.integers(0, 3, n)),
    (1, "sigmoid", "binary_crossentropy", ["accuracy"], lambda r, n: r.integers(0, 2, n).astype("float32")),
    (
        1,
        "linear",
        "mean_squared_error",
        ["root_mean_squared_error", "mean_absolute_error"],
        lambda r, n: r.normal(size=n),
    ),
]


@pytest.mark.parametrize(("units", "activation", "loss", "metrics", "labels"), CASES)
def test_equal_to_keras_evaluate(units, activation, loss, metrics, labels):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(57, 6)).astype("float32")
    y = labels(rng, 57)
    model = _model(units, activation, loss, metrics)
    ours = numpy_validation(model)(model, x, y)
    theirs = model.evaluate(x, y, batch_size=57, verbose=0, return_dict=True)
    assert set(ours) == set(theirs)
    for name, value in ours.items():
        assert value == pytest.approx(float(theirs[name]), rel=1e-5, abs=1e-6), name


def test_keras_keeps_what_numpy_does_not_compute():
    x = np.zeros((10, 6), "float32")
    y = np.zeros(10)
    assert numpy_validation(_model(1, "linear", "huber", [])) is None  # another loss
    assert numpy_validation(_model(1, "linear", "mean_squared_error", ["r2_score"])) is None  # another metric
    assert numpy_validation(_model(1, "linear", "mean_squared_error", [], l2=0.01)) is None  # a penalty in the loss
    assert validation_callback(_model(1, "linear", "mean_squared_error", []), x, y) is not None
    wide = np.zeros((10, 2048), "float32")  # 8 KiB rows (an image's): Keras validates in batches of ~1 MiB
    keras.utils.set_random_seed(0)
    image_like = keras.Sequential([keras.Input((2048,)), keras.layers.Dense(1)])
    image_like.compile(optimizer="adam", loss="mean_squared_error")
    assert validation_callback(image_like, wide, y) is None


def test_epoch_logs_get_the_validation_numbers_first():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 3, 40)
    model = _model(3, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    seen: list[dict] = []
    reader = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[validation_callback(model, x[:13], y[:13]), reader])
    assert {"val_loss", "val_accuracy"} <= set(seen[0]) and len(history.history["val_loss"]) == 2
    assert [k for k in seen[0] if k.startswith("val_")] == ["val_accuracy", "val_loss"]  # Keras' order
    expected = model.evaluate(x[:13], y[:13], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-5)
