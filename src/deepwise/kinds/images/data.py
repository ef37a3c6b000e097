"""Steps 1-3 for images: open and check the files, infer the classes, fix the image size and channels, split
(stratified), and feed the network from memory or, for sets too big for it, batch by batch from disk.

Example:
    >>> data = prepare_images(Config(problem={"target": "label"}, data={"path": "digits/"}))
    >>> data.prep.image_size, data.n_classes
    ((8, 8), 10)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.images import ImageSet, describe, fingerprint_source, open_images
from deepwise.data.schema import infer_task
from deepwise.errors import ConfigError
from deepwise.guard import InputStatistics, OODGuard
from deepwise.inspection import inspect_images
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import fit_arrays, merged_splits, model_input
from deepwise.kinds.images import IMAGE_MODELS
from deepwise.models.activations import check_activation
from deepwise.models.cnn import (
    SMALL_IMAGE,
    applications_in,
    build_cnn,
    build_from_run,
    build_pretrained,
    confidence,
    default_pooling,
    describe_image_model,
    embedding_model,
)
from deepwise.models.inference import predict_rows
from deepwise.prepare.images import (
    IMAGE_STATISTICS,
    IMAGE_STATISTICS_HINTS,
    ImagePreprocessor,
    image_batches_class,
    image_statistics,
)
from deepwise.prepare.split import split_indices
from deepwise.prepare.tabular import FEATURES
from deepwise.records import RunFiles
from deepwise.tasks import TASKS

#: images train at batch 16 by default: on a CPU the CNN's step costs less per image at 16 than at 32 and far less
#: than at 64 (MNIST CNN: 5,850 / 5,260 / 3,180 images/s; bench/cnn_batch_size.py).
IMAGE_BATCH_SIZE = 16


@dataclass
class ImageProblem(Problem):
    """An image problem: also the images, opened and checked."""

    images: ImageSet | None = None

    def describe_inputs(self) -> list[str]:
        return []

    def explain(self) -> list[str]:
        task = TASKS[self.output]
        lines = [f"Task: {self.config.problem.task}. {self.task_reason}"]
        return [*lines, f"Output layer: {task.why_output}.", f"Loss: {task.why_loss}.", *self.notes]


def _resolve_freeze_base(model, reuses_application: bool) -> None:
    """Frozen base + new head (then optional fine-tuning), or every layer trained on from the reused weights.

    Measured (bench/transfer.py, means of five draws): a batch-normalized CNN trained on MNIST 0-4
    and reused for 5-9 with 50 images per class scored 0.899 with its layers frozen and 0.943 trained on whole
    (the same CNN from scratch: 0.887), so an earlier deepwise run trains on whole by default; a keras.applications
    base, trained on ImageNet, stays frozen (Keras' recommended workflow for a large base on a small data set).
    """
    if model.freeze_base is None:  # an earlier deepwise CNN trains on whole; a keras.applications base stays frozen
        model.freeze_base = not model.from_run or reuses_application or model.fine_tune_layers > 0
    elif not model.freeze_base and model.fine_tune_layers:
        raise ConfigError(
            f"model.freeze_base: false trains every layer from the start, so model.fine_tune_layers: "
            f"{model.fine_tune_layers} (unfreeze the top layers after the head) has nothing to unfreeze.",
            expected="freeze_base: true with fine_tune_layers, or freeze_base: false without it",
            fix="remove model.fine_tune_layers, or set model.freeze_base: true for the two-phase workflow.",
        )


def earlier_image_run(path: str) -> RunFiles:
    """The earlier run of ``model.from_run``, which must be an image classifier."""
    earlier = RunFiles(path)
    if earlier.kind != "images":
        raise ConfigError(
            f"model.from_run '{path}' is a {earlier.metrics.task} run; transfer learning reuses an image "
            "classifier's network.",
            expected="the folder of an earlier deepwise image classification run",
            fix="point model.from_run at an image run (or leave it out to train a CNN from scratch).",
        )
    return earlier


def formulate_images(config: Config) -> ImageProblem:
    """Open and check the images, infer the classes, and fix the image size, channels and model type."""
    config = config.model_copy(deep=True)
    check_activation(config)
    d = config.data
    target = config.problem.target
    images = open_images(
        d.path,
        image_column=d.image_column,
        label_column=target,
        on_bad_files=d.on_bad_files,
        allow_outside=d.allow_outside_paths,
    )
    labels = pd.Series([str(v) for v in images.labels], name=target)
    notes: list[str] = []
    if images.skipped:
        notes.append(f"{len(images.skipped)} unreadable file(s) were skipped (data.on_bad_files: skip).")
    if config.problem.task in ("regression", "forecasting"):
        raise ConfigError(
            f"problem.task: {config.problem.task} is not available for images yet.",
            expected="binary, multiclass or auto (image classification)",
            fix="set problem.task: auto.",
        )
    task, reason = infer_task(labels)
    if config.problem.task != "auto":
        task, reason = config.problem.task, f"set in the config ({config.problem.task})."
    model = config.model
    if model.type == "auto":
        model.type = "cnn"
    if model.type not in IMAGE_MODELS:
        raise ConfigError(
            f"model.type '{model.type}' is not an image model.",
            expected="model.type: cnn (from scratch) or pretrained (keras.applications / model.from_run)",
            fix="set model.type: cnn or pretrained.",
        )
    earlier = None
    if model.from_run:
        earlier = earlier_image_run(model.from_run)
        d.image_size, d.channels = list(earlier.preprocessing["image_size"]), earlier.preprocessing["channels"]
        model.type = "pretrained"
    if model.type == "pretrained":
        # a keras.applications base underneath an earlier run stays frozen by default, as model.base does
        reuses_application = (
            earlier is not None and model.freeze_base is None and bool(applications_in(earlier.open_model()))
        )
        _resolve_freeze_base(model, reuses_application)
    if d.image_size is None or d.channels is None:
        stats = describe(images, max_files=300, seed=config.seed)
        if d.image_size is None:
            h, w = stats["median_size"]
            if model.type == "pretrained":
                h, w = max(h, 32), max(w, 32)
            d.image_size = [h, w]
        if d.channels is None:
            colour = stats["channels"].get("colour", 0) > stats["channels"].get("grayscale", 0)
            d.channels = 3 if colour or model.type == "pretrained" else 1
    if model.conv_filters is None:  # measured: digits (8x8) need wider filters, MNIST (28x28) a third block
        model.conv_filters = [32, 64] if max(d.image_size) <= SMALL_IMAGE else [16, 32, 64]
    if model.pooling is None:
        model.pooling = default_pooling(d.image_size)
    config.problem.task = task
    config.data.split.test = config.data.split.test_fraction(False)
    if model.dropout is None:
        model.dropout = 0.1
    notes.append(
        f"{len(images)} images in {len(labels.unique())} classes, resized to {d.image_size[0]}x{d.image_size[1]} "
        f"with {d.channels} channel(s)."
    )
    return ImageProblem(config, labels.to_frame(), reason, [], notes, images=images)


@dataclass
class ImageData(Prepared):
    """Images split by position: pixels in memory (``x``) when they fit, else decoded per batch from disk."""

    x: dict[str, dict[str, np.ndarray] | None] | None = None
    images: ImageSet | None = None

    images_baselines = True
    default_batch_size = IMAGE_BATCH_SIZE

    @property
    def streamed(self) -> bool:
        return self.x["train"] is None

    def _batches(self, split: str, batch_size: int, labels: bool, shuffle: bool = False):
        y = self.y[split] if labels else None
        return image_batches_class()(
            self.images, self.splits[split], self.prep, batch_size, y, shuffle=shuffle, seed=self.config.seed
        )

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        if not self.streamed:
            fit_arrays(model, self.config, self.x, self.y, callbacks, epochs, initial_epoch)
            return
        model.fit(
            self._batches("train", self.config.training.batch_size, labels=True, shuffle=True),
            validation_data=self._batches("validation", 256, labels=True),
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
        )

    def predict(self, model, split: str) -> np.ndarray:
        if self.streamed:
            return np.asarray(model.predict(self._batches(split, 256, labels=False), verbose=0))
        return predict_rows(model, model_input(self.x[split]))

    def probe_batch(self, batch_size: int):
        if self.streamed:
            return self._batches("train", batch_size, labels=True)[0]
        return self.x["train"][FEATURES], self.y["train"]

    def build_network(self):
        cfg = self.config
        specs = self.prep.input_specs()
        args = (self.task, self.n_classes, cfg.model, cfg.data.augmentation, cfg.seed)
        if cfg.model.from_run:
            return build_from_run(RunFiles(cfg.model.from_run).open_model(), *args)
        if cfg.model.type == "pretrained":
            return build_pretrained(specs, *args)
        return build_cnn(specs, *args)

    def describe_network(self, model) -> str:
        return describe_image_model(model, self.config.model)

    def inspect(self):
        return inspect_images(self.images, self.config.problem.target, self.config.seed)

    def baseline_inputs(self):
        """Downsampled grayscale pixels (logistic regression on them is the honest bar for a small CNN)."""
        side = min(16, *self.prep.image_size)

        def flat(split: str) -> np.ndarray:
            index = self.splits[split]
            return self.images.load(index, (side, side), 1).reshape(len(index), -1) / 255.0

        return flat("train"), self.y["train"], flat("test")

    def pixel_statistics(self, split: str) -> np.ndarray:
        """:func:`image_statistics` of a split's preprocessed images (decoded batch by batch when streamed)."""
        if not self.streamed:
            return image_statistics(self.x[split][FEATURES])
        batches = self._batches(split, 256, labels=False)
        return np.concatenate([image_statistics(batches[i]) for i in range(len(batches))])

    def fit_guard(self, model, validation_output, test_output):
        """The network's embedding and confidence, and the images' own pixel statistics (which flag photographs,
        noise or drawings that a network trained on digits may embed close to digits), calibrated together."""
        cfg = self.config
        guard = OODGuard(cfg.guard.false_alarm_rate, cfg.guard.neighbors, seed=cfg.seed)
        embed = embedding_model(model)
        pixels = InputStatistics(
            self.pixel_statistics("train"),
            self.pixel_statistics("validation"),
            list(IMAGE_STATISTICS),
            list(IMAGE_STATISTICS.values()),
            kind="pixel statistics",
            hints=IMAGE_STATISTICS_HINTS,
            seed=cfg.seed,
        )
        guard.fit_arrays(
            self.predict(embed, "train"),
            self.predict(embed, "validation"),
            validation_confidence=confidence(validation_output, self.task.name),
            inputs=pixels,
            conformal=True,
        )
        test = guard.score_arrays(
            self.predict(embed, "test"), confidence(test_output, self.task.name), self.pixel_statistics("test")
        )
        return guard, float(np.mean(test > 1.0))

    def inspected_columns(self) -> list[str]:
        return [self.config.problem.target]


def prepare_images(config: Config) -> ImageData:
    """Stratified split of the images; pixels decoded into memory when they fit, else streamed per batch."""
    problem = formulate_images(config)
    cfg = problem.config
    task = TASKS[cfg.problem.task]
    images = problem.images
    labels = pd.Series([str(v) for v in images.labels], name=cfg.problem.target)
    split = cfg.data.split
    splits = merged_splits(
        split_indices(labels, task.name, split.validation, split.test, cfg.seed, split.stratify), cfg
    )
    prep = ImagePreprocessor(cfg.data.image_size, cfg.data.channels, task.name, cfg.problem.target)
    prep.fit([images.labels[i] for i in splits["train"]])
    y = {name: prep.transform_target([images.labels[i] for i in idx]) for name, idx in splits.items()}
    in_memory = cfg.data.in_memory if cfg.data.in_memory is not None else prep.fits_in_memory(len(images))
    x: dict[str, Any] = (
        {name: {FEATURES: prep.load(images, idx)} for name, idx in splits.items()}
        if in_memory
        else {name: None for name in splits}
    )
    return ImageData(problem, task, prep, splits, y, fingerprint_source(images), x=x, images=images)
