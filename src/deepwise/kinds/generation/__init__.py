"""Image to image (denoising, sharpening, colourising, restoration, super-resolution): a folder with ``inputs/`` and
``targets/`` matched by file name in, a U-Net or convolutional autoencoder out, and the truth about it.

``deepwise train FOLDER``. The network is compared on the same test images with the input unchanged, Gaussian,
median and non-local means filters (bicubic upscaling for larger targets, mean chroma for colourising), PSNR and
SSIM, the verdict bootstrapped over test images; when a fixed filter (a linear kernel, a point-wise curve, a
quantization, a named scikit-image filter) reproduces the targets, the verdict is ``looks_like_a_computation`` and
names it. Every output image is marked as generated; inputs far from the training ones are flagged by the guard.

Modules: ``read`` (pairs), ``image2image`` (networks), ``baselines`` (classical filters), ``filters`` and
``kernels`` (the fixed-filter finder and its words), ``metrics`` (PSNR, SSIM, bootstrap, verdict), ``guard``,
``marking`` (the "generated" mark), ``data`` (the Prepared), ``predict``, ``report``, ``serve``.

Generating new data (``problem.task: generate``; CLI ``deepwise train DATA --task generate``) is two more kinds of
this package: **images from nothing** (:class:`GenerativeImagesKind`: a folder of class sub-folders or images.npy +
labels.npy) and **synthetic tables** (:class:`GenerativeTableKind`: any table). A VAE (``vae``: a Sampling layer and
``compute_loss``, Keras' own ``fit``) is measured against simple generators (``copula``: independent marginals and a
Gaussian copula for tables; independent pixels and Gaussians on principal components for images) by ``quality``
(a reference classifier's confidence and class coverage, precision/recall/density/coverage, memorisation; a
real-vs-synthetic classifier's AUC, train-on-synthetic/test-on-real, distance to the closest record).
``deepwise generate RUN -n N`` writes marked samples. Modules: ``table_schema``, ``synth_common``, ``synth_table``,
``synth_images``, ``synth_predict``, ``synth_report``, ``synth_serve``.

Example:
    >>> run = deepwise.train("denoise/")            # denoise/inputs/*.png, denoise/targets/*.png
    >>> run.metrics["verdict"]["code"]
    'deep_learning_helps'
    >>> run.predict_to_csv("new_noisy/", "enhanced/")   # enhanced/*.png marked as generated, predictions.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun

if TYPE_CHECKING:
    from deepwise.kinds.generation.data import EnhancementData, EnhancementPreprocessor, EnhancementProblem

#: the model.type values an image-to-image run accepts (the network itself is chosen by enhancement.network)
MODEL_TYPES = ("auto", "unet")
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
        from deepwise.kinds.generation.read import has_pair_folders

        return has_pair_folders(config.data.path)

    def formulate(self, config: Config) -> EnhancementProblem:
        from deepwise.kinds.generation.data import formulate_enhancement

        return formulate_enhancement(config)

    def prepare(self, config: Config) -> EnhancementData:
        from deepwise.kinds.generation.data import prepare_enhancement

        return prepare_enhancement(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "image_to_image"}

    def load_preprocessor(self, state: dict[str, Any]) -> EnhancementPreprocessor:
        from deepwise.kinds.generation.data import EnhancementPreprocessor

        return EnhancementPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun):
        from deepwise.kinds.generation.predict import EnhancementPredictor

        return EnhancementPredictor(run)

    def report_sections(self, ctx):
        from deepwise.kinds.generation.report import enhancement_sections

        return enhancement_sections(ctx)

    def task_label(self, ctx) -> str:
        return "image to image (enhancement)"

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.generation.report import enhancement_guard_text

        return enhancement_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        return "one input image (the output is a generated image, not a measurement)"

    def card_inputs(self, ctx) -> list[list[str]]:
        shape = (ctx.preprocessing or {}).get("input_shape") or ["?", "?", "?"]
        return [["inputs", "image", f"{shape[1]}x{shape[0]}, {shape[2]} channel(s), values 0-1"]]

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.generation.report import enhancement_card_usage

        return enhancement_card_usage(ctx)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.generation.report import enhancement_card_guard_limit

        return enhancement_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.generation.report import ENHANCEMENT_SCOPE

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
        from deepwise.kinds.generation.report import ENHANCEMENT_INPUT

        return ENHANCEMENT_INPUT.format(inputs=inputs)


def _register_vae() -> None:
    """Importing the VAE module registers its Keras classes: a saved generative run's model can then be loaded."""
    from deepwise.kinds.generation import vae  # noqa: F401


