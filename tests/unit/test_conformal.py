"""Split-conformal intervals and sets on arrays: the guarantee holds (coverage at least nominal, on average over
many exchangeable draws, and not much more), sets are never empty, and the quantile follows the finite-sample
rule."""

from __future__ import annotations

import numpy as np
import pytest

from deepwise.evaluation import conformal


def test_the_quantile_uses_the_finite_sample_rank():
    scores = np.arange(1, 20, dtype=float)  # 19 scores: rank ceil(20 * 0.9) = 18
    assert conformal.conformal_quantile(scores, 0.1) == 18.0
    assert conformal.conformal_quantile(np.arange(5.0), 0.1) == float("inf")  # too few to promise 90 %


@pytest.mark.parametrize("task", ["regression", "multiclass", "binary"])
def test_coverage_holds_on_exchangeable_data(task):
    rng = np.random.default_rng(0)
    coverages = []
    for _ in range(200):
        n_val, n_test = 150, 150
        if task == "regression":
            y = rng.normal(size=n_val + n_test)
            pred = y + rng.standard_t(4, size=len(y))  # heavy-tailed errors: no Gaussian assumption needed
            output = pred
        else:
            k = 3 if task == "multiclass" else 2
            logits = rng.normal(size=(n_val + n_test, k)) * 1.5
            proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            y = np.array([rng.choice(k, p=p) for p in proba])  # the model is calibrated by construction
            output = proba if task == "multiclass" else proba[:, 1]
        calibration = conformal.calibrate(task, output[:n_val], y[:n_val], alpha=0.1)
        coverages.append(conformal.measure(task, calibration, output[n_val:], y[n_val:])["test_coverage"])
    assert 0.895 <= np.mean(coverages) <= 0.93, np.mean(coverages)


def test_sets_are_never_empty_and_grow_with_coverage():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(4), size=300)
    y = proba.argmax(axis=1)
    small = conformal.prediction_sets("multiclass", proba, conformal.conformal_quantile(1 - proba.max(1), 0.5))
    large = conformal.prediction_sets("multiclass", proba, 0.99)
    assert small.any(axis=1).all() and small.sum() <= large.sum()
    assert small[np.arange(300), y].all()  # the most probable class is always in
