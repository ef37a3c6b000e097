"""Spatial splits of one large image: no pixel in two splits, a gap between splits, patches inside their split."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from deepwise.errors import DataError
from deepwise.kinds.segmentation.split import patch_origins, spatial_tiles, split_images


@pytest.mark.parametrize(("height", "width", "cell", "gap"), [(512, 512, 64, 8), (300, 517, 48, 6), (200, 96, 32, 5)])
def test_spatial_split_keeps_a_gap_between_train_and_test(height, width, cell, gap):
    split = spatial_tiles(height, width, cell_size=cell, gap=gap, seed=3)
    counts = {s: len(split.tiles(s)) for s in ("train", "validation", "test")}
    n = len(split.cells)
    assert sum(counts.values()) == n and counts["test"] == max(1, round(0.2 * n))
    assert counts["validation"] == max(1, round(0.15 * n))
    train = split.split_map == 0
    for name in ("validation", "test"):
        covered = np.zeros_like(train)
        for t in split.tiles(name):
            covered[t.y0 : t.y1, t.x0 : t.x1] = True
        assert not (covered & train).any()
        near = binary_dilation(covered, np.ones((2 * (gap // 2) + 1,) * 2, dtype=bool))
        assert not (near & train).any(), "a training pixel within the gap of a held-out tile"
    # the tiles of different splits never overlap
    owner = np.full(split.split_map.shape, -1)
    for k, t in enumerate(split.cells):
        assert (owner[t.y0 : t.y1, t.x0 : t.x1] == -1).all()
        owner[t.y0 : t.y1, t.x0 : t.x1] = k
    assert "split spatially" in split.describe() and split.to_dict()["cells"]


def test_patch_origins_lie_inside_the_region():
    split = spatial_tiles(256, 256, cell_size=64, seed=0)
    region = split.split_map == 0
    origins = patch_origins(region, 48)
    assert len(origins) > 0
    for y, x in origins[:: max(1, len(origins) // 200)]:
        assert region[y : y + 48, x : x + 48].all()
    # a brute-force count on a small map
    small = np.zeros((10, 12), dtype=bool)
    small[2:9, 1:7] = True
    expected = sum(small[y : y + 4, x : x + 4].all() for y in range(7) for x in range(9))
    assert len(patch_origins(small, 4)) == expected == 4 * 3


def test_too_small_images_and_split_by_image():
    with pytest.raises(DataError, match="too few to hold"):
        spatial_tiles(40, 40, cell_size=32)
    idx = split_images(20, seed=0)
    assert sorted(np.concatenate(list(idx.values())).tolist()) == list(range(20))
    assert [len(v) for v in idx.values()] == [13, 3, 4]
    with pytest.raises(DataError, match="cannot be split by image"):
        split_images(2)
