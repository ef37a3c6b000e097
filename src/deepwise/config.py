"""The deepwise config (``deepwise.yaml``): pydantic models, loading, and writing with comments.

Every option has a default, so the smallest config is two lines::

    problem: {target: species}
    data: {path: penguins.csv}

Example:
    >>> cfg = load_config("deepwise.yaml")
    >>> cfg.training.epochs
    200
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deepwise.errors import ConfigError

Task = Literal["auto", "binary", "multiclass", "regression", "forecasting", "translation", "segmentation", "generate"]
Output = Literal["auto", "binary", "multiclass", "regression"]
MAX_IMAGE_SIDE = 4096
MAX_CONFIG_VALUES = 100_000  # a YAML alias bomb ("billion laughs") expands far beyond this
MAX_CONFIG_BYTES = 10 << 20


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProblemConfig(_Section):
    target: str = Field(description="the column to predict")
    task: Task = Field(
        "auto",
        description="binary | multiclass | regression | forecasting (rows are a time series) | translation (a text "
        "column into another) | segmentation (a class per pixel: a folder of images/ and masks/) | generate (new data "
        "like the data: images from a folder of images, rows from a table; problem.target is the column or label "
        "the quality checks classify), or auto: inferred",
    )
    output: Output = Field(
        "auto", description="forecasting only: what is forecast (regression | binary | multiclass | auto)"
    )
    horizon: int = Field(1, ge=1, description="forecasting only: how many steps (rows) ahead to predict")
    window: int = Field(1, ge=1, description="forecasting only: how many past steps the model sees (1 = the last)")


class SplitConfig(_Section):
    validation: float = Field(
        0.15, gt=0, lt=0.5, description="fraction of rows for validation (early stopping, model choice)"
    )
    test: float | None = Field(
        None,
        gt=0,
        lt=0.5,
        description="fraction of rows held out for the one final test measurement (null = 0.2; 0.15 forecasting)",
    )
    stratify: bool = Field(True, description="keep class proportions equal across splits (classification)")
    chronological: bool | None = Field(
        None,
        description="tables: split in time order (oldest rows train, newest test) instead of at random; null = "
        "chronological when the rows carry dates (data.time_column, or a column that looks like one)",
    )
    column: str | None = Field(
        None,
        description="tables: a column that names each row's split ('train', 'validation' or 'test'), e.g. to "
        "reproduce a published split or keep a fixed test set; it is not an input, and it overrides the fractions",
    )
    train_on_validation: bool = Field(
        False,
        description="a final refit: train on the training and validation rows together for exactly "
        "training.epochs (no early stopping); validation scores are then not held out",
    )

    def test_fraction(self, forecasting: bool) -> float:
        return self.test if self.test is not None else (0.15 if forecasting else 0.2)


class AugmentationConfig(_Section):
    flip: bool = Field(False, description="random horizontal flips")
    rotation: float = Field(0.0, ge=0, le=0.5, description="random rotation, as a fraction of a full turn")
    zoom: float = Field(0.0, ge=0, lt=1, description="random zoom in/out by up to this fraction")
    contrast: float = Field(0.0, ge=0, lt=1, description="random contrast change by up to this fraction")
    translation: float = Field(0.0, ge=0, lt=1, description="random shift by up to this fraction of the size")

    @property
    def enabled(self) -> bool:
        return bool(self.flip or self.rotation or self.zoom or self.contrast or self.translation)


class DataConfig(_Section):
    path: str = Field(
        description="a table (CSV/TSV/Parquet), a folder of class sub-folders of images, or images.npy; relative "
        "paths are relative to this config file"
    )
    inputs: list[str] | None = Field(
        None, description="input columns; null = every column except the target and the excluded ones"
    )
    categorical: list[str] | None = Field(
        None, description="inputs to treat as categories; null = the text and true/false columns"
    )
    exclude: list[str] = Field(default_factory=list, description="columns never used as inputs")
    na_values: list[str] = Field(
        default_factory=list, description="extra strings that mean 'missing' (e.g. '?', 'n/a')"
    )
    split: SplitConfig = Field(
        default_factory=SplitConfig,
        description="train / validation / test split (chronological for forecasting: oldest rows train)",
    )
    time_column: str | None = Field(
        None,
        description="the column with dates or an ordered index: a series' time axis (null = the row order), or "
        "the order of a table's chronological split (null = the column that looks like dates, if any)",
    )
    season_length: int | None = Field(
        None, ge=2, description="forecasting: steps in one season for seasonal persistence (null = detect)"
    )
    calendar_features: bool = Field(
        True, description="forecasting with dates: add day-of-year and day-of-week as cyclic inputs"
    )
    image_column: str | None = Field(None, description="images listed in a CSV: the column of image file paths")
    image_size: list[int] | None = Field(
        None, description="images: [height, width] the images are resized to (null = the median size)"
    )
    channels: Literal[1, 3] | None = Field(None, description="images: 1 (grayscale) or 3 (colour); null = the majority")

    @field_validator("path")
    @classmethod
    def _plain_path(cls, path: str) -> str:
        if not path.strip():
            raise ValueError("the path is empty")
        if "\x00" in path:
            raise ValueError("the path contains a NUL character")
        return path

    @field_validator("image_size")
    @classmethod
    def _image_size(cls, size: list[int] | None) -> list[int] | None:
        if size is not None and (len(size) != 2 or not all(1 <= v <= MAX_IMAGE_SIDE for v in size)):
            raise ValueError(f"expected [height, width], two whole numbers from 1 to {MAX_IMAGE_SIDE}")
        return size

    on_bad_files: Literal["error", "skip"] = Field(
        "error", description="images: unreadable files stop training (error) or are left out with a warning"
    )
    allow_outside_paths: bool = Field(
        False,
        description="images: also read files outside the data folder (symlinks in a class folder, absolute or "
        "'../' paths in a CSV of paths); only for data you trust",
    )
    in_memory: bool | None = Field(
        None,
        description="load all data into memory (fast) or stream it from disk in chunks (tables: CSV, Parquet or a "
        "folder of Parquet files; images); null = memory when it fits (images: 1 GB; tables: about 768 MB and a "
        "quarter of the free memory)",
    )
    augmentation: AugmentationConfig = Field(
        default_factory=AugmentationConfig, description="images: random changes to training batches only"
    )


class ModelConfig(_Section):
    type: Literal[
        "auto", "mlp", "conv1d", "lstm", "gru", "cnn", "pretrained", "pooling", "transformer", "unet", "vae"
    ] = Field(
        "auto",
        description="mlp (dense layers) | conv1d | lstm | gru (forecasting windows) | cnn | pretrained (images); "
        "text: pooling (embeddings averaged) | conv1d | transformer | pretrained (a sentence encoder); unet "
        "(segmentation); vae (problem.task: generate); auto = mlp, cnn for images, pooling for text, unet for "
        "segmentation, vae to generate",
    )
    conv_filters: list[int] | None = Field(
        None,
        description="cnn: filters of each conv block (3x3 conv, max-pool); null = [32, 64] for images up to 16 "
        "pixels, [16, 32, 64] above",
    )
    pooling: Literal["average", "max", "flatten"] | None = Field(
        None,
        description="cnn: how the last conv block becomes a vector: global average | global max pooling, or "
        "flatten (keeps where in the image each feature is; more weights); null = flatten for images up to 16 "
        "pixels, average above",
    )
    base: str = Field("MobileNetV2", description="pretrained: any keras.applications model, e.g. EfficientNetB0")
    weights: str | None = Field(
        "imagenet", description="pretrained: imagenet (downloaded by Keras), a local weights file, or null (random)"
    )
    from_run: str | None = Field(
        None,
        description="transfer learning from an earlier deepwise run's network: an image run's CNN (images), a "
        "segmentation run's U-Net encoder (segmentation)",
    )
    freeze_base: bool | None = Field(
        None,
        description="transfer: true = the reused layers stay fixed and only a new head trains (then fine_tune_layers, "
        "if set); false = every layer trains on from the reused weights at training.learning_rate; null = false for "
        "a model.from_run CNN without fine_tune_layers, true otherwise (keras.applications bases)",
    )
    fine_tune_layers: int = Field(0, ge=0, description="transfer: unfreeze the top N base layers after the head")
    fine_tune_epochs: int = Field(10, ge=0, description="transfer: epochs of fine-tuning (with fine_tune_layers)")
    fine_tune_learning_rate: float = Field(1e-5, gt=0, description="transfer: learning rate while fine-tuning")
    filters: int = Field(32, ge=1, description="conv1d: filters per convolution")
    kernel_size: int = Field(3, ge=1, description="conv1d: steps each filter covers (capped at the window)")
    recurrent_units: int = Field(32, ge=1, description="lstm / gru: units of the recurrent layer")
    hidden_units: list[int] = Field(
        default_factory=lambda: [64, 32], description="units of each hidden dense layer, first to last"
    )
    activation: str = Field("relu", description="activation of the hidden layers (any Keras activation)")
    dropout: float | None = Field(
        None, ge=0, lt=1, description="dropout rate after each hidden layer (0 = none; null = 0.1, 0.3 forecasting)"
    )
    batch_norm: bool = Field(False, description="batch normalization after each hidden layer")
    linear_path: bool | None = Field(
        None,
        description="mlp: a linear layer from the inputs straight to the output beside the hidden layers (wide & "
        "deep), started at the fitted linear model, so the hidden layers learn what a straight line misses; null = "
        "on for tables, off for forecasting windows (their hundreds of lagged inputs overfit it)",
    )
    l2: float = Field(0.0, ge=0, description="L2 weight penalty on the dense layers (0 = none)")
    categorical_encoding: Literal["auto", "one_hot", "embedding"] = Field(
        "auto", description="one_hot | embedding | auto (one-hot up to 20 categories, embedding above)"
    )

    @field_validator("hidden_units")
    @classmethod
    def _positive_units(cls, units: list[int]) -> list[int]:
        if any(u <= 0 for u in units):
            raise ValueError("every entry must be a positive number of units")
        return units


class EarlyStoppingConfig(_Section):
    enabled: bool = Field(True, description="stop when the validation loss stops improving")
    patience: int | None = Field(
        None,
        ge=1,
        description="epochs without improvement before stopping; null = the epochs that make about 1,000 "
        "training steps, at least 5 and at most 20",
    )
    min_delta: float | None = Field(
        None,
        ge=0,
        description="smallest decrease of the validation loss that counts as an improvement; null = 0.1 % of the "
        "loss of the best constant prediction (the training split's mean or class shares), 0 for kinds with a loss "
        "of their own",
    )


class TrainingConfig(_Section):
    epochs: int = Field(200, ge=1, description="maximum number of passes over the training split")
    batch_size: int | None = Field(
        None, ge=1, description="rows per gradient step; null = 32, 16 for images (faster per image on a CPU)"
    )
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = Field("adam", description="adam | adamw | sgd | rmsprop")
    learning_rate: float = Field(1e-3, gt=0, description="step size of the optimizer")
    early_stopping: EarlyStoppingConfig = Field(
        default_factory=EarlyStoppingConfig, description="early stopping; the best epoch's weights are restored"
    )
    checkpoint_every_s: float = Field(
        10.0, ge=0, description="seconds between checkpoints for --resume (0 = after every epoch)"
    )
    report: bool = Field(True, description="write report.html and MODEL_CARD.md into the run at the end")
    distribution: Literal["none", "data_parallel"] = Field(
        "none",
        description="data_parallel: train over the processes named by DEEPWISE_COORDINATOR, DEEPWISE_NUM_PROCESSES "
        "and DEEPWISE_PROCESS_ID (process 0 writes the run)",
    )
    tensorboard: bool = Field(
        False, description="also write TensorBoard logs to <run>/tensorboard/ (pip install 'deepwise[monitor]')"
    )
    mlflow: str | None = Field(
        None,
        description="MLflow tracking URI to log params, metrics and the model to, e.g. file:./mlruns "
        "(works offline) or http://host:5000; null = the run directory alone (pip install 'deepwise[monitor]')",
    )


class GuardConfig(_Section):
    enabled: bool = Field(True, description="flag prediction rows unlike the training data (columns ood, ood_score)")
    false_alarm_rate: float = Field(
        0.01, gt=0, lt=0.5, description="share of ordinary rows allowed to be flagged (sets the threshold)"
    )
    neighbors: int = Field(5, ge=1, description="k of the k-nearest-neighbour distance score")


class TextConfig(_Section):
    columns: list[str] | None = Field(
        None, description="text: the free-text columns of a table (null = detected, with the reason said)"
    )
    tokenizer: Literal["word", "char", "subword"] = Field(
        "word", description="text: words, characters, or subwords (WordPiece/BPE trained on the training texts)"
    )
    subword_model: Literal["wordpiece", "bpe"] = Field("wordpiece", description="text: the subword algorithm")
    max_tokens: int = Field(20000, ge=100, description="text: the vocabulary's size at most (most frequent first)")
    min_count: int = Field(2, ge=1, description="text: a word seen fewer times in training is unknown")
    max_length: int | None = Field(
        None, ge=8, description="text: tokens kept per document (null = learned: the 95th percentile of training)"
    )
    lowercase: bool = Field(True, description="text: fold case before tokenizing")
    embedding_dim: int = Field(64, ge=4, description="text: the size of each token's embedding")
    heads: int = Field(2, ge=1, description="text, transformer: attention heads")
    transformer_layers: int = Field(1, ge=1, le=8, description="text, transformer: encoder blocks")
    ff_dim: int = Field(128, ge=8, description="text, transformer: width of each block's feed-forward layer")
    max_document_bytes: int = Field(
        1_000_000, ge=1000, description="text: longer documents are cut (and the run says which)"
    )
    encoding_errors: Literal["replace", "strict"] = Field(
        "replace", description="text: bytes that are not UTF-8 are replaced and counted, or refused (strict)"
    )
    pretrained_max_length: int = Field(128, ge=8, description="text, pretrained: tokens the sentence encoder reads")


class TranslationConfig(_Section):
    source: str | None = Field(
        None, description="translation: the source text column (null = the only column besides the target)"
    )
    target_path: str | None = Field(
        None,
        description="translation from two aligned text files: the file of target lines (data.path holds the "
        "source lines, line i of one translating line i of the other)",
    )
    tokenizer: Literal["auto", "char", "subword"] = Field(
        "auto",
        description="characters (short strings: dates, codes, spellings) or subwords (BPE, trained on the training "
        "pairs); auto = characters when 90 % of sentences have at most 100 characters",
    )
    vocab_size: int = Field(8000, ge=64, description="subwords: the size of each vocabulary")
    architecture: Literal["gru", "transformer"] = Field(
        "gru", description="a GRU encoder-decoder with attention (fast on a CPU) or a small Transformer"
    )
    attention: Literal["luong", "bahdanau"] = Field("luong", description="gru: dot-product or additive attention")
    units: int | None = Field(
        None, ge=8, description="width of the recurrent or attention layers; null = 128 GRU, 64 Transformer"
    )
    embed_dim: int = Field(64, ge=8, description="size of each token's embedding")
    decoding: Literal["greedy", "beam"] = Field("greedy", description="how a translation is read from the network")
    beam: int = Field(4, ge=1, le=32, description="beam decoding: the number of candidates kept")
    max_chars: int = Field(
        1000, ge=10, description="longest sentence accepted; longer ones are an error naming the line"
    )


class SegmentationConfig(_Section):
    legend: str | None = Field(
        None,
        description="segmentation: a legend file (CSV id,name,color or JSON) naming the classes and, for RGB colour "
        "masks, their colours; null = legend.csv / legend.json next to images/ and masks/, else the ids in the masks",
    )
    mask_mode: Literal["auto", "classes", "instances"] = Field(
        "auto",
        description="segmentation: classes (each mask value a class id) | instances (one id per object: object vs "
        "background) | auto (instance masks recognised by their many ids)",
    )
    depth: int | None = Field(
        None, ge=1, le=5, description="segmentation: U-Net downsamplings; null = sized to the training patches (2-4)"
    )
    base_filters: int | None = Field(
        None, ge=4, description="segmentation: filters of the U-Net's first level; null = 16, 32 above 4 megapixels"
    )
    steps_per_epoch: int = Field(40, ge=1, description="segmentation: batches of random training patches per epoch")
    cell_size: int | None = Field(
        None, ge=32, description="segmentation, spatial split: side of the cells in pixels; null = sized to the image"
    )
    tile: int = Field(
        512,
        ge=64,
        description="segmentation: images larger than this are predicted in overlapping tiles (bounded memory)",
    )


class EnhancementConfig(_Section):
    network: Literal["unet", "autoencoder"] = Field(
        "unet",
        description="image-to-image (a folder of inputs/ and targets/): a U-Net (skip connections carry the input's "
        "detail) or a convolutional autoencoder (everything through the bottleneck)",
    )
    base_filters: int = Field(16, ge=4, description="image-to-image: filters of the first level (doubled per level)")
    depth: int | None = Field(
        None, ge=1, le=5, description="image-to-image: downsamplings; null = until about 7 pixels across (1-4)"
    )
    loss: Literal["binary_crossentropy", "mse", "mae"] = Field(
        "binary_crossentropy",
        description="image-to-image: per-pixel loss against the targets (cross-entropy learns mostly-dark images "
        "from the first epoch, where mse stayed at 'predict black')",
    )
    filter_threshold_db: float = Field(
        40.0,
        ge=20,
        description="image-to-image: held-out PSNR at which a fixed filter (kernel, curve, quantization) counts as "
        "reproducing the targets (40 dB: an error of 1 % of the range, invisible)",
    )


class GenerationConfig(_Section):
    latent_dim: int = Field(8, ge=1, le=512, description="generate: size of the VAE's latent code")
    beta: float = Field(1.0, gt=0, description="generate: weight of the KL term (1: the standard VAE)")
    hidden_units: list[int] = Field(
        [64, 64], min_length=1, description="generate (tables): the encoder's dense layers (the decoder mirrors them)"
    )
    samples: int = Field(
        1000, ge=10, le=100_000, description="generate (images): samples drawn to measure quality after training"
    )
    sampling: Literal["mixture", "prior"] = Field(
        "mixture",
        description="generate (images): where sample codes come from: a Gaussian mixture fitted to the training "
        "images' codes after training (one component per class), or the standard normal prior (tables: the prior)",
    )
    temperature: float | None = Field(
        None,
        gt=0,
        le=2,
        description="generate: spread of the latent codes sampled, relative to the prior's or the mixture's (below 1: "
        "more typical, less varied samples); null = 1",
    )
    near_copy_ratio: float = Field(
        1 / 3,
        gt=0,
        lt=1,
        description="generate (images): a sample whose nearest training image is closer than this share of its mean "
        "distance to its 50 nearest training images is a near-copy (1/3: Carlini et al. 2023)",
    )


class UncertaintyConfig(_Section):
    coverage: float | None = Field(
        0.9,
        gt=0,
        lt=1,
        description="split-conformal prediction intervals (numbers) and sets (classes) that hold the truth this "
        "often, calibrated on the validation split and measured on the test split; null = none",
    )


class Config(_Section):
    name: str | None = Field(None, description="run name prefix; null = the data file's name")
    seed: int = Field(
        42, ge=0, le=2**32 - 1, description="random seed for the split and the weights (same seed, same run)"
    )
    problem: ProblemConfig
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig, description="the network")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="how the network is trained")
    guard: GuardConfig = Field(default_factory=GuardConfig, description="out-of-distribution guard for predict")
    text: TextConfig = Field(default_factory=TextConfig, description="free text: documents and text columns")
    translation: TranslationConfig = Field(
        default_factory=TranslationConfig, description="translating one text column into another"
    )
    segmentation: SegmentationConfig = Field(
        default_factory=SegmentationConfig, description="segmenting images: a class for every pixel"
    )
    enhancement: EnhancementConfig = Field(
        default_factory=EnhancementConfig,
        description="image-to-image: denoising, sharpening, colourising, restoration (inputs/ and targets/ folders)",
    )
    generation: GenerationConfig = Field(
        default_factory=GenerationConfig,
        description="generating new data (problem.task: generate): a VAE against simple generators",
    )
    uncertainty: UncertaintyConfig = Field(
        default_factory=UncertaintyConfig, description="how sure each prediction is (conformal intervals and sets)"
    )
    tune: dict[str, Any] = Field(
        default_factory=dict,
        description="search space for `deepwise tune` (empty = the default space of the model type)",
    )

    def data_path(self, base: Path | None = None) -> Path:
        path = Path(self.data.path).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return path


# ----------------------------------------------------------------------------------------------------------- loading


def _nearest(key: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
    return match[0] if match else None


def _section_fields(loc: tuple) -> list[str]:
    """Valid keys of the section that contains ``loc`` (for 'did you mean')."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _describe_validation_error(err: ValidationError, source: str) -> ConfigError:
    lines = []
    fixes = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        received = e.get("input")
        if e["type"] == "extra_forbidden":
            suggestion = _nearest(str(loc[-1]), _section_fields(loc))
            hint = f" Did you mean '{suggestion}'?" if suggestion else ""
            valid = ", ".join(_section_fields(loc))
            lines.append(f"- unknown key '{where}'.{hint} Valid keys here: {valid}.")
            fixes.append(f"rename '{loc[-1]}' to '{suggestion}'" if suggestion else f"remove '{where}'")
        elif e["type"] == "missing":
            lines.append(f"- '{where}' is required but missing.")
            fixes.append(f"add '{where}'")
        else:
            shown = repr(received)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            lines.append(f"- '{where}': received {shown} ({type(received).__name__}); {e['msg']}.")
            fixes.append(f"correct '{where}'")
    return ConfigError(
        f"The config {source} is invalid:\n" + "\n".join(lines),
        expected="keys and value types as in a config written by `deepwise init` (every option is commented there)",
        fix="; ".join(dict.fromkeys(fixes)) + ".",
    )


