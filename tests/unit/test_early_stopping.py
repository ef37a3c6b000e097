"""Early stopping's automatic settings: the loss of the best constant prediction, and min_delta as a share of it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from deepwise.config import config_from_dict
from deepwise.tasks import TASKS
from deepwise.train import prepare
from deepwise.training.model import MIN_DELTA_SHARE, resolve_training

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"
WEATHER = ROOT / "examples" / "weather" / "weather_prediction_dataset.csv"


def test_constant_loss_is_the_loss_of_knowing_nothing():
    rng = np.random.default_rng(0)
    y = rng.normal(10.0, 2.0, 1000)
    assert TASKS["regression"].constant_loss(y[:800], y[800:]) == pytest.approx(
        np.mean((y[800:] - y[:800].mean()) ** 2)
    )
    assert TASKS["binary"].constant_loss(np.array([0, 1, 1, 1]), np.array([1, 0])) == pytest.approx(
        -(math.log(0.75) + math.log(0.25)) / 2
    )
    # a class the training split never saw costs a lot, but stays finite
    shares = TASKS["multiclass"].constant_loss(np.array([0, 0, 1, 1]), np.array([0, 2]))
    assert math.isfinite(shares) and shares > 5


def _training(**early_stopping):
    return config_from_dict(
        {"problem": {"target": "y"}, "data": {"path": "x.csv"}, "training": {"early_stopping": early_stopping}}
    ).training


def test_min_delta_is_a_share_of_the_constant_loss_unless_set():
    training = _training()
    resolve_training(training, 1000, constant_loss=2.0)
    assert training.early_stopping.min_delta == pytest.approx(MIN_DELTA_SHARE * 2.0)
    assert training.early_stopping.patience == 20 and training.batch_size == 32
    mine = _training(min_delta=0.5)
    resolve_training(mine, 1000, constant_loss=2.0)
    assert mine.early_stopping.min_delta == 0.5  # the user's value wins
    unknown = _training()
    resolve_training(unknown, 1000, constant_loss=None)
    assert unknown.early_stopping.min_delta == 0.0  # no reference: Keras' own default


def test_tables_have_a_reference_and_forecasts_do_not():
    table = prepare(config_from_dict({"problem": {"target": "species"}, "data": {"path": str(PENGUINS)}}))
    assert table.constant_loss() == pytest.approx(math.log(3), abs=0.1)  # three classes, roughly balanced
    assert table.config.training.early_stopping.min_delta == pytest.approx(
        MIN_DELTA_SHARE * table.constant_loss(), rel=1e-3
    )
    forecast = {"problem": {"target": "BASEL_sunshine", "task": "forecasting"},
                "data": {"path": str(WEATHER), "time_column": "DATE", "inputs": ["BASEL_temp_mean"]}}  # fmt: skip
    series = prepare(config_from_dict(forecast))
    # a trend or a season puts the validation steps far from the training mean: no reference, min_delta 0
    assert series.constant_loss() is None and series.config.training.early_stopping.min_delta == 0.0


@pytest.mark.parametrize(
    ("mode", "min_delta", "current", "best", "better"),
    [
        ("min", 0.01, 0.50, 0.52, True),  # lower by more than min_delta
        ("min", 0.01, 0.515, 0.52, False),  # lower, but by less than min_delta
        ("min", 0.0, 0.52, 0.52, False),  # equal is no improvement
        ("max", 0.01, 0.95, 0.93, True),
        ("max", 0.01, 0.935, 0.93, False),
    ],
)
def test_improvement_is_decided_as_keras_does_without_a_jax_program(mode, min_delta, current, best, better):
    """Early stopping compares two floats in Python: Keras' own comparison (keras.ops.less) compiled a JAX program
    and dispatched it twice an epoch. The decisions are Keras' decisions."""
    import logging

    import jax

    from deepwise.backend import keras_module
    from deepwise.training.callbacks import callback_classes

    keras = keras_module()
    ours = callback_classes()[0](monitor="val_loss", mode=mode, min_delta=min_delta)
    theirs = keras.callbacks.EarlyStopping(monitor="val_loss", mode=mode, min_delta=min_delta)
    for stopper in (ours, theirs):
        stopper._set_monitor_op()
    compiled: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: compiled.append(record.getMessage())
    logging.getLogger("jax").addHandler(handler)
    try:
        with jax.log_compiles():
            decided = ours._is_improvement(current, best)
    finally:
        logging.getLogger("jax").removeHandler(handler)
    assert decided is better and bool(theirs._is_improvement(current, best)) is better
    assert ours._is_improvement(current, None) and not [m for m in compiled if "Compiling" in m]
