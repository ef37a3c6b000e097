"""Flagging inputs far from the training images: where an image-to-image network is most likely to imagine.

A denoiser trained on digits, given a photograph, still returns something digit-like and confident-looking. The
guard describes each image by a few numbers (the image shrunk to 8x8 per channel, its brightness, contrast and
edge strength), standardises them on the training images, keeps the main directions (PCA) and scores a new image
by its mean distance to the 5 nearest training images. The threshold is the 99th percentile of that score on
training images the guard did not keep (so about 1 % of ordinary inputs are flagged, as deepwise's table guard).
State is arrays only (:meth:`ImageGuard.save` writes an ``.npz`` read with ``allow_pickle=False``).

Example:
    >>> guard = fit_image_guard(noisy_digits)
    >>> guard.flag(photo_tiles).mean()
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHRUNK_SIDE = 8
MAX_REFERENCE = 2000
CALIBRATION_SHARE = 0.2


def image_features(images: np.ndarray) -> np.ndarray:
    """Per image: the image shrunk to 8x8 per channel, mean, standard deviation and mean absolute gradient.

    Example:
        >>> image_features(np.zeros((3, 28, 28, 1))).shape
        (3, 67)
    """
    from skimage.transform import resize

    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    n, _, _, c = x.shape
    small = resize(x, (n, SHRUNK_SIDE, SHRUNK_SIDE, c), anti_aliasing=True, preserve_range=True).reshape(n, -1)
    gray = x.mean(axis=-1)
    gradient = np.abs(np.diff(gray, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(gray, axis=2)).mean(axis=(1, 2))
    stats = np.stack([gray.mean(axis=(1, 2)), gray.std(axis=(1, 2)), gradient], axis=1)
    return np.concatenate([small, stats], axis=1).astype(np.float64)


@dataclass
class ImageGuard:
    """A fitted out-of-distribution guard for images (see the module docstring)."""

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    reference: np.ndarray
    threshold: float
    k: int = 5

    def _project(self, images: np.ndarray) -> np.ndarray:
        return ((image_features(images) - self.mean) / self.scale) @ self.components.T

    def score(self, images: np.ndarray) -> np.ndarray:
        """Mean distance to the k nearest training images (in the guard's space; larger is stranger)."""
        points = self._project(images)
        out = np.empty(len(points))
        ref_sq = (self.reference**2).sum(axis=1)
        for start in range(0, len(points), 1024):
            p = points[start : start + 1024]
            d2 = np.maximum((p**2).sum(axis=1)[:, None] + ref_sq[None] - 2 * p @ self.reference.T, 0)
            nearest = np.partition(d2, min(self.k, d2.shape[1]) - 1, axis=1)[:, : self.k]
            out[start : start + 1024] = np.sqrt(nearest).mean(axis=1)
        return out

    def flag(self, images: np.ndarray) -> np.ndarray:
        """True for images beyond the threshold: the network's output there is least trustworthy."""
        return self.score(images) > self.threshold

    def save(self, path: str | Path) -> None:
        np.savez(
            path, mean=self.mean, scale=self.scale, components=self.components, reference=self.reference,
            threshold=np.array(self.threshold), k=np.array(self.k),
        )

    @classmethod
    def load(cls, path: str | Path) -> ImageGuard:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                mean=data["mean"], scale=data["scale"], components=data["components"], reference=data["reference"],
                threshold=float(data["threshold"]), k=int(data["k"]),
            )


def fit_image_guard(
    images: np.ndarray, k: int = 5, quantile: float = 0.99, n_components: int = 16, seed: int = 0
) -> ImageGuard:
    """Fit the guard on training inputs; ``quantile`` of held-back training images' scores is the threshold.

    Example:
        >>> round(float(fit_image_guard(noisy_digits).flag(noisy_digits_test).mean()), 2)
        0.01
    """
    x = np.asarray(images)
    if len(x) < 20:
        raise ValueError(f"the guard needs at least 20 training images; got {len(x)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_cal = max(5, int(CALIBRATION_SHARE * len(x)))
    calibration, reference = order[:n_cal], order[n_cal:][:MAX_REFERENCE]
    features = image_features(x[reference])
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    standard = (features - mean) / scale
    _, _, vt = np.linalg.svd(standard, full_matrices=False)
    components = vt[: min(n_components, vt.shape[0])]
    guard = ImageGuard(mean, scale, components, standard @ components.T, threshold=np.inf, k=k)
    guard.threshold = float(np.quantile(guard.score(x[calibration]), quantile))
    return guard
