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
