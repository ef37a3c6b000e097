"""Image preprocessing state (size, channels, classes: JSON) and the batch pipeline.

Pixels stay raw (0-255) up to the model, whose first layers rescale them (and, for a pretrained base, apply
that base's own ``preprocess_input``), so a saved model takes plain images. Small sets are decoded once into
memory; larger ones stream from disk through a ``keras.utils.PyDataset`` that decodes with Pillow per batch.

Example:
    >>> prep = ImagePreprocessor(image_size=(28, 28), channels=1, task="multiclass").fit(train_labels)
    >>> batches = ImageBatches(images, index, prep, batch_size=32, shuffle=True)
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.data.images import ImageSet
from deepwise.errors import DataError
from deepwise.prepare.tabular import FEATURES, _json_value

MEMORY_LIMIT_BYTES = 1 << 30


class ImagePreprocessor:
    """What a model needs to know about its images: size, channels and the classes."""

    def __init__(self, image_size: tuple[int, int], channels: int, task: str, target: str = "label"):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.channels = int(channels)
        self.task = task
        self.target = target

    def fit(self, labels: list[Any]) -> ImagePreprocessor:
        self.classes_ = sorted({_json_value(v) for v in labels}, key=lambda v: (str(type(v)), v))
        self.feature_names_ = [f"pixel_{self.image_size[0]}x{self.image_size[1]}x{self.channels}"]
        return self

    target_stats_ = None

    @property
    def columns(self) -> list[str]:
        return []

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {FEATURES: {"shape": (*self.image_size, self.channels), "dtype": "float32"}}

    def transform_target(self, labels: list[Any] | np.ndarray) -> np.ndarray:
        lookup = {str(c): i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(_json_value(v)) for v in labels} - set(lookup))
        if unknown:
            raise DataError(
                f"The labels include classes the model never saw in training: {unknown[:5]}.",
                expected="only the training classes: " + ", ".join(map(str, self.classes_)),
                fix="drop those images, or train a new model that includes these classes.",
            )
        dtype = np.float32 if self.task == "binary" else np.int32
        return np.array([lookup[str(_json_value(v))] for v in labels], dtype=dtype)

    def load(self, images: ImageSet, index: np.ndarray) -> np.ndarray:
        """float32 [n, h, w, c] raw pixels (0-255) of the images at ``index``."""
        return images.load(index, self.image_size, self.channels).astype(np.float32)

    def decode(self, data: bytes) -> np.ndarray:
        """uint8 [h, w, c]: one encoded image (PNG, JPEG, ...) decoded and resized exactly as an image file is.

        Raises Pillow's own errors (``UnidentifiedImageError``, ``OSError``, ...) for bytes that are not an image.
        """
        import io

        # Pillow opens a file object as it opens a path: the same decoding, conversion and resizing as training.
        source = ImageSet(paths=[io.BytesIO(data)], array=None, labels=None, source="bytes")  # type: ignore[list-item]
        return source.load(np.zeros(1, dtype=np.int64), self.image_size, self.channels)[0]

    def fits_in_memory(self, n_images: int) -> bool:
        return n_images * self.image_size[0] * self.image_size[1] * self.channels * 4 < MEMORY_LIMIT_BYTES

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "deepwise.images/1",
            "image_size": list(self.image_size),
            "channels": self.channels,
            "task": self.task,
            "target": self.target,
            "classes": self.classes_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ImagePreprocessor:
        prep = cls(tuple(state["image_size"]), state["channels"], state["task"], state["target"])
        prep.classes_ = state["classes"]
        prep.feature_names_ = [f"pixel_{prep.image_size[0]}x{prep.image_size[1]}x{prep.channels}"]
        return prep

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


#: The pixel statistics the image guard compares with the training images' (see :func:`image_statistics`), each
#: with the least spread it is standardized by (1 % of the 0-255 range for levels, 1 point for fractions).
IMAGE_STATISTICS = {
    "brightness": 2.55,
    "contrast": 2.55,
    "dark pixels": 0.01,
    "bright pixels": 0.01,
    "mid-tone pixels": 0.01,
    "edge strength": 2.55,
    "sharpness": 2.55,
    "border brightness": 2.55,
    "colourfulness": 2.55,
}
#: what a statistic outside a training range that is a single value means, in words
IMAGE_STATISTICS_HINTS = {"colourfulness": "colour image; the training images are greyscale"}


def image_statistics(pixels: np.ndarray) -> np.ndarray:
    """float32 [n, 9]: simple statistics of preprocessed images (raw 0-255 pixels [n, h, w, c]), in the order of
    :data:`IMAGE_STATISTICS`: mean and standard deviation of the grey level, fractions of dark (< 32), bright
    (> 223) and mid-tone (64-191) pixels, mean gradient magnitude, mean absolute Laplacian (sharpness), mean
    grey level of the border pixels, and the mean spread between colour channels (0 for greyscale).

    Example:
        >>> image_statistics(np.zeros((2, 8, 8, 1), np.float32))[0, :3]
        array([0., 0., 1.], dtype=float32)
    """
    x = np.asarray(pixels, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    n = len(x)
    grey = x.mean(axis=-1)
    flat = grey.reshape(n, -1)
    gy, gx = np.gradient(grey, axis=(1, 2)) if min(grey.shape[1:]) > 1 else (grey * 0, grey * 0)
    laplace = (
        np.abs(
            4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1] - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]
        )
        .reshape(n, -1)
        .mean(axis=1)
        if min(grey.shape[1:]) > 2
        else np.zeros(n, np.float32)
    )
    border = np.concatenate([grey[:, 0, :], grey[:, -1, :], grey[:, :, 0], grey[:, :, -1]], axis=1)
    columns = [
        flat.mean(axis=1),
        flat.std(axis=1),
        (flat < 32).mean(axis=1),
        (flat > 223).mean(axis=1),
        ((flat >= 64) & (flat < 192)).mean(axis=1),
        np.hypot(gy, gx).reshape(n, -1).mean(axis=1),
        laplace,
        border.mean(axis=1),
        (x.max(axis=-1) - x.min(axis=-1)).reshape(n, -1).mean(axis=1),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def image_batches_class():
    keras = keras_module()

    class ImageBatches(keras.utils.PyDataset):
        """Decodes and resizes one batch of images at a time (threads, never all images in memory)."""

        def __init__(
            self,
            images: ImageSet,
            index: np.ndarray,
            prep: ImagePreprocessor,
            batch_size: int,
            labels: np.ndarray | None = None,
            shuffle: bool = False,
            seed: int = 0,
            workers: int = 1,
        ):
            super().__init__(workers=workers, use_multiprocessing=False)
            self.images = images
            self.index = np.asarray(index)
            self.prep = prep
            self.batch_size = batch_size
            self.labels = labels
            self.shuffle = shuffle
            self.rng = np.random.default_rng(seed)
            self.order = np.arange(len(self.index))
            if shuffle:
                self.rng.shuffle(self.order)

        def __len__(self) -> int:
            return math.ceil(len(self.index) / self.batch_size)

        def __getitem__(self, i: int):
            positions = self.order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.prep.load(self.images, self.index[positions])
            return x if self.labels is None else (x, self.labels[positions])

        def on_epoch_end(self) -> None:
            if self.shuffle:
                self.rng.shuffle(self.order)

    return ImageBatches
