"""Reading segmentation folders: every mask format, and every bad mask named in a clear error."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from deepwise.errors import DataError
from deepwise.kinds.segmentation.classes import indices_to_values
from deepwise.kinds.segmentation.legend import read_legend
from deepwise.kinds.segmentation.read import (
    is_segmentation_folder,
    pair_files,
    read_pairs,
    read_segmentation_folder,
)
from deepwise.kinds.segmentation.synthetic import shapes_set, write_set

# the nuclei image and mask in stardist's wheel, read as files (importing stardist would pull TensorFlow)
STARDIST = Path(importlib.util.find_spec("stardist").origin).parent / "data" / "images"


def _folder(tmp_path: Path, n: int = 3, size: int = 32) -> Path:
    images, masks, names = shapes_set(n, size, seed=0, min_size=8, max_size=16)
    return write_set(tmp_path / "set", images, masks)


def test_ids_masks_with_legend_read_as_classes(tmp_path):
    images, masks, names = shapes_set(4, 48, seed=1, min_size=10, max_size=20)
    root = write_set(tmp_path / "shapes", images, masks, names)
    assert is_segmentation_folder(root)
    data = read_segmentation_folder(root)
    assert data.class_names == names
    assert len(data) == 4 and data.images[0].shape == (48, 48, 1)
    for got, want in zip(data.masks, masks, strict=True):
        np.testing.assert_array_equal(got, want)


def test_binary_0_255_masks_are_remapped_and_said(tmp_path):
    root = _folder(tmp_path)
    for p in (root / "masks").iterdir():
        m = np.asarray(Image.open(p))
        Image.fromarray(((m > 0) * 255).astype(np.uint8)).save(p)
    data = read_segmentation_folder(root)
    assert data.legend.ids == [0, 1] and data.class_names == ["background", "foreground"]
    assert set(np.unique(np.concatenate([m.ravel() for m in data.masks]))) == {0, 1}
    assert any("0 and 255" in n for n in data.notes)


def test_palette_png_index_is_class_id(tmp_path):
    root = _folder(tmp_path)
    for p in (root / "masks").iterdir():
        m = np.asarray(Image.open(p))
        img = Image.fromarray(m, "P")
        img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 12))
        img.save(p)
    data = read_segmentation_folder(root)
    assert data.mask_format == "palette"
    assert data.legend.colors[1] == (255, 0, 0)
    assert any("palette" in n for n in data.notes)


def test_rgb_masks_need_a_legend_and_map_through_it(tmp_path):
    root = _folder(tmp_path)
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    originals = {}
    for p in sorted((root / "masks").iterdir()):
        m = np.asarray(Image.open(p))
        originals[p.stem] = m
        Image.fromarray(colours[m]).save(p)
    with pytest.raises(DataError, match=r"(?s)RGB colour mask.*#ff0000.*no legend") as err:
        read_segmentation_folder(root)
    assert "000.png" in str(err.value)
    (root / "legend.csv").write_text(
        "name,color\nbackground,#000000\ncircle,#ff0000\nrectangle,#00ff00\ntriangle,#0000ff\n"
    )
    data = read_segmentation_folder(root)
    assert data.class_names == ["background", "circle", "rectangle", "triangle"]
    for name, m in zip(data.names, data.masks, strict=True):
        np.testing.assert_array_equal(m, originals[name])
    # an anti-aliased edge colour the legend does not list
    first = sorted((root / "masks").iterdir())[0]
    rgb = np.asarray(Image.open(first)).copy()
    rgb[0, 0] = (128, 10, 10)
    Image.fromarray(rgb).save(first)
    with pytest.raises(DataError, match=r"(?s)000\.png.*#800a0a.*anti-alias"):
        read_segmentation_folder(root)


def test_jpeg_masks_are_refused_with_the_reason(tmp_path):
    root = _folder(tmp_path, n=1)
    p = root / "masks" / "000.png"
    Image.open(p).convert("L").save(root / "masks" / "000.jpg", quality=95)
    p.unlink()
    with pytest.raises(DataError, match=r"(?s)000\.jpg.*lossy.*class ids nobody drew") as err:
        read_segmentation_folder(root)
    assert "PNG or TIFF" in str(err.value)


def test_a_jpeg_named_png_is_refused_too(tmp_path):
    root = _folder(tmp_path, n=1)
    p = root / "masks" / "000.png"
    Image.open(p).convert("L").save(p, format="JPEG")
    with pytest.raises(DataError, match=r"000\.png.*JPEG"):
        read_segmentation_folder(root)


def test_size_mismatch_names_both_files(tmp_path):
    root = _folder(tmp_path, n=2, size=32)
    Image.fromarray(np.zeros((30, 32), dtype=np.uint8)).save(root / "masks" / "001.png")
    with pytest.raises(DataError, match=r"images/001\.png' is 32x32 .*/masks/001\.png' is 32x30"):
        read_segmentation_folder(root)


def test_missing_partners_are_listed_by_name(tmp_path):
    root = _folder(tmp_path, n=3)
    (root / "masks" / "001.png").unlink()
    (root / "masks" / "orphan.png").write_bytes((root / "masks" / "000.png").read_bytes())
    with pytest.raises(DataError) as err:
        read_segmentation_folder(root)
    assert "'001.png'" in str(err.value) and "'orphan.png'" in str(err.value)
    assert "without a mask" in str(err.value) and "without an image" in str(err.value)


def test_missing_folders_and_empty_images(tmp_path):
    (tmp_path / "x" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="no 'masks/' folder"):
        read_segmentation_folder(tmp_path / "x")


def test_unknown_ids_against_the_legend_name_the_file(tmp_path):
    images, masks, names = shapes_set(3, 32, seed=0, min_size=8, max_size=16)
    root = write_set(tmp_path / "s", images, masks, names)
    m = masks[2].copy()
    m[:2, :2] = 9
    Image.fromarray(m).save(root / "masks" / "002.png")
    with pytest.raises(DataError, match=r"002\.png.*class id\(s\).*9 \(4 px\)"):
        read_segmentation_folder(root)


def test_mask_name_suffix_pairs_and_16_bit_tiff(tmp_path):
    root = tmp_path / "t"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        tifffile.imwrite(root / "images" / f"cell{i}.tif", rng.integers(0, 4000, (40, 40)).astype(np.uint16))
        mask = np.zeros((40, 40), dtype=np.uint16)
        mask[10:20, 10:30] = 1000  # a 16-bit class id
        mask[25:35, 5:15] = 7
        tifffile.imwrite(root / "masks" / f"cell{i}_mask.tif", mask)
    assert [p.name for p, _ in pair_files(root)] == ["cell0.tif", "cell1.tif"]
    data = read_segmentation_folder(root)
    assert data.legend.ids == [0, 7, 1000] and data.images[0].dtype == np.uint16
    assert any("[0, 7, 1000]" in n for n in data.notes)
    back = indices_to_values(data.masks[0], data.legend)
    assert back.dtype == np.uint16 and back[15, 15] == 1000 and back[30, 10] == 7


def test_gray_saved_as_rgb_is_ids_and_float_masks_must_be_whole(tmp_path):
    root = _folder(tmp_path, n=2)
    p = root / "masks" / "000.png"
    m = np.asarray(Image.open(p))
    Image.fromarray(np.repeat(m[..., None], 3, axis=-1)).save(p)
    data = read_segmentation_folder(root)
    np.testing.assert_array_equal(data.masks[0], m)
    p.unlink()
    tifffile.imwrite(root / "masks" / "000.tif", m.astype(np.float32) + 0.5)
    with pytest.raises(DataError, match=r"000\.tif.*not class ids"):
        read_segmentation_folder(root)


def test_single_value_masks_and_duplicate_names(tmp_path):
    root = _folder(tmp_path, n=2)
    for p in (root / "masks").iterdir():
        Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(p)
    with pytest.raises(DataError, match="single value 0: there is nothing to segment"):
        read_segmentation_folder(root)
    (root / "images" / "000.tif").write_bytes(b"x")
    with pytest.raises(DataError, match="same name: '000.png' and '000.tif'"):
        read_segmentation_folder(root)


def test_instance_mask_of_stardist_reads_as_objects():
    data = read_pairs([(STARDIST / "img2d.tif", STARDIST / "mask2d.tif")])
    assert data.mask_format == "instances" and data.class_names == ["background", "object"]
    assert data.images[0].shape == (512, 512, 1)
    assert 0.15 < data.masks[0].mean() < 0.25
    assert any("instance masks" in n for n in data.notes)
    classes = read_pairs([(STARDIST / "img2d.tif", STARDIST / "mask2d.tif")], mask_mode="classes")
    assert classes.n_classes > 100


def test_legend_formats(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"background": "#000000", "tumour": [255, 0, 0]}))
    legend = read_legend(tmp_path / "a.json")
    assert legend.ids == [0, 1] and legend.colors == [(0, 0, 0), (255, 0, 0)]
    (tmp_path / "b.json").write_text(json.dumps({"classes": [{"id": 3, "name": "x"}, {"id": 5, "name": "y"}]}))
    assert read_legend(tmp_path / "b.json").ids == [3, 5]
    (tmp_path / "c.csv").write_text("id,name\n0,bg\n0,again\n")
    with pytest.raises(DataError, match="repeats a class id"):
        read_legend(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("id,name,color\n0,bg,#00000g\n")
    with pytest.raises(DataError, match="not a colour"):
        read_legend(tmp_path / "d.csv")
    (tmp_path / "e.csv").write_text("0,bg\n1,cell\n")
    with pytest.raises(DataError, match="no 'name' column"):
        read_legend(tmp_path / "e.csv")
