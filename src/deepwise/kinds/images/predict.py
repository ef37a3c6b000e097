"""Step 8 for images: a class (and probabilities) per image, with the guard's flag from the network's own embedding.

Example:
    >>> ImagePredictor(run).predict("new_images/")[["image", "prediction", "ood"]]
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.images import ImageSet, _bad_files_error, _check_files, open_images
from deepwise.errors import DataError
from deepwise.evaluation import score
from deepwise.kinds.base import Predictor
from deepwise.models.cnn import confidence, embedding_model
from deepwise.models.inference import predict_rows
from deepwise.prepare.images import image_statistics


class ImagePredictor(Predictor):
    """Predictions of an image run: one row per image, in the order given."""

    def open_images(self, data: Any, labelled: bool) -> ImageSet:
        """Images to predict on: a folder, a list of files, a CSV of paths, an images.npy, or an array of pixels."""
        cfg = self.run.config.data
        if isinstance(data, np.ndarray) and not labelled:  # decoded pixels, e.g. from ImagePreprocessor.decode
            if data.ndim not in (3, 4):
                raise DataError(
                    f"predict() received an array of shape {data.shape}.",
                    expected="images as an array [n, height, width] or [n, height, width, channels]",
                    fix="stack the images into one array, or pass their file paths.",
                )
            return ImageSet(paths=None, array=data, labels=None, source="array")
        if isinstance(data, (list, tuple)):
            paths = [Path(p) for p in data]
            bad = _check_files([p for p in paths if p.is_file()]) + [str(p) for p in paths if not p.is_file()]
            if bad:
                raise _bad_files_error(sorted(set(bad)), "the list")
            return ImageSet(paths=[str(p) for p in paths], array=None, labels=None, source="list")
        return open_images(
            data,
            image_column=cfg.image_column,
            label_column=self.run.config.problem.target if labelled else None,
            labelled=labelled,
            allow_outside=cfg.allow_outside_paths,  # links out of the folder: as the run's config allowed
        )

    @property
    def image_chunk(self) -> int:
        """Images decoded and fed to the network at once: 512 for small images (up to 4,096 values each, e.g.
        MNIST's 28x28), else 256. Measured with the MNIST CNN on 2 cores, 1,000 images: chunks of 128 31.7 ms,
        256 29.9 ms, 512 27.8 ms, 1,024 47 ms (larger chunks fall out of the CPU's caches)."""
        h, w = self.run.preprocessor.image_size
        return 512 if h * w * self.run.preprocessor.channels <= 4096 else 256

    @cached_property
    def embedding_model(self):
        """``[output, penultimate layer]`` in one model, built once (a new one would be compiled again)."""
        return embedding_model(self.run.model, with_output=True) if self.run.guard is not None else None

    def outputs(self, images: ImageSet, guard: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Model outputs and (for the guard) penultimate-layer embeddings and pixel statistics, decoded batch by
        batch (the statistics only for a guard that uses them: runs before issue 19 have none)."""
        prep = self.run.preprocessor
        both = self.embedding_model if guard else None
        pixels = both is not None and self.run.guard.inputs_ is not None
        outputs, embeddings, statistics = [], [], []
        chunk = self.image_chunk
        for start in range(0, len(images), chunk):
            batch = prep.load(images, np.arange(start, min(start + chunk, len(images))))
            if both is None:
                outputs.append(predict_rows(self.run.model, batch, largest=chunk))
            else:  # one forward pass gives the output and the embedding the guard measures
                output, embedding = predict_rows(both, batch, largest=chunk)
                outputs.append(np.asarray(output))
                embeddings.append(np.asarray(embedding))
            if pixels:
                statistics.append(image_statistics(batch))
        return (
            np.concatenate(outputs),
            np.concatenate(embeddings) if both is not None else None,
            np.concatenate(statistics) if pixels else None,
        )

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        images = self.open_images(data, labelled=False)
        if len(images) == 0:
            raise DataError("There are no images to predict.", expected="at least one image", fix="check the input.")
        output, embeddings, statistics = self.outputs(images, guard)
        result = self.format(output, pd.RangeIndex(len(images)), leading={"image": images.names()})
        if embeddings is not None:
            parts = self.run.guard.score_parts(embeddings, confidence(output, self.run.output), statistics)
            found = np.max(np.stack(list(parts.values())), axis=0)
            result["ood"] = found > 1.0
            result["ood_score"] = found
            out_of_range: dict[str, int] = {}
            if statistics is not None:  # why each flagged image was flagged, in words
                result["ood_reason"], out_of_range = self.run.guard.reasons(parts, statistics)
            result.attrs["guard"] = {
                "rows": len(result),
                "flagged": int(result["ood"].sum()),
                "out_of_range": out_of_range,
                "unseen_categories": {},
            }
        return result

    def evaluate(self, data: Any) -> dict[str, Any]:
        images = self.open_images(data, labelled=True)
        output, _, _ = self.outputs(images, guard=False)  # no embeddings: metrics only
        y = self.run.preprocessor.transform_target(images.labels)
        return score(self.run.output, y, output, self.run.preprocessor.classes_)
