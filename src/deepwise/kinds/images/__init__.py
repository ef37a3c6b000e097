"""Images: a folder of class sub-folders, a CSV of image paths, or images.npy + labels.npy; classified by a CNN
from scratch or a reused network (keras.applications, or an earlier deepwise run).

Example:
    >>> data = ImagesKind().prepare(Config(problem={"target": "label"}, data={"path": "digits/"}))
    >>> data.describe_network(data.build_network())
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun

if TYPE_CHECKING:
    from deepwise.kinds.images.data import ImageData, ImageProblem
    from deepwise.kinds.images.predict import ImagePredictor
    from deepwise.prepare.images import ImagePreprocessor

IMAGE_MODELS = ("cnn", "pretrained")
NO_IMPORTANCE = (
    "Permutation importance is not measured for images: a single pixel is not a meaningful input to shuffle. The test "
    "images and the most confident mistakes above show what the network gets right and wrong."
)
IMAGE_INPUT = """It takes images as raw pixel values (0-255, not rescaled: the network does that
  itself): {inputs}, i.e. [images, height, width, channels].
- `preprocessing.json`: the image size and channels to resize and convert your images to, and the classes."""


class ImagesKind(DataKind):
    name: ClassVar[str] = "images"
    title: ClassVar[str] = "images"
    unit: ClassVar[str] = "images"
    total_unit: ClassVar[str] = "images"
    data_noun: ClassVar[str] = "images"
    request_items: ClassVar[str] = "images"
    model_types: ClassVar[tuple[str, ...]] = IMAGE_MODELS
    no_importance_note: ClassVar[str | None] = NO_IMPORTANCE

    def claims(self, config: Config) -> bool:
        from deepwise.data.images import is_image_source

        return is_image_source(config.data.path, config.data.image_column)

    def formulate(self, config: Config) -> ImageProblem:
        from deepwise.kinds.images.data import formulate_images

        return formulate_images(config)

    def prepare(self, config: Config) -> ImageData:
        from deepwise.kinds.images.data import prepare_images

        return prepare_images(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "image_classification", "output": prepared.task.name}

    def load_preprocessor(self, state: dict[str, Any]) -> ImagePreprocessor:
        from deepwise.prepare.images import ImagePreprocessor

        return ImagePreprocessor.from_dict(state)

    def predictor(self, run: SavedRun) -> ImagePredictor:
        from deepwise.kinds.images.predict import ImagePredictor

        return ImagePredictor(run)

    def report_sections(self, ctx):
        from deepwise.kinds.images.report import image_sections

        return image_sections(ctx)

    def task_label(self, ctx) -> str:
        return "image classification"

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.images.report import image_guard_text

        return image_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        from deepwise.kinds.images.report import image_card_source

        return image_card_source(ctx)

    def card_inputs(self, ctx) -> list[list[str]]:
        return []

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.images.report import image_card_usage

        return image_card_usage(ctx, columns, proba_note)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.images.report import image_card_guard_limit

        return image_card_guard_limit(guard, rate, observed)

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.images.serve import add_image_routes  # FastAPI only when serving

        add_image_routes(app, run, Path(run.path).resolve().name, responses, limits)

    def inspect_data(self, config: Config, target: str | None, time_column: str | None):
        from deepwise.inspection import inspect

        return inspect(config.data.path, target=target, time_column=time_column)

    def explain_views(self, run: SavedRun, folder: Path) -> dict[str, Any] | None:
        from deepwise.kinds.images.explain import image_views

        return image_views(run, folder)

    def keras_script(self, run: SavedRun) -> str:
        from deepwise.kinds.images.script import image_script

        return image_script(run)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        prep = run.preprocessor
        pixels = np.random.default_rng(seed).integers(0, 256, (n, *prep.image_size, prep.channels))
        arrays = {name: pixels.astype(np.float32) for name in prep.input_specs()}
        return next(iter(arrays.values())), arrays

    def export_input_text(self, inputs: str) -> str:
        return IMAGE_INPUT.format(inputs=inputs)
