"""The image-to-image kind's own pieces, without training: which folder it claims, the split by image, and the
guard's round trip through guard.npz (the contract test trains, predicts, resumes, serves and exports it)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from deepwise.config import Config
from deepwise.errors import DataError
from deepwise.guard import OODGuard
from deepwise.kinds import kind_for_config
from deepwise.kinds.generation.data import guard_record, image_guard_of, prepare_enhancement, split_images
from deepwise.kinds.generation.guard import fit_image_guard
from deepwise.kinds.generation.image2image import cut_tiles


def _config(path) -> Config:
    return Config(problem={"target": "label"}, data={"path": str(path)})


def test_a_folder_of_inputs_and_targets_is_image_pairs(tmp_path):
    tiles = (cut_tiles(data.camera(), 32)[:24, ..., 0]).astype(np.uint8)
    for side in ("inputs", "targets"):
        (tmp_path / "pairs" / side).mkdir(parents=True)
        for i, tile in enumerate(tiles):
            Image.fromarray(tile).save(tmp_path / "pairs" / side / f"{i:02d}.png")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    Image.fromarray(tiles[0]).save(tmp_path / "classes" / "a" / "0.png")
    assert kind_for_config(_config(tmp_path / "pairs")).name == "image_to_image"
    assert kind_for_config(_config(tmp_path / "classes")).name == "images"
    prepared = prepare_enhancement(_config(tmp_path / "pairs"))
    assert sum(prepared.split_sizes().values()) == 24 and prepared.x["train"].shape[1:] == (32, 32, 1)
    (tmp_path / "pairs" / "targets" / "00.png").unlink()
    with pytest.raises(DataError, match="00.png"):  # the input without a target is named
        prepare_enhancement(_config(tmp_path / "pairs"))


def test_split_by_image_is_disjoint_and_seeded():
    parts = split_images(100, seed=3, validation=0.15, test=0.2)
    assert {k: len(v) for k, v in parts.items()} == {"train": 65, "validation": 15, "test": 20}
    assert len(np.unique(np.concatenate(list(parts.values())))) == 100
    assert all(np.array_equal(parts[k], split_images(100, 3, 0.15, 0.2)[k]) for k in parts)


def test_the_guard_survives_guard_npz(tmp_path):
    tiles = cut_tiles(data.camera() / 255.0, 28).astype(np.float32)
    guard = fit_image_guard(tiles[:200], quantile=0.99, seed=0)
    record = guard_record(guard, 0.01, seed=0, n_reference=200)
    record.save(tmp_path / "guard.npz")
    again = image_guard_of(OODGuard.load(tmp_path / "guard.npz"))
    assert np.allclose(again.score(tiles[200:]), guard.score(tiles[200:]))
    assert again.threshold == guard.threshold
