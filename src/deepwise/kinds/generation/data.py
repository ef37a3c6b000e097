"""Steps 1-6 for image-to-image pairs: read them (``inputs/`` and ``targets/`` matched by name), split by image, feed
a U-Net or convolutional autoencoder, score PSNR and SSIM, compare with classical filters on the same test images,
look for a fixed filter that reproduces the targets, and fit the guard.

Example:
    >>> data = prepare_enhancement(Config(problem={"target": "label"}, data={"path": "denoise/"}))
    >>> data.split_sizes(), data.x["train"].shape
    ({'train': 3400, 'validation': 600, 'test': 1000}, (3400, 28, 28, 1))
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.config import Config
from deepwise.errors import ConfigError, DataError
from deepwise.guard import OODGuard
from deepwise.inspection import Finding, Findings
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import merged_splits
from deepwise.kinds.generation import MODEL_TYPES
from deepwise.kinds.generation.baselines import baseline_outputs, fit_baselines
from deepwise.kinds.generation.filters import find_fixed_filter
from deepwise.kinds.generation.guard import ImageGuard, fit_image_guard
from deepwise.kinds.generation.image2image import (
    build_autoencoder,
    build_unet,
    default_depth,
    enhance,
    pad_to_multiple,
)
from deepwise.kinds.generation.metrics import image_verdict, psnr_per_image, ssim_per_image
from deepwise.kinds.generation.read import ImagePairs, pair_files, read_pairs
from deepwise.tasks import TaskSpec

IMAGE_TO_IMAGE = TaskSpec(
    name="image_to_image",
    activation="sigmoid",
    loss="binary_crossentropy",
    keras_metrics=("mse",),
    main_metric="psnr",
    greater_is_better=True,
    why_output="one value in [0, 1] per target pixel and channel (a sigmoid): the enhanced image",
    why_loss="per-pixel binary cross-entropy against the target pixels (enhancement.loss: mse or mae instead)",
    why_metrics="PSNR (peak signal-to-noise ratio in dB, the verdict's metric, averaged over test images) and SSIM "
    "(structural similarity, scikit-image), every method scored on the same test images",
)
#: written into every report, model card and output image's mark: the lesson's warning
WARNING = (
    "A statistical imagination, not a recreation: the network outputs what images like its training targets "
    "usually look like. Detail it adds may never have been in the input, and far from its training images it "
    "invents most."
)
EXAMPLES = 3  # best and worst test images kept for the report
MAX_GUARD_INPUTS = 2000


def check_enhancement_config(config: Config) -> None:
    """Refuse the settings this kind cannot honour, with what to do instead."""
    if config.model.type not in MODEL_TYPES:
        raise ConfigError(
            f"model.type '{config.model.type}' does not map images to images.",
            expected="model.type: auto (the network is chosen by enhancement.network: unet or autoencoder)",
            fix="set model.type: auto and choose the network with enhancement.network.",
        )
    if config.training.distribution != "none":
        raise ConfigError(
            "training.distribution: data_parallel is not available for image-to-image runs yet.",
            expected="training.distribution: none",
            fix="train on one process.",
        )


def fingerprint_pairs(folder: str | Path) -> str:
    """sha256 over every paired file's name and bytes: identifies the exact pairs a run was trained on (a copy of
    the folder elsewhere has the same fingerprint)."""
    digest = hashlib.sha256()
    for stem, source, target in pair_files(folder):
        for path in (source, target):
            digest.update(f"{stem}\0{path.parent.name}/{path.name}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class EnhancementProblem(Problem):
    """Image pairs and the choices made for them."""

    pairs: ImagePairs | None = None

    @property
    def output(self) -> str:
        return "image_to_image"

    @property
    def inputs(self) -> list[str]:
        return ["inputs"]

    def describe_inputs(self) -> list[str]:
        p = self.pairs
        (h, w, c), (th, tw, tc) = p.inputs.shape[1:], p.targets.shape[1:]
        return [
            f"Pairs: {len(p.names):,} images from {self.config.data.path}: inputs {w}x{h}x{c} -> targets "
            f"{tw}x{th}x{tc} (matched by file name); split by image, so no image is on two sides."
        ]

    def explain(self) -> list[str]:
        e = self.config.enhancement
        net = "U-Net (skip connections)" if e.network == "unet" else "convolutional autoencoder (no skips)"
        return [
            f"Task: image to image. {self.task_reason}",
            *self.describe_inputs(),
            f"Network: {net}, {e.base_filters} filters doubling over {e.depth} levels; fully convolutional.",
            f"Output layer: {IMAGE_TO_IMAGE.why_output}.",
            f"Loss: per-pixel {e.loss}.",
            f"Metrics: {IMAGE_TO_IMAGE.why_metrics}. Baselines: the input unchanged, Gaussian, median and non-local "
            "means filters (bicubic upscaling for larger targets, mean chroma for colourising); a fixed filter "
            "fitted to the pairs (a kernel, a point-wise curve, a quantization) is checked first.",
            f"Warning: {WARNING}",
            *self.notes,
        ]


@dataclass
class EnhancementPreprocessor:
    """The JSON state of an image-to-image run (preprocessing.json): shapes, network and baseline parameters."""

    input_shape: tuple[int, int, int]
    target_shape: tuple[int, int, int]
    network: dict[str, Any]
    baselines: dict[str, Any] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    classes_: list[Any] = field(default_factory=list)
    target_stats_: Any = None

    @property
    def upscale(self) -> int:
        return int(self.target_shape[0] // self.input_shape[0])

    @property
    def input_channels(self) -> int:
        return int(self.input_shape[2])

    @property
    def output_channels(self) -> int:
        return int(self.target_shape[2])

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {"inputs": {"shape": [None, None, self.input_channels], "dtype": "float32"}}

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "deepwise.image_to_image/1",
                "input_shape": list(self.input_shape),
                "target_shape": list(self.target_shape),
                "network": self.network,
                "baselines": self.baselines,
            },
            indent=1,
        )

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> EnhancementPreprocessor:
        return cls(
            input_shape=tuple(state["input_shape"]),
            target_shape=tuple(state["target_shape"]),
            network=state["network"],
            baselines=state.get("baselines") or {},
        )


def formulate_enhancement(config: Config) -> EnhancementProblem:
    """Read the pairs and resolve the config (task, network depth, split fractions)."""
    config = config.model_copy(deep=True)
    check_enhancement_config(config)
    path = Path(config.data.path)
    if not path.is_dir():
        raise DataError(
            f"The image-to-image data '{path}' does not exist or is not a folder.",
            expected="a folder with inputs/ and targets/ holding images matched by file name",
            fix="check the path.",
        )
    pairs = read_pairs(path)
    h, w = pairs.inputs.shape[1:3]
    if config.enhancement.depth is None:
        config.enhancement.depth = default_depth(h, w)
    if config.model.type == "auto":
        config.model.type = "unet" if config.enhancement.network == "unet" else "auto"
    config.data.split.test = config.data.split.test_fraction(False)
    config.problem.target = "targets"  # what is predicted: the images in targets/
    reason = "The folder holds inputs/ and targets/ with images matched by name: each input is mapped to its target."
    return EnhancementProblem(config, None, reason, pairs=pairs)


def split_images(n: int, seed: int, validation: float, test: float) -> dict[str, np.ndarray]:
    """Positions of the train, validation and test images (a seeded permutation).

    Example:
        >>> {k: len(v) for k, v in split_images(100, 0, 0.15, 0.2).items()}
        {'train': 65, 'validation': 15, 'test': 20}
    """
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(test * n)), int(round(validation * n))
    return {
        "train": np.sort(order[n_test + n_val :]),
        "validation": np.sort(order[n_test : n_test + n_val]),
        "test": np.sort(order[:n_test]),
    }


def prepare_enhancement(config: Config) -> EnhancementData:
    """Read, split by image and pad the training arrays to the network's multiple."""
    problem = formulate_enhancement(config)
    cfg, pairs = problem.config, problem.pairs
    split = cfg.data.split
    three = split_images(len(pairs.names), cfg.seed, split.validation, split.test)
    if min(len(v) for v in three.values()) < 2:
        raise DataError(
            f"{cfg.data.path} has {len(pairs.names)} image pairs: too few to split into training, validation and "
            "test images.",
            expected="dozens of pairs at least (thousands for a network to learn)",
            fix="add image pairs.",
        )
    splits = merged_splits(three, cfg)
    e = cfg.enhancement
    network = {"network": e.network, "base_filters": e.base_filters, "depth": int(e.depth), "loss": e.loss}
    prep = EnhancementPreprocessor(
        input_shape=tuple(int(v) for v in pairs.inputs.shape[1:]),
        target_shape=tuple(int(v) for v in pairs.targets.shape[1:]),
        network=network,
    )
    x = {name: pairs.inputs[index] for name, index in splits.items()}
    y = {name: pairs.targets[index] for name, index in splits.items()}
    names = {name: [pairs.names[i] for i in index] for name, index in splits.items()}
    fp = fingerprint_pairs(cfg.data.path)
    return EnhancementData(problem, IMAGE_TO_IMAGE, prep, splits, y, fp, x=x, names=names, guard_split=three["train"])