def config_from_dict(raw: Any, source: str = "") -> Config:
    """Validate a plain dict as a :class:`Config`, raising :class:`ConfigError` with a readable message."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"The config {source} is not a mapping of sections (received {type(raw).__name__}).",
            expected="YAML with sections such as 'problem:' and 'data:'",
            fix="start from the file written by `deepwise init DATA --target COL`.",
        )
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise _describe_validation_error(err, source) from None


def apply_values(config: Config | dict[str, Any], values: dict[str, Any], source: str = "with new values") -> Config:
    """The config with each dotted path set to its value, validated (an impossible value is a ConfigError).

    Example:
        >>> apply_values(cfg, {"training.learning_rate": 0.003}).training.learning_rate
        0.003
    """
    raw = config.model_dump(mode="json") if isinstance(config, Config) else json.loads(json.dumps(config))
    for path, value in values.items():
        node = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return config_from_dict(raw, source)


def _count_values(raw: Any, limit: int) -> int:
    """How many values ``raw`` holds once YAML aliases are expanded, counting no further than ``limit``.

    A YAML alias is a reference, so ``yaml.safe_load`` returns a small object graph; but anything that walks it
    (validation, writing the config into the run) walks the expanded tree, which for nested aliases is
    exponentially large (the "billion laughs" attack). Repeated references are counted every time they occur."""
    count = 0
    stack = [raw]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set)):
            stack.extend(value)
    return count


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int):
        super().__init__(key)
        self.key, self.line = key, line


class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key = key_node.value
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Safe YAML (no Python tags), with alias bombs, repeated keys and absurd nesting refused as
    :class:`ConfigError`."""
    try:
        raw = yaml.load(text, Loader=_SafeLoader)  # a SafeLoader subclass: no Python objects, no code
    except _DuplicateKey as err:
        raise ConfigError(
            f"The config {source} gives the key '{err.key}' twice in the same section (the second time on line "
            f"{err.line}); YAML would silently keep only the last value.",
            expected="each key once per section",
            fix=f"merge the two '{err.key}' entries into one.",
        ) from None
    except yaml.constructor.ConstructorError as err:
        problem = str(getattr(err, "problem", "") or "")
        if "python/" in problem:
            found = re.search(r"tag:yaml\.org,2002:(python/[^'\s]*)", problem)
            tag = f"!!{found.group(1)}" if found else problem
            mark = getattr(err, "problem_mark", None)
            where = f" on line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"The config {source} is not valid YAML for deepwise: it uses the Python tag '{tag}'{where}. Such "
                "tags ask the YAML reader to create Python objects or run code; deepwise reads configs as plain "
                "(safe) YAML and refuses them.",
                expected="plain YAML values: text, numbers, true/false, lists and mappings",
                fix="remove the '!!python/...' tag and write the plain value (a config written by `deepwise init` "
                "never needs one).",
            ) from None
        raise ConfigError(
            f"The config {source} is not valid YAML: {err}",
            expected="a YAML mapping (no Python tags; safe YAML only)",
            fix="correct the line shown above.",
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(
            f"The config {source} is not valid YAML: {err}",
            expected="a YAML mapping (no Python tags; safe YAML only)",
            fix="correct the line shown above.",
        ) from None
    except (ValueError, IndexError, TypeError, OverflowError, KeyError, AttributeError) as err:
        # PyYAML's constructors fail this way on some explicitly tagged values (!!int with no digits, a
        # !!timestamp that is no date, ...)
        raise ConfigError(
            f"The config {source} holds a value YAML cannot convert ({type(err).__name__}: {err}).",
            expected="plain YAML values; an explicit tag such as !!int or !!timestamp only on a value of that kind",
            fix="remove the '!!' tags, or correct the tagged value.",
        ) from None
    except RecursionError:
        raise ConfigError(
            f"The config {source} is nested too deeply to read.",
            expected="a config with sections a few levels deep",
            fix="start from the file written by `deepwise init DATA --target COL`.",
        ) from None
    if _count_values(raw, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"The config {source} expands to more than {MAX_CONFIG_VALUES:,} values once its YAML aliases "
            "(*name references) are followed: a 'billion laughs' alias bomb, or a config far larger than any "
            "deepwise needs.",
            expected="a config of a few dozen settings; anchors and aliases only for small repeated values",
            fix="write the values out instead of nesting aliases, or start from `deepwise init DATA --target COL`.",
        )
    return raw


def load_config(path: str | Path) -> Config:
    """Read and validate ``deepwise.yaml``. Relative data paths are resolved against the config's folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"The config file '{path}' does not exist.",
            expected="a YAML config file or a data file (CSV/TSV/Parquet)",
            fix="create one with `deepwise init DATA --target COL`, or check the path.",
        )
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"The config '{path}' is {path.stat().st_size:,} bytes, far larger than any deepwise config.",
            expected=f"a YAML config of a few kilobytes (at most {MAX_CONFIG_BYTES:,} bytes)",
            fix="check that you passed the config and not a data file (data files need --target).",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(
            f"The config '{path}' is not UTF-8 text.", expected="a UTF-8 YAML file", fix="save it as UTF-8."
        ) from None
    raw = parse_yaml(text, f"'{path}'")
    config = config_from_dict(raw, f"'{path}'")
    try:
        data_path = Path(config.data.path).expanduser()
    except RuntimeError:
        raise ConfigError(
            f"data.path '{config.data.path}' in '{path}' starts with '~' but that user's home folder is unknown.",
            expected="a path relative to the config's folder, or an absolute path",
            fix="write the path out in full.",
        ) from None
    if not data_path.is_absolute():
        config.data.path = str((path.parent / data_path).resolve())
    return config


# ----------------------------------------------------------------------------------------------------------- writing


def _yaml_value(name: str, value: Any) -> str:
    """``name: value`` with lists in flow style (``[a, b]``) and scalars as plain YAML."""
    if isinstance(value, list):
        flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=100).strip()
        return f"{name}: {flow}"
    return yaml.safe_dump({name: value}, default_flow_style=False, allow_unicode=True, width=100).rstrip()


def to_yaml(model: BaseModel, indent: int = 0, notes: dict[str, str] | None = None, prefix: str = "") -> str:
    """Write a config (or section) as YAML with every option spelled out and commented."""
    notes = notes or {}
    pad = " " * indent
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if field.description:
            lines.append(f"{pad}# {field.description}")
        for note in notes.get(key, "").splitlines():
            lines.append(f"{pad}# {note}")
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.append(to_yaml(value, indent + 2, notes, prefix=f"{key}."))
        else:
            lines.extend(pad + line for line in _yaml_value(name, value).splitlines())
    return "\n".join(lines)


def dump_config(config: Config, notes: dict[str, str] | None = None, header: str = "") -> str:
    head = "".join(f"# {line}\n" for line in header.splitlines())
    return head + to_yaml(config, notes=notes) + "\n"
