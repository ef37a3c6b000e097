"""Out-of-distribution guard for segmentation: is this image unlike the training images?

Two views of an image (or tile), each compared with the training images/tiles:

- intensity statistics per channel: mean, standard deviation, 1st/50th/99th percentiles, share of pixels at the
  training minimum/maximum (saturation) and mean gradient magnitude (sharpness / noise). Score: how far the image
  goes outside the range the training units span, on its worst statistic, in training standard deviations (0
  inside the range);
- the network's own view: the U-Net's bottleneck activations averaged over the image (an embedding), when a model
  is given. Score: mean distance to the k nearest training embeddings, standardized by their spread.

Each alarm threshold is calibrated to a false-alarm rate (1 % by default) on images the guard did not fit: the
validation images/tiles plus leave-one-out scores of the training ones. With a few dozen units that quantile is
about their maximum, so the real false-alarm rate is only roughly the one asked for (measured on the nuclei image's
test tiles: 1 of 13 small tiles flagged, the whole image not). For the statistics the threshold is at least one
training spread beyond the training range. Statistics far outside the training range (more than 4 training
standard deviations) are named in plain words: "median intensity 188 (training 17 to 45)".
State: JSON (``to_dict``/``from_dict``), no pickle.

Example:
    >>> guard = SegmentationGuard().fit(train_tiles, validation_tiles, model=unet)
    >>> guard.check(new_image)
    {'ood': True, 'score': 50.4, 'threshold': 1.0, 'reasons': ['median intensity 188 (training 17 to 45)'], ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

STAT_NAMES = ("mean", "std", "p1", "p50", "p99", "at_min", "at_max", "gradient")
STAT_LABELS = {
    "mean": "mean intensity",
    "std": "intensity spread",
    "p1": "darkest 1 % intensity",
    "p50": "median intensity",
    "p99": "brightest 1 % intensity",
    "at_min": "share of pixels at the training minimum",
    "at_max": "share of pixels at the training maximum (saturated)",
    "gradient": "mean gradient (sharpness/noise)",
}
BOTTLENECK_LAYER = "bottleneck_relu2"
EMBED_MAX_SIDE = 256
Z_NAMED = 4.0
MIN_RANGE_EXCESS = 1.0  # a statistic must leave the training range by at least one training spread to alarm


def intensity_stats(image: np.ndarray, low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """Eight numbers per channel (see :data:`STAT_NAMES`); ``low``/``high``: the training pixel range per channel.

    Example:
        >>> intensity_stats(image, [0.0], [255.0]).shape
        (8,)
    """
    x = np.asarray(image, dtype=np.float32)
    x = x if x.ndim == 3 else x[..., None]
    out = []
    for c in range(x.shape[-1]):
        ch = x[..., c]
        p1, p50, p99 = np.percentile(ch, [1, 50, 99])
        gy, gx = np.gradient(ch)
        out += [
            float(ch.mean()),
            float(ch.std()),
            float(p1),
            float(p50),
            float(p99),
            float((ch <= low[c]).mean()),
            float((ch >= high[c]).mean()),
            float(np.hypot(gy, gx).mean()),
        ]
    return np.asarray(out, dtype=np.float64)


def bottleneck_embedder(model: Any) -> Any:
    """A Keras model: image -> the U-Net's bottleneck activations averaged over positions ``[B, filters]``."""
    from deepwise.backend import keras_module

    keras = keras_module()
    features = model.get_layer(BOTTLENECK_LAYER).output
    pooled = keras.layers.GlobalAveragePooling2D(name="embedding")(features)
    return keras.Model(model.inputs, pooled)


