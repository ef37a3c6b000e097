"""The simple models every run is compared with, fitted on the same training rows and scored on the same test rows.

Example:
    >>> fitted = fit_baselines("multiclass", x_train, y_train, x_test, n_classes=3, seed=0)
    >>> sorted(fitted)
    ['dummy', 'gradient_boosting', 'linear']
"""

from __future__ import annotations

from typing import Any

import numpy as np

BASELINE_NAMES = {
    "dummy": "majority class / mean (a guess that ignores the inputs)",
    "linear": "logistic regression / ridge regression",
    "gradient_boosting": "gradient-boosted trees (HistGradientBoosting)",
}


def baseline_models(task: str, seed: int, images: bool = False) -> dict[str, Any]:
    """The simple models every run is compared with (scikit-learn, sensible defaults).

    For images: the dummy and logistic regression on downsampled pixels (trees on pixels are slow and no better).
    """
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV

    if task == "regression":
        return {
            "dummy": DummyRegressor(strategy="mean"),
            "linear": RidgeCV(alphas=np.logspace(-3, 3, 13)),
            "gradient_boosting": HistGradientBoostingRegressor(random_state=seed),
        }
    models = {
        "dummy": DummyClassifier(strategy="most_frequent"),
        "linear": LogisticRegression(max_iter=5000),
        "gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }
    if images:
        del models["gradient_boosting"]
    return models


def model_output(task: str, model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """A fitted scikit-learn model's output in the network's format (probabilities per class, or values)."""
    if task == "regression":
        return model.predict(x)
    proba = np.zeros((len(x), n_classes))
    proba[:, model.classes_.astype(int)] = model.predict_proba(x)
    return proba[:, 1] if task == "binary" else proba


def fit_baselines(
    task: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    seed: int,
    images: bool = False,
) -> dict[str, dict[str, Any]]:
    """Fit each baseline on the training split; return {name: {"output": test output, "fit_seconds": ...}}."""
    import time
    import warnings

    results: dict[str, dict[str, Any]] = {}
    for name, model in baseline_models(task, seed, images).items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the score says how well it did
            model.fit(x_train, y_train)
        step = 100_000  # big test splits (streamed tables) are scored a slice at a time
        outputs = [model_output(task, model, x_test[i : i + step], n_classes) for i in range(0, len(x_test), step)]
        results[name] = {
            "output": np.concatenate(outputs) if len(outputs) > 1 else outputs[0],
            "fit_seconds": round(time.perf_counter() - start, 3),
            "model": type(model).__name__,
        }
    return results
