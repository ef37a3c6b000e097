"""Steps 1-6 for images from nothing (``problem.task: generate`` on a folder of class sub-folders, or images.npy +
labels.npy): read the images, split them, train a convolutional VAE, and measure its samples against simple
generators on the same real images.

Quality of ``generation.samples`` samples (1,000 by default), every generator scored the same way:
- a reference classifier (a small CNN) trained on the REAL training images only judges them: ``confident_share``
  (classified with confidence >= 0.9: the verdict's metric), ``classes_present``; ``real_confident_share`` is the
  same number on the split's real images (a perfect generator scores like them);
- ``precision``, ``recall``, ``density``, ``coverage`` (Naeem et al. 2020) of the samples against the split's real
  images in the classifier's embedding;
- memorisation: ``near_copies``, samples whose nearest training image (pixels, L2) is closer than 1/3 of their
  mean distance to their 50 nearest training images (``generation.near_copy_ratio``; Carlini et al. 2023): much
  closer to one training image than to the others; ``real_near_copies`` counts the same among the split's real
  images (what the rule flags in data that copies nothing).

Baselines: independent pixels (each pixel drawn from its own training values), a Gaussian on the training images'
first principal components, and a Gaussian mixture (one component per class) on them.

Example:
    >>> data = prepare_image_generation(Config(problem={"target": "label", "task": "generate"},
    ...                                        data={"path": "digits/"}))
    >>> data.x["train"].shape
    (3250, 28, 28, 1)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.data.images import describe, fingerprint_source, open_images
from deepwise.errors import DataError
from deepwise.guard import OODGuard
from deepwise.inspection import Finding, Findings
from deepwise.kinds.base import Problem
from deepwise.kinds.feeding import merged_splits
from deepwise.kinds.generation.synth_common import (
    IMAGINATION,
    GenerativeData,
    generation_verdict,
    generative_task,
    share_standard_error,
    split_positions,
)
from deepwise.kinds.generation.synth_table import DEFAULT_EPOCHS, check_generation_config

IMAGE_GENERATION = generative_task(
    "generate_images",
    "confident_share",
    True,
    "the share of samples a classifier trained on the real training images calls a class with confidence >= 0.9, "
    "and how many classes appear; precision, recall, density and coverage on its embedding; memorisation (each "
    "sample's distance to its nearest training image)",
)
MAX_SIDE = 64  # default image size at most this (the VAE's dense layers grow with the pixels)
PCA_COMPONENTS = 32
#: sampling temperature for images when generation.temperature is null (see README: measured on MNIST)
IMAGE_TEMPERATURE = 1.0
#: training.epochs when the config leaves its default: a VAE's loss keeps creeping down for hundreds of epochs while
#: its samples stop changing visibly; 30 epochs of 64 images a step (the batch size when it is automatic) is what the
#: MNIST bar measured (README)
IMAGE_EPOCHS = 30


@dataclass
class ImageGenerationProblem(Problem):
    images: Any = None

    @property
    def output(self) -> str:
        return "generate_images"

    @property
    def inputs(self) -> list[str]:
        return ["images"]

    def describe_inputs(self) -> list[str]:
        d = self.config.data
        return [f"Images: {len(self.images):,} in {self.frame['label'].nunique()} classes, resized to "
                f"{d.image_size[0]}x{d.image_size[1]} with {d.channels} channel(s)."]  # fmt: skip

    def explain(self) -> list[str]:
        g = self.config.generation
        return [
            f"Task: generate images. {self.task_reason}",
            *self.describe_inputs(),
            f"Network: a convolutional VAE (two stride-2 convolutions down to a {g.latent_dim}-number code, two "
            "transposed convolutions up), Bernoulli pixels; samples decode codes drawn from a standard normal.",
            f"Loss: {IMAGE_GENERATION.why_loss}.",
            f"Metrics: {IMAGE_GENERATION.why_metrics}. Baselines: independent pixels, a Gaussian and a Gaussian "
            "mixture on the training images' principal components.",
            f"Warning: {IMAGINATION}",
            *self.notes,
        ]


@dataclass
class ImageGenerationPreprocessor:
    """preprocessing.json of an images-from-nothing run: the image shape, the classes, the VAE's size."""

    image_shape: tuple[int, int, int]
    classes_: list[str]
    network: dict[str, Any]
    quality: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return ["images"]

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {"images": {"shape": [None, *self.image_shape], "dtype": "float32"}}

    def to_json(self) -> str:
        state = {"format": "deepwise.generate_images/1", "image_shape": list(self.image_shape),
                 "classes": self.classes_, "network": self.network, "quality": self.quality}  # fmt: skip
        return json.dumps(state, indent=1)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ImageGenerationPreprocessor:
        return cls(tuple(state["image_shape"]), list(state["classes"]), state["network"], state.get("quality") or {})


