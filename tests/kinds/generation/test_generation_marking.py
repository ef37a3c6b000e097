"""Generated files say so: PNG text chunks and TIFF tags written and read back, a column in generated tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image
from skimage import data

from deepwise.errors import DataError
from deepwise.kinds.generation.marking import (
    TABLE_COLUMN,
    generation_mark,
    mark_table,
    read_image_mark,
    save_marked_image,
    table_mark,
)


@pytest.mark.parametrize("name", ["out.png", "out.tif", "out.tiff"])
@pytest.mark.parametrize("bits", [8, 16])
def test_image_mark_round_trip(tmp_path, name, bits):
    image = data.astronaut()[:64, :64] / 255.0
    if name.endswith(".png") and bits == 16:  # Pillow writes 16-bit PNGs in gray only
        with pytest.raises(DataError, match="out.tif"):
            save_marked_image(tmp_path / name, image, generation_mark("denoise"), bits=bits)
        image = image.mean(axis=-1)
    mark = generation_mark("denoise", run="runs/denoise-1", psnr_vs_input_db=21.5)
    path = save_marked_image(tmp_path / name, image, mark, bits=bits)
    back = read_image_mark(path)
    assert back == mark and back["generated"] is True and "not a measurement" in back["warning"]
    pixels = tifffile.imread(path) if path.suffix != ".png" else np.asarray(Image.open(path))
    top = 255 if bits == 8 else 65535
    assert np.abs(pixels / top - image).max() <= 0.5 / top + 1e-9  # the pixels survive too


def test_gray_float_image(tmp_path):
    path = save_marked_image(tmp_path / "digit.png", np.full((28, 28, 1), 0.5), generation_mark("vae_sample"))
    assert Image.open(path).mode == "L" and read_image_mark(path)["method"] == "vae_sample"


def test_unmarked_images_have_no_mark(tmp_path):
    Image.fromarray(data.camera()).save(tmp_path / "real.png")
    tifffile.imwrite(tmp_path / "real.tif", data.camera(), description="a microscope said so")
    assert read_image_mark(tmp_path / "real.png") is None
    assert read_image_mark(tmp_path / "real.tif") is None


def test_formats_without_a_place_for_the_mark_are_refused(tmp_path):
    with pytest.raises(DataError, match="out.jpg") as err:
        save_marked_image(tmp_path / "out.jpg", np.zeros((8, 8)), generation_mark("denoise"))
    assert "out.png" in str(err.value)


def test_table_mark_survives_csv(tmp_path, penguins_csv):
    real = pd.read_csv(penguins_csv)
    marked = mark_table(real.head(20), generation_mark("table_vae"))
    assert marked.columns[0] == TABLE_COLUMN
    marked.to_csv(tmp_path / "synthetic.csv", index=False)
    back = table_mark(pd.read_csv(tmp_path / "synthetic.csv"))
    assert back == {"marked_rows": 20, "rows": 20, "methods": ["table_vae"]}
    assert table_mark(real)["marked_rows"] == 0
    with pytest.raises(DataError, match=TABLE_COLUMN):
        mark_table(marked, generation_mark("again"))