@dataclass
class EnhancementData(Prepared):
    """Image pairs split by image, in memory as float32 in [0, 1]."""

    x: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    guard_split: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    per_image: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.problem.pairs.names)

    @property
    def multiple(self) -> int:
        return 2 ** int(self.prep.network["depth"])

    def _padded(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        x, _ = pad_to_multiple(self.x[split], self.multiple)
        y, _ = pad_to_multiple(self.y[split], self.multiple * self.prep.upscale)
        return x, y

    # ---------------------------------------------------------------------------------------------- the network
    def loss(self) -> Any:
        return self.prep.network["loss"]

    def keras_metrics(self) -> list:
        return ["mse"]

    def build_network(self):
        n = self.prep.network
        build = build_unet if n["network"] == "unet" else build_autoencoder
        return build(
            self.prep.input_channels,
            self.prep.output_channels,
            base_filters=n["base_filters"],
            depth=n["depth"],
            upscale=self.prep.upscale,
            seed=self.config.seed,
        )

    def describe_network(self, model) -> str:
        n = self.prep.network
        kind = "U-Net" if n["network"] == "unet" else "convolutional autoencoder"
        return f"{kind}, {n['depth']} levels from {n['base_filters']} filters, {model.count_params():,} parameters"

    # --------------------------------------------------------------------------------------------- feeding Keras
    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        x, y = self._padded("train")
        xv, yv = self._padded("validation")
        model.fit(
            x,
            y,
            validation_data=(xv, yv),
            batch_size=self.config.training.batch_size,
            shuffle=True,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
        )

    def predict(self, model, split: str) -> np.ndarray:
        """The network's output images for a split (n, height, width, channels) in [0, 1]."""
        return enhance(model, self.x[split])

    def probe_batch(self, batch_size: int):
        x, y = self._padded("train")
        return x[:batch_size], y[:batch_size]

    # --------------------------------------------------------------------------------------------- data checks
    def inspect(self) -> Findings:
        p = self.problem.pairs
        (h, w, c), (th, tw, tc) = p.inputs.shape[1:], p.targets.shape[1:]
        findings = [
            Finding(
                "overview",
                "info",
                f"{len(p.names):,} image pairs: inputs {w}x{h}, {c} channel(s); targets {tw}x{th}, {tc} channel(s).",
                "",
            )
        ]
        if (h, w) == (th, tw) and c == tc:
            same = float(psnr_per_image(p.inputs, p.targets).mean())
            findings.append(
                Finding(
                    "input_target_gap",
                    "info",
                    f"The inputs differ from their targets by {same:.1f} dB PSNR on average (100 dB: identical).",
                    "",
                )
            )
        if len(p.names) < 200:
            findings.append(
                Finding(
                    "few_pairs",
                    "warning",
                    f"Only {len(p.names)} image pairs: a network rarely learns an image mapping from so few.",
                    "Collect more pairs, or compare with the classical filters the report lists.",
                )
            )
        return Findings(findings)

    def inspected_columns(self) -> list[str]:
        return []

    # ------------------------------------------------------------------------------------------ after training
    def score(self, split: str, output: np.ndarray) -> dict[str, Any]:
        """Mean PSNR (dB) and SSIM over the split's images."""
        return image_scores(output, self.y[split])

    def baseline_inputs(self) -> tuple[Any, np.ndarray, Any]:
        return self.x["train"], self.y["train"], self.x["test"]

    def generalization_gap(self, history: list[dict], best_epoch: int) -> dict[str, Any] | None:
        return None

    def find_filter(self) -> dict[str, Any] | None:
        """The fixed-filter finder, fitted on training pairs and scored on validation pairs (None for
        super-resolution, where it does not apply)."""
        if self.prep.upscale != 1:
            return None
        found = find_fixed_filter(
            self.x["train"],
            self.y["train"],
            self.x["validation"],
            self.y["validation"],
            threshold_db=self.config.enhancement.filter_threshold_db,
            seed=self.config.seed,
        )
        return found.to_json()

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        """Classical filters (parameters chosen on training pairs) on the same test images, the fixed-filter finder,
        and the verdict from the bootstrap over test images."""
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        with threadpool_limits(1):
            params = fit_baselines(self.x["train"], self.y["train"], seed=self.config.seed)
            outputs = baseline_outputs(params, self.x["test"], self.y["test"].shape[1:])
        seconds = time.perf_counter() - started
        with threadpool_limits(1):
            finding = self.find_filter()
        baselines = {
            name: {**image_scores(out, self.y["test"]), "model": describe_baseline(name, params[name]),
                   "fit_seconds": round(seconds / len(outputs), 3)}
            for name, out in outputs.items()
        }  # fmt: skip
        if finding is not None and finding["reproduces_targets"]:
            from deepwise.kinds.generation.filters import apply_filter

            filtered = apply_filter(finding["params"], self.x["test"])
            baselines["fixed_filter"] = {**image_scores(filtered, self.y["test"]), "model": finding["name"],
                                         "fit_seconds": 0.0}  # fmt: skip
        summary = None if finding is None else {k: v for k, v in finding.items() if k != "params"}
        if summary is not None:
            summary["candidates"] = summary["candidates"][:10]
        found = image_verdict(
            self.y["test"], test_output, outputs, n_train=len(self.splits["train"]), fixed_filter=summary,
            seed=self.config.seed,
        )  # fmt: skip
        network = psnr_per_image(test_output, self.y["test"])
        best = found["evidence"]["best_baseline"]
        self.per_image = {"network": network, "best_baseline": psnr_per_image(outputs[best], self.y["test"])}
        order = np.argsort(network, kind="stable")
        self.extra.update(
            {
                "warning": WARNING,
                "baseline_params": params,
                "fixed_filter": finding,
                "best_baseline": best,
                "best": self._examples(order[::-1][:EXAMPLES], best),
                "worst": self._examples(order[:EXAMPLES], best),
            }
        )
        return {"baselines": baselines, "verdict": found}

    def _examples(self, index: np.ndarray, best: str) -> list[dict[str, Any]]:
        return [
            {
                "name": self.names["test"][i],
                "position": int(i),
                "psnr": round(float(self.per_image["network"][i]), 3),
                "baseline_psnr": round(float(self.per_image["best_baseline"][i]), 3),
            }
            for i in index
        ]

    def uncertainty(self, validation_output: np.ndarray, test_output: np.ndarray) -> dict[str, Any] | None:
        return None  # no conformal sets for images; the guard says where not to trust the output

    def fit_guard(self, model, validation_output: np.ndarray, test_output: np.ndarray) -> tuple[OODGuard, float]:
        """The image guard (shrunk image, brightness, contrast, edges; 5 nearest training inputs), saved in
        guard.npz as an OODGuard record; test images it flags are kept as the report's "imagined" examples."""
        rate = self.config.guard.false_alarm_rate
        train = self.problem.pairs.inputs[self.guard_split]
        if len(train) > MAX_GUARD_INPUTS:
            keep = np.sort(np.random.default_rng(self.config.seed).choice(len(train), MAX_GUARD_INPUTS, replace=False))
            train = train[keep]
        guard = fit_image_guard(train, quantile=1.0 - rate, seed=self.config.seed)
        record = guard_record(guard, rate, self.config.seed, len(train))
        record.calibration_["validation_flag_rate"] = float(guard.flag(self.x["validation"]).mean())
        test_flags = guard.flag(self.x["test"])
        self.extra["guard"] = {"test_flagged": int(test_flags.sum()), "test_images": int(len(test_flags))}
        if test_flags.any() and self.per_image:
            flagged = np.flatnonzero(test_flags)
            self.extra["imagined"] = {
                "flagged_test_images": [self.names["test"][i] for i in flagged[:10]],
                "network_psnr": round(float(self.per_image["network"][flagged].mean()), 3),
                "baseline_psnr": round(float(self.per_image["best_baseline"][flagged].mean()), 3),
                "baseline": self.extra.get("best_baseline"),
                "examples": self._examples(flagged[:EXAMPLES], self.extra.get("best_baseline", "")),
            }
        return record, float(test_flags.mean())

    def metrics_extra(self) -> dict[str, Any]:
        return {"image_to_image": self.extra} if self.extra else {}


def image_scores(outputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM over images, and how many.

    Example:
        >>> image_scores(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1))["psnr"]
        20.0
    """
    return {
        "psnr": float(psnr_per_image(outputs, targets).mean()),
        "ssim": float(ssim_per_image(outputs, targets).mean()),
        "n": int(len(targets)),
    }


BASELINE_WORDS = {
    "identity": "the input unchanged",
    "bicubic": "bicubic upscaling",
    "mean_chroma": "the input's lightness with the training targets' mean colour",
}


def describe_baseline(name: str, params: dict[str, Any]) -> str:
    """A baseline's parameter chosen on the training pairs, in words: '3x3 window, chosen on training pairs'.

    Example:
        >>> describe_baseline("gaussian", {"sigma": 1.0})
        'sigma 1.0, chosen on training pairs'
    """
    if name == "gaussian":
        return f"sigma {params['sigma']}, chosen on training pairs"
    if name == "median":
        return f"{params['size']}x{params['size']} window, chosen on training pairs"
    if name == "non_local_means":
        return f"strength {params['strength']} x the image's noise estimate, chosen on training pairs (scikit-image)"
    return BASELINE_WORDS.get(name, name)


def guard_record(guard: ImageGuard, rate: float, seed: int, n_reference: int) -> OODGuard:
    """The ImageGuard as the OODGuard record guard.npz holds: its reference points as the record's, the rest in
    the calibration (plain JSON)."""
    record = OODGuard(rate=rate, k=guard.k, seed=seed)
    record.k_ = guard.k
    record.reference_ = np.asarray(guard.reference, dtype=np.float64)
    record.threshold_ = float(guard.threshold)
    record.calibration_ = {
        "false_alarm_rate_target": rate,
        "threshold": float(guard.threshold),
        "k": guard.k,
        "space": "each input image shrunk to 8x8 per channel, its brightness, contrast and edge strength, "
        "standardised on training inputs and projected on their 16 main directions (PCA); mean distance to the 5 "
        "nearest training inputs",
        "reference_rows": int(n_reference),
        "calibration_rows": int(max(5, int(0.2 * n_reference))),
        "image_guard": {
            "mean": guard.mean.tolist(),
            "scale": guard.scale.tolist(),
            "components": guard.components.tolist(),
        },
    }
    return record


def image_guard_of(record: OODGuard | None) -> ImageGuard | None:
    """The ImageGuard inside a run's guard.npz (None when the run has no image guard)."""
    if record is None or "image_guard" not in (record.calibration_ or {}):
        return None
    state = record.calibration_["image_guard"]
    return ImageGuard(
        mean=np.asarray(state["mean"]),
        scale=np.asarray(state["scale"]),
        components=np.asarray(state["components"]),
        reference=np.asarray(record.reference_),
        threshold=float(record.calibration_["threshold"]),
        k=int(record.calibration_["k"]),
    )
