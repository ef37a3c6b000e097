"""Steps 1-6 for segmentation: read ``images/`` + ``masks/``, split by image (or spatially into cells for one large
image), size the U-Net, feed it random patches, predict whole images or tiles, score with integer pixel counts,
compare with thresholding and filter baselines on the same test units, and fit the guard.

The arrays-only flow is :func:`deepwise.kinds.segmentation.pipeline.segmentation_experiment`; this module is the
same flow behind the :class:`~deepwise.kinds.base.Prepared` interface, so checkpoints, resuming, early stopping,
reports and serving work as for every kind.

Example:
    >>> data = prepare_segmentation(Config(problem={"target": "label"}, data={"path": "cells/"}))
    >>> data.split_sizes(), data.prep.plan["depth"]
    ({'train': 40, 'validation': 10, 'test': 13}, 3)
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.errors import ConfigError, DataError
from deepwise.guard import OODGuard
from deepwise.inspection import Finding, Findings
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.segmentation.baselines import channel_stats, fit_baselines
from deepwise.kinds.segmentation.metrics import BASELINE_LABELS, compare_with_baselines, confusions, scores
from deepwise.kinds.segmentation.read import SegmentationData, read_segmentation_folder
from deepwise.kinds.segmentation.state import SegmentationPreprocessor, plan_dict
from deepwise.tasks import TaskSpec

SEGMENTATION = TaskSpec(
    name="segmentation",
    activation="softmax",
    loss="dice_cross_entropy",
    keras_metrics=(),
    main_metric="mean_iou",
    greater_is_better=True,
    why_output="a softmax over the classes at every pixel ([height, width, classes]); the mask is the likeliest class",
    why_loss="pixel cross-entropy plus 1 - soft Dice averaged over the classes present (the Dice term keeps a small "
    "class, a few nuclei on much background, from being drowned out)",
    why_metrics="IoU and Dice per class, mean IoU and pixel accuracy, from integer pixel counts over the test images "
    "(or cells); the verdict compares the foreground IoU (two classes) or the mean IoU with the best baseline by a "
    "paired bootstrap over the test units",
)
#: early stopping waits 10 epochs of 40 patch batches: the validation loss of a U-Net is noisy from epoch to epoch
#: (few validation cells); the pipeline's measurements on the nuclei image reached their best epoch after 20-50
SEGMENTATION_PATIENCE = 10
SEGMENTATION_LEARNING_RATE = 2e-3  # Adam at 2e-3 (the leaf measurements); used when the config keeps the default


def _verdict_metric(n_classes: int) -> str:
    return "foreground_iou" if n_classes == 2 else "mean_iou"


@dataclass
class SegmentationProblem(Problem):
    """The images and masks, how they are split, and the U-Net chosen for them."""

    data: SegmentationData | None = None
    split_text: str = ""
    plan: dict[str, Any] | None = None

    @property
    def output(self) -> str:
        return "segmentation"

    @property
    def inputs(self) -> list[str]:
        return []

    def describe_inputs(self) -> list[str]:
        d = self.data
        sizes = sorted({f"{im.shape[1]}x{im.shape[0]}" for im in d.images})
        shown = ", ".join(sizes[:4]) + (f" and {len(sizes) - 4} more sizes" if len(sizes) > 4 else "")
        lines = [
            f"Images: {len(d)} ({shown} pixels, {d.channels} channel(s)) paired with their masks by file name.",
            f"Classes: {', '.join(f'{n} (id {i})' for i, n in zip(d.legend.ids, d.legend.names, strict=True))}; "
            f"mask format: {d.mask_format}.",
        ]
        if self.split_text:
            lines.append(f"Split: {self.split_text}")
        return lines

    def explain(self) -> list[str]:
        task = SEGMENTATION
        lines = [f"Task: segmentation. {self.task_reason}", *self.describe_inputs()]
        if self.plan is not None:
            lines.append(f"Network: {self.plan['reason']}.")
        lines.append(f"Output layer: {task.why_output}.")
        lines.append(f"Loss: {task.why_loss}.")
        lines.append(
            f"Metrics: {task.why_metrics}. Baselines: background everywhere; an Otsu threshold fitted on the training "
            "images; per-pixel logistic regression on Gaussian, Sobel and Laplacian filters at 4 scales."
        )
        return lines + [f"Note: {n}" for n in self.notes]


def _check_config(config: Config) -> None:
    if config.model.type not in ("auto", "unet"):
        raise ConfigError(
            f"model.type '{config.model.type}' does not segment images.",
            expected="model.type: auto or unet (a U-Net sized to the images)",
            fix="set model.type: unet (or auto); its size is set in the segmentation section.",
        )
    if config.model.from_run:
        from deepwise.kinds.segmentation.transfer import check_transfer_config

        check_transfer_config(config.model)
    if config.training.distribution != "none":
        raise ConfigError(
            "training.distribution: data_parallel is not available for segmentation yet.",
            expected="training.distribution: none",
            fix="train on one process.",
        )
    if config.data.split.train_on_validation:
        raise ConfigError(
            "data.split.train_on_validation is not available for segmentation: the validation cells decide when "
            "training stops.",
            expected="data.split.train_on_validation: false",
            fix="drop train_on_validation.",
        )


def read_config_folder(config: Config) -> SegmentationData:
    """The images and masks of a config's folder, read and checked (errors name the files)."""
    path = Path(config.data.path)
    if not path.is_dir():
        raise DataError(
            f"'{path}' is not a folder; segmentation reads a folder holding images/ and masks/.",
            expected="FOLDER/images/<name>.png|tif and FOLDER/masks/<name>.png|tif, paired by name",
            fix="point data.path at the folder that holds images/ and masks/.",
        )
    s = config.segmentation
    legend = s.legend
    if legend and not Path(legend).is_absolute() and (path / legend).is_file():
        legend = str(path / legend)
    return read_segmentation_folder(path, legend=legend, mask_mode=s.mask_mode)


