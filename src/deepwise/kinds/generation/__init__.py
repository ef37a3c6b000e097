"""Image to image (denoising, sharpening, colourising, restoration, super-resolution): a folder with ``inputs/`` and
``targets/`` matched by file name in, a U-Net or convolutional autoencoder out, and the truth about it.

``deepwise train FOLDER``. The network is compared on the same test images with the input unchanged, Gaussian,
median and non-local means filters (bicubic upscaling for larger targets, mean chroma for colourising), PSNR and
SSIM, the verdict bootstrapped over test images; when a fixed filter (a linear kernel, a point-wise curve, a
quantization, a named scikit-image filter) reproduces the targets, the verdict is ``looks_like_a_computation`` and
names it. Every output image is marked as generated; inputs far from the training ones are flagged by the guard.

Modules: ``read`` (pairs), ``image2image`` (networks), ``baselines`` (classical filters), ``filters`` and
``kernels`` (the fixed-filter finder and its words), ``metrics`` (PSNR, SSIM, bootstrap, verdict), ``guard``,
``marking`` (the "generated" mark), ``data`` (the Prepared), ``predict``, ``report``, ``serve``. Generating images
from nothing (a VAE) and synthetic tables are not wired yet.

Example:
    >>> run = deepwise.train("denoise/")            # denoise/inputs/*.png, denoise/targets/*.png
    >>> run.metrics["verdict"]["code"]
    'deep_learning_helps'
    >>> run.predict_to_csv("new_noisy/", "enhanced/")   # enhanced/*.png marked as generated, predictions.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun
from deepwise.kinds.generation.data import (
    MODEL_TYPES,
    EnhancementData,
    EnhancementPreprocessor,
    EnhancementProblem,
    formulate_enhancement,
    has_pair_folders,
    prepare_enhancement,
)
from deepwise.kinds.generation.report import (
    ENHANCEMENT_INPUT,
    ENHANCEMENT_SCOPE,
    enhancement_card_guard_limit,
    enhancement_card_usage,
    enhancement_guard_text,
    enhancement_sections,
)

NO_IMPORTANCE = (
    "Permutation importance is not measured for image-to-image runs: one pixel is not an input to shuffle. The side "
    "by side examples above show what the network does to an image."
)


class ImageToImageKind(DataKind):
    name: ClassVar[str] = "image_to_image"
    title: ClassVar[str] = "image pairs"
    unit: ClassVar[str] = "images"
    total_unit: ClassVar[str] = "image pairs"
    data_noun: ClassVar[str] = "images"
    request_items: ClassVar[str] = "images"
    no_importance_note: ClassVar[str | None] = NO_IMPORTANCE
    model_types: ClassVar[tuple[str, ...]] = MODEL_TYPES

    def claims(self, config: Config) -> bool:
        return has_pair_folders(config.data.path)

    def formulate(self, config: Config) -> EnhancementProblem:
        return formulate_enhancement(config)

    def prepare(self, config: Config) -> EnhancementData:
        return prepare_enhancement(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "image_to_image"}

    def load_preprocessor(self, state: dict[str, Any]) -> EnhancementPreprocessor:
        return EnhancementPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun):
        from deepwise.kinds.generation.predict import EnhancementPredictor

        return EnhancementPredictor(run)

    def report_sections(self, ctx):
        return enhancement_sections(ctx)

    def task_label(self, ctx) -> str:
        return "image to image (enhancement)"

    def guard_text(self, guard: dict[str, Any]) -> str:
        return enhancement_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        return "one input image (the output is a generated image, not a measurement)"

    def card_inputs(self, ctx) -> list[list[str]]:
        shape = (ctx.preprocessing or {}).get("input_shape") or ["?", "?", "?"]
        return [["inputs", "image", f"{shape[1]}x{shape[0]}, {shape[2]} channel(s), values 0-1"]]

    def card_usage(self, ctx, columns: str, proba_note: str):
        return enhancement_card_usage(ctx)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        return enhancement_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        return ENHANCEMENT_SCOPE

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.generation.serve import add_enhancement_routes  # FastAPI only when serving

        add_enhancement_routes(app, run, Path(run.path).resolve().name, responses, limits)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Random images of the training inputs' shape, in [0, 1]."""
        shape = tuple(run.preprocessor.input_shape)
        pixels = np.random.default_rng(seed).random((n, *shape)).astype(np.float32)
        return pixels, {"inputs": pixels}

    def export_input_text(self, inputs: str) -> str:
        return ENHANCEMENT_INPUT.format(inputs=inputs)


__all__ = ["ImageToImageKind"]
