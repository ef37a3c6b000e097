"""Simple segmentation baselines, fitted on the training images and scored on the same test images as the network.

- ``all_background``: the most frequent training class everywhere (usually background): the floor.
- ``otsu``: an intensity threshold fitted by Otsu's method on the training pixels (multi-Otsu for 3-5 classes);
  each intensity band is given the class most of its training pixels have, so the polarity (bright or dark objects)
  is learned too. Beyond 5 classes it is left out (multi-Otsu's cost grows as 256^(bands-1)) and says so.
- ``filter_logistic``: per-pixel logistic regression on a bank of classical filters (scikit-image's
  ``multiscale_basic_features``: Gaussian smoothing, Sobel edges and Hessian eigenvalues, whose sum is the
  Laplacian, at sigma 1, 2, 4, 8, plus the raw intensity, for every channel), fitted on a subsample of training
  pixels (at most 40,000). This is what a classical pixel classifier (ilastik-style) gets.

Every baseline works on intensities standardized with the training pixels' per-channel mean and spread, and saves
its state as JSON (``to_dict``/``baseline_from_dict``).

Example:
    >>> otsu = OtsuThreshold().fit(train_images, train_masks, n_classes=2)
    >>> mask = otsu.predict(test_image)            # [H, W] class indices
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_OTSU_CLASSES = 5
MAX_TRAIN_PIXELS = 40_000
MIN_PIXELS_PER_CLASS = 2_000
FILTER_SIGMAS = (1.0, 8.0)  # sigma_min, sigma_max: 1, 2, 4, 8


def channel_stats(images: Sequence[np.ndarray]) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of all pixels (float64 sums, exact enough for uint16 images).

    Example:
        >>> channel_stats([np.zeros((4, 4, 1)), np.ones((4, 4, 1))])
        ([0.5], [0.5])
    """
    channels = images[0].shape[-1]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    n = 0
    for im in images:
        flat = np.asarray(im, dtype=np.float64).reshape(-1, channels)
        total += flat.sum(0)
        squares += (flat**2).sum(0)
        n += len(flat)
    mean = total / max(n, 1)
    std = np.sqrt(np.maximum(squares / max(n, 1) - mean**2, 0.0))
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def standardize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(image - mean) / std`` per channel, float32 ``[H, W, C]``."""
    return ((np.asarray(image, dtype=np.float32) - np.float32(mean)) / np.float32(std)).astype(np.float32)


def _majority(masks: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    counts = np.zeros(n_classes, dtype=np.int64)
    for m in masks:
        counts += np.bincount(np.asarray(m).reshape(-1), minlength=n_classes)[:n_classes]
    return counts


class AllBackground:
    """The most frequent class of the training pixels, everywhere.

    Example:
        >>> AllBackground().fit(train_images, train_masks, 2).predict(test_image)
    """

    name = "all_background"

    def __init__(self) -> None:
        self.label = 0

    def fit(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_classes: int) -> AllBackground:
        self.label = int(_majority(masks, n_classes).argmax())
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        return np.full(image.shape[:2], self.label, dtype=np.uint8)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label}


def _otsu_thresholds(values: np.ndarray, bands: int) -> list[float]:
    """Otsu (``bands`` = 2) or multi-Otsu thresholds, each moved to the middle of the empty range above it.

    The histogram is exact (one bin per distinct value) when there are at most 1,024 distinct values, as in 8-bit
    images; otherwise 256 bins. A pixel belongs to band i when ``thresholds[i-1] < value <= thresholds[i]``.
    """
    from skimage.filters import threshold_multiotsu, threshold_otsu

    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= 1024:
        hist = (counts, distinct.astype(np.float64))
    else:
        counts, edges = np.histogram(values, bins=256)
        hist = (counts, edges[1:])  # a bin's upper edge: every value of the bin lies at or below it
        distinct = edges[1:][counts > 0]
    if bands <= 2:
        found = [float(threshold_otsu(hist=hist))]
    else:
        found = [float(t) for t in threshold_multiotsu(hist=hist, classes=bands)]
    out = []
    for t in found:
        above = distinct[distinct > t]
        out.append((t + float(above[0])) / 2 if len(above) else t)
    return out


class OtsuThreshold:
    """Otsu threshold(s) on the mean intensity over channels, fitted on training pixels; bands -> majority class.

    Example:
        >>> otsu = OtsuThreshold().fit(train_images, train_masks, n_classes=2)
        >>> otsu.thresholds, otsu.band_classes
        ([0.82], [0, 1])
    """

    name = "otsu"

    def __init__(self) -> None:
        self.thresholds: list[float] = []
        self.band_classes: list[int] = []
        self.note = ""

    @staticmethod
    def intensity(image: np.ndarray) -> np.ndarray:
        return np.asarray(image, dtype=np.float32).mean(axis=-1)

    def fit(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_classes: int) -> OtsuThreshold:
        values = np.concatenate([self.intensity(im).reshape(-1) for im in images])
        labels = np.concatenate([np.asarray(m).reshape(-1) for m in masks]).astype(np.int64)
        bands = min(n_classes, MAX_OTSU_CLASSES)
        if n_classes > MAX_OTSU_CLASSES:
            self.note = (
                f"Otsu thresholds {MAX_OTSU_CLASSES} intensity bands at most ({n_classes} classes here): "
                "it can reach at most that many classes."
            )
        self.thresholds = _otsu_thresholds(values, bands) if values.max() > values.min() else []
        band = np.digitize(values, self.thresholds, right=True)
        table = np.zeros((len(self.thresholds) + 1, n_classes), dtype=np.int64)
        np.add.at(table, (band, labels), 1)
        majority = int(np.bincount(labels, minlength=n_classes).argmax())
        self.band_classes = [int(row.argmax()) if row.sum() else majority for row in table]
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        band = np.digitize(self.intensity(image), self.thresholds, right=True)
        return np.asarray(self.band_classes, dtype=np.uint8)[band]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.thresholds, "band_classes": self.band_classes}


def filter_features(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Per-pixel features ``[H, W, F]`` float32: the standardized intensity, then Gaussian, Sobel and Hessian
    eigenvalues at sigma 1, 2, 4, 8 for every channel (scikit-image's ``multiscale_basic_features``).

    Example:
        >>> filter_features(np.zeros((64, 64, 1)), [0.0], [1.0]).shape
        (64, 64, 17)
    """
    from skimage.feature import multiscale_basic_features

    x = standardize(image, mean, std)
    bank = multiscale_basic_features(x, sigma_min=FILTER_SIGMAS[0], sigma_max=FILTER_SIGMAS[1], channel_axis=-1).astype(
        np.float32
    )
    return np.concatenate([x, bank], axis=-1)


