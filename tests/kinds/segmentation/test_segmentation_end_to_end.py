"""Segmentation end to end through the public API and the CLI: the stardist nuclei image (binary, one large image
split spatially), the synthetic 4-class shapes set (``synthetic.shapes_set``: the class is in the geometry, so
thresholds and per-pixel filters cannot tell circles from triangles) and a high-contrast set (a threshold is
enough). The shapes set is 40 images of 64 x 64 pixels: at 128 x 128 the default plan (128-pixel patches, depth 4,
batches of 4) needed more than 45 epochs and 26 minutes on a busy machine; at 64 x 64 (64-pixel patches, depth 3,
batches of 16, the same 65k pixels a batch) the validation mean IoU passed 0.9 in the third epoch.

Slow: each module fixture trains one U-Net (minutes on 2 CPU cores); the tests share it. ``training.epochs`` is a
budget for the test, not a tuned default (early stopping decides within it).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deepwise
from deepwise.kinds.segmentation.synthetic import high_contrast_set, shapes_set, write_set

# the nuclei image and its instance mask in stardist's wheel (BSD-3), read as files: importing stardist would pull
# TensorFlow
STARDIST = Path(importlib.util.find_spec("stardist").origin).parent / "data" / "images"
pytestmark = [pytest.mark.slow, pytest.mark.bar]  # an issue's quality bar, measured: `make test-bars`


def _train(folder: Path, runs: Path, epochs: int, **extra):
    config = {"problem": {"target": "label"}, "data": {"path": str(folder)}, "training": {"epochs": epochs}, **extra}
    return deepwise.train(config, runs_dir=runs, verbose=False)


@pytest.fixture(scope="module")
def nuclei(tmp_path_factory):
    root = tmp_path_factory.mktemp("nuclei")
    (root / "data" / "images").mkdir(parents=True)
    (root / "data" / "masks").mkdir()
    shutil.copy(STARDIST / "img2d.tif", root / "data" / "images" / "nuclei.tif")
    shutil.copy(STARDIST / "mask2d.tif", root / "data" / "masks" / "nuclei.tif")
    # the best epoch was 3 of 13 (validation IoU 0.881, test 0.883) when 60 were allowed: 10 leave room and keep
    # the slow suite in budget
    return root, _train(root / "data", root / "runs", epochs=10)


def test_nuclei_reach_iou_085_and_beat_otsu(nuclei):
    _, run = nuclei
    m = run.metrics
    seg = m["segmentation"]
    print(m["test"]["iou"], {k: v["iou"] for k, v in m["baselines"].items()}, m["verdict"]["message"],
          f"training {seg['training_seconds']} s over {len(run.history)} epochs (issue 21: under 5 minutes on 2 "
          "cores; not asserted, the machine may be shared)", sep="\n")  # fmt: skip
    assert run.kind.name == "segmentation" and seg["unit"] == "test tiles"
    assert "split spatially" in seg["split"]
    assert any("instance masks" in note for note in seg["notes"])
    assert m["test"]["iou"]["object"] >= 0.85
    assert set(m["baselines"]) == {"all_background", "otsu", "filter_logistic"}
    assert m["baselines"]["otsu"]["iou"]["object"] < m["test"]["iou"]["object"]
    assert m["verdict"]["code"] in ("deep_learning_helps", "simpler_model_suffices")
    assert (run.path / "report.html").is_file()


def test_nuclei_predict_writes_masks_and_overlays_from_the_cli(nuclei, cli):
    root, run = nuclei
    out = root / "predicted"
    result = cli("predict", run.path, root / "data" / "images" / "nuclei.tif", "-o", out, "--overlays")
    assert result.exit_code == 0, result.output
    mask = np.asarray(Image.open(out / "nuclei.png"))
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 1}
    assert Image.open(out / "overlays" / "nuclei.png").size == (512, 512)
    summary = pd.read_csv(out / "predictions.csv")
    assert summary["image"].tolist() == ["nuclei"] and not summary["ood"].any()
    assert 0.1 < summary["share_object"].iloc[0] < 0.3


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    folder = write_set(root / "data", *shapes_set(40, 64, seed=0))
    return _train(folder, root / "runs", epochs=8)


def test_shapes_of_four_classes_reach_mean_iou_09_where_per_pixel_baselines_cannot(shapes):
    m = shapes.metrics
    print(m["test"]["mean_iou"], m["test"]["iou"], {k: v["mean_iou"] for k, v in m["baselines"].items()},
          f"training {m['segmentation']['training_seconds']} s", m["verdict"]["message"], sep="\n")  # fmt: skip
    assert m["segmentation"]["unit"] == "test images" and "split by image" in m["segmentation"]["split"]
    assert set(m["test"]["iou"]) == {"background", "circle", "rectangle", "triangle"}
    assert m["test"]["mean_iou"] >= 0.9
    assert max(b["mean_iou"] for b in m["baselines"].values()) < 0.7  # the class is not in the pixel's brightness
    assert m["verdict"]["code"] == "deep_learning_helps"


@pytest.fixture(scope="module")
def high_contrast(tmp_path_factory):
    root = tmp_path_factory.mktemp("contrast")
    folder = write_set(root / "data", *high_contrast_set(24, 64, seed=0))
    return _train(folder, root / "runs", epochs=8, segmentation={"steps_per_epoch": 20})


def test_high_contrast_says_a_threshold_is_enough(high_contrast):
    m = high_contrast.metrics
    print(m["verdict"]["message"])
    assert m["baselines"]["otsu"]["foreground_iou"] == 1.0
    assert m["verdict"]["code"] == "simpler_model_suffices"
    assert m["verdict"]["evidence"]["simplest"] == "otsu"
    assert "threshold" in m["verdict"]["message"]
