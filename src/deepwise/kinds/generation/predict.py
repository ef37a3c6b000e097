"""Step 8 for image-to-image: images in, enhanced images out, each marked as generated and checked by the guard.

Images come as a folder (its ``inputs/`` sub-folder when it has one, else the images in it), one image file, a list
of image files, or an array (n, height, width, channels) in [0, 1]. ``predict`` returns one row per image:
``image`` (its name), the output's ``height`` and ``width``, ``mean_change`` (mean absolute difference between the
output and the input brought to the output's size: how much the network changed), then ``ood`` and ``ood_score``.
``predict_to_csv`` (``deepwise predict RUN FOLDER -o OUT``) also writes every output image as PNG, marked as
generated (PNG metadata, :mod:`deepwise.kinds.generation.marking`).

Example:
    >>> run.predict("noisy/")[["image", "ood"]].head(2)
      image    ood
    0  0001  False
    1  0002  False
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
from deepwise.kinds.generation.baselines import align_inputs, baseline_outputs
from deepwise.kinds.generation.data import WARNING, image_guard_of, image_scores
from deepwise.kinds.generation.guard import ImageGuard
from deepwise.kinds.generation.image2image import enhance
from deepwise.kinds.generation.marking import generation_mark, save_marked_image
from deepwise.kinds.generation.metrics import psnr_per_image
from deepwise.kinds.generation.read import IMAGE_SUFFIXES, has_pair_folders, load_image, read_pairs
from deepwise.records import atomic_write_text

PREDICTIONS_CSV = "predictions.csv"


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


class EnhancementPredictor(Predictor):
    """Enhanced images with a saved run (the network and its guard are loaded once)."""

    @property
    def prep(self):
        return self.run.preprocessor

    @cached_property
    def guard(self) -> ImageGuard | None:
        return image_guard_of(self.run.guard)

    # ------------------------------------------------------------------------------------------------- reading
    def read(self, data: Any) -> tuple[list[str], list[np.ndarray]]:
        """The names and images (float32 in [0, 1], the run's input channels) in ``data``."""
        if isinstance(data, np.ndarray):
            arrays = data[None] if data.ndim == 3 else data
            if arrays.ndim != 4:
                raise DataError(
                    f"predict() received an array of shape {data.shape}.",
                    expected="images as (n, height, width, channels) or one (height, width, channels), in [0, 1]",
                    fix="add the channel axis (x[..., None]) for gray images.",
                )
            images = [np.asarray(a, dtype=np.float32) for a in arrays]
            names = [f"images[{i}]" for i in range(len(images))]
        else:
            paths = self._paths(data)
            images, names = [load_image(p) for p in paths], [p.stem for p in paths]
        channels = self.prep.input_channels
        return names, [align_inputs(img[None], (*img.shape[:2], channels), order=0)[0] for img in images]

    def _paths(self, data: Any) -> list[Path]:
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.exists():
                raise DataError(
                    f"'{path}' does not exist.",
                    expected="an image file, a folder of images, or a folder with inputs/",
                    fix="check the path.",
                )
            if path.is_dir():
                folder = path / "inputs" if (path / "inputs").is_dir() else path
                paths = _image_files(folder)
                if not paths:
                    raise DataError(
                        f"'{folder}' holds no images.",
                        expected="image files (" + ", ".join(IMAGE_SUFFIXES) + ")",
                        fix="point at the folder with the images to enhance.",
                    )
                return paths
            return [path]
        if isinstance(data, (list, tuple)) and all(isinstance(d, (str, Path)) for d in data) and data:
            return [Path(d) for d in data]
        raise DataError(
            f"predict() received {type(data).__name__}.",
            expected="an image file, a folder of images, a list of image files, or an array (n, height, width, "
            "channels) in [0, 1]",
            fix="pass the path of the images to enhance.",
        )

    # ---------------------------------------------------------------------------------------------- enhancing
    def enhance(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The network's output for each image (images of one size go through together)."""
        outputs: list[np.ndarray | None] = [None] * len(images)
        sizes: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(images):
            sizes.setdefault(img.shape, []).append(i)
        for index in sizes.values():
            batch = enhance(self.run.model, np.stack([images[i] for i in index]))
            for i, out in zip(index, batch, strict=True):
                outputs[i] = out
        return outputs  # type: ignore[return-value]

    def _frame(self, names: list[str], images: list[np.ndarray], outputs: list[np.ndarray], guard: bool):
        change = [
            float(np.abs(out - align_inputs(img[None], out.shape, order=3)[0]).mean())
            for img, out in zip(images, outputs, strict=True)
        ]
        result = pd.DataFrame(
            {
                "image": names,
                "height": [int(o.shape[0]) for o in outputs],
                "width": [int(o.shape[1]) for o in outputs],
                "mean_change": change,
            }
        )
        if guard and self.guard is not None:
            scores = np.array([float(self.guard.score(img[None])[0]) for img in images]) / self.guard.threshold
            result["ood"] = scores > 1.0
            result["ood_score"] = scores
            result.attrs["guard"] = {
                "rows": len(result),
                "flagged": int(result["ood"].sum()),
                "out_of_range": {},
                "unseen_categories": {},
            }
        return result

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        names, images = self.read(data)
        return self._frame(names, images, self.enhance(images), guard)

    def predict_to_csv(self, data: Any, output: Path, *, chunked: bool | None, guard: bool) -> GuardReport:
        """The enhanced images as PNG files marked as generated, and a CSV with a row per image (the guard's flag).

        ``output`` ending in ``.csv``: the CSV there and the images in the folder of the same name without the
        suffix; otherwise ``output`` is a folder holding the images and ``predictions.csv``.
        """
        output = Path(output)
        folder, csv = (output.with_suffix(""), output) if output.suffix.lower() == ".csv" else (output, None)
        csv = csv or folder / PREDICTIONS_CSV
        names, images = self.read(data)
        outputs = self.enhance(images)
        result = self._frame(names, images, outputs, guard)
        files = []
        for i, (name, image) in enumerate(zip(names, outputs, strict=True)):
            flagged = bool(result["ood"].iloc[i]) if "ood" in result else None
            mark = generation_mark(
                "image_to_image", run=str(Path(self.run.path).resolve()), source=name, out_of_distribution=flagged
            )
            target = folder / f"{Path(name).name.replace('[', '_').replace(']', '')}.png"
            save_marked_image(target, image, mark)
            files.append(str(target))
        result.insert(1, "file", files)
        result["generated"] = True
        atomic_write_text(csv, result.to_csv(index=False))
        return GuardReport.of_predictions(result) or GuardReport(np.zeros(0, dtype=bool), np.zeros(0))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """PSNR and SSIM on a folder of new pairs (inputs/, targets/), with the classical filters the run chose on
        its training pairs scored on the same images, and the share the guard flags."""
        if not isinstance(data, (str, Path)) or not has_pair_folders(data):
            raise DataError(
                f"evaluate() received {data!r}.",
                expected="a folder with inputs/ and targets/ holding images matched by file name",
                fix="put the images in inputs/ and what they should become in targets/.",
            )
        pairs = read_pairs(data)
        x = align_inputs(pairs.inputs, (*pairs.inputs.shape[1:3], self.prep.input_channels), order=0)
        if pairs.targets.shape[-1] != self.prep.output_channels:
            raise DataError(
                f"The targets in {data} have {pairs.targets.shape[-1]} channel(s); the run outputs "
                f"{self.prep.output_channels}.",
                expected=f"targets with {self.prep.output_channels} channel(s), as in training",
                fix="convert the targets to the training targets' colour mode.",
            )
        output = enhance(self.run.model, x)
        scores: dict[str, Any] = image_scores(output, pairs.targets)
        params = (self.run.metrics.get("image_to_image") or {}).get("baseline_params") or {}
        if params:
            outs = baseline_outputs(params, x, pairs.targets.shape[1:])
            scores["baselines_psnr"] = {k: float(psnr_per_image(v, pairs.targets).mean()) for k, v in outs.items()}
        if self.guard is not None:
            scores["ood_rate"] = float(self.guard.flag(x).mean())
        scores["warning"] = WARNING
        return scores