def _sample_pixels(masks: Sequence[np.ndarray], n_classes: int, seed: int) -> list[np.ndarray]:
    """Flat pixel indices per image: a uniform sample (40,000 in all) topped up to 2,000 pixels of every class."""
    rng = np.random.default_rng(seed)
    sizes = np.array([np.asarray(m).size for m in masks])
    share = min(1.0, MAX_TRAIN_PIXELS / max(int(sizes.sum()), 1))
    counts = _majority(masks, n_classes)
    top_up = {c: min(1.0, MIN_PIXELS_PER_CLASS / counts[c]) for c in range(n_classes) if counts[c]}
    picked = []
    for m in masks:
        flat = np.asarray(m).reshape(-1)
        chosen = rng.random(flat.size) < share
        for c, p in top_up.items():
            if p > share:
                chosen |= (flat == c) & (rng.random(flat.size) < p)
        picked.append(np.nonzero(chosen)[0])
    return picked


class FilterLogistic:
    """Per-pixel logistic regression on classical filters (see :func:`filter_features`), fitted on sampled pixels.

    Example:
        >>> lr = FilterLogistic().fit(train_images, train_masks, n_classes=2)
        >>> lr.predict(test_image).shape
        (128, 128)
    """

    name = "filter_logistic"

    def __init__(self, seed: int = 0, c: float = 1.0) -> None:
        self.seed = seed
        self.c = c
        self.mean: list[float] = []
        self.std: list[float] = []
        self.feature_mean = np.zeros(0)
        self.feature_scale = np.ones(0)
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.classes: list[int] = []

    def fit(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_classes: int) -> FilterLogistic:
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        self.mean, self.std = channel_stats(images)
        picked = _sample_pixels(masks, n_classes, self.seed)
        xs, ys = [], []
        for im, m, idx in zip(images, masks, picked, strict=True):
            feats = filter_features(im, self.mean, self.std)
            xs.append(feats.reshape(-1, feats.shape[-1])[idx])
            ys.append(np.asarray(m).reshape(-1)[idx])
        x, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
        self.feature_mean = x.mean(0)
        self.feature_scale = np.where(x.std(0) > 0, x.std(0), 1.0)
        model = LogisticRegression(C=self.c, max_iter=300)
        with threadpool_limits(1):  # small matrices: BLAS threads only fight over a shared CPU (8x slower)
            model.fit((x - self.feature_mean) / self.feature_scale, y)
        self.coef, self.intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        self.classes = [int(c) for c in model.classes_]
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        feats = filter_features(image, self.mean, self.std)
        h, w, f = feats.shape
        x = (feats.reshape(-1, f) - self.feature_mean) / self.feature_scale
        logits = x @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:  # binary: one logit for the second class
            chosen = (logits[:, 0] > 0).astype(np.int64)
        else:
            chosen = logits.argmax(1)
        return np.asarray(self.classes, dtype=np.uint8)[chosen].reshape(h, w)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mean": self.mean,
            "std": self.std,
            "feature_mean": self.feature_mean.tolist(),
            "feature_scale": self.feature_scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "classes": self.classes,
        }


def baseline_from_dict(state: dict[str, Any]) -> AllBackground | OtsuThreshold | FilterLogistic:
    """Rebuild a fitted baseline from its ``to_dict()`` (JSON) state.

    Example:
        >>> baseline_from_dict(json.loads(path.read_text())).predict(image)
    """
    name = state["name"]
    if name == AllBackground.name:
        out: Any = AllBackground()
        out.label = int(state["label"])
    elif name == OtsuThreshold.name:
        out = OtsuThreshold()
        out.thresholds, out.band_classes = list(state["thresholds"]), list(state["band_classes"])
    elif name == FilterLogistic.name:
        out = FilterLogistic()
        out.mean, out.std, out.classes = state["mean"], state["std"], state["classes"]
        out.feature_mean, out.feature_scale = np.array(state["feature_mean"]), np.array(state["feature_scale"])
        out.coef, out.intercept = np.array(state["coef"]), np.array(state["intercept"])
    else:
        raise ValueError(f"unknown baseline {name!r}")
    return out


def fit_baselines(
    images: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_classes: int, seed: int = 0
) -> dict[str, AllBackground | OtsuThreshold | FilterLogistic]:
    """All three baselines fitted on the same training images (the names are the keys of the run's metrics).

    Example:
        >>> baselines = fit_baselines(train_images, train_masks, n_classes=2)
        >>> {name: b.predict(test_image) for name, b in baselines.items()}
    """
    return {
        AllBackground.name: AllBackground().fit(images, masks, n_classes),
        OtsuThreshold.name: OtsuThreshold().fit(images, masks, n_classes),
        FilterLogistic.name: FilterLogistic(seed=seed).fit(images, masks, n_classes),
    }