def formulate_segmentation(config: Config, data: SegmentationData | None = None) -> SegmentationProblem:
    """Read the folder and resolve the config: the task, the model type, the training defaults."""
    config = config.model_copy(deep=True)
    _check_config(config)
    data = data if data is not None else read_config_folder(config)
    if config.model.from_run:
        from deepwise.kinds.segmentation.transfer import earlier_segmentation_run

        earlier_segmentation_run(config.model.from_run, data.channels)  # the right kind, as many channels
    config.problem.task = "segmentation"
    config.model.type = "unet"
    if config.training.early_stopping.patience is None:
        config.training.early_stopping.patience = SEGMENTATION_PATIENCE
    if config.training.learning_rate == type(config.training).model_fields["learning_rate"].default:
        config.training.learning_rate = SEGMENTATION_LEARNING_RATE
    frame = pd.DataFrame(
        {
            "image": data.names,
            "height": [im.shape[0] for im in data.images],
            "width": [im.shape[1] for im in data.images],
        }
    )
    reason = (
        f"'{Path(config.data.path).name}' holds images/ and masks/ paired by name: a class for every pixel."
        if config.problem.task == "segmentation"
        else ""
    )
    return SegmentationProblem(config, frame, reason, [], list(data.notes), data=data)


def folder_fingerprint(data: SegmentationData, legend_source: str) -> str:
    """sha256 over the names and bytes of every image and mask file (and the legend file)."""
    digest = hashlib.sha256()
    files = [*data.image_paths, *data.mask_paths]
    if legend_source and Path(legend_source).is_file():
        files.append(legend_source)
    for name in files:
        digest.update(Path(name).name.encode())
        digest.update(hashlib.sha256(Path(name).read_bytes()).digest())
    return digest.hexdigest()


