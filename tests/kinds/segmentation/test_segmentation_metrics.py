"""Segmentation scores against hand-computed values, exact integer counts, and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from deepwise.kinds.segmentation.metrics import (
    compare_with_baselines,
    confusion,
    confusions,
    metric_value,
    paired_bootstrap,
    scores,
)

TRUTH = np.array([[0, 0, 1], [1, 2, 2]])
PRED = np.array([[0, 1, 1], [1, 2, 0]])


def test_confusion_and_scores_by_hand():
    conf = confusion(TRUTH, PRED, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    s = scores(conf, ["bg", "a", "b"])
    assert s["iou"] == pytest.approx({"bg": 1 / 3, "a": 2 / 3, "b": 1 / 2})
    assert s["dice"] == pytest.approx({"bg": 1 / 2, "a": 4 / 5, "b": 2 / 3})
    assert s["mean_iou"] == pytest.approx(0.5)
    assert s["foreground_iou"] == pytest.approx(7 / 12)
    assert s["mean_dice"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert s["pixel_accuracy"] == pytest.approx(4 / 6)
    assert s["pixels"] == 6 and s["true_pixels"] == {"bg": 2, "a": 2, "b": 2}


def test_a_class_absent_from_truth_and_prediction_is_left_out():
    s = scores(confusion(TRUTH, PRED, 4), ["bg", "a", "b", "never"])
    assert s["iou"]["never"] is None and s["mean_iou"] == pytest.approx(0.5)
    # predicted but absent from the truth: IoU 0, counted
    pred = PRED.copy()
    pred[0, 0] = 3
    assert scores(confusion(TRUTH, pred, 4))["iou"]["3"] == 0.0


def test_counts_are_exact_beyond_float32():
    n = 4097 * 4097  # 16,785,409 > 2**24: float32 counters stop at 16,777,216
    zeros = np.zeros((4097, 4097), dtype=np.uint8)
    conf = confusion(zeros, zeros, 2)
    assert conf[0, 0] == n and conf.dtype == np.int64
    assert int(np.float32(n)) != n  # what Keras' float32 MeanIoU accumulators would round to


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ in size"):
        confusion(TRUTH, PRED[:, :2], 3)
    with pytest.raises(ValueError, match="0..1"):
        confusion(TRUTH, PRED, 2)


def _per_tile(rng, n_tiles: int, error_rate: float) -> tuple[list, list]:
    truths = [(rng.random((16, 16)) < 0.3).astype(np.uint8) for _ in range(n_tiles)]
    preds = []
    for t in truths:
        flip = rng.random(t.shape) < error_rate
        preds.append(np.where(flip, 1 - t, t).astype(np.uint8))
    return truths, preds


def test_paired_bootstrap_sees_a_real_difference_and_no_difference():
    rng = np.random.default_rng(0)
    truths, good = _per_tile(rng, 20, 0.02)
    _, bad = _per_tile(np.random.default_rng(1), 20, 0.2)
    a, b = confusions(truths, good, 2), confusions(truths, bad, 2)
    better = paired_bootstrap(a, b, "foreground_iou", seed=0)
    assert better["ci95_low"] > 0 and better["units"] == 20
    assert better["difference"] == pytest.approx(
        metric_value(a.sum(0), "foreground_iou") - metric_value(b.sum(0), "foreground_iou")
    )
    same = paired_bootstrap(a, a, "mean_iou")
    assert same["difference"] == same["ci95_low"] == same["ci95_high"] == 0.0
    # metric_value on a stack gives one value per unit
    assert metric_value(a, "pixel_accuracy").shape == (20,)


def test_verdict_says_threshold_when_otsu_is_as_good():
    rng = np.random.default_rng(0)
    truths, preds = _per_tile(rng, 12, 0.0)
    perfect = confusions(truths, preds, 2)
    background = confusions(truths, [np.zeros_like(t) for t in truths], 2)
    verdict = compare_with_baselines(
        perfect, {"all_background": background, "otsu": perfect, "filter_logistic": perfect}, "foreground_iou"
    )
    assert verdict["code"] == "simpler_model_suffices" and verdict["evidence"]["simplest"] == "otsu"
    assert "a threshold is enough" in verdict["message"]
    _, noisy = _per_tile(np.random.default_rng(2), 12, 0.3)
    worse = compare_with_baselines(
        confusions(truths, noisy, 2), {"all_background": background, "otsu": perfect}, "foreground_iou"
    )
    assert (
        worse["code"] == "simpler_model_suffices" and worse["evidence"]["network_minus_best_baseline"]["ci95_high"] < 0
    )
    helps = compare_with_baselines(perfect, {"all_background": background, "otsu": confusions(truths, noisy, 2)})
    assert helps["code"] == "deep_learning_helps"
    chance = compare_with_baselines(background, {"all_background": background, "otsu": perfect}, "foreground_iou")
    assert chance["code"] == "worse_than_chance"
