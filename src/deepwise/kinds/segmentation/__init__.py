"""Segmentation: a class for every pixel, learned by a U-Net and compared with thresholding.

The data: a folder holding ``images/`` and ``masks/`` paired by file name (``deepwise train cells/``). Masks hold
class ids (single-channel PNG/TIFF, palette PNGs, 0/255 binary masks read as 0/1, instance masks read as object vs
background, RGB colour masks through a legend file); JPEG masks, missing partners, mismatched sizes and unknown ids
are errors naming the files. Ten images or more are split by image; fewer (one large microscopy image) are split
spatially into cells, and the run says so. The network: a U-Net sized to the images, trained on random patches
with flips and rotations, loss cross-entropy + Dice. Compared on the same test images (or cells) with background
everywhere, an Otsu threshold and per-pixel logistic regression on classical filters, by IoU from integer pixel
counts and a paired bootstrap; when a threshold is as good, the verdict says to threshold.

Modules: ``read`` (pairs and bad input), ``classes``/``legend`` (mask formats, class ids), ``split`` (by image or
spatial cells), ``unet`` (the network, loss, patches), ``tiling`` (large images in bounded memory), ``baselines``,
``metrics`` (IoU/Dice, bootstrap, verdict), ``guard``, ``write`` (mask PNGs, overlays), ``pipeline`` (the flow on
arrays), ``state`` (preprocessing.json), ``data`` (the Prepared), ``transfer`` (``model.from_run``: an earlier
segmentation run's encoder), ``predict``, ``report``, ``serve``.

Example:
    >>> run = deepwise.train("cells/")
    >>> run.metrics["test"]["iou"], run.metrics["verdict"]["code"]
    ({'background': 0.97, 'nucleus': 0.86}, 'deep_learning_helps')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun

if TYPE_CHECKING:
    from deepwise.kinds.segmentation.data import SegmentationPrepared, SegmentationProblem
    from deepwise.kinds.segmentation.state import SegmentationPreprocessor

MODEL_TYPES = ("unet",)
NO_IMPORTANCE = (
    "Permutation importance is not measured for segmentation: one pixel is not an input to shuffle. The overlays "
    "of the best and worst test images show where the network fails."
)


class SegmentationKind(DataKind):
    name: ClassVar[str] = "segmentation"
    title: ClassVar[str] = "images with masks"
    unit: ClassVar[str] = "images"
    total_unit: ClassVar[str] = "images"
    data_noun: ClassVar[str] = "images"
    request_items: ClassVar[str] = "images"
    no_importance_note: ClassVar[str | None] = NO_IMPORTANCE
    model_types: ClassVar[tuple[str, ...]] = MODEL_TYPES

    def claims(self, config: Config) -> bool:
        from deepwise.kinds.segmentation.read import is_segmentation_folder

        return config.problem.task == "segmentation" or is_segmentation_folder(config.data.path)

    def formulate(self, config: Config) -> SegmentationProblem:
        from deepwise.kinds.segmentation.data import formulate_segmentation

        return formulate_segmentation(config)

    def prepare(self, config: Config) -> SegmentationPrepared:
        from deepwise.kinds.segmentation.data import prepare_segmentation

        return prepare_segmentation(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "segmentation"}

    def load_preprocessor(self, state: dict[str, Any]) -> SegmentationPreprocessor:
        from deepwise.kinds.segmentation.state import SegmentationPreprocessor

        return SegmentationPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun):
        from deepwise.kinds.segmentation.predict import SegmentationPredictor

        return SegmentationPredictor(run)

    def report_sections(self, ctx):
        from deepwise.kinds.segmentation.report import segmentation_sections

        return segmentation_sections(ctx)

    def task_label(self, ctx) -> str:
        return "segmentation (a class per pixel)"

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.segmentation.report import segmentation_guard_text

        return segmentation_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        return "the pixels of one image (any size; large images in tiles)"

    def card_inputs(self, ctx) -> list[list[str]]:
        return []

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.segmentation.report import segmentation_card_usage

        return segmentation_card_usage(ctx)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.segmentation.report import segmentation_card_guard_limit

        return segmentation_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.segmentation.report import SEGMENTATION_SCOPE

        return SEGMENTATION_SCOPE

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.segmentation.serve import add_segmentation_routes  # FastAPI only when serving

        add_segmentation_routes(app, run, Path(run.path).resolve().name, responses, limits)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Random pixels in the training range, patch-sized (a multiple of ``2**depth``)."""
        prep = run.preprocessor
        side = int(prep.plan["patch"])
        rng = np.random.default_rng(seed)
        mean, std = np.asarray(prep.mean or [0.0]), np.asarray(prep.std or [1.0])
        pixels = (mean + std * rng.standard_normal((n, side, side, prep.channels))).astype(np.float32)
        return pixels, {"image": pixels}

    def export_input_text(self, inputs: str) -> str:
        from deepwise.kinds.segmentation.report import SEGMENTATION_INPUT

        return SEGMENTATION_INPUT.format(inputs=inputs)


__all__ = ["SegmentationKind"]
