"""The segmentation kind behind the CLI: a folder with images/ and masks/ is recognised, and bad masks stop
`deepwise train` with exit 2, the file named, no traceback and no run left behind (nothing is trained here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepwise.config import Config
from deepwise.kinds import kind_for_config
from deepwise.kinds.segmentation.legend import Legend
from deepwise.kinds.segmentation.state import SegmentationPreprocessor
from deepwise.kinds.segmentation.synthetic import high_contrast_set, write_set


def _folder(tmp_path: Path, n: int = 3) -> Path:
    return write_set(tmp_path / "disks", *high_contrast_set(n, 48, seed=0))


def test_a_folder_with_images_and_masks_is_segmentation_not_image_classes(tmp_path):
    root = _folder(tmp_path)
    config = Config(problem={"target": "label"}, data={"path": str(root)})
    assert kind_for_config(config).name == "segmentation"
    (root / "masks").rename(root / "other")
    assert kind_for_config(config).name == "images"


def _break(root: Path, how: str) -> str:
    """Damage the folder one way; returns the file name the error must name."""
    mask = root / "masks" / "001.png"
    if how == "jpeg":
        Image.open(mask).convert("L").save(root / "masks" / "001.jpg", quality=95)
        mask.unlink()
        return "001.jpg"
    if how == "missing":
        mask.unlink()
        return "001.png"
    if how == "size":
        Image.fromarray(np.zeros((40, 48), dtype=np.uint8)).save(mask)
        return "001.png"
    (root / "legend.csv").write_text("id,name\n0,background\n1,disk\n")  # unknown ids: a 7 the legend lacks
    pixels = np.asarray(Image.open(mask)).copy()
    pixels[:4, :4] = 7
    Image.fromarray(pixels).save(mask)
    return "001.png"


@pytest.mark.parametrize("how", ["jpeg", "missing", "size", "unknown_id"])
def test_bad_masks_are_exit_2_naming_the_file(how, tmp_path, cli):
    root = _folder(tmp_path)
    name = _break(root, how)
    result = cli("train", root, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert name in result.output.replace("\n", "")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_preprocessing_state_round_trips_through_json():
    legend = Legend([0, 255], ["background", "cell"], [(0, 0, 0), (255, 0, 0)], source="legend.csv")
    prep = SegmentationPreprocessor(legend, 1, {"depth": 3, "base_filters": 16, "patch": 96, "batch_size": 8,
                                                "reason": "r"}, tile=256, mean=[30.0], std=[9.0])  # fmt: skip
    import json

    back = SegmentationPreprocessor.from_dict(json.loads(prep.to_json()))
    assert back == prep
    assert back.classes_ == ["background", "cell"] and back.multiple == 8
    assert back.input_specs() == {"image": {"shape": (None, None, 1), "dtype": "float32"}}


def test_inspect_a_segmentation_folder_gives_its_class_balance(tmp_path, cli):
    root = _folder(tmp_path, n=10)  # split by image (3 images of 48x48 cut into cells are too small: exit 2)
    result = cli("inspect", root, "--json", tmp_path / "f.json")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "f.json").read_text()
    assert "class_balance" in text and "disk" in text and "image(s) with masks" in text