def embed(embedder: Any, image: np.ndarray, multiple: int) -> np.ndarray:
    """The embedding of one image: its central crop of at most 256 x 256 px (sides cut to a multiple of
    ``multiple``), so that images of any size cost the same.

    Example:
        >>> embed(bottleneck_embedder(unet), tile, multiple=8).shape
        (128,)
    """
    x = np.asarray(image, dtype=np.float32)
    x = x if x.ndim == 3 else x[..., None]
    h, w = x.shape[:2]
    ch, cw = min(h, EMBED_MAX_SIDE), min(w, EMBED_MAX_SIDE)
    ch, cw = max(multiple, ch - ch % multiple), max(multiple, cw - cw % multiple)
    y0, x0 = max(0, (h - ch) // 2), max(0, (w - cw) // 2)
    crop = x[y0 : y0 + ch, x0 : x0 + cw]
    if crop.shape[:2] != (ch, cw):  # smaller than one downsampling step: pad by edge copies
        crop = np.pad(crop, [(0, ch - crop.shape[0]), (0, cw - crop.shape[1]), (0, 0)], mode="edge")
    return np.asarray(embedder.predict_on_batch(crop[None]), dtype=np.float64)[0]


class _KnnScore:
    """Mean distance to the k nearest reference rows, after standardizing by the references' spread."""

    def __init__(self, reference: np.ndarray, k: int = 5, floor: np.ndarray | None = None):
        self.reference = np.asarray(reference, dtype=np.float64)
        self.center = self.reference.mean(0)
        spread = self.reference.std(0)
        if floor is not None:  # a statistic (nearly) constant in training must not turn noise into alarms
            spread = np.maximum(spread, floor)
        self.scale = np.where(spread > 1e-12, spread, 1.0)
        self.k = max(1, min(k, len(self.reference) - 1))

    def score(self, rows: np.ndarray, leave_one_out: bool = False) -> np.ndarray:
        ref = (self.reference - self.center) / self.scale
        x = (np.atleast_2d(rows) - self.center) / self.scale
        dist = np.sqrt(((x[:, None, :] - ref[None, :, :]) ** 2).sum(-1))
        if leave_one_out:
            np.fill_diagonal(dist, np.inf)
        nearest = np.sort(dist, axis=1)[:, : self.k]
        return nearest.mean(1) / np.sqrt(ref.shape[1])


def stat_floors(low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """The smallest spread each statistic is standardized by: 1 % of the training range for intensities and
    gradients, 1 % of the pixels for the saturation shares."""
    out = []
    for lo, hi in zip(low, high, strict=True):
        span = max(float(hi) - float(lo), 1e-6)
        out += [0.01 * span] * 5 + [0.01, 0.01] + [0.01 * span]
    return np.asarray(out)


def _range_score(reference: np.ndarray, rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """How far outside the training range each row goes, in units of ``scale``, on its worst statistic (0 inside)."""
    rows = np.atleast_2d(rows)
    lo, hi = reference.min(0), reference.max(0)
    beyond = np.maximum(np.maximum(rows - hi, lo - rows), 0.0) / scale
    return beyond.max(-1)


def _threshold(scores: np.ndarray, rate: float) -> float:
    return float(np.quantile(scores, 1.0 - rate)) if len(scores) else float("inf")


class SegmentationGuard:
    """Flags images unlike the training images by intensity statistics and (optionally) U-Net embeddings.

    Example:
        >>> guard = SegmentationGuard(rate=0.01).fit(train_tiles, val_tiles, model=unet, multiple=8)
        >>> report = guard.check(image)
    """

    def __init__(self, rate: float = 0.01, k: int = 5):
        self.rate, self.k = rate, k
        self.low: list[float] = []
        self.high: list[float] = []
        self.stats_reference = np.zeros((0, 0))
        self.embed_reference: np.ndarray | None = None
        self.thresholds: dict[str, float] = {}
        self.multiple = 8
        self.embedder: Any = None

    def fit(
        self,
        train_images: Sequence[np.ndarray],
        validation_images: Sequence[np.ndarray] = (),
        model: Any = None,
        multiple: int = 8,
    ) -> SegmentationGuard:
        """Reference statistics (and embeddings) of the training images/tiles; thresholds from held-out scores."""
        channels = np.asarray(train_images[0]).reshape(*np.shape(train_images[0])[:2], -1).shape[-1]
        flat = [np.asarray(im, dtype=np.float32).reshape(-1, channels) for im in train_images]
        self.low = np.min([f.min(0) for f in flat], axis=0).tolist()
        self.high = np.max([f.max(0) for f in flat], axis=0).tolist()
        self.multiple = multiple
        self.stats_reference = np.stack([intensity_stats(im, self.low, self.high) for im in train_images])
        held_out = (
            np.stack([intensity_stats(im, self.low, self.high) for im in validation_images])
            if len(validation_images)
            else np.zeros((0, self.stats_reference.shape[1]))
        )
        ref = self.stats_reference
        scale = self._stat_scale()
        loo = (
            [_range_score(np.delete(ref, i, axis=0), ref[i], scale)[0] for i in range(len(ref))] if len(ref) > 2 else []
        )
        calib = np.concatenate([np.asarray(loo), _range_score(ref, held_out, scale) if len(held_out) else []])
        self.thresholds = {"stats": max(MIN_RANGE_EXCESS, _threshold(calib, self.rate))}
        if model is not None:
            self.embedder = bottleneck_embedder(model)
            self.embed_reference = np.stack([embed(self.embedder, im, multiple) for im in train_images])
            knn_e = _KnnScore(self.embed_reference, self.k)
            held = [embed(self.embedder, im, multiple) for im in validation_images]
            calib_e = knn_e.score(self.embed_reference, leave_one_out=True)
            if held:
                calib_e = np.concatenate([calib_e, knn_e.score(np.stack(held))])
            self.thresholds["embedding"] = _threshold(calib_e, self.rate)
        return self

    def _stat_scale(self) -> np.ndarray:
        return np.maximum(self.stats_reference.std(0), stat_floors(self.low, self.high))

    def _reasons(self, stats: np.ndarray) -> list[str]:
        ref = self.stats_reference
        z = (stats - ref.mean(0)) / np.maximum(ref.std(0), stat_floors(self.low, self.high))
        channels = len(self.low)
        reasons = []
        for i in np.argsort(-np.abs(z)):
            if abs(z[i]) < Z_NAMED or len(reasons) >= 3:
                break
            name = STAT_LABELS[STAT_NAMES[i % len(STAT_NAMES)]]
            where = f" (channel {i // len(STAT_NAMES)})" if channels > 1 else ""
            reasons.append(f"{name}{where} {stats[i]:.3g} (training {ref[:, i].min():.3g} to {ref[:, i].max():.3g})")
        return reasons

    def check(self, image: np.ndarray) -> dict[str, Any]:
        """``{"ood", "score", "threshold", "scores", "reasons"}`` for one image (score/threshold: the view that is
        furthest beyond its threshold, as a ratio: > 1 means flagged).

        Example:
            >>> guard.check(image)["ood"]
            False
        """
        stats = intensity_stats(image, self.low, self.high)
        scores = {"stats": float(_range_score(self.stats_reference, stats, self._stat_scale())[0])}
        if self.embed_reference is not None and self.embedder is not None:
            vector = embed(self.embedder, image, self.multiple)
            scores["embedding"] = float(_KnnScore(self.embed_reference, self.k).score(vector)[0])
        ratios = {name: scores[name] / max(self.thresholds[name], 1e-12) for name in scores}
        worst = max(ratios, key=ratios.get)
        reasons = self._reasons(stats)
        if ratios.get("embedding", 0) > 1 and worst == "embedding":
            reasons.append("the network's internal view of the image is unlike any training image")
        return {
            "ood": bool(ratios[worst] > 1),
            "score": float(ratios[worst]),
            "threshold": 1.0,
            "scores": scores,
            "reasons": reasons if ratios[worst] > 1 else [],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (the embedder is rebuilt from the model with :meth:`from_dict`)."""
        return {
            "rate": self.rate,
            "k": self.k,
            "low": self.low,
            "high": self.high,
            "multiple": self.multiple,
            "stats_reference": self.stats_reference.tolist(),
            "embed_reference": None if self.embed_reference is None else self.embed_reference.tolist(),
            "thresholds": self.thresholds,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any], model: Any = None) -> SegmentationGuard:
        """Rebuild a fitted guard from :meth:`to_dict` (pass the run's model to use the embedding view)."""
        guard = cls(rate=state["rate"], k=state["k"])
        guard.low, guard.high, guard.multiple = state["low"], state["high"], state["multiple"]
        guard.stats_reference = np.asarray(state["stats_reference"], dtype=np.float64)
        guard.thresholds = dict(state["thresholds"])
        if state.get("embed_reference") is not None and model is not None:
            guard.embed_reference = np.asarray(state["embed_reference"], dtype=np.float64)
            guard.embedder = bottleneck_embedder(model)
        else:
            guard.thresholds.pop("embedding", None)
        return guard
