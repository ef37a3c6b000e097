"""Tiled prediction equals whole-image prediction where both fit; the U-Net's loss and patches behave."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from deepwise.backend import keras_module
from deepwise.kinds.segmentation.read import open_image_lazily
from deepwise.kinds.segmentation.tiling import predict_tiled, predict_whole, tile_windows
from deepwise.kinds.segmentation.unet import (
    IGNORE,
    DiceCrossEntropy,
    PatchDataset,
    PatchSource,
    build_unet,
    cover_patches,
    dihedral,
    plan_unet,
    receptive_radius,
)

keras = keras_module()


@pytest.fixture(scope="module")
def small_unet():
    return build_unet(channels=2, n_classes=3, depth=2, base_filters=4, mean=[100.0, 50.0], variance=[900.0, 400.0])


def test_receptive_radius_bounds_the_context_a_pixel_uses(small_unet):
    x = np.random.default_rng(0).uniform(0, 200, (1, 128, 128, 2)).astype(np.float32)
    base = np.asarray(small_unet.predict_on_batch(x))
    poked = x.copy()
    poked[0, 64, 64] += 500.0
    changed = np.abs(np.asarray(small_unet.predict_on_batch(poked)) - base).max(-1)[0] > 1e-6
    ys, xs = np.nonzero(changed)
    reach = max(np.abs(ys - 64).max(), np.abs(xs - 64).max())
    assert 0 < reach <= receptive_radius(2) == 26


@pytest.mark.parametrize(
    ("height", "width", "tile", "batch"),
    [(203, 141, 96, 3), (64, 64, 96, 4), pytest.param(150, 300, 64, 2, marks=pytest.mark.slow)],  # 7 s: compiles
)
def test_tiled_equals_whole_image(small_unet, height, width, tile, batch):
    image = np.random.default_rng(1).uniform(0, 255, (height, width, 2)).astype(np.float32)
    whole = predict_whole(small_unet, image, multiple=4)
    margin = receptive_radius(2)
    tiled = predict_tiled(small_unet, image, tile=tile, margin=margin, multiple=4, batch_size=batch, probabilities=True)
    assert tiled.shape == whole.shape == (height, width, 3)
    np.testing.assert_allclose(tiled, whole, atol=2e-5)
    labels = predict_tiled(small_unet, image, tile=tile, margin=margin, multiple=4, batch_size=batch)
    assert labels.dtype == np.uint8 and (labels == whole.argmax(-1)).mean() > 0.999


def test_tiles_cover_every_pixel_once_and_write_into_a_memmap(small_unet, tmp_path):
    kept = np.zeros((200, 328), dtype=int)
    for _, (ky0, ky1, kx0, kx1) in tile_windows(200, 328, 96, 28):
        kept[ky0:ky1, kx0:kx1] += 1
    assert (kept >= 1).all()
    image = np.random.default_rng(2).uniform(0, 255, (100, 90, 2)).astype(np.float32)
    out = np.lib.format.open_memmap(tmp_path / "labels.npy", mode="w+", dtype=np.uint8, shape=(100, 90))
    predict_tiled(small_unet, image, tile=64, margin=12, multiple=4, out=out)
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), predict_tiled(small_unet, image, 64, 12, 4))
    tifffile.imwrite(tmp_path / "slide.tif", image)  # uncompressed: read a window at a time
    lazy = open_image_lazily(tmp_path / "slide.tif")
    assert isinstance(lazy, np.memmap)
    np.testing.assert_array_equal(predict_tiled(small_unet, lazy, 64, 12, 4), out)
    with pytest.raises(ValueError, match="keeps nothing"):
        predict_tiled(small_unet, image, tile=32, margin=16, multiple=4)


def test_loss_ignores_padding_and_scores_a_perfect_prediction_near_zero():
    loss = DiceCrossEntropy(n_classes=3)
    y = np.array([[[0, 1], [2, IGNORE]]])
    perfect = np.zeros((1, 2, 2, 3), dtype=np.float32)
    perfect[0, 0, 0, 0] = perfect[0, 0, 1, 1] = perfect[0, 1, 0, 2] = 1.0
    perfect[0, 1, 1] = [0.0, 0.0, 1.0]  # wrong, but on an ignored pixel
    assert float(loss(y, perfect)) < 1e-3
    wrong = np.roll(perfect, 1, axis=-1)
    assert float(loss(y, wrong)) > 5.0
    again = DiceCrossEntropy.from_config(loss.get_config())
    assert again.n_classes == 3 and float(again(y, perfect)) == pytest.approx(float(loss(y, perfect)))


def test_patches_keep_image_and_mask_aligned():
    rng = np.random.default_rng(0)
    mask = (rng.random((40, 50)) < 0.5).astype(np.uint8)
    image = (mask * 100.0 + 7.0)[..., None].astype(np.float32)
    origins = np.array([[y, x] for y in range(0, 9) for x in range(0, 19)], dtype=np.int32)
    data = PatchDataset([PatchSource(image, mask, origins)], patch=32, batch_size=6, steps=3, seed=0)
    x, y = data[1]
    assert x.shape == (6, 32, 32, 1) and y.shape == (6, 32, 32)
    np.testing.assert_array_equal(x[..., 0], y * 100.0 + 7.0)
    x2, _ = data[1]
    np.testing.assert_array_equal(x, x2)  # batch i of an epoch is reproducible
    square = np.arange(9).reshape(3, 3)
    assert len({dihedral(square, k).tobytes() for k in range(8)}) == 8
    pieces, labels = cover_patches(image[:20, :20], mask[:20, :20], 16, pad_value=[7.0])
    assert pieces.shape == (4, 16, 16, 1) and (labels != IGNORE).sum() == 400


def test_plan_sizes_the_network_to_the_data():
    small = plan_unet(patch_limit=112, train_pixels=150_000)
    assert (small.patch, small.depth, small.base_filters) == (96, 3, 16)
    big = plan_unet(patch_limit=1000, train_pixels=20_000_000)
    assert (big.patch, big.depth, big.base_filters) == (256, 4, 32)
    assert "U-Net of depth" in big.reason
