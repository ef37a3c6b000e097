"""Step 8 for segmentation: a mask for every image (class ids as the user's masks hold them), large images in tiles
with bounded memory, and a summary row per image with the guard's flag.

``predict`` returns the summary (image, size, share of each class, ood); ``segment`` also returns the masks
(class indices); ``predict_to_csv`` (``deepwise predict RUN FOLDER -o OUT``) writes ``OUT/<image>.png`` masks,
optionally ``OUT/overlays/<image>.png``, and ``OUT/predictions.csv``.

Example:
    >>> frame, masks = SegmentationPredictor(run).segment("new_images/")
    >>> frame[["image", "share_nucleus", "ood"]], masks[0].shape
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError
from deepwise.guard import GuardReport
from deepwise.kinds.base import Predictor
from deepwise.kinds.segmentation.read import IMAGE_SUFFIXES, open_image_lazily, pair_files, read_image
from deepwise.records import atomic_write_text

#: images with more pixels than this are checked by the guard on every k-th row and column (bounded memory)
GUARD_MAX_PIXELS = 4096 * 4096 // 4
CSV_NAME = "predictions.csv"


def _image_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(
            f"'{path}' does not exist.",
            expected="an image file, or a folder of images (or a folder with images/)",
            fix="check the path.",
        )
    folder = path / "images" if (path / "images").is_dir() else path
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"'{folder}' holds no image files.",
            expected=f"image files ({', '.join(IMAGE_SUFFIXES)})",
            fix="point at the folder that holds the images.",
        )
    return files


class SegmentationPredictor(Predictor):
    """Masks from a saved segmentation run (network and guard loaded once)."""

    writes_overlays = True

    @property
    def prep(self):
        return self.run.preprocessor

    @cached_property
    def guard(self):
        from deepwise.kinds.segmentation.guard import SegmentationGuard

        record = self.run.guard
        if record is None or "segmentation_guard" not in record.calibration_:
            return None
        return SegmentationGuard.from_dict(record.calibration_["segmentation_guard"], model=self.run.model)

    # ----------------------------------------------------------------------------------------------- inputs
    def images(self, data: Any) -> list[tuple[str, Any]]:
        """``(name, image)`` pairs: a folder, an image file, a list of files, an array or a list of arrays."""
        if isinstance(data, np.ndarray):
            return [("image_0", self._checked(data, "the array"))]
        if isinstance(data, (list, tuple)) and data and all(isinstance(d, np.ndarray) for d in data):
            return [(f"image_{i}", self._checked(d, f"array {i}")) for i, d in enumerate(data)]
        paths = [Path(p) for p in data] if isinstance(data, (list, tuple)) else _image_files(Path(data))
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataError(
                f"{len(missing)} image file(s) do not exist: {', '.join(missing[:5])}.",
                expected="paths of image files",
                fix="check the paths.",
            )
        return [(p.stem, self._checked(open_image_lazily(p), str(p))) for p in paths]

    def _checked(self, image: Any, where: str) -> Any:
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3:
            raise DataError(
                f"{where} has shape {image.shape}.",
                expected="one image: [height, width] or [height, width, channels]",
                fix="pass one image at a time (a list for several).",
            )
        channels = self.prep.channels
        if image.shape[-1] == channels:
            return image
        if image.shape[-1] == 1 and channels == 3:
            return np.repeat(np.asarray(image), 3, axis=-1)
        raise DataError(
            f"{where} has {image.shape[-1]} channel(s); the run was trained on images of {channels}.",
            expected=f"images of {channels} channel(s), as in training",
            fix="convert the image (grayscale or RGB) as the training images were.",
        )

    # ----------------------------------------------------------------------------------------------- masks
    def mask(self, image: Any) -> np.ndarray:
        """Class indices ``[H, W]`` for one image: whole when it fits in one tile, else in overlapping tiles (the
        margin is the U-Net's receptive radius, so tiles agree with a whole-image prediction)."""
        from deepwise.kinds.segmentation.tiling import predict_tiled, predict_whole
        from deepwise.kinds.segmentation.unet import receptive_radius

        prep = self.prep
        if max(image.shape[:2]) <= prep.tile:
            return predict_whole(self.run.model, np.asarray(image), multiple=prep.multiple).argmax(-1).astype(np.uint8)
        return predict_tiled(self.run.model, image, tile=prep.tile, margin=receptive_radius(prep.depth),
                             multiple=prep.multiple)  # fmt: skip

    def check(self, image: Any) -> dict[str, Any]:
        h, w = image.shape[:2]
        step = int(np.ceil(np.sqrt(h * w / GUARD_MAX_PIXELS))) if h * w > GUARD_MAX_PIXELS else 1
        return self.guard.check(np.asarray(image[::step, ::step]))

    def segment(self, data: Any, *, guard: bool = True, each=None) -> tuple[pd.DataFrame, list[np.ndarray]]:
        """The summary frame and the masks (class indices); ``each(name, image, mask)`` is called per image instead
        of keeping the masks (bounded memory for many large images)."""
        items = self.images(data)
        if not items:
            raise DataError("There are no images to predict.", expected="at least one image", fix="check the input.")
        classes = self.prep.classes_
        rows, masks = [], []
        use_guard = guard and self.guard is not None
        for name, image in items:
            mask = self.mask(image)
            counts = np.bincount(mask.reshape(-1), minlength=len(classes))[: len(classes)]
            row: dict[str, Any] = {"image": name, "height": int(mask.shape[0]), "width": int(mask.shape[1])}
            row.update({f"share_{c}": float(n) / mask.size for c, n in zip(classes, counts, strict=True)})
            if use_guard:
                found = self.check(image)
                row.update(ood=found["ood"], ood_score=found["score"], ood_reasons="; ".join(found["reasons"]))
            rows.append(row)
            if each is not None:
                each(name, image, mask)
            else:
                masks.append(mask)
        frame = pd.DataFrame(rows)
        if use_guard:
            frame.attrs["guard"] = {"rows": len(frame), "flagged": int(frame["ood"].sum()), "out_of_range": {},
                                    "unseen_categories": {}}  # fmt: skip
        return frame, masks

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        return self.segment(data, guard=guard)[0]

    def predict_to_csv(
        self, data: Any, output: Path, *, chunked: bool | None, guard: bool, overlays: bool = False
    ) -> GuardReport:
        """Mask PNGs (the user's class ids; a palette PNG, coloured as the legend) into ``output`` (a folder; or,
        when it ends in .csv, the CSV there and the masks in ``<name>_masks/`` beside it), overlays on request, and
        the summary CSV."""
        from deepwise.kinds.segmentation.write import write_mask_png, write_overlay_png

        output = Path(output)
        if output.suffix.lower() == ".csv":
            folder, csv = output.with_name(output.stem + "_masks"), output
        else:
            folder, csv = output, output / CSV_NAME
        legend = self.prep.legend
        written: list[str] = []

        def save(name: str, image: Any, mask: np.ndarray) -> None:
            written.append(str(write_mask_png(folder / f"{name}.png", mask, legend)))
            if overlays:
                write_overlay_png(folder / "overlays" / f"{name}.png", np.asarray(image), mask, legend)

        folder.mkdir(parents=True, exist_ok=True)
        frame, _ = self.segment(data, guard=guard, each=save)
        frame.insert(1, "mask", written)
        atomic_write_text(csv, frame.to_csv(index=False))
        return GuardReport.of_predictions(frame) or GuardReport(np.zeros(0, dtype=bool), np.zeros(0))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Scores on a labelled folder (images/ and masks/ with the run's class ids)."""
        from deepwise.kinds.segmentation.classes import masks_to_classes
        from deepwise.kinds.segmentation.metrics import confusions, scores
        from deepwise.kinds.segmentation.read import read_mask

        pairs = pair_files(Path(data))
        legend = self.prep.legend
        raws = [read_mask(m) for _, m in pairs]
        mode = "instances" if self.prep.mask_format == "instances" else "classes"
        truths, _, _, _ = masks_to_classes(raws, [m for _, m in pairs], legend if mode == "classes" else None, mode)
        preds = [self.mask(self._checked(read_image(p), str(p))) for p, _ in pairs]
        found = scores(confusions(truths, preds, len(legend.ids)).sum(0), legend.names)
        numbers = {k: found[k] for k in ("mean_iou", "foreground_iou", "mean_dice", "pixel_accuracy")}
        return {**numbers, "n": len(pairs), **{k: v for k, v in found.items() if k not in numbers}}
