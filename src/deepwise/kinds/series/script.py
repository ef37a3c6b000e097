"""``deepwise export RUN --format script`` for a forecasting run: the network as a plain Keras script to read and run.

The script reads the table, puts the rows in time order (YYYYMMDD integers and date strings read as dates, as
deepwise reads them), splits them chronologically (oldest rows train, the newest test), fits the preprocessing on
the training period only (median imputation with "was missing" indicators, standardization, one-hot categories,
the target's own past as an input, cyclic day-of-year and day-of-week features when the rows are dated), cuts
windows of ``problem.window`` rows whose target lies ``problem.horizon`` rows ahead, builds the same network (MLP,
Conv1D, LSTM or GRU over the window, then the dense head), trains it with the run's settings and prints its test
score next to the run's.

Example:
    >>> Path("train.py").write_text(series_script(load_run("runs/weather-20260101-120000")))
"""

from __future__ import annotations

from typing import Any

from deepwise.kinds.script import PREPROCESS, linear_start_block, output_block, unsupported


def series_script(run: Any) -> str:
    """The Python source of a standalone script that retrains the run's forecasting network on the run's data."""
    cfg = run.config
    if cfg.data.split.train_on_validation:
        raise unsupported(run, "a forecast refitted on training + validation rows (data.split.train_on_validation)")
    prep = run.preprocessor
    tabular = prep.tabular
    output = cfg.problem.output
    main = "rmse" if output == "regression" else "accuracy"
    values: dict[str, Any] = {
        "data": str(cfg.data.path),
        "na_values": list(cfg.data.na_values or []),
        "target": cfg.problem.target,
        "time_column": cfg.data.time_column,
        "numeric": list(tabular.numeric),
        "categorical": list(tabular.categorical),
        "calendar": bool(getattr(prep, "use_calendar_", False)),
        "window": int(cfg.problem.window),
        "horizon": int(cfg.problem.horizon),
        "seed": int(cfg.seed),
        "validation": float(cfg.data.split.validation),
        "test": float(cfg.data.split.test_fraction(True)),
        "model_type": cfg.model.type,
        "filters": int(cfg.model.filters),
        "kernel_size": int(cfg.model.kernel_size),
        "recurrent_units": int(cfg.model.recurrent_units),
        "hidden_units": list(cfg.model.hidden_units),
        "activation": cfg.model.activation,
        "dropout": float(cfg.model.dropout or 0.0),
        "batch_norm": bool(cfg.model.batch_norm),
        "l2": float(cfg.model.l2),
        "learning_rate": float(cfg.training.learning_rate),
        "batch_size": int(cfg.training.batch_size or 32),
        "epochs": int(cfg.training.epochs),
        "patience": int(cfg.training.early_stopping.patience or 20),
        "min_delta": float(cfg.training.early_stopping.min_delta or 0.0),
        "early_stopping": bool(cfg.training.early_stopping.enabled),
        "run_score": round(float(run.metrics["test"][main]), 4),
    }
    parts = _output_parts(output)
    linear_path = cfg.model.type == "mlp" and cfg.model.linear_path is True
    parts["output_layer"] = output_block(output, linear_path, wide="x_flat")
    parts["linear_start"] = linear_start_block(output, linear_path, "windows[train].reshape(len(train), -1)")
    return SCRIPT.format(
        preprocess=PREPROCESS,
        **{key: repr(value) for key, value in values.items()},
        **parts,
        name_plain=run.path.name,
        main_plain=main,
        optimizer={"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}[cfg.training.optimizer],
    )


def _output_parts(output: str) -> dict[str, str]:
    """The lines that differ between a numeric forecast and a forecast of classes."""
    if output == "regression":
        return {
            "target_prep": TARGET_NUMBER,
            "loss": '"mean_squared_error"',
            "score": SCORE_RMSE,
        }
    loss = "binary_crossentropy" if output == "binary" else "sparse_categorical_crossentropy"
    return {
        "target_prep": TARGET_CLASSES,
        "loss": repr(loss),
        "score": SCORE_BINARY if output == "binary" else SCORE_MULTICLASS,
    }


TARGET_NUMBER = """\
targets = rows[TARGET].to_numpy("float32")
# The network learns a standardized target (mean 0, standard deviation 1 over the training period); a Rescaling
# layer at the end turns its output back into the target's units.
target_mean, target_std = float(targets[:n_train].mean()), float(targets[:n_train].std()) or 1.0
"""
TARGET_CLASSES = """\
# The classes become integers 0, 1, ... (sorted names), as Keras' sparse cross-entropy expects.
classes = sorted(rows[TARGET].iloc[:n_train].astype(str).unique())
targets = rows[TARGET].astype(str).map({c: i for i, c in enumerate(classes)}).fillna(-1).to_numpy("int32")
"""
SCORE_RMSE = """\
predicted = model.predict(windows[test], verbose=0).reshape(-1)
score = float(np.sqrt(np.mean((y[test] - predicted) ** 2)))
"""
SCORE_BINARY = """\
predicted = (model.predict(windows[test], verbose=0).reshape(-1) >= 0.5).astype("int32")
score = float((predicted == y[test]).mean())
"""
SCORE_MULTICLASS = """\
predicted = model.predict(windows[test], verbose=0).argmax(axis=1)
score = float((predicted == y[test]).mean())
"""

SCRIPT = '''\
"""{name_plain} as plain Keras: the forecasting network deepwise trained, rebuilt step by step.

Written by `deepwise export {name_plain} --format script`. It needs only Keras (with a backend: JAX, TensorFlow or
PyTorch), NumPy, pandas and scikit-learn. Run it with `python train.py`; it prints its test {main_plain} next to the
run's ({run_score}). Scores differ a little between runs of a network (random initial weights, random batches).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # deepwise's backend; Keras picks TensorFlow when this is unset

import keras
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = {data}
TARGET = {target}
TIME = {time_column}  # the column with the time of each row (None: the rows are in time order already)
NUMERIC = {numeric}  # the target's own past is an input too
CATEGORICAL = {categorical}
WINDOW, HORIZON = {window}, {horizon}  # the network sees WINDOW rows and forecasts the target HORIZON rows later
SEED = {seed}
keras.utils.set_random_seed(SEED)  # https://keras.io/api/utils/python_utils/#setrandomseed-function


def parse_time(column):
    """Dates (YYYYMMDD integers or date strings) as datetimes, another number as an ordered index."""
    if pd.api.types.is_integer_dtype(column) and column.between(1000_01_01, 2999_12_31).all():
        return pd.to_datetime(column.astype(str), format="%Y%m%d")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    return pd.to_datetime(column, format="mixed")


# 1. Read the table and put the rows in time order.
rows = pd.read_csv(DATA, na_values={na_values} or None)
if TIME is not None:
    time = parse_time(rows[TIME])
    order = np.argsort(time.to_numpy(), kind="stable")
    rows, time = rows.iloc[order].reset_index(drop=True), time.iloc[order].reset_index(drop=True)

# 2. A chronological split: the oldest rows train, the next ones validate (they decide when to stop training), the
#    newest are the test period, used once at the end. A random split would let the network see the future.
n = len(rows)
n_test, n_validation = int(np.ceil({test} * n)), int(np.ceil({validation} * n))
n_train = n - n_validation - n_test
{target_prep}
# 3. Preprocessing, fitted on the training period only: numbers get the training median where missing (and a 0/1
#    "was missing" column), then mean 0 and standard deviation 1; categories become one-hot columns.
{preprocess}preprocess.fit(rows.iloc[:n_train])
features = preprocess.transform(rows).astype("float32")
if {calendar}:  # the season and the weekday as points on a circle (December is next to January)
    day_of_year = 2 * np.pi * (time.dt.day_of_year.to_numpy() - 1) / 365.25
    day_of_week = 2 * np.pi * time.dt.day_of_week.to_numpy() / 7
    calendar = [np.sin(day_of_year), np.cos(day_of_year), np.sin(day_of_week), np.cos(day_of_week)]
    features = np.hstack([features, np.column_stack(calendar).astype("float32")])

# 4. Windows: sample i is rows i .. i + WINDOW - 1; its target is the row HORIZON steps after the window's last. A
#    sample belongs to the period of its target row.
m = n - WINDOW + 1 - HORIZON
windows = sliding_window_view(features, WINDOW, axis=0).transpose(0, 2, 1)[:m]  # [samples, WINDOW, features]
target_rows = np.arange(m) + WINDOW - 1 + HORIZON
y = targets[target_rows]
first_validation, first_test = np.searchsorted(target_rows, [n_train, n_train + n_validation])
train, validation, test = (np.arange(0, first_validation), np.arange(first_validation, first_test),
                           np.arange(first_test, m))

# 5. The network: the window through an MLP (flattened), two causal 1-D convolutions
#    (https://keras.io/api/layers/convolution_layers/convolution1d/), or a recurrent layer
#    (https://keras.io/api/layers/recurrent_layers/lstm/, .../gru/), then dense layers with dropout.
MODEL, HIDDEN_UNITS, ACTIVATION, DROPOUT, BATCH_NORM, L2 = (
    {model_type}, {hidden_units}, {activation}, {dropout}, {batch_norm}, {l2}
)
inputs = keras.Input(shape=(WINDOW, windows.shape[2]), name="features")
if MODEL == "mlp":
    x = x_flat = keras.layers.Flatten(name="flatten_window")(inputs)
elif MODEL == "conv1d":
    kernel = min({kernel_size}, WINDOW)
    x = keras.layers.Conv1D({filters}, kernel, padding="causal", activation=ACTIVATION, name="conv_1")(inputs)
    x = keras.layers.Conv1D({filters}, kernel, padding="causal", activation=ACTIVATION, name="conv_2")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
else:
    recurrent = keras.layers.LSTM if MODEL == "lstm" else keras.layers.GRU
    x = recurrent({recurrent_units}, name=MODEL)(inputs)
for i, units in enumerate(HIDDEN_UNITS, start=1):
    regularizer = keras.regularizers.L2(L2) if L2 > 0 else None
    x = keras.layers.Dense(units, activation=ACTIVATION, kernel_regularizer=regularizer, name=f"dense_{{i}}")(x)
    if BATCH_NORM:
        x = keras.layers.BatchNormalization(name=f"batch_norm_{{i}}")(x)
    if DROPOUT > 0:
        x = keras.layers.Dropout(DROPOUT, name=f"dropout_{{i}}")(x)
{output_layer}model = keras.Model(inputs, outputs)
{linear_start}model.summary()

# 6. The loss and optimizer (https://keras.io/api/losses/, https://keras.io/api/optimizers/), and training with
#    early stopping on the validation loss, keeping the best epoch's weights
#    (https://keras.io/api/callbacks/early_stopping/).
model.compile(optimizer=keras.optimizers.{optimizer}(learning_rate={learning_rate}), loss={loss})
callbacks = (
    [keras.callbacks.EarlyStopping(monitor="val_loss", patience={patience}, min_delta={min_delta},
                                   restore_best_weights=True)]
    if {early_stopping} else []
)
history = model.fit(
    windows[train], y[train], validation_data=(windows[validation], y[validation]),
    epochs={epochs}, batch_size={batch_size}, callbacks=callbacks, verbose=0,
)
print(f"trained {{len(history.history['loss'])}} epochs")

# 7. The one test measurement, on the test period.
{score}print(f"test {main_plain}: {{score:.4f}} (the deepwise run: {run_score})")
'''
