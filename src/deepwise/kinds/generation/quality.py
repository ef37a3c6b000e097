"""How good, and how honest, is generated data?

Images:
- :func:`train_reference_classifier` + :func:`classifier_quality`: a CNN trained on the REAL images (never on
  samples) judges the samples: the share it classifies with confidence >= 0.9, and whether every class appears.
  The same numbers on real held-out images are the reference (a perfect generator scores like them).
- :func:`prdc`: precision, recall, density and coverage (Naeem et al. 2020) on embeddings (the classifier's
  penultimate layer): precision/density = samples look real, recall/coverage = the real variety is covered.
- :func:`memorisation`: each sample's distance to its nearest training image; a near-copy is much closer to one
  training image than to the others (Carlini et al. 2023), counted for real held-out images too.

Tables:
- :func:`real_vs_synthetic_auc`: a classifier tries to tell real rows from synthetic ones (cross-validated ROC
  AUC; 0.5 = indistinguishable, lower is better);
- :func:`train_synthetic_test_real`: a model trained on synthetic rows vs one trained on real rows, both scored
  on the same held-out real rows (TSTR vs TRTR);
- :func:`distance_to_closest_record`: privacy: synthetic rows' distance to the nearest training row vs real
  held-out rows' distance to it; exact copies counted.

Example:
    >>> clf = train_reference_classifier(x_train, y_train, x_val, y_val, n_classes=10)
    >>> classifier_quality(clf, samples, n_classes=10)["confident_share"]
    0.87
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from deepwise.backend import keras_module
from deepwise.kinds.generation.table_schema import TableSchema, encode_rows, infer_schema
from deepwise.models.inference import predict_rows
from deepwise.models.init import host_initializers

CONFIDENCE = 0.9
EMBEDDING_LAYER = "embedding"
# ONE_THREAD: gradient boosting runs single-threaded here. Its trees open many tiny OpenMP parallel regions; on a
# busy machine every region waits for all its threads to be scheduled: the penguin checks took 39 minutes of wall
# time for 5 minutes of CPU on a 2-core machine shared by a dozen processes. On tables of this size one thread loses
# little even on an idle machine.

# ------------------------------------------------------------------------------------------------------ images


def train_reference_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    n_classes: int,
    epochs: int = 15,
    seed: int = 0,
    max_seconds: float | None = None,
):
    """A small CNN (two conv blocks, a 64-unit embedding) trained on real images in [0, 1], early stopping.

    Example:
        >>> clf = train_reference_classifier(x_tr, y_tr, x_val, y_val, n_classes=10)
        >>> clf.get_layer("embedding").output.shape[-1]
        64
    """
    from deepwise.kinds.generation.image2image import time_limit_callback

    keras = keras_module()
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    with host_initializers(seed):
        inputs = keras.Input(images.shape[1:], name="images")
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dense(64, activation="relu", name=EMBEDDING_LAYER)(layers.Flatten()(x))
        outputs = layers.Dense(n_classes, activation="softmax", name="classes")(layers.Dropout(0.3)(x))
        model = keras.Model(inputs, outputs, name="reference_classifier")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=16)
    callbacks = [keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)]
    if max_seconds is not None:
        callbacks.append(time_limit_callback(max_seconds))
    model.fit(
        np.asarray(images, dtype=np.float32), np.asarray(labels), epochs=epochs, batch_size=64, verbose=0,
        validation_data=(np.asarray(val_images, dtype=np.float32), np.asarray(val_labels)), callbacks=callbacks,
    )
    return model


def classifier_quality(classifier, images: np.ndarray, n_classes: int, confidence: float = CONFIDENCE):
    """Share of images classified with at least ``confidence``, and how the confident ones spread over classes.

    Example:
        >>> classifier_quality(clf, samples, 10)["classes_present"]
        10
    """
    probs = np.asarray(predict_rows(classifier, np.asarray(images, dtype=np.float32)))
    top, label = probs.max(axis=1), probs.argmax(axis=1)
    confident = top >= confidence
    counts = np.bincount(label[confident], minlength=n_classes)
    return {
        "confident_share": float(confident.mean()),
        "mean_confidence": float(top.mean()),
        "confidence_threshold": confidence,
        "confident_per_class": counts.tolist(),
        "classes_present": int((counts > 0).sum()),
        "n": int(len(images)),
    }


def embed(classifier, images: np.ndarray) -> np.ndarray:
    """The classifier's embedding layer for each image (the space :func:`prdc` compares in)."""
    keras = keras_module()
    model = keras.Model(classifier.inputs, classifier.get_layer(EMBEDDING_LAYER).output)
    return np.asarray(predict_rows(model, np.asarray(images, dtype=np.float32)), dtype=np.float64)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d2 = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0))


