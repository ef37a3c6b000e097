"""Reading inputs/ and targets/ folders: pairing by name, colour and gray, 16-bit TIFF, super-resolution sizes,
and errors that name the files to fix."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage import data

from deepwise.errors import DataError
from deepwise.kinds.generation.read import load_image, pair_files, read_pairs


def _folder(root, inputs: dict, targets: dict):
    for side, images in (("inputs", inputs), ("targets", targets)):
        (root / side).mkdir(parents=True, exist_ok=True)
        for name, pixels in images.items():
            if name.endswith(".tif"):
                tifffile.imwrite(root / side / name, pixels)
            else:
                Image.fromarray(pixels).save(root / side / name)
    return root


def test_pairs_by_stem_with_different_suffixes(tmp_path):
    gray = data.camera()[:32, :32]
    colour = data.astronaut()[:32, :32]
    _folder(tmp_path, {"a.png": gray, "b.png": gray}, {"a.tif": colour, "b.png": colour})
    pairs = read_pairs(tmp_path)
    assert pairs.names == ["a", "b"]
    assert pairs.inputs.shape == (2, 32, 32, 1) and pairs.targets.shape == (2, 32, 32, 3)
    assert pairs.inputs.dtype == np.float32 and np.isclose(pairs.inputs[0, 0, 0, 0], gray[0, 0] / 255)
    assert pairs.upscale == 1


def test_sixteen_bit_tiff(tmp_path):
    pixels = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", pixels)
    image = load_image(tmp_path / "deep.tif")
    assert image.shape == (64, 64, 1) and np.isclose(image.max(), pixels.max() / 65535)


def test_super_resolution_sizes(tmp_path):
    small, large = data.camera()[:16, :16], data.camera()[:32, :32]
    assert read_pairs(_folder(tmp_path, {"x.png": small}, {"x.png": large})).upscale == 2


def test_unpaired_files_are_named(tmp_path):
    img = data.camera()[:8, :8]
    _folder(tmp_path, {"a.png": img, "only_in.png": img}, {"a.png": img, "only_out.png": img})
    with pytest.raises(DataError) as err:
        pair_files(tmp_path)
    assert "only_in.png" in str(err.value) and "only_out.png" in str(err.value)


def test_missing_folders_and_bad_sizes(tmp_path):
    with pytest.raises(DataError, match="inputs/ and no targets/"):
        pair_files(tmp_path)
    _folder(tmp_path, {"a.png": data.camera()[:8, :8]}, {"a.png": data.camera()[:12, :12]})
    with pytest.raises(DataError, match="whole multiple"):
        read_pairs(tmp_path)


def test_mixed_sizes_and_broken_files(tmp_path):
    _folder(tmp_path, {"a.png": data.camera()[:8, :8], "b.png": data.camera()[:9, :9]},
            {"a.png": data.camera()[:8, :8], "b.png": data.camera()[:9, :9]})
    with pytest.raises(DataError, match="b.png"):
        read_pairs(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png"):
        load_image(tmp_path / "broken.png")
