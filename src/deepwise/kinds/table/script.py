"""``deepwise export RUN --format script`` for a table run: the run as a plain Python script to read and run.

The script uses only Keras, NumPy, pandas and scikit-learn. It rebuilds the run step by step: reading the table, the
same train / validation / test rows (the same two seeded ``train_test_split`` calls deepwise makes), the
preprocessing (median imputation with "was missing" indicators, standardization, one-hot categories) fitted on the
training rows, the same network, optimizer, loss and early stopping, and the test score, printed next to the run's.
Comments point to the Keras documentation of each piece. It is how a learner moves from deepwise to writing Keras.

Available for table runs (binary, multiclass, regression) split at random; others raise an error that says so.

Example:
    >>> source = table_script(load_run("runs/penguins-20260101-120000"))
    >>> Path("train.py").write_text(source)          # then: python train.py
"""

from __future__ import annotations

from typing import Any

from deepwise.kinds.script import PREPROCESS, check_random_split, linear_start_block, output_block, unsupported


def table_script(run: Any) -> str:
    """The Python source of a standalone script that retrains the run's network on the run's data."""
    if run.task not in ("binary", "multiclass", "regression"):
        raise unsupported(run, f"a {run.task} table run")
    check_random_split(run)
    cfg, prep, metrics = run.config, run.preprocessor, run.metrics
    task = run.task
    numeric = list(prep.numeric)
    categorical = list(prep.categorical)
    model = cfg.model
    main = metrics.get("main_metric", "accuracy" if task != "regression" else "r2")
    run_score = float(metrics["test"][main])
    values: dict[str, Any] = {
        "name": run.path.name,
        "data": str(cfg.data.path),
        "na_values": list(cfg.data.na_values or []),
        "target": cfg.problem.target,
        "numeric": numeric,
        "categorical": categorical,
        "seed": int(cfg.seed),
        "validation": float(cfg.data.split.validation),
        "test": float(cfg.data.split.test_fraction(False)),
        "stratify": bool(cfg.data.split.stratify and task != "regression"),
        "hidden_units": list(model.hidden_units),
        "activation": model.activation,
        "dropout": float(model.dropout or 0.0),
        "batch_norm": bool(model.batch_norm),
        "l2": float(model.l2),
        "learning_rate": float(cfg.training.learning_rate),
        "batch_size": int(cfg.training.batch_size or 32),
        "epochs": int(cfg.training.epochs),
        "patience": int(cfg.training.early_stopping.patience or 20),
        "min_delta": float(cfg.training.early_stopping.min_delta or 0.0),
        "early_stopping": bool(cfg.training.early_stopping.enabled),
        "run_score": round(run_score, 4),
    }
    embedded = [c for c in categorical if prep.encodings_.get(c) != "one_hot"]
    note = (
        f"# deepwise fed {', '.join(map(repr, embedded))} to an embedding layer (many categories); this script\n"
        "# one-hot encodes every category, which is simpler to read and close enough for a first version.\n"
        if embedded
        else ""
    )
    return SCRIPT.format(
        preprocess=PREPROCESS,
        **{key: repr(value) for key, value in values.items()},
        **_task_parts(task),
        output_layer=output_block(task, model.linear_path is not False),
        linear_start=linear_start_block(task, model.linear_path is not False, "x_train"),
        name_plain=run.path.name,
        main_plain=main,
        embedding_note=note,
        optimizer={"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}[cfg.training.optimizer],
    )


def _task_parts(task: str) -> dict[str, str]:
    """The lines that differ between classification and regression."""
    if task == "regression":
        return {
            "target_prep": 'y = rows[TARGET].to_numpy("float32")\n',
            "target_after": TARGET_REGRESSION,
            "loss": '"mean_squared_error"',
            "score": SCORE_REGRESSION,
        }
    loss = "binary_crossentropy" if task == "binary" else "sparse_categorical_crossentropy"
    return {
        "target_prep": TARGET_CLASSES,
        "target_after": "",
        "loss": repr(loss),
        "score": SCORE_BINARY if task == "binary" else SCORE_MULTICLASS,
    }


TARGET_CLASSES = """\
# The classes become integers 0, 1, ... (sorted names), as Keras' sparse cross-entropy expects.
classes = sorted(rows[TARGET].astype(str).unique())
y = rows[TARGET].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy("int32")
"""
TARGET_REGRESSION = """\
# The network learns a standardized target (mean 0, standard deviation 1 on the training rows); a Rescaling layer
# at the end turns its output back into the target's units.
target_mean, target_std = float(y[train].mean()), float(y[train].std()) or 1.0
"""
SCORE_MULTICLASS = """\
predicted = model.predict(x_test, verbose=0).argmax(axis=1)
score = float((predicted == y[test]).mean())
"""
SCORE_BINARY = """\
predicted = (model.predict(x_test, verbose=0).reshape(-1) >= 0.5).astype("int32")
score = float((predicted == y[test]).mean())
"""
SCORE_REGRESSION = """\
predicted = model.predict(x_test, verbose=0).reshape(-1)
score = float(1 - np.sum((y[test] - predicted) ** 2) / np.sum((y[test] - y[test].mean()) ** 2))  # R²
"""

SCRIPT = '''\
"""{name_plain} as plain Keras: the run deepwise trained, rebuilt step by step.

Written by `deepwise export {name_plain} --format script`. It needs only Keras (with a backend: JAX, TensorFlow or
PyTorch), NumPy, pandas and scikit-learn. Run it with `python train.py`; it prints its test {main_plain} next to the
run's ({run_score}). Scores differ a little between runs of a network (random initial weights, random batches).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # deepwise's backend; Keras picks TensorFlow when this is unset

import keras
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = {data}
TARGET = {target}
NUMERIC = {numeric}
CATEGORICAL = {categorical}
SEED = {seed}
keras.utils.set_random_seed(SEED)  # https://keras.io/api/utils/python_utils/#setrandomseed-function

# 1. Read the table; rows without a target value have nothing to teach and are left out.
rows = pd.read_csv(DATA, na_values={na_values} or None)
rows = rows[rows[TARGET].notna()].reset_index(drop=True)

# 2. The target.
positions = np.arange(len(rows))
{target_prep}
# 3. Train / validation / test rows: the same two seeded splits deepwise makes. The test rows are used once, at the
#    end; validation rows decide when to stop training.
n_test, n_validation = int(np.ceil({test} * len(rows))), int(np.ceil({validation} * len(rows)))
stratify = y if {stratify} else None
rest, test = train_test_split(positions, test_size=n_test, random_state=SEED, stratify=stratify)
train, validation = train_test_split(
    rest, test_size=n_validation, random_state=SEED, stratify=None if stratify is None else y[rest]
)
train, validation, test = np.sort(train), np.sort(validation), np.sort(test)
{target_after}# 4. Preprocessing, fitted on the training rows only: numbers get the training median where missing
#    (and a 0/1 "was missing" column), then mean 0 and standard deviation 1; categories become one-hot columns.
{embedding_note}{preprocess}preprocess.fit(rows.iloc[train])
x_train, x_validation, x_test = (
    preprocess.transform(rows.iloc[part]).astype("float32") for part in (train, validation, test)
)

# 5. The network: dense layers (https://keras.io/api/layers/core_layers/dense/), each followed by dropout
#    (https://keras.io/api/layers/regularization_layers/dropout/), then the output layer.
HIDDEN_UNITS, ACTIVATION, DROPOUT, BATCH_NORM, L2 = {hidden_units}, {activation}, {dropout}, {batch_norm}, {l2}
inputs = keras.Input(shape=(x_train.shape[1],), name="features")
x = inputs
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
    x_train, y[train], validation_data=(x_validation, y[validation]),
    epochs={epochs}, batch_size={batch_size}, callbacks=callbacks, verbose=0,
)
print(f"trained {{len(history.history['loss'])}} epochs")

# 7. The one test measurement.
{score}print(f"test {main_plain}: {{score:.4f}} (the deepwise run: {run_score})")
'''
