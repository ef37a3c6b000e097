"""Baselines on the synthetic sets: Otsu is exact on high contrast; JSON state round-trips; mask files write back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from deepwise.kinds.segmentation.baselines import (
    AllBackground,
    FilterLogistic,
    OtsuThreshold,
    baseline_from_dict,
    fit_baselines,
)
from deepwise.kinds.segmentation.legend import Legend
from deepwise.kinds.segmentation.metrics import confusions, metric_value, scores
from deepwise.kinds.segmentation.read import read_segmentation_folder
from deepwise.kinds.segmentation.synthetic import high_contrast_set, shapes_set, write_set
from deepwise.kinds.segmentation.write import overlay, write_mask_png


def test_otsu_is_perfect_on_the_high_contrast_set():
    images, masks, names = high_contrast_set(12, size=64, seed=0)
    baselines = fit_baselines(images[:8], masks[:8], 2, seed=0)
    result = {
        n: scores(confusions(masks[8:], [b.predict(x) for x in images[8:]], 2).sum(0)) for n, b in baselines.items()
    }
    assert result["otsu"]["foreground_iou"] == 1.0 and result["otsu"]["pixel_accuracy"] == 1.0
    assert result["filter_logistic"]["foreground_iou"] > 0.9
    assert result["all_background"]["foreground_iou"] == 0.0
    # dark objects on a bright background: the band -> class table learns the polarity
    inverted = [255 - x for x in images]
    otsu = OtsuThreshold().fit(inverted[:8], masks[:8], 2)
    assert otsu.band_classes == [1, 0]
    assert metric_value(confusions(masks[8:], [otsu.predict(x) for x in inverted[8:]], 2).sum(0), "mean_iou") == 1.0


def test_per_pixel_baselines_cannot_tell_shapes_apart():
    images, masks, names = shapes_set(12, size=96, seed=0)
    baselines = fit_baselines(images[:9], masks[:9], len(names), seed=0)
    preds = {n: [b.predict(x) for x in images[9:]] for n, b in baselines.items()}
    mean_iou = {n: metric_value(confusions(masks[9:], p, 4).sum(0), "mean_iou") for n, p in preds.items()}
    assert mean_iou["otsu"] < 0.6 and mean_iou["filter_logistic"] < 0.7  # classes differ by shape only
    assert len(baselines["otsu"].thresholds) == 3  # multi-Otsu: one band per class


def test_baseline_state_round_trips_through_json():
    images, masks, _ = high_contrast_set(6, size=48, seed=1)
    for baseline in (AllBackground(), OtsuThreshold(), FilterLogistic(seed=0)):
        fitted = baseline.fit(images[:4], masks[:4], 2)
        again = baseline_from_dict(json.loads(json.dumps(fitted.to_dict())))
        for x in images[4:]:
            np.testing.assert_array_equal(again.predict(x), fitted.predict(x))
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_from_dict({"name": "magic"})


def test_predicted_masks_are_written_with_the_users_ids(tmp_path):
    legend = Legend([0, 255], ["background", "cell"], [None, (255, 0, 0)])
    labels = np.zeros((20, 30), dtype=np.uint8)
    labels[5:10, 5:25] = 1
    path = write_mask_png(tmp_path / "pred" / "a.png", labels, legend)
    with Image.open(path) as img:
        assert img.mode == "P" and img.getpalette()[255 * 3 : 255 * 3 + 3] == [255, 0, 0]
        values = np.asarray(img)
    assert set(np.unique(values)) == {0, 255} and (values == 255).sum() == 100
    wide = Legend([0, 1000], ["background", "x"], [None, None])
    with Image.open(write_mask_png(tmp_path / "b.png", labels, wide)) as img:
        assert np.asarray(img).max() == 1000
    rgb = overlay(np.full((20, 30, 1), 100, dtype=np.uint16), labels, legend)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8 and tuple(rgb[0, 0]) != tuple(rgb[7, 7])


def test_synthetic_sets_are_seeded_and_read_back(tmp_path):
    a, b = shapes_set(3, 64, seed=5), shapes_set(3, 64, seed=5)
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        np.testing.assert_array_equal(x, y)
    root = write_set(tmp_path / "hc", *high_contrast_set(3, 40, seed=0))
    data = read_segmentation_folder(root)
    assert data.class_names == ["background", "disk"] and len(data) == 3