class _GenerativeKind(DataKind):
    """What both generative kinds share: claimed by ``problem.task: generate``, no importance, generate-first words."""

    no_importance_note: ClassVar[str | None] = (
        "Permutation importance is not measured for a generative run: it has no prediction to explain. The samples "
        "and the measured imagination above show what it learned."
    )
    model_types: ClassVar[tuple[str, ...]] = ("auto", "vae")
    images: ClassVar[bool] = False

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": prepared.task.name}

    def custom_objects(self) -> dict[str, Any]:
        from deepwise.kinds.generation import vae

        return {f"{vae.PACKAGE}>{cls.__name__}": cls for cls in (vae.Sampling, vae.ImageVAE, vae.TableVAEModel)}

    def predictor(self, run: SavedRun):
        from deepwise.kinds.generation import synth_predict

        _register_vae()
        cls = synth_predict.ImageGenerationPredictor if self.images else synth_predict.TableGenerationPredictor
        return cls(run)

    def report_sections(self, ctx):
        from deepwise.kinds.generation.synth_report import generation_sections

        _register_vae()
        return generation_sections(ctx, self.images)

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.generation.synth_report import generation_guard_text

        return generation_guard_text(guard)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.generation.synth_report import generation_card_guard_limit

        return generation_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.generation.synth_report import GENERATION_SCOPE

        return GENERATION_SCOPE

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.generation.synth_report import generation_card_usage

        return generation_card_usage(ctx, self.images)

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.generation.synth_serve import add_generation_routes  # FastAPI only when serving

        add_generation_routes(app, run, Path(run.path).resolve().name, responses, limits, self.images)

    def export_input_text(self, inputs: str) -> str:
        from deepwise.kinds.generation.synth_report import GENERATION_INPUT

        return GENERATION_INPUT.format(inputs=inputs)


class GenerativeTableKind(_GenerativeKind):
    """Synthetic rows like a table's (``problem.task: generate`` on a table)."""

    name: ClassVar[str] = "generative_table"
    title: ClassVar[str] = "a table to imitate"
    data_noun: ClassVar[str] = "rows"

    def claims(self, config: Config) -> bool:
        from deepwise.data.images import is_image_source

        return config.problem.task == "generate" and not is_image_source(config.data.path, config.data.image_column)

    def formulate(self, config: Config):
        from deepwise.kinds.generation.synth_table import formulate_table_generation

        return formulate_table_generation(config)

    def prepare(self, config: Config):
        from deepwise.kinds.generation.synth_table import prepare_table_generation

        return prepare_table_generation(config)

    def load_preprocessor(self, state: dict[str, Any]):
        from deepwise.kinds.generation.synth_table import TableGenerationPreprocessor

        _register_vae()
        return TableGenerationPreprocessor.from_dict(state)

    def task_label(self, ctx) -> str:
        return "generate rows (a synthetic table)"

    def card_source(self, ctx, n_inputs: int) -> str:
        return "nothing: it generates table rows from random codes (they are not records of anything)"

    def card_inputs(self, ctx) -> list[list[str]]:
        schema = ((ctx.preprocessing or {}).get("schema") or {}).get("columns") or []
        return [[c["name"], c["kind"], f"{c['minimum']:g} to {c['maximum']:g}" if c["kind"] == "numeric"
                 else f"{len(c['categories'])} categories"] for c in schema]  # fmt: skip

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Encoded rows of the run's own generated rows (the network's input: the encoder reads rows)."""
        from deepwise.kinds.generation.table_schema import encode_rows

        _register_vae()
        rows = run.preprocessor.generator("independent_marginals").sample(n, seed=seed)
        x = encode_rows(rows, run.preprocessor.schema).astype(np.float32)
        return x, {"rows": x}


class GenerativeImagesKind(_GenerativeKind):
    """Images from nothing (``problem.task: generate`` on a folder of class sub-folders or images.npy)."""

    name: ClassVar[str] = "generative_images"
    title: ClassVar[str] = "images to imitate"
    unit: ClassVar[str] = "images"
    total_unit: ClassVar[str] = "images"
    data_noun: ClassVar[str] = "images"
    request_items: ClassVar[str] = "images"
    images: ClassVar[bool] = True

    def claims(self, config: Config) -> bool:
        from deepwise.data.images import is_image_source

        return config.problem.task == "generate" and is_image_source(config.data.path, config.data.image_column)

    def formulate(self, config: Config):
        from deepwise.kinds.generation.synth_images import formulate_image_generation

        return formulate_image_generation(config)

    def prepare(self, config: Config):
        from deepwise.kinds.generation.synth_images import prepare_image_generation

        return prepare_image_generation(config)

    def load_preprocessor(self, state: dict[str, Any]):
        from deepwise.kinds.generation.synth_images import ImageGenerationPreprocessor

        _register_vae()
        return ImageGenerationPreprocessor.from_dict(state)

    def task_label(self, ctx) -> str:
        return "generate images (from nothing)"

    def card_source(self, ctx, n_inputs: int) -> str:
        return "nothing: it generates images from random codes (they are not photographs of anything)"

    def card_inputs(self, ctx) -> list[list[str]]:
        shape = (ctx.preprocessing or {}).get("image_shape") or ["?", "?", "?"]
        return [["images", "image", f"{shape[1]}x{shape[0]}, {shape[2]} channel(s), values 0-1 (the encoder)"]]

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Random images of the training images' shape, in [0, 1]."""
        _register_vae()
        shape = tuple(run.preprocessor.image_shape)
        pixels = np.random.default_rng(seed).random((n, *shape)).astype(np.float32)
        return pixels, {"images": pixels}


__all__ = ["GenerativeImagesKind", "GenerativeTableKind", "ImageToImageKind"]
