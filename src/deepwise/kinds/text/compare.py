"""The text network against simple models on the same test documents, and the verdict.

Baselines (fitted on the training documents only, scored on the test documents, in the network's output format):

- ``dummy``: the majority class (its training share as the probabilities), or the training mean;
- ``linear``: TF-IDF of words (1-2 grams) and characters (2-5 grams) + logistic regression (ridge for numbers); for a
  mixed table the same text features joined with the table's numeric and one-hot columns;
- ``linear_table_only`` (mixed tables): the table's columns alone, which says what the text adds.

The verdict is :func:`deepwise.evaluation.verdict` (paired bootstrap over the test documents), as for every kind.
It also measures how many test documents appear word for word in training (duplicates inflate every model's score)
and the scores on the test documents that do not.

Example:
    >>> found = compare_text_baselines(data, test_output, history, best_epoch)
    >>> found["verdict"]["code"], found["baselines"]["linear"]["accuracy"]
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from deepwise.evaluation import model_output, verdict
from deepwise.evaluation.metrics import row_metric
from deepwise.kinds.text.baselines import majority, tfidf_linear, tfidf_table_linear

DOCUMENT = "__document__"  # the joined text of a row, as the mixed-table baselines read it
DESCRIPTIONS = {
    "dummy": "majority class (training shares as probabilities) / training mean, ignoring the text",
    "linear": "TF-IDF of words (1-2 grams) and characters (2-5 grams), sublinear tf, + {model}",
    "linear_table_only": "the table columns alone (median-imputed, standardized numbers, one-hot categories) + {model}",
}


def _baseline_models(data) -> dict[str, tuple[Any, Any, Any]]:
    """``{name: (unfitted model, training input, test input)}`` for the run's data."""
    task, prep = data.task.name, data.prep
    zeros = (np.zeros((len(data.docs["train"]), 1)), np.zeros((len(data.docs["test"]), 1)))
    models: dict[str, tuple[Any, Any, Any]] = {"dummy": (majority(task), *zeros)}
    if not prep.has_table:
        models["linear"] = (tfidf_linear(task), data.docs["train"], data.docs["test"])
        return models
    numeric, categorical = list(prep.tabular.numeric), list(prep.tabular.categorical)
    rows = {split: data.frame(split)[prep.table_columns].assign(**{DOCUMENT: data.docs[split]})
            for split in ("train", "test")}
    models["linear"] = (tfidf_table_linear([DOCUMENT], numeric, categorical, task), rows["train"], rows["test"])
    models["linear_table_only"] = (tfidf_table_linear([], numeric, categorical, task), rows["train"], rows["test"])
    return models


def fit_text_outputs(data) -> dict[str, dict[str, Any]]:
    """Each baseline fitted on the training split: ``{name: {"output", "fit_seconds", "model"}}``."""
    from threadpoolctl import threadpool_limits

    task = data.task.name
    y_train = data.y["train"] if task == "regression" else data.y["train"].astype(int)
    linear = "ridge regression (alpha 1)" if task == "regression" else "logistic regression (C 10)"
    fitted: dict[str, dict[str, Any]] = {}
    # one thread: BLAS threads fighting JAX's for 2 cores make the logistic regression 10x slower (measured)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the score says how well it did
        for name, (model, x_train, x_test) in _baseline_models(data).items():
            start = time.perf_counter()
            model.fit(x_train, y_train)
            fitted[name] = {
                "output": model_output(task, model, x_test, data.n_classes),
                "fit_seconds": round(time.perf_counter() - start, 3),
                "model": DESCRIPTIONS[name].format(model=linear),
            }
    return fitted


def seen_in_training(data) -> np.ndarray:
    """Per test document: does the same text (spaces at its ends aside) appear among the training documents?"""
    train = {d.strip() for d in data.docs["train"]}
    return np.fromiter((d.strip() in train for d in data.docs["test"]), bool, count=len(data.docs["test"]))


def new_documents_scores(data, test_output: np.ndarray, outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The main metric of the network and each baseline on the test documents not seen word for word in training."""
    seen = seen_in_training(data)
    new = np.flatnonzero(~seen)
    result: dict[str, Any] = {"test_documents": int(len(seen)), "also_in_training": int(seen.sum())}
    if not seen.any() or len(new) < 2:
        return result
    y = data.y["test"]
    metric, network = row_metric(data.task.name, y, test_output)
    result["metric"] = metric
    result["network"] = float(network(new))
    result["baselines"] = {name: float(row_metric(data.task.name, y, out)[1](new)) for name, out in outputs.items()}
    return result


def compare_text_baselines(data, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict[str, Any]:
    """``{"baselines": {name: scores}, "verdict": {...}, "extra": {...}}`` for a text run (see the module doc)."""
    task = data.task.name
    fitted = fit_text_outputs(data)
    outputs = {name: res["output"] for name, res in fitted.items()}
    baselines = {name: {**data.score("test", res["output"]), "model": res["model"], "fit_seconds": res["fit_seconds"]}
                 for name, res in fitted.items()}  # fmt: skip
    min_class = None
    if data.task.is_classification:
        min_class = int(np.bincount(data.y["train"].astype(int), minlength=data.n_classes).min())
    found = verdict(task, data.y["test"], test_output, outputs, n_train=len(data.splits["train"]),
                    min_class_train_rows=min_class, generalization_gap=data.generalization_gap(history, best_epoch),
                    seed=data.config.seed)  # fmt: skip
    return {"baselines": baselines, "verdict": found, "extra": {"new_documents": new_documents_scores(
        data, test_output, outputs)}}