def prepare_segmentation(config: Config) -> SegmentationPrepared:
    """Read, split (by image, or spatially for fewer than 10 images), size the U-Net and its patches."""
    from deepwise.kinds.segmentation.pipeline import split_units
    from deepwise.kinds.segmentation.unet import UNetPlan, plan_unet

    problem = formulate_segmentation(config)
    cfg, data = problem.config, problem.data
    s = cfg.segmentation
    units = split_units(data.images, data.masks, seed=cfg.seed, cell_size=s.cell_size)
    if units.patch_limit < 32:
        raise DataError(
            f"The training images (or cells) of '{cfg.data.path}' are smaller than 32x32 pixels: too small to train "
            "a U-Net on.",
            expected="images of at least 32x32 pixels (a single image: at least about 100x100)",
            fix="use larger images, or fewer, larger tiles (segmentation.cell_size).",
        )
    plan = plan_unet(units.patch_limit, units.train_pixels)
    if cfg.model.from_run:
        from deepwise.kinds.segmentation.transfer import earlier_segmentation_run, transferred_plan

        earlier = earlier_segmentation_run(cfg.model.from_run, data.channels)
        plan = transferred_plan(earlier, plan, s.depth, s.base_filters)
    elif s.depth is not None or s.base_filters is not None:
        depth = s.depth or plan.depth
        if plan.patch % (2**depth):
            raise ConfigError(
                f"segmentation.depth {depth} halves the {plan.patch}-pixel training patches too often.",
                expected=f"a depth whose 2**depth divides {plan.patch}",
                fix="choose a smaller depth, or leave it null (sized to the patches).",
            )
        filters = s.base_filters or plan.base_filters
        plan = UNetPlan(depth, filters, plan.patch, plan.batch_size, plan.reason + f" (set: depth {depth}, {filters} "
                        "filters)")  # fmt: skip
    if cfg.training.batch_size is None:
        cfg.training.batch_size = plan.batch_size
    mean, std = channel_stats([p.reshape(-1, 1, p.shape[-1]) for p in units.training_pixels()])
    problem.split_text, problem.plan = units.description, plan_dict(plan)
    prep = SegmentationPreprocessor(
        legend=data.legend,
        channels=data.channels,
        plan=problem.plan,
        tile=s.tile,
        mean=[float(v) for v in mean],
        std=[float(v) for v in std],
        mask_format=data.mask_format,
    )
    n = {"train": len(units.train_images), "validation": len(units.validation_images), "test": len(units.test_images)}
    if min(n.values()) == 0:
        raise DataError(
            f"'{cfg.data.path}' could not be split into training, validation and test {units.unit}: {n}.",
            expected="10 images or more (split by image), or fewer, larger images (split spatially into cells)",
            fix="add images, or use larger ones.",
        )
    splits = {name: np.arange(count) for name, count in n.items()}
    y = {
        "train": np.asarray(units.train_masks + [None], dtype=object)[:-1],
        "validation": np.asarray(units.validation_masks + [None], dtype=object)[:-1],
        "test": np.asarray(units.test_masks + [None], dtype=object)[:-1],
    }
    fingerprint = folder_fingerprint(data, data.legend.source)
    return SegmentationPrepared(problem, SEGMENTATION, prep, splits, y, fingerprint, units=units)


