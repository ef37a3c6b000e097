"""The segmentation workflow end to end on arrays: split, baselines, U-Net, test scores, verdict.

This is what ``deepwise train`` on a segmentation folder will run (the adapter adds run directories, configs,
checkpoints and reports); tests and benchmarks call it directly.

- One image (or images too few to split by image): split spatially (``split.spatial_tiles``); training patches
  come from the training cells, each validation/test cell is a unit of its own.
- Several images: each image wholly in train, validation or test (``split.split_images``).

Example:
    >>> result = segmentation_experiment([image], [mask], ["background", "nucleus"], seed=0)
    >>> result["network"]["iou"]["nucleus"], result["verdict"]["code"]
    (0.86, 'deep_learning_helps')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.errors import DataError
from deepwise.kinds.segmentation.baselines import channel_stats, fit_baselines
from deepwise.kinds.segmentation.metrics import compare_with_baselines, confusion, confusions, metric_value, scores
from deepwise.kinds.segmentation.split import Tile, patch_origins, spatial_tiles, split_images
from deepwise.kinds.segmentation.tiling import padded_size, predict_tiled, reflect_pad
from deepwise.kinds.segmentation.unet import (
    DiceCrossEntropy,
    PatchDataset,
    PatchSource,
    UNetPlan,
    build_unet,
    cover_patches,
    plan_unet,
    receptive_radius,
)
from deepwise.models.inference import predict_rows

#: a set with fewer images than this is split spatially (each image would be a large share of a split)
MIN_IMAGES_TO_SPLIT = 10
MIN_PATCHES = 50
TEST_CONTEXT = 64  # px of image around a test cell given as input (the depth-3 U-Net's receptive radius is 58)


@dataclass
class SplitUnits:
    """Training sources for patches, and validation/test units (images or cells) with their masks."""

    train_sources: list[PatchSource]
    train_images: list[np.ndarray]
    train_masks: list[np.ndarray]
    validation_images: list[np.ndarray]
    validation_masks: list[np.ndarray]
    test_images: list[np.ndarray]
    test_masks: list[np.ndarray]
    unit: str
    description: str
    record: dict[str, Any] = field(default_factory=dict)
    patch_limit: int = 0
    train_pixels: int = 0
    regions: list[np.ndarray] | None = None  # spatial split: the training pixels of each source image
    #: spatial split: each test image is its cell plus up to ``context`` px of the surrounding image (input only);
    #: ``test_boxes[i]`` = (y0, y1, x0, x1) of the cell inside it, the only pixels scored
    test_boxes: list[tuple[int, int, int, int]] | None = None

    def crop_test(self, i: int, prediction: np.ndarray) -> np.ndarray:
        """The scored part of a prediction for test image ``i`` (all of it when split by image)."""
        if self.test_boxes is None:
            return prediction
        y0, y1, x0, x1 = self.test_boxes[i]
        return prediction[y0:y1, x0:x1]

    def training_pixels(self) -> list[np.ndarray]:
        """The training pixels ``[n, C]`` of each source (for the input standardization)."""
        regions = self.regions or [None] * len(self.train_sources)
        return [
            s.image[r] if r is not None else s.image.reshape(-1, s.image.shape[-1])
            for s, r in zip(self.train_sources, regions, strict=True)
        ]


class ValidationIoU(keras_module().callbacks.Callback):
    """Adds ``val_iou`` to each epoch's logs: the IoU of the validation pixels from integer counts (foreground IoU
    for two classes, mean IoU otherwise); mask values outside the classes (padding) are left out.

    Example:
        >>> model.fit(data, callbacks=[ValidationIoU(x_val, y_val, 2), EarlyStopping("val_iou", mode="max")])
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, n_classes: int):
        super().__init__()
        self.x, self.n_classes = x, n_classes
        self.valid = (y >= 0) & (y < n_classes)
        self.y = y[self.valid]
        self.metric = "foreground_iou" if n_classes == 2 else "mean_iou"

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        pred = np.concatenate(
            [np.asarray(self.model.predict_on_batch(self.x[i : i + 16])).argmax(-1) for i in range(0, len(self.x), 16)]
        )
        value = metric_value(confusion(self.y, pred[self.valid], self.n_classes), self.metric)
        if logs is not None:
            logs["val_iou"] = float(0.0 if np.isnan(value) else value)


