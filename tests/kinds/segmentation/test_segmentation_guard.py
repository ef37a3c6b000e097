"""The guard flags images unlike the training images and names what differs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import tifffile

from deepwise.kinds.segmentation.guard import SegmentationGuard, intensity_stats
from deepwise.kinds.segmentation.split import spatial_tiles
from deepwise.kinds.segmentation.synthetic import high_contrast_set

# the nuclei image and mask in stardist's wheel, read as files (importing stardist would pull TensorFlow)
STARDIST = Path(importlib.util.find_spec("stardist").origin).parent / "data" / "images"


def _tiles():
    image = tifffile.imread(STARDIST / "img2d.tif")[..., None]
    split = spatial_tiles(512, 512, cell_size=64, seed=0)
    return {s: [split.crop(image, t) for t in split.tiles(s)] for s in ("train", "validation", "test")}


def test_guard_passes_held_out_tiles_and_flags_other_images():
    tiles = _tiles()
    guard = SegmentationGuard(rate=0.01).fit(tiles["train"], tiles["validation"])
    flagged = [guard.check(t)["ood"] for t in tiles["test"]]
    assert sum(flagged) <= 2  # test tiles of the same image: ordinary (1 of 13 measured: the brightest tile)
    whole = tifffile.imread(STARDIST / "img2d.tif")
    assert not guard.check(whole)["ood"]
    bright = guard.check(tiles["test"][0].astype(np.float32) * 4 + 100)
    assert bright["ood"] and bright["score"] > 1 and any("intensity" in r for r in bright["reasons"])
    other = guard.check(high_contrast_set(1, 64, seed=0)[0][0])
    assert other["ood"]
    again = SegmentationGuard.from_dict(json.loads(json.dumps(guard.to_dict())))
    assert again.check(tiles["test"][0]) == guard.check(tiles["test"][0])


def test_intensity_stats_per_channel():
    image = np.zeros((10, 10, 2))
    image[..., 1] = 5.0
    stats = intensity_stats(image, [0.0, 0.0], [5.0, 5.0])
    assert stats.shape == (16,) and stats[0] == 0 and stats[8] == 5 and stats[5] == 1.0 and stats[14] == 1.0
