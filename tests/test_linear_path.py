"""The default network's linear path (issue 24): a dense layer from the inputs to the output beside the hidden
layers, started at scikit-learn's linear model, so that the network does not lose to the linear baseline on a table
where a straight line is close to the truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler

import deepwise
from deepwise.config import ModelConfig
from deepwise.models.linear_start import linear_path_of, start_from_linear_fit
from deepwise.models.mlp import build_mlp
from deepwise.tasks import TASKS


def _specs(n_features: int) -> dict:
    return {"features": {"shape": (n_features,), "dtype": "float32"}}


def test_the_linear_path_starts_at_the_ridge_fit_of_the_standardized_target():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    stats = {"mean": float(y.mean()), "std": float(y.std())}
    model = build_mlp(_specs(x.shape[1]), TASKS["regression"], 1, ModelConfig(dropout=0.1), target_stats=stats)
    assert start_from_linear_fit(model, x, y, TASKS["regression"], stats, seed=0)
    kernel, bias = linear_path_of(model).get_weights()
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, (y - stats["mean"]) / stats["std"])
    np.testing.assert_allclose(kernel[:, 0], ridge.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias[0], ridge.intercept_, atol=1e-6)


@pytest.mark.parametrize("loader, task", [(load_iris, "multiclass"), (load_breast_cancer, "binary")])
def test_the_linear_path_starts_at_the_logistic_regression(loader, task):
    x, y = loader(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    n_classes = len(np.unique(y))
    model = build_mlp(_specs(x.shape[1]), TASKS[task], n_classes, ModelConfig(dropout=0.1))
    assert start_from_linear_fit(model, x, y, TASKS[task], None, seed=0)
    kernel, bias = linear_path_of(model).get_weights()
    logistic = LogisticRegression(max_iter=500).fit(x, y)
    logits = x @ kernel + bias
    expected = logistic.decision_function(x)
    np.testing.assert_allclose(logits.reshape(expected.shape), expected, rtol=1e-4, atol=1e-4)


def test_without_the_linear_path_the_network_is_hidden_layers_only():
    config = ModelConfig(dropout=0.1, linear_path=False)
    model = build_mlp(_specs(4), TASKS["regression"], 1, config, {"mean": 0.0, "std": 1.0})
    assert linear_path_of(model) is None
    assert not start_from_linear_fit(model, np.ones((5, 4)), np.arange(5.0), TASKS["regression"], None, seed=0)


def test_a_nearly_linear_table_is_not_lost_to_the_linear_model(tmp_path):
    """statsmodels' engel table (food expenditure against income, 235 households): before the linear path the
    default network scored R² 0.79 against the linear model's 0.89, a loss beyond the bootstrap noise; now it may
    tie (0.88), not lose."""
    path = tmp_path / "engel.csv"
    sm.datasets.engel.load_pandas().data.to_csv(path, index=False)
    run = deepwise.train(
        {"problem": {"target": "foodexp"}, "data": {"path": str(path)}, "training": {"report": False}},
        runs_dir=tmp_path / "runs",
        verbose=False,
    )
    verdict = run.metrics["verdict"]
    if verdict.evidence["best_baseline"] == "linear":  # a tie is allowed, a loss beyond the bootstrap noise is not
        assert verdict.evidence["network_minus_best_baseline"]["ci95_high"] >= 0, verdict.message
    assert run.metrics["test"]["r2"] >= run.metrics["baselines"]["linear"]["r2"] - 0.05
    names = [layer.name for layer in run.model.layers]
    assert "linear" in names and "deep_plus_linear" in names


def test_training_that_never_beats_the_linear_start_keeps_it(tmp_path, diabetes_csv):
    """Early stopping counts the linear start as epoch 0: when every epoch is worse on the validation loss (here a
    learning rate far too high for SGD), the kept network is the start, and it scores as the linear model does."""
    run = deepwise.train(
        {
            "problem": {"target": "target"},
            "data": {"path": str(diabetes_csv)},
            "training": {"report": False, "epochs": 3, "optimizer": "sgd", "learning_rate": 5.0},
        },
        runs_dir=tmp_path / "runs",
        verbose=False,
        force=True,
    )
    assert run.metrics["best_epoch"] == 0
    assert abs(run.metrics["test"]["r2"] - run.metrics["baselines"]["linear"]["r2"]) < 0.05