def _largest_patch(regions: Sequence[np.ndarray]) -> int:
    """The largest candidate patch side with at least 50 allowed windows over these boolean regions."""
    for p in (256, 192, 128, 96, 64, 48, 32):
        if sum(len(patch_origins(r, p, stride=4)) for r in regions) * 16 >= MIN_PATCHES:
            return p
    return 0


def _with_context(image: np.ndarray, tile: Tile, context: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    h, w = image.shape[:2]
    y0, x0 = max(0, tile.y0 - context), max(0, tile.x0 - context)
    y1, x1 = min(h, tile.y1 + context), min(w, tile.x1 + context)
    return image[y0:y1, x0:x1], (tile.y0 - y0, tile.y1 - y0, tile.x0 - x0, tile.x1 - x0)


def split_units(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    seed: int = 0,
    cell_size: int | None = None,
    context: int = TEST_CONTEXT,
) -> SplitUnits:
    """Split by image (10 images or more) or spatially (fewer: every image cut into cells); say which.

    Spatially, a test cell is predicted with up to ``context`` pixels of the image around it as input, as a new
    image would be predicted whole (its labels never reach training; training patches stay a gap away from it),
    and only its own pixels are scored. Training and validation cells are used as they are.

    Example:
        >>> units = split_units([image], [mask], seed=0)
        >>> units.description
        'one 512x512 image split spatially into 64 cells ...'
    """
    if len(images) >= MIN_IMAGES_TO_SPLIT:
        idx = split_images(len(images), seed=seed)
        pick = lambda arrays, split: [np.asarray(arrays[i]) for i in idx[split]]  # noqa: E731
        train_i, train_m = pick(images, "train"), pick(masks, "train")
        limit = _largest_patch([np.ones(m.shape, dtype=bool) for m in train_m])
        sources = [PatchSource(im, m) for im, m in zip(train_i, train_m, strict=True)]
        return SplitUnits(
            sources,
            train_i,
            train_m,
            pick(images, "validation"),
            pick(masks, "validation"),
            pick(images, "test"),
            pick(masks, "test"),
            unit="test images",
            description=f"{len(images)} images split by image: {len(idx['train'])} train, "
            f"{len(idx['validation'])} validation, {len(idx['test'])} test (each image wholly in one split).",
            record={"by": "image", **{k: v.tolist() for k, v in idx.items()}},
            patch_limit=limit,
            train_pixels=int(sum(m.size for m in train_m)),
        )
    out = SplitUnits([], [], [], [], [], [], [], unit="test tiles", description="", test_boxes=[])
    regions, descriptions, records = [], [], []
    for k, (image, mask) in enumerate(zip(images, masks, strict=True)):
        split = spatial_tiles(*mask.shape, cell_size=cell_size, seed=seed + k)
        region = split.split_map == 0
        regions.append(region)
        out.train_sources.append(PatchSource(np.asarray(image), np.asarray(mask)))
        for name, ims, mks in (
            ("train", out.train_images, out.train_masks),
            ("validation", out.validation_images, out.validation_masks),
        ):
            ims += [split.crop(image, t) for t in split.tiles(name)]
            mks += [split.crop(mask, t) for t in split.tiles(name)]
        for t in split.tiles("test"):
            window, box = _with_context(np.asarray(image), t, context)
            out.test_images.append(window)
            out.test_boxes.append(box)
            out.test_masks.append(split.crop(mask, t))
        descriptions.append(split.describe())
        records.append(split.to_dict())
        out.train_pixels += int(region.sum())
    out.description = (
        " ".join(descriptions)
        if len(images) == 1
        else (f"{len(images)} images, too few to split by image: each split spatially. " + descriptions[0])
    ) + (
        f" Test cells are predicted with up to {context} px of the surrounding image as context (input only, as "
        "a whole new image would be predicted) and scored on their own pixels."
    )
    out.record = {"by": "spatial", "images": records}
    out.patch_limit = _largest_patch(regions)
    out.regions = regions
    return out


MAX_ORIGINS = 2_000_000  # per image: allowed patch corners on a coarser grid beyond this (bounded memory)


def _sources_for(units: SplitUnits, patch: int) -> list[PatchSource]:
    """Training sources with float32 pixels; in a spatial split, the corners of patches inside training cells."""
    sources = []
    for k, s in enumerate(units.train_sources):
        origins = None
        if units.regions is not None:
            stride = max(1, int(np.ceil(np.sqrt(s.mask.size / MAX_ORIGINS))))
            origins = patch_origins(units.regions[k], patch, stride=stride)
        sources.append(PatchSource(s.image.astype(np.float32), s.mask, origins))
    return sources


def train_unet(
    units: SplitUnits,
    n_classes: int,
    plan: UNetPlan | None = None,
    epochs: int = 60,
    patience: int = 12,
    steps_per_epoch: int = 40,
    learning_rate: float = 2e-3,
    weight_decay: float = 0.0,
    intensity_jitter: float = 0.0,
    dropout: float = 0.0,
    depth: int | None = None,
    base_filters: int | None = None,
    monitor_iou: bool = True,
    seed: int = 0,
    verbose: int = 0,
) -> tuple[Any, UNetPlan, dict[str, Any]]:
    """Train a U-Net on patches of the training units; early stopping on the validation IoU (best weights kept).

    ``monitor_iou``: watch the validation IoU (:class:`ValidationIoU`; else the validation loss, which keeps rising
    from overconfidence while the IoU still improves). The learning rate halves when it has not improved for
    ``patience // 3`` epochs.

    Example:
        >>> model, plan, info = train_unet(split_units([image], [mask]), n_classes=2)
    """
    keras = keras_module()
    keras.utils.set_random_seed(seed)
    if plan is None:
        if units.patch_limit < 32:
            raise DataError(
                "The training images (or regions) are smaller than 32x32 pixels: too small to train a U-Net on.",
                expected="images of at least 32x32 pixels (a single image: at least about 100x100)",
                fix="use larger images, or fewer, larger tiles.",
            )
        plan = plan_unet(units.patch_limit, units.train_pixels)
    if depth is not None or base_filters is not None:
        plan = UNetPlan(
            depth=depth or plan.depth,
            base_filters=base_filters or plan.base_filters,
            patch=plan.patch,
            batch_size=plan.batch_size,
            reason=plan.reason + f" (set: depth {depth or plan.depth}, {base_filters or plan.base_filters} filters)",
        )
    mean, std = channel_stats([p.reshape(-1, 1, p.shape[-1]) for p in units.training_pixels()])
    channels = units.train_sources[0].image.shape[-1]
    model = build_unet(
        channels, n_classes, plan.depth, plan.base_filters, mean, [s * s for s in std], dropout=dropout, seed=seed
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        if weight_decay
        else keras.optimizers.Adam(learning_rate),
        loss=DiceCrossEntropy(n_classes),
        steps_per_execution=min(steps_per_epoch, 10),
    )
    data = PatchDataset(
        _sources_for(units, plan.patch),
        plan.patch,
        plan.batch_size,
        steps_per_epoch,
        seed=seed,
        intensity_jitter=intensity_jitter,
        channel_std=std,
    )
    pieces = [
        cover_patches(x, y, plan.patch, mean)
        for x, y in zip(units.validation_images, units.validation_masks, strict=True)
    ]
    validation = (np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))
    monitor = "val_iou" if monitor_iou else "val_loss"
    mode = "max" if monitor_iou else "min"
    callbacks = [
        *([ValidationIoU(validation[0], validation[1], n_classes)] if monitor_iou else []),
        keras.callbacks.EarlyStopping(monitor, patience=patience, mode=mode, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(
            monitor, factor=0.5, patience=max(2, patience // 3), mode=mode, min_lr=learning_rate / 32
        ),
    ]
    start = time.perf_counter()
    history = model.fit(
        data,
        validation_data=validation,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    watched = np.asarray(history.history[monitor])
    info = {
        "seconds": time.perf_counter() - start,
        "epochs": len(watched),
        "best_epoch": int(np.argmax(watched) if monitor_iou else np.argmin(watched)) + 1,
        "monitor": monitor,
        "parameters": int(model.count_params()),
        "mean": mean,
        "std": std,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
    }
    return model, plan, info


def predict_units(
    model: Any, images: Sequence[np.ndarray], depth: int, tile: int = 512, batch_size: int = 4
) -> list[np.ndarray]:
    """Class indices for every image/tile, each predicted on its own.

    Images that all fit in one tile are padded (by reflection, bottom/right) to one common shape and predicted in
    batches: one compiled shape instead of one per size. Larger images are tiled (exactly as a whole).

    Example:
        >>> labels = predict_units(model, units.test_images, plan.depth)
    """
    multiple = 2**depth
    rows = padded_size(max(im.shape[0] for im in images), multiple)
    cols = padded_size(max(im.shape[1] for im in images), multiple)
    if max(rows, cols) > tile:
        margin = receptive_radius(depth)
        return [predict_tiled(model, im, tile=tile, margin=margin, multiple=multiple) for im in images]
    batch = np.stack([reflect_pad(np.asarray(im, dtype=np.float32), rows, cols) for im in images])
    probs = predict_rows(model, batch, largest=batch_size)
    return [p[: im.shape[0], : im.shape[1]].argmax(-1).astype(np.uint8) for p, im in zip(probs, images, strict=True)]


def segmentation_experiment(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    class_names: Sequence[str],
    seed: int = 0,
    metric: str | None = None,
    cell_size: int | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """Split, fit the baselines, train the U-Net, score everything on the same test units, and compare.

    ``metric`` for the verdict: ``foreground_iou`` for a binary task (the object's IoU), else ``mean_iou``.

    Example:
        >>> result = segmentation_experiment(images, masks, ["background", "circle", "square"], seed=0)
        >>> result["verdict"]["message"]
    """
    n_classes = len(class_names)
    metric = metric or ("foreground_iou" if n_classes == 2 else "mean_iou")
    units = split_units(images, masks, seed=seed, cell_size=cell_size)
    start = time.perf_counter()
    baselines = fit_baselines(units.train_images, units.train_masks, n_classes, seed=seed)
    base_confs = {
        name: confusions(
            units.test_masks, [units.crop_test(i, b.predict(x)) for i, x in enumerate(units.test_images)], n_classes
        )
        for name, b in baselines.items()
    }
    baseline_seconds = time.perf_counter() - start
    model, plan, info = train_unet(units, n_classes, seed=seed, **train_options)
    predictions = predict_units(model, units.test_images, plan.depth)
    net = confusions(units.test_masks, [units.crop_test(i, p) for i, p in enumerate(predictions)], n_classes)
    verdict = compare_with_baselines(net, base_confs, metric=metric, seed=seed, unit=units.unit)
    return {
        "split": units.description,
        "plan": plan.to_dict(),
        "training": {k: v for k, v in info.items() if k != "history"},
        "baseline_seconds": baseline_seconds,
        "network": scores(net.sum(0), class_names),
        "baselines": {name: scores(c.sum(0), class_names) for name, c in base_confs.items()},
        "verdict": verdict,
        "model": model,
    }