@dataclass
class SegmentationPrepared(Prepared):
    """Images split into training sources (random patches), validation units and test units (images or cells)."""

    units: Any = None  # pipeline.SplitUnits
    extra: dict[str, Any] = field(default_factory=dict)
    _validation: tuple[np.ndarray, np.ndarray] | None = None
    _baselines: dict[str, Any] | None = None

    default_batch_size = 8
    #: the validation IoU (integer counts), not the loss: the loss keeps rising from overconfidence while the IoU
    #: still improves (the leaf measurements on the nuclei image)
    early_stopping_monitor = ("val_iou", "max")

    @property
    def class_names(self) -> list[str]:
        return self.prep.classes_

    @property
    def n_classes(self) -> int:
        return self.prep.n_classes

    @property
    def verdict_metric(self) -> str:
        return _verdict_metric(self.n_classes)

    # ---------------------------------------------------------------------------------------------- the network
    def loss(self):
        from deepwise.kinds.segmentation.unet import DiceCrossEntropy

        return DiceCrossEntropy(self.n_classes)

    def keras_metrics(self) -> list:
        return []

    def build_network(self):
        from deepwise.kinds.segmentation.unet import build_unet

        p = self.prep
        model = build_unet(
            p.channels,
            self.n_classes,
            p.depth,
            int(p.plan["base_filters"]),
            p.mean,
            [v * v for v in p.std],
            dropout=float(self.config.model.dropout or 0.0),
            seed=self.config.seed,
        )
        if self.config.model.from_run:
            from deepwise.kinds.segmentation.transfer import copy_encoder, freeze_encoder
            from deepwise.records import RunFiles

            copy_encoder(model, RunFiles(self.config.model.from_run).open_model())
            if self.config.model.freeze_base:
                freeze_encoder(model)
        return model

    def describe_network(self, model) -> str:
        plan, m = self.prep.plan, self.config.model
        text = (
            f"U-Net, depth {plan['depth']}, {plan['base_filters']} filters in the first level, trained on "
            f"{plan['patch']}x{plan['patch']} patches (flips and rotations), {self.config.segmentation.steps_per_epoch}"
            f" batches of {self.config.training.batch_size} an epoch"
        )
        if not m.from_run:
            return text
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        how = "fixed (only the decoder learns)" if m.freeze_base else "trained on with the decoder from its weights"
        return (
            f"{text}. Transfer learning from the earlier run '{m.from_run}': its encoder (the contracting path and "
            f"the bottleneck) starts from its learned weights and is {how}; the decoder and output layer start "
            f"fresh. Parameters: {model.count_params():,} in total, {trainable:,} trainable"
        )

    # --------------------------------------------------------------------------------------------- feeding Keras
    def steps_per_epoch(self, batch_size: int) -> int:
        return self.config.segmentation.steps_per_epoch

    def _patches(self):
        from deepwise.kinds.segmentation.pipeline import _sources_for
        from deepwise.kinds.segmentation.unet import PatchDataset

        return PatchDataset(
            _sources_for(self.units, int(self.prep.plan["patch"])),
            int(self.prep.plan["patch"]),
            int(self.config.training.batch_size),
            self.config.segmentation.steps_per_epoch,
            seed=self.config.seed,
            channel_std=self.prep.std,
        )

    def validation_pieces(self) -> tuple[np.ndarray, np.ndarray]:
        """The validation units cut into patch-sized pieces (padding left out of the loss), built once."""
        from deepwise.kinds.segmentation.unet import cover_patches

        if self._validation is None:
            patch, u = int(self.prep.plan["patch"]), self.units
            pieces = [
                cover_patches(x, m, patch, self.prep.mean)
                for x, m in zip(u.validation_images, u.validation_masks, strict=True)
            ]
            self._validation = (np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))
        return self._validation

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        """``model.fit`` on random training patches; ``val_iou`` (integer counts) is added to each epoch's logs
        before the loop's callbacks (early stopping on it, checkpoints) read them; the learning rate halves when it
        stalls for a third of the patience."""
        from deepwise.backend import keras_module
        from deepwise.kinds.segmentation.pipeline import ValidationIoU

        keras = keras_module()
        x_val, y_val = self.validation_pieces()
        data = self._patches()
        patience = self.config.training.early_stopping.patience or SEGMENTATION_PATIENCE
        rate = self.config.training.learning_rate
        halve = keras.callbacks.ReduceLROnPlateau(
            "val_iou", factor=0.5, patience=max(2, patience // 3), mode="max", min_lr=rate / 32
        )  # the learning rate halves when the validation IoU stalls
        data.epoch = initial_epoch  # batch i of epoch e depends on (seed, e, i): a resumed run draws what it would
        model.fit(
            data,
            validation_data=(x_val, y_val),
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=[ValidationIoU(x_val, y_val, self.n_classes), halve, *callbacks],
            verbose=0,
        )

    def predict(self, model, split: str) -> np.ndarray:
        """Class-index masks of a split's units (test cells cropped to the pixels they score), as an object array."""
        from deepwise.kinds.segmentation.pipeline import predict_units

        started = time.perf_counter()
        u = self.units
        images = {"train": u.train_images, "validation": u.validation_images, "test": u.test_images}[split]
        masks = predict_units(model, images, self.prep.depth, tile=self.prep.tile)
        if split == "test":
            masks = [u.crop_test(i, m) for i, m in enumerate(masks)]
        self.extra.setdefault("predict_seconds", {})[split] = round(time.perf_counter() - started, 3)
        return np.asarray([*masks, None], dtype=object)[:-1]

    def probe_batch(self, batch_size: int):
        x, y = self._patches()[0]
        return x[:batch_size], y[:batch_size]

    # --------------------------------------------------------------------------------------------- data checks
    def inspect(self) -> Findings:
        return segmentation_findings(self.problem.data, self.units, self.prep)

    def inspected_columns(self) -> list[str]:
        return []

    # ------------------------------------------------------------------------------------------ after training
    def confusions(self, split: str, output: np.ndarray) -> np.ndarray:
        return confusions(list(self.y[split]), list(output), self.n_classes)

    def score(self, split: str, output: np.ndarray) -> dict[str, Any]:
        """Mean IoU, foreground IoU, mean Dice, pixel accuracy, and IoU/Dice per class, from integer counts."""
        found = scores(self.confusions(split, output).sum(0), self.class_names)
        numbers = {k: found[k] for k in ("mean_iou", "foreground_iou", "mean_dice", "pixel_accuracy")}
        return {**numbers, "n": len(output), **{k: v for k, v in found.items() if k not in numbers}}

    def baseline_inputs(self) -> tuple[Any, np.ndarray, Any]:
        u = self.units
        return u.train_images, self.y["train"], u.test_images

    def fitted_baselines(self) -> dict[str, Any]:
        """The three baselines fitted on the training images (or cells), once."""
        if self._baselines is None:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                self._baselines = fit_baselines(
                    self.units.train_images, self.units.train_masks, self.n_classes, seed=self.config.seed
                )
        return self._baselines

    def baseline_masks(self, name: str) -> list[np.ndarray]:
        """One baseline's masks of the test units (cropped as the network's)."""
        u, baseline = self.units, self.fitted_baselines()[name]
        return [u.crop_test(i, baseline.predict(x)) for i, x in enumerate(u.test_images)]

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        """All-background, Otsu and filter logistic regression on the same test units; the paired-bootstrap verdict
        on the foreground IoU (two classes) or the mean IoU; per-unit scores for the report."""
        started = time.perf_counter()
        self.fitted_baselines()
        fit_seconds = time.perf_counter() - started
        base_confs = {name: self.confusions("test", self.baseline_masks(name)) for name in self._baselines}
        net = self.confusions("test", test_output)
        found = compare_with_baselines(
            net, base_confs, metric=self.verdict_metric, seed=self.config.seed, unit=self.units.unit
        )
        baselines = {
            name: {
                **self.score("test", np.asarray([*self.baseline_masks(name), None], dtype=object)[:-1]),
                "model": BASELINE_LABELS[name],
                "fit_seconds": round(fit_seconds, 3),
            }
            for name in base_confs
        }
        self.extra.update(self._test_extras(net, base_confs, history))
        return {"baselines": baselines, "verdict": found}

    def _test_extras(self, net: np.ndarray, base_confs: dict[str, np.ndarray], history: list[dict]) -> dict:
        from deepwise.kinds.segmentation.metrics import metric_value

        metric = self.verdict_metric
        per_unit = np.asarray(metric_value(net, metric), dtype=np.float64)
        order = np.argsort(np.where(np.isnan(per_unit), np.inf, per_unit), kind="stable")
        epochs = [float(row["seconds"]) for row in history if row.get("seconds")]
        u = self.units
        return {
            "split": u.description,
            "split_record": u.record,
            "unit": u.unit,
            "plan": self.prep.plan,
            "verdict_metric": metric,
            "classes": self.prep.legend.to_dict()["classes"],
            "notes": list(self.problem.notes),
            "test_units": {
                metric: [None if np.isnan(v) else round(float(v), 4) for v in per_unit],
                "baselines": {
                    name: [None if np.isnan(v) else round(float(v), 4) for v in np.atleast_1d(metric_value(c, metric))]
                    for name, c in base_confs.items()
                },
            },
            "worst_unit": int(order[0]),
            "best_unit": int(order[np.isfinite(per_unit[order])].nonzero()[0][-1]) if np.isfinite(per_unit).any()
            else int(order[-1]),
            "training_seconds": round(sum(epochs), 2),
            "pixels_per_epoch": int(self.config.segmentation.steps_per_epoch * self.config.training.batch_size
                                    * int(self.prep.plan["patch"]) ** 2),
        }  # fmt: skip

    def uncertainty(self, validation_output: np.ndarray, test_output: np.ndarray) -> dict[str, Any] | None:
        return None  # no conformal sets per pixel; the guard says when an image is unlike the training ones

    def fit_guard(self, model, validation_output: np.ndarray, test_output: np.ndarray) -> tuple[OODGuard, float]:
        """The SegmentationGuard (intensity statistics and the U-Net's bottleneck embedding) fitted on the training
        units and calibrated on the validation units; saved in guard.npz as an OODGuard record whose calibration
        holds its state."""
        from deepwise.kinds.segmentation.guard import SegmentationGuard

        rate = self.config.guard.false_alarm_rate
        u = self.units
        guard = SegmentationGuard(rate=rate).fit(u.train_images, u.validation_images, model=model,
                                                 multiple=self.prep.multiple)  # fmt: skip
        checks = [guard.check(x) for x in u.test_images]
        flagged = [c["ood"] for c in checks]
        test_rate = float(np.mean(flagged)) if flagged else 0.0
        validation_rate = float(np.mean([guard.check(x)["ood"] for x in u.validation_images]))
        record = OODGuard(rate=rate, k=guard.k, seed=self.config.seed)
        record.k_ = guard.k
        record.reference_ = np.zeros((0, 1), dtype=np.float32)
        record.threshold_ = 1.0
        record.calibration_ = {
            "false_alarm_rate_target": rate,
            "threshold": 1.0,
            "k": guard.k,
            "space": "intensity statistics per channel (mean, spread, percentiles, saturation, gradient) and the "
            "U-Net's bottleneck activations averaged over the image",
            "reference_rows": len(u.train_images),
            "calibration_rows": len(u.validation_images),
            "validation_flag_rate": validation_rate,
            "segmentation_guard": guard.to_dict(),
        }
        self.extra["guard"] = {
            "rate": test_rate,
            "n": len(flagged),
            "flagged": [{"unit": i, "reasons": c["reasons"]} for i, c in enumerate(checks) if c["ood"]][:10],
        }
        return record, test_rate

    def metrics_extra(self) -> dict[str, Any]:
        """metrics.json's ``segmentation``: split, plan, classes, per-unit scores, best and worst units, guard."""
        return {"segmentation": self.extra} if self.extra else {}


# ------------------------------------------------------------------------------------------------------ checks


def segmentation_findings(data: SegmentationData, units: Any, prep: SegmentationPreprocessor) -> Findings:
    """Step 3's checks: an overview, the class balance (pixels per class), classes missing from a split, and what
    was done to read the masks (0/255 remapped, instance masks, mixed images)."""
    counts = np.zeros(prep.n_classes, dtype=np.int64)
    for m in data.masks:
        counts += np.bincount(np.asarray(m).reshape(-1), minlength=prep.n_classes)[: prep.n_classes]
    share = counts / max(int(counts.sum()), 1)
    balance = ", ".join(f"{n} {s:.1%}" for n, s in zip(prep.classes_, share, strict=True))
    found = Findings(
        [
            Finding(
                "overview",
                "info",
                f"{len(data)} image(s) with masks, {int(counts.sum()):,} pixels; {units.description}",
                "",
                evidence={"images": len(data), "pixels": int(counts.sum())},
            ),
            Finding(
                "class_balance",
                "info" if share.min() >= 0.01 else "warning",
                f"Pixels per class: {balance}.",
                ""
                if share.min() >= 0.01
                else "A class under 1 % of the pixels is hard to learn and to measure: the "
                "per-class IoU says how it fares; the Dice term of the loss keeps it from being ignored.",
                evidence={"pixels": dict(zip(prep.classes_, counts.tolist(), strict=True))},
            ),
        ]
    )
    for split, masks in (("training", units.train_masks), ("test", units.test_masks)):
        present = np.zeros(prep.n_classes, dtype=bool)
        for m in masks:
            present |= np.bincount(np.asarray(m).reshape(-1), minlength=prep.n_classes)[: prep.n_classes] > 0
        missing = [n for n, p in zip(prep.classes_, present, strict=True) if not p]
        if missing:
            found.append(
                Finding(
                    f"class_missing_{split}",
                    "warning",
                    f"The {split} {units.unit if split == 'test' else 'units'} hold no pixel of: {', '.join(missing)}.",
                    "Add images with those classes; a class never trained on cannot be predicted, one never tested "
                    "has no test IoU.",
                )
            )
    found.extend(Finding("masks", "info", f"Masks: {note}", "") for note in data.notes)
    return found