def _labelled(path: Path) -> bool:
    if path.suffix.lower() == ".npy":
        return path.with_name(path.name.replace("images", "labels")).is_file()
    if path.is_dir() and (path / "images.npy").is_file():
        return (path / "labels.npy").is_file()
    return path.is_dir() and any(d.is_dir() and not d.name.startswith(".") for d in path.iterdir())


def formulate_image_generation(config: Config) -> ImageGenerationProblem:
    config = config.model_copy(deep=True)
    check_generation_config(config)
    d = config.data
    path = Path(d.path)
    if path.exists() and not _labelled(path):
        raise DataError(
            f"'{path}' holds images without classes. deepwise measures generated images with a classifier trained on "
            "the real ones, so it needs their classes.",
            expected="a folder with one sub-folder per class (digits/0/*.png, digits/1/*.png, ...), or images.npy "
            "with labels.npy beside it",
            fix="sort the images into class folders (at least two classes).",
        )
    images = open_images(d.path, on_bad_files=d.on_bad_files, allow_outside=d.allow_outside_paths)
    notes: list[str] = []
    if images.skipped:
        notes.append(f"{len(images.skipped)} unreadable file(s) were skipped (data.on_bad_files: skip).")
    labels = [str(v) for v in images.labels]
    if len(set(labels)) < 2:
        raise DataError(
            f"'{path}' has images of a single class; the reference classifier needs two or more.",
            expected="one sub-folder per class, two or more classes",
            fix="add a folder of images for the other classes.",
        )
    if d.image_size is None or d.channels is None:
        stats = describe(images, max_files=300, seed=config.seed)
        if d.image_size is None:
            h, w = (min(MAX_SIDE, max(4, 4 * round(v / 4))) for v in stats["median_size"])
            d.image_size = [h, w]
            if list(stats["median_size"]) != [h, w]:
                notes.append(f"Resized to {h}x{w}: the VAE needs sides that are multiples of 4 (at most {MAX_SIDE} "
                             "by default; data.image_size sets it).")  # fmt: skip
        if d.channels is None:
            d.channels = 3 if stats["channels"].get("colour", 0) > stats["channels"].get("grayscale", 0) else 1
    config.model.type = "vae"
    config.data.split.test = config.data.split.test_fraction(False)
    if config.training.epochs == DEFAULT_EPOCHS:  # left at the config's default (a dump of a config sets every field)
        config.training.epochs = IMAGE_EPOCHS
    reason = (
        "Rule: problem.task is 'generate' and data.path is a folder of class sub-folders (or images.npy), so deepwise "
        "learns to generate new images like them; the classes train the reference classifier that judges samples."
    )
    import pandas as pd

    return ImageGenerationProblem(config, pd.DataFrame({"label": labels}), reason, notes=notes, images=images)


