"""Segmentation scores from integer pixel counts, and a paired bootstrap over test images or tiles.

Everything starts from confusion matrices of int64 pixel counts computed in NumPy (``np.bincount``): exact for any
number of pixels, where Keras' ``MeanIoU`` accumulates float32 counts (exact only up to 2**24 pixels per cell) and
misbehaves under JAX. IoU of class c = TP / (TP + FP + FN); Dice = 2 TP / (2 TP + FP + FN). A class absent from
both the truth and the prediction has no IoU (NaN) and is left out of the means, as in most benchmarks.

Example:
    >>> conf = confusion(mask_true, mask_pred, n_classes=2)          # [2, 2] int64, rows = truth
    >>> scores(conf, ["background", "nucleus"])["iou"]
    {'background': 0.97, 'nucleus': 0.86}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ("mean_iou", "foreground_iou", "mean_dice", "pixel_accuracy")
DEFAULT_METRIC = "mean_iou"


CHUNK_PIXELS = 1 << 22  # pixels counted at a time (bounded memory for large images)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixel counts ``[n_classes, n_classes]`` (int64): ``conf[t, p]`` pixels of true class t predicted as p.

    Counted with ``np.bincount`` in chunks of 4 million pixels, exact for any image size.

    Example:
        >>> confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
        array([[1, 0],
               [1, 1]])
    """
    t, p = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"truth and prediction differ in size: {np.shape(y_true)} vs {np.shape(y_pred)}")
    counts = np.zeros(n_classes * n_classes, dtype=np.int64)
    for start in range(0, t.size, CHUNK_PIXELS):
        tc = t[start : start + CHUNK_PIXELS].astype(np.int64)
        pc = p[start : start + CHUNK_PIXELS].astype(np.int64)
        if tc.max() >= n_classes or pc.max() >= n_classes or tc.min() < 0 or pc.min() < 0:
            raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
        counts += np.bincount(tc * n_classes + pc, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def confusions(truths: Sequence[np.ndarray], preds: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """One confusion matrix per image or tile: ``[n, K, K]`` int64 (the units of the bootstrap).

    Example:
        >>> confusions([m1, m2], [p1, p2], 3).shape
        (2, 3, 3)
    """
    return np.stack([confusion(t, p, n_classes) for t, p in zip(truths, preds, strict=True)])


def _ratios(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    ok = denominator > 0
    out[ok] = numerator[ok] / denominator[ok]
    return out


def per_class_iou(conf: np.ndarray) -> np.ndarray:
    """IoU per class from counts (``conf`` ``[..., K, K]``); NaN for a class absent from truth and prediction."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1).astype(np.float64)
    union = conf.sum(-1) + conf.sum(-2) - tp
    return _ratios(tp, union)


def per_class_dice(conf: np.ndarray) -> np.ndarray:
    """Dice (F1) per class from counts; NaN for a class absent from truth and prediction."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1).astype(np.float64)
    return _ratios(2 * tp, conf.sum(-1) + conf.sum(-2))


def metric_value(conf: np.ndarray, metric: str = DEFAULT_METRIC) -> np.ndarray | float:
    """One number per confusion matrix (``conf`` ``[K, K]`` or ``[n, K, K]``).

    ``mean_iou``: mean over classes present; ``foreground_iou``: mean over classes 1..K-1 (for a binary task the
    object's IoU, where an all-background prediction scores 0); ``mean_dice``; ``pixel_accuracy``.

    Example:
        >>> metric_value(np.array([[5, 1], [1, 3]]), "foreground_iou")
        0.6
    """
    conf = np.asarray(conf)
    if metric == "pixel_accuracy":
        total = conf.sum((-2, -1)).astype(np.float64)
        out = _ratios(np.diagonal(conf, axis1=-2, axis2=-1).sum(-1).astype(np.float64), total)
    elif metric in ("mean_iou", "foreground_iou", "mean_dice"):
        per_class = per_class_dice(conf) if metric == "mean_dice" else per_class_iou(conf)
        if metric == "foreground_iou":
            per_class = per_class[..., 1:]
        present = ~np.isnan(per_class)
        count = present.sum(-1)
        summed = np.where(present, per_class, 0.0).sum(-1)
        out = _ratios(summed, count.astype(np.float64))
    else:
        raise ValueError(f"unknown metric {metric!r}; one of {METRICS}")
    return float(out) if np.ndim(out) == 0 else out


def scores(conf: np.ndarray, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Every score of one (summed) confusion matrix, JSON-able (NaN -> None).

    Example:
        >>> scores(np.array([[5, 1], [1, 3]]), ["background", "cell"])
        {'iou': {'background': 0.714..., 'cell': 0.6}, 'dice': {...}, 'mean_iou': 0.657..., ...}
    """
    conf = np.asarray(conf)
    names = list(class_names) if class_names is not None else [str(k) for k in range(conf.shape[0])]

    def clean(v: float) -> float | None:
        return None if np.isnan(v) else float(v)

    iou, dice = per_class_iou(conf), per_class_dice(conf)
    return {
        "iou": {n: clean(v) for n, v in zip(names, iou, strict=True)},
        "dice": {n: clean(v) for n, v in zip(names, dice, strict=True)},
        **{m: clean(metric_value(conf, m)) for m in METRICS},
        "pixels": int(conf.sum()),
        "true_pixels": {n: int(v) for n, v in zip(names, conf.sum(1), strict=True)},
        "confusion": conf.astype(np.int64).tolist(),
    }


def paired_bootstrap(
    conf_a: np.ndarray, conf_b: np.ndarray, metric: str = DEFAULT_METRIC, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """metric(a) - metric(b) on the same test images/tiles, with a 95 % interval from resampling those units.

    ``conf_a``, ``conf_b``: per-unit confusion matrices ``[n, K, K]`` of two models on the same n test images or
    tiles. Each resample draws n units with replacement (as multinomial counts), sums their confusion matrices and
    computes the metric for both models, so the dataset-level IoU is resampled, not an average of per-image IoUs.

    Example:
        >>> paired_bootstrap(unet_confs, otsu_confs, "mean_iou")
        {'difference': 0.21, 'ci95_low': 0.17, 'ci95_high': 0.25, 'resamples': 1000, 'units': 13}
    """
    conf_a, conf_b = np.asarray(conf_a, dtype=np.int64), np.asarray(conf_b, dtype=np.int64)
    if conf_a.shape != conf_b.shape or conf_a.ndim != 3:
        raise ValueError(f"need two [n, K, K] stacks of the same shape, got {conf_a.shape} and {conf_b.shape}")
    n, k = conf_a.shape[0], conf_a.shape[1]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # [n_boot, n] how often each unit is drawn
    sum_a = (weights @ conf_a.reshape(n, k * k)).reshape(n_boot, k, k)
    sum_b = (weights @ conf_b.reshape(n, k * k)).reshape(n_boot, k, k)
    diffs = np.asarray(metric_value(sum_a, metric)) - np.asarray(metric_value(sum_b, metric))
    diffs = diffs[~np.isnan(diffs)]
    lo, hi = np.percentile(diffs, [2.5, 97.5]) if diffs.size else (np.nan, np.nan)
    whole = float(metric_value(conf_a.sum(0), metric) - metric_value(conf_b.sum(0), metric))
    return {"difference": whole, "ci95_low": float(lo), "ci95_high": float(hi), "resamples": n_boot, "units": n}


BASELINE_LABELS = {
    "all_background": "predicting background everywhere",
    "otsu": "an Otsu intensity threshold",
    "filter_logistic": "per-pixel logistic regression on classical filters",
}


def compare_with_baselines(
    network: np.ndarray,
    baselines: dict[str, np.ndarray],
    metric: str = DEFAULT_METRIC,
    n_boot: int = 1000,
    seed: int = 0,
    unit: str = "test images",
) -> dict[str, Any]:
    """Does the network beat the best simple baseline beyond the test-set noise? A verdict code, message, evidence.

    ``network``, ``baselines[name]``: per-unit confusion stacks ``[n, K, K]`` on the same test units. The best
    baseline excludes ``all_background``. Codes: ``deep_learning_helps``, ``simpler_model_suffices`` (with
    ``evidence["simplest"]`` naming the baseline to use, e.g. ``otsu``: "a threshold is enough") and
    ``worse_than_chance`` (no better than all-background).

    Example:
        >>> compare_with_baselines(unet_confs, {"all_background": bg, "otsu": otsu, "filter_logistic": lr})["code"]
        'deep_learning_helps'
    """
    net_score = float(metric_value(network.sum(0), metric))
    base_scores = {name: float(metric_value(c.sum(0), metric)) for name, c in baselines.items()}
    simple = {k: v for k, v in base_scores.items() if k != "all_background"} or base_scores
    best = max(simple, key=lambda k: (simple[k], k == "otsu"))  # ties: the simplest, a threshold
    vs_best = paired_bootstrap(network, baselines[best], metric, n_boot, seed)
    evidence: dict[str, Any] = {
        "metric": metric,
        "network": net_score,
        "baselines": base_scores,
        "best_baseline": best,
        "network_minus_best_baseline": vs_best,
        "units": f"{len(network)} {unit}",
    }
    noise = (
        f"(95 % interval of the difference over {vs_best['resamples']:,} bootstrap resamples of the {len(network)} "
        f"{unit}: {vs_best['ci95_low']:+.3f} to {vs_best['ci95_high']:+.3f})"
    )
    label = BASELINE_LABELS.get(best, best)
    if "all_background" in baselines:
        vs_bg = paired_bootstrap(network, baselines["all_background"], metric, n_boot, seed)
        evidence["network_minus_all_background"] = vs_bg
        if vs_bg["ci95_high"] <= 0:
            return {
                "code": "worse_than_chance",
                "message": f"The network ({metric} {net_score:.3f}) is no better than predicting background "
                f"everywhere ({base_scores['all_background']:.3f}): it has not learned the task.",
                "evidence": evidence,
            }
    if vs_best["ci95_low"] > 0:
        code = "deep_learning_helps"
        message = f"The network ({metric} {net_score:.3f}) beats {label} ({simple[best]:.3f}) beyond the noise {noise}."
    else:
        code = "simpler_model_suffices"
        evidence["simplest"] = best
        use = "a threshold is enough" if best == "otsu" else f"use {label}"
        message = (
            f"The network ({metric} {net_score:.3f}) does not beat {label} ({simple[best]:.3f}) beyond the noise "
            f"{noise}: {use}."
        )
    return {"code": code, "message": message, "evidence": evidence}
