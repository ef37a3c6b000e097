"""What every kind's ``export --format script`` shares: the checks that a run can be rebuilt as a plain script, and
the error for a run that cannot.

A kind writes its own script (``DataKind.keras_script``): the table's in ``kinds/table/script.py``, the images' in
``kinds/images/script.py``. Each rebuilds the run's split with the same two seeded ``train_test_split`` calls
deepwise makes (:func:`deepwise.prepare.split.split_indices`), so the script's test score is measured on the run's
own test examples.

Example:
    >>> check_random_split(run)        # raises DeepwiseError for a run split in time order or by a column
"""

from __future__ import annotations

from typing import Any

from deepwise.errors import DeepwiseError

SCRIPTABLE = (
    "a table run (binary, multiclass or regression), a forecasting run, or an image classification run with a CNN "
    "from scratch"
)


#: the table and forecast scripts' preprocessing (deepwise's TabularPreprocessor in scikit-learn terms): the training
#: median where a number is missing plus a 0/1 "was missing" column, mean 0 and sd 1, one-hot categories
PREPROCESS = """\
preprocess = ColumnTransformer(
    [
        ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), NUMERIC),
        ("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                     OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    ],
    sparse_threshold=0,
)
for column in CATEGORICAL:
    rows[column] = rows[column].astype("object").where(rows[column].notna(), None)
"""


def unsupported(run: Any, what: str) -> DeepwiseError:
    """The error for a run the plain script cannot rebuild (``what``: the run, in words)."""
    return DeepwiseError(
        f"--format script cannot rebuild this run: it is {what}.",
        expected=SCRIPTABLE,
        fix="export it with --format keras (the model and its preprocessing.json), or use the Python API.",
    )


def check_random_split(run: Any) -> None:
    """Raise a clear error for a run whose split the script does not rebuild (time order, a split column, a refit
    on training + validation)."""
    split = run.config.data.split
    how = (
        "in time order" if split.chronological
        else "by a column (data.split.column)" if split.column
        else "with a final refit on training + validation rows" if split.train_on_validation
        else None
    )  # fmt: skip
    if how:
        raise DeepwiseError(
            f"--format script rebuilds deepwise's random split; this run was split {how}.",
            expected="a run split at random (the default for examples without dates)",
            fix="export it with --format keras, or train with the default split.",
        )


__all__ = ["PREPROCESS", "SCRIPTABLE", "check_random_split", "unsupported"]


_LINEAR_OUTPUT = """\
# The linear path (wide & deep): one dense layer from the inputs straight to the output, added to the hidden
# layers' output (https://keras.io/api/layers/merging_layers/add/).
deep = keras.layers.Dense({units}, name="output")(x)
line = keras.layers.Dense({units}, name="linear")({wide})
x = keras.layers.Add(name="deep_plus_linear")([deep, line])
"""
_RESCALE = """\
# https://keras.io/api/layers/preprocessing_layers/image_preprocessing/rescaling/
outputs = keras.layers.Rescaling(scale=target_std, offset=target_mean, name="to_target_units")(x)
"""
_START_RIDGE = """\
# The linear path starts at a ridge regression of the standardized target on the training rows (its penalty chosen
# by leave-one-out), so training begins where the linear model ends
# (https://scikit-learn.org/stable/modules/linear_model.html#ridge-regression).
from sklearn.linear_model import RidgeCV  # noqa: E402

line = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit({rows}, (y[train] - target_mean) / target_std)
model.get_layer("linear").set_weights([line.coef_.reshape(-1, 1), np.atleast_1d(line.intercept_)])
"""
_START_LOGISTIC = """\
# The linear path starts at a logistic regression on the training rows, so training begins where the linear model
# ends (https://scikit-learn.org/stable/modules/linear_model.html#logistic-regression).
from sklearn.linear_model import LogisticRegression  # noqa: E402

line = LogisticRegression(max_iter=500).fit({rows}, y[train])
"""
_SET_BINARY = 'model.get_layer("linear").set_weights([line.coef_.T, line.intercept_])\n'
_SET_CLASSES = """\
coef, intercept = (line.coef_, line.intercept_) if len(line.classes_) > 2 else (  # two classes: one row of logits
    np.r_[-line.coef_, line.coef_] / 2, np.r_[-line.intercept_, line.intercept_] / 2)
kernel, bias = np.zeros((coef.shape[1], len(classes))), np.zeros(len(classes))
kernel[:, line.classes_], bias[line.classes_] = coef.T, intercept
model.get_layer("linear").set_weights([kernel, bias])
"""


def output_block(task: str, linear_path: bool, wide: str = "inputs") -> str:
    """The script lines from the last hidden layer ``x`` to ``outputs`` (as :func:`deepwise.models.head.dense_head`
    builds them); ``wide``: the tensor the linear path reads."""
    units, activation = {"binary": ("1", "sigmoid"), "multiclass": ("len(classes)", "softmax")}.get(task, ("1", ""))
    if not linear_path:
        if task == "regression":
            return 'x = keras.layers.Dense(1, name="output")(x)\n' + _RESCALE
        return f'outputs = keras.layers.Dense({units}, activation="{activation}", name="output")(x)\n'
    block = _LINEAR_OUTPUT.format(units=units, wide=wide)
    if task == "regression":
        return block + _RESCALE
    return block + f'outputs = keras.layers.Activation("{activation}", name="output_activation")(x)\n'


def linear_start_block(task: str, linear_path: bool, rows: str) -> str:
    """The script lines that start the linear path at scikit-learn's linear model (as
    :func:`deepwise.models.linear_start.start_from_linear_fit` does); ``rows``: the training inputs, 2-D."""
    if not linear_path:
        return ""
    if task == "regression":
        return _START_RIDGE.format(rows=rows)
    return _START_LOGISTIC.format(rows=rows) + (_SET_BINARY if task == "binary" else _SET_CLASSES)