def prepare_image_generation(config: Config) -> ImageGenerationData:
    problem = formulate_image_generation(config)
    cfg = problem.config
    d = cfg.data
    h, w = d.image_size
    if h % 4 or w % 4:
        raise DataError(
            f"data.image_size {h}x{w}: the image VAE needs sides that are multiples of 4.",
            expected="e.g. 28x28, 32x32, 64x64",
            fix="set data.image_size to multiples of 4, or leave it null.",
        )
    images = problem.images
    three = split_positions(len(images), cfg.seed, d.split.validation, d.split.test)
    if min(len(v) for v in three.values()) < 6:
        raise DataError(
            f"{d.path} has {len(images)} images: too few for training, validation and test images.",
            expected="hundreds of images at least (thousands for a network)",
            fix="add images.",
        )
    splits = merged_splits(three, cfg)
    pixels = images.load(np.arange(len(images)), (h, w), d.channels).astype(np.float32) / 255.0
    classes = sorted(set(problem.frame["label"]))
    codes = problem.frame["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    g = cfg.generation
    network = {"latent_dim": g.latent_dim, "beta": g.beta, "temperature": g.temperature or IMAGE_TEMPERATURE,
               "samples": g.samples, "seed": cfg.seed + 1, "sampling": g.sampling}  # fmt: skip
    quality = {"near_copy_ratio": g.near_copy_ratio, "confidence": 0.9}
    prep = ImageGenerationPreprocessor((h, w, d.channels), classes, network, quality)
    x = {name: pixels[index] for name, index in splits.items()}
    y = {name: codes[index] for name, index in splits.items()}
    return ImageGenerationData(problem, IMAGE_GENERATION, prep, splits, y, fingerprint_source(images), x=x)


@dataclass
class ImageGenerationData(GenerativeData):
    """Images in [0, 1] split by image, their class codes in ``y`` (for the reference classifier only)."""

    _classifier: Any = None
    _model: Any = None  # the network whose samples were scored last (compare_with_baselines samples its prior too)
    #: larger steps train a conv VAE faster per image on a CPU (2 epochs of 3,500 digits: 212 s at 32 a step, 118 s
    #: at 128, on a busy 2-core machine)
    default_batch_size: ClassVar[int] = 64

    @property
    def n_rows(self) -> int:
        return len(self.problem.images)

    @property
    def n_classes(self) -> int:
        return len(self.prep.classes_)

    def steps_per_epoch(self, batch_size: int) -> int:
        return math.ceil(len(self.x["train"]) / batch_size)

    def build_network(self):
        from deepwise.kinds.generation.vae import build_image_vae

        n = self.prep.network
        return build_image_vae(self.prep.image_shape, latent_dim=n["latent_dim"], beta=n["beta"], seed=self.config.seed)

    def describe_network(self, model) -> str:
        return (f"convolutional VAE: {self.prep.image_shape} images -> a {self.prep.network['latent_dim']}-number "
                f"code and back, {model.count_params():,} parameters")  # fmt: skip

    def code_density(self, model) -> dict[str, Any] | None:
        """The mixture fitted to the training images' codes (``generation.sampling: mixture``; None: the prior),
        fitted once and kept in metrics.json so that ``deepwise generate`` draws from the same."""
        if self.prep.network.get("sampling", "prior") != "mixture":
            return None
        if "code_density" not in self.extra:
            from deepwise.kinds.generation.vae import encode_means, fit_code_density

            codes = encode_means(model, self.x["train"])
            self.extra["code_density"] = fit_code_density(codes, self.n_classes, seed=self.config.seed)
        return self.extra["code_density"]

    def predict(self, model, split: str) -> np.ndarray:
        """``generation.samples`` images decoded from seeded codes (the same samples every time)."""
        from deepwise.kinds.generation.vae import sample_images

        n = self.prep.network
        self._model = model
        return np.asarray(sample_images(model, n["samples"], seed=n["seed"], temperature=n["temperature"],
                                        density=self.code_density(model)))  # fmt: skip

    def classifier(self):
        """The reference classifier, trained once on the real training images (validation images stop it)."""
        if self._classifier is None:
            from deepwise.kinds.generation.quality import train_reference_classifier

            self._classifier = train_reference_classifier(
                self.x["train"], self.y["train"], self.x["validation"], self.y["validation"], self.n_classes,
                seed=self.config.seed,
            )  # fmt: skip
        return self._classifier

    def score(self, split: str, output: np.ndarray) -> dict[str, Any]:
        return image_quality(self.classifier(), self.x["train"], self.x[split], output, self.n_classes,
                             self.prep.quality["near_copy_ratio"])  # fmt: skip

    def inspect(self) -> Findings:
        counts = self.problem.frame["label"].value_counts()
        h, w, c = self.prep.image_shape
        findings = [Finding("overview", "info", f"{self.n_rows:,} images in {len(counts)} classes ({w}x{h}, {c} "
                            f"channel(s)); the smallest class has {int(counts.min())}.", "")]  # fmt: skip
        if self.n_rows < 1000:
            findings.append(Finding(
                "few_images", "warning",
                f"Only {self.n_rows} images: a VAE learns blurry averages from so few, and the quality measures are "
                "noisy.", "Collect more images; compare with the principal-component baselines."))  # fmt: skip
        return Findings(findings)

    def baseline_inputs(self):
        return self.x["train"], self.y["train"], self.x["test"]

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        from threadpoolctl import threadpool_limits

        n = len(test_output)
        with threadpool_limits(1):
            outputs = baseline_samples(self.x["train"], self.n_classes, n, self.config.seed)
        baselines = {name: {**self.score("test", out), "model": BASELINE_WORDS[name], "fit_seconds": 0.0}
                     for name, out in outputs.items()}  # fmt: skip
        network = self.score("test", test_output)
        found = generation_verdict(
            "confident_share", True,
            (network["confident_share"], share_standard_error(network["confident_share"], n)),
            {k: (v["confident_share"], share_standard_error(v["confident_share"], n)) for k, v in baselines.items()},
            n_train=len(self.splits["train"]), unit="images",
            note=f"Real test images score {network['real_confident_share']:.3f}; {network['classes_present']} of "
            f"{self.n_classes} classes appear among the VAE's confident samples; {network['near_copies']} of {n} "
            "samples are near-copies of a training image.",
        )  # fmt: skip
        self.extra.update({"warning": IMAGINATION, "near_copy_rule": network["near_copy_rule"]})
        if "code_density" in self.extra and self._model is not None:  # the same VAE decoding its N(0, I) prior's codes
            from deepwise.kinds.generation.quality import classifier_quality
            from deepwise.kinds.generation.vae import sample_images

            prior = sample_images(self._model, n, seed=self.prep.network["seed"], temperature=self.temperature)
            judged = classifier_quality(self.classifier(), prior, self.n_classes)
            self.extra["prior_sampling"] = {k: judged[k] for k in ("confident_share", "classes_present")}
        return {"baselines": baselines, "verdict": found}

    def fit_guard(self, model, validation_output, test_output) -> tuple[OODGuard, float]:
        """k-nearest-neighbour distance of the encoder's codes: new images unlike the training images are flagged
        by ``deepwise predict`` (where the VAE's typicality score means least)."""
        from deepwise.kinds.generation.vae import encode_means

        rate = self.config.guard.false_alarm_rate
        guard = OODGuard(rate=rate, seed=self.config.seed).fit_arrays(
            encode_means(model, self.x["train"]), encode_means(model, self.x["validation"]), conformal=True
        )
        guard.calibration_["space"] = "the VAE encoder's code means"
        return guard, float(np.mean(guard.score_arrays(encode_means(model, self.x["test"])) > 1.0))


BASELINE_WORDS = {
    "independent_pixels": "independent pixels: each pixel drawn from its own training values",
    "pca_gaussian": f"a Gaussian on the training images' first {PCA_COMPONENTS} principal components",
    "pca_mixture": f"a Gaussian mixture (one component per class) on the first {PCA_COMPONENTS} principal components",
}


def baseline_samples(train: np.ndarray, n_classes: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` samples of each simple image generator fitted on ``train`` (images in [0, 1]).

    Example:
        >>> {k: v.shape for k, v in baseline_samples(x_train, 10, 100, 0).items()}["pca_gaussian"]
        (100, 28, 28, 1)
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    shape = train.shape[1:]
    flat = train.reshape(len(train), -1).astype(np.float64)
    pixels = flat[rng.integers(0, len(flat), (n, flat.shape[1])), np.arange(flat.shape[1])]
    k = min(PCA_COMPONENTS, len(flat) - 1, flat.shape[1])
    pca = PCA(k, random_state=seed).fit(flat)
    codes = pca.transform(flat)
    gaussian = rng.multivariate_normal(codes.mean(axis=0), np.cov(codes, rowvar=False), size=n)
    mixture = GaussianMixture(min(n_classes, len(flat) // 5 or 1), random_state=seed).fit(codes)
    drawn = mixture.sample(n)[0][rng.permutation(n)]

    def images(values: np.ndarray) -> np.ndarray:
        return np.clip(values, 0, 1).reshape(n, *shape).astype(np.float32)

    return {
        "independent_pixels": images(pixels),
        "pca_gaussian": images(pca.inverse_transform(gaussian)),
        "pca_mixture": images(pca.inverse_transform(drawn)),
    }


def image_quality(
    classifier, train: np.ndarray, real: np.ndarray, samples: np.ndarray, n_classes: int, near_copy_ratio: float
) -> dict[str, Any]:
    """Every quality measure of generated images (see the module docstring); ``real``: the held-out real images."""
    from deepwise.kinds.generation.quality import classifier_quality, embed, memorisation, prdc

    judged = classifier_quality(classifier, samples, n_classes)
    reference = classifier_quality(classifier, real, n_classes)
    k = max(1, min(5, len(real) - 1, len(samples) - 1))
    variety = prdc(embed(classifier, real), embed(classifier, samples), k=k)
    copies = memorisation(samples, train, real, ratio=near_copy_ratio)
    return {
        "confident_share": judged["confident_share"],
        "classes_present": judged["classes_present"],
        "mean_confidence": judged["mean_confidence"],
        "real_confident_share": reference["confident_share"],
        "confident_per_class": judged["confident_per_class"],
        "precision": variety["precision"],
        "recall": variety["recall"],
        "density": variety["density"],
        "coverage": variety["coverage"],
        "near_copies": copies["near_copies"],
        "near_copy_share": copies["near_copy_share"],
        "real_near_copies": copies["real_heldout_near_copies"],
        "nearest_ratio_min": copies["sample_ratio_min"],
        "real_nearest_ratio_min": copies["real_ratio_min"],
        "nearest_training_median": float(np.median(copies["sample_nn_distance"])),
        "real_nearest_training_median": copies["real_nn_quantiles"]["0.5"],
        "near_copy_rule": copies["threshold_rule"],
        "n": int(len(samples)),
    }