def nearest_distances(points: np.ndarray, reference: np.ndarray, k: int = 1, skip_self: bool = False):
    """Distance of each point to its k nearest reference points (sorted), in chunks; (n, k).

    Example:
        >>> nearest_distances(np.zeros((1, 2)), np.array([[3.0, 4.0], [6.0, 8.0]]), k=2).tolist()
        [[5.0, 10.0]]
    """
    p = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    r = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    kk = k + int(skip_self)
    out = np.empty((len(p), kk))
    for start in range(0, len(p), 512):
        d = _pairwise(p[start : start + 512], r)
        part = np.partition(d, kk - 1, axis=1)[:, :kk] if kk < d.shape[1] else d
        out[start : start + 512] = np.sort(part, axis=1)[:, :kk]
    return out[:, 1:] if skip_self else out


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage of ``fake`` embeddings against ``real`` ones (k-NN balls).

    Example:
        >>> prdc(real_embeddings, real_embeddings_other_half)["coverage"] > 0.9
        True
    """
    real_radius = nearest_distances(real, real, k=k, skip_self=True)[:, -1]
    fake_radius = nearest_distances(fake, fake, k=k, skip_self=True)[:, -1]
    inside_real = np.zeros((len(fake), len(real)), dtype=bool)
    for start in range(0, len(fake), 512):
        inside_real[start : start + 512] = _pairwise(fake[start : start + 512], real) <= real_radius[None]
    real_to_fake = nearest_distances(real, fake, k=1)[:, 0]
    real_inside_fake = np.zeros(len(real), dtype=bool)
    for start in range(0, len(real), 512):
        d = _pairwise(real[start : start + 512], fake)
        real_inside_fake[start : start + 512] = (d <= fake_radius[None]).any(axis=1)
    return {
        "precision": float(inside_real.any(axis=1).mean()),
        "recall": float(real_inside_fake.mean()),
        "density": float(inside_real.sum() / (k * len(fake))),
        "coverage": float((real_to_fake <= real_radius).mean()),
        "k": k,
    }


def memorisation(
    samples: np.ndarray, train: np.ndarray, real_heldout: np.ndarray, ratio: float = 1 / 3, neighbours: int = 50
) -> dict[str, Any]:
    """Near-copies of training images among the samples (pixel distance, L2).

    A sample is a near-copy when its distance to the nearest training image is less than ``ratio`` (1/3) of its mean
    distance to its ``neighbours`` (50) nearest training images: much closer to one training image than to the
    others, the criterion of Carlini et al. (2023, "Extracting training data from diffusion models"). Measured on
    MNIST (5,000 digits): 1 of 1,000 real held-out digits meets it (ratio 0.33), a training digit with faint noise
    (sigma 0.05) always does (ratios 0.11-0.16). The same count on the real held-out images is reported as the
    reference (its false alarms), with both distributions' nearest-distance quantiles.

    Example:
        >>> memorisation(samples, x_train, x_test)["near_copies"]
        0
    """
    k = max(1, min(neighbours, len(train)))
    sample_nn = nearest_distances(samples, train, k=k)
    real_nn = nearest_distances(real_heldout, train, k=k)
    sample_ratio = sample_nn[:, 0] / np.maximum(sample_nn.mean(axis=1), 1e-12)
    real_ratio = real_nn[:, 0] / np.maximum(real_nn.mean(axis=1), 1e-12)
    sample_d, real_d = sample_nn[:, 0], real_nn[:, 0]
    qs = [0.0, 0.01, 0.05, 0.5]
    return {
        "ratio_threshold": ratio,
        "threshold_rule": f"nearest training image closer than {ratio:.2g} x the mean distance to the {k} nearest "
        "training images (L2 over pixels in [0, 1]; Carlini et al. 2023)",
        "near_copies": int((sample_ratio < ratio).sum()),
        "near_copy_share": float((sample_ratio < ratio).mean()),
        "real_heldout_near_copies": int((real_ratio < ratio).sum()),
        "sample_ratio_min": float(sample_ratio.min()),
        "real_ratio_min": float(real_ratio.min()),
        "sample_nn_quantiles": dict(zip(map(str, qs), np.quantile(sample_d, qs).round(4).tolist(), strict=True)),
        "real_nn_quantiles": dict(zip(map(str, qs), np.quantile(real_d, qs).round(4).tolist(), strict=True)),
        "sample_nn_distance": sample_d,
    }


# ------------------------------------------------------------------------------------------------------ tables


def real_vs_synthetic_auc(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema | None = None, folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Cross-validated ROC AUC of gradient boosting telling real rows from synthetic ones (0.5: indistinguishable).

    The larger side is subsampled to the smaller so that both count equally.

    Example:
        >>> real_vs_synthetic_auc(penguins, copula_rows)["auc"]
        0.71
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    schema = schema or infer_schema(real)
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic))
    a = real.iloc[rng.choice(len(real), n, replace=False)]
    b = synthetic.iloc[rng.choice(len(synthetic), n, replace=False)]
    x = np.concatenate([encode_rows(a, schema), encode_rows(b, schema)])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with threadpool_limits(1):  # see ONE_THREAD
        proba = cross_val_predict(model, x, y, cv=splitter, method="predict_proba")[:, 1]
    return {"auc": float(roc_auc_score(y, proba)), "rows_each": int(n), "folds": folds,
            "model": "HistGradientBoostingClassifier"}


def train_synthetic_test_real(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    schema: TableSchema | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy (categorical target) or R² (numeric) on real test rows of a model trained on synthetic vs real rows.

    Example:
        >>> r = train_synthetic_test_real(train, test, synthetic, "species")
        >>> r["train_on_synthetic"] / r["train_on_real"] >= 0.9
        True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    schema = schema or infer_schema(real_train)
    spec = schema.column(target)
    exclude = (target,)

    def xy(frame: pd.DataFrame):
        keep = frame[target].notna().to_numpy()
        x = encode_rows(frame, schema, exclude=exclude)[keep]
        y = frame[target].to_numpy()[keep]
        return x, (y.astype(str) if spec.kind == "categorical" else y.astype(np.float64))

    x_test, y_test = xy(real_test)
    scores = {}
    for name, frame in (("train_on_real", real_train), ("train_on_synthetic", synthetic)):
        x, y = xy(frame)
        kind = HistGradientBoostingClassifier if spec.kind == "categorical" else HistGradientBoostingRegressor
        with threadpool_limits(1):  # see ONE_THREAD
            scores[name] = float(kind(max_iter=100, random_state=seed).fit(x, y).score(x_test, y_test))
    scores["ratio"] = scores["train_on_synthetic"] / scores["train_on_real"] if scores["train_on_real"] else 0.0
    scores["metric"] = "accuracy" if spec.kind == "categorical" else "r2"
    scores["n_test"] = int(len(y_test))
    return scores


def distance_to_closest_record(
    synthetic: pd.DataFrame,
    real_train: pd.DataFrame,
    real_heldout: pd.DataFrame,
    schema: TableSchema | None = None,
    quantile: float = 0.05,
) -> dict[str, Any]:
    """Privacy: how close synthetic rows come to training rows, compared with new real rows.

    Distances are Euclidean on :func:`encode_rows` (standardised numbers, one-hot categories). A generator that
    does not copy puts about ``quantile`` of its rows closer than the ``quantile`` of real held-out rows' distances;
    many more means it copies training rows (``share_closer_than_real``); ``exact_copies`` counts distance 0.

    Example:
        >>> distance_to_closest_record(synthetic, train, test)["exact_copies"]
        0
    """
    schema = schema or infer_schema(real_train)
    train = encode_rows(real_train, schema)
    synth_d = nearest_distances(encode_rows(synthetic, schema), train)[:, 0]
    real_d = nearest_distances(encode_rows(real_heldout, schema), train)[:, 0]
    threshold = float(np.quantile(real_d, quantile))
    return {
        "synthetic_median": float(np.median(synth_d)),
        "real_heldout_median": float(np.median(real_d)),
        "threshold": threshold,
        "share_closer_than_real": float((synth_d < threshold).mean()),
        "expected_share": quantile,
        "exact_copies": int((synth_d < 1e-9).sum()),
        "exact_copies_among_real_heldout": int((real_d < 1e-9).sum()),
    }
