"""Image classifiers: a CNN from scratch, a keras.applications base, or the network of an earlier run.

Every model takes raw pixels (0-255). A CNN rescales them itself; a pretrained base gets its own
``preprocess_input`` as a frozen 1x1 convolution (measured from the function, so it is exact for the affine
per-pixel preprocessings Keras uses: scaling to [-1, 1], ImageNet mean/std, BGR with mean subtraction), which
keeps the saved model free of Lambda layers. Augmentation layers act on training batches only.

Example:
    >>> model = build_cnn({"features": {"shape": (28, 28, 1)}}, TASKS["multiclass"], 10, ModelConfig(type="cnn"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.config import AugmentationConfig, ModelConfig
from deepwise.errors import ConfigError, RunError
from deepwise.models.head import dense_head
from deepwise.tasks import TaskSpec

EMBEDDING_LAYER = "embedding"
TRANSFERRED_BASE = "transferred_base"  # an earlier run's layers inside a transfer model
PREPROCESS_LAYER = "preprocess_input"
_POOLING_TEXT = {"average": "global average pooling", "max": "global max pooling", "flatten": "flattening"}
BN_MOMENTUM = 0.9  # of the moving statistics


SMALL_IMAGE = 16  # pixels: images up to this side get wider filters and keep where features are (flatten)


def default_pooling(image_size) -> str:
    """``model.pooling``'s default: flatten for small images (measured over 3 seeds: digits 8x8 0.985 vs 0.975 with
    global average pooling, MNIST-5k at 14x14 0.967 vs 0.946, at 10x10 0.948 vs 0.944), global average above."""
    return "flatten" if max(image_size) <= SMALL_IMAGE else "average"


def augmentation_layers(aug: AugmentationConfig, seed: int) -> list:
    keras = keras_module()
    layers = keras.layers
    out = []
    if aug.flip:
        out.append(layers.RandomFlip("horizontal", seed=seed, name="aug_flip"))
    if aug.rotation:
        out.append(layers.RandomRotation(aug.rotation, seed=seed, name="aug_rotation"))
    if aug.zoom:
        out.append(layers.RandomZoom(aug.zoom, seed=seed, name="aug_zoom"))
    if aug.translation:
        out.append(layers.RandomTranslation(aug.translation, aug.translation, seed=seed, name="aug_translation"))
    if aug.contrast:
        out.append(layers.RandomContrast(aug.contrast, value_range=(0, 255), seed=seed, name="aug_contrast"))
    return out


def augmented_input(shape: tuple, augmentation: AugmentationConfig | None, seed: int):
    """The model's image input and, on top of it, the augmentation layers (active in training only)."""
    keras = keras_module()
    inputs = keras.Input(shape=tuple(shape), name="features")
    x = inputs
    for layer in augmentation_layers(augmentation or AugmentationConfig(), seed):
        x = layer(x)
    return inputs, x


def build_cnn(
    input_specs: dict[str, dict[str, Any]],
    task: TaskSpec,
    n_classes: int,
    config: ModelConfig,
    augmentation: AugmentationConfig | None = None,
    seed: int = 0,
):
    """Conv blocks (a 3x3 convolution, batch norm if asked, max-pooling), global pooling or flatten, dense head."""
    keras = keras_module()
    layers = keras.layers
    inputs, x = augmented_input(input_specs["features"]["shape"], augmentation, seed)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    for b, filters in enumerate(config.conv_filters, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not config.batch_norm, name=f"conv{b}")(x)
        if config.batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"conv{b}_bn")(x)
        x = layers.Activation(config.activation, name=f"conv{b}_act")(x)
        if min(x.shape[1], x.shape[2]) > 4:  # keep small images (digits are 8x8) at least 4x4 for the next filters
            x = layers.MaxPooling2D(2, name=f"pool{b}")(x)
    pooling = {"average": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D, "flatten": layers.Flatten}
    x = pooling[config.pooling or default_pooling(input_specs["features"]["shape"][:2])](name=EMBEDDING_LAYER)(x)
    out = dense_head(x, task, n_classes, config, None)
    return keras.Model(inputs, out, name="deepwise_cnn")


def preprocessing_layer(base: str, name: str):
    """The application's ``preprocess_input`` as a frozen 1x1 convolution (an affine map of the channels)."""
    keras = keras_module()
    module = _application_module(base)
    probe = np.zeros((4, 1, 1, 3), dtype=np.float32)
    for c in range(3):
        probe[c + 1, 0, 0, c] = 255.0
    out = np.asarray(module.preprocess_input(probe.copy()), dtype=np.float64).reshape(4, 3)
    bias = out[0]
    matrix = (out[1:] - bias) / 255.0  # row c: how input channel c moves each output channel
    layer = keras.layers.Conv2D(3, 1, name=name, trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([matrix.reshape(1, 1, 3, 3).astype(np.float32), bias.astype(np.float32)])
    return layer


def _application_module(base: str):
    keras = keras_module()
    constructor = getattr(keras.applications, base, None)
    if constructor is None or not callable(constructor):
        names = sorted(n for n in dir(keras.applications) if n[:1].isupper())
        raise ConfigError(
            f"model.base '{base}' is not a keras.applications model.",
            expected="one of: " + ", ".join(names),
            fix="set model.base to one of those names (e.g. MobileNetV2, EfficientNetB0, ResNet50, DenseNet121).",
        )
    module_name = constructor.__module__.rsplit(".", 1)[-1]
    return getattr(keras.applications, module_name)


def build_pretrained(
    input_specs: dict[str, dict[str, Any]],
    task: TaskSpec,
    n_classes: int,
    config: ModelConfig,
    augmentation: AugmentationConfig | None = None,
    seed: int = 0,
):
    """A keras.applications base (frozen) with a new head; ``weights``: imagenet, a weights file, or None."""
    keras = keras_module()
    shape = input_specs["features"]["shape"]
    if shape[-1] != 3 or min(shape[:2]) < 32:
        raise ConfigError(
            f"A pretrained {config.base} needs colour images of at least 32x32 pixels; the data gives {shape}.",
            expected="data.channels: 3 and data.image_size of at least [32, 32]",
            fix="set data.channels: 3 and data.image_size (e.g. [96, 96]); grayscale images are then copied "
            "into three channels.",
        )
    weights = config.weights
    weights_file = None
    if weights not in (None, "imagenet"):
        weights_file = Path(weights).expanduser()
        if not weights_file.is_file():
            raise ConfigError(
                f"model.weights '{weights}' is neither 'imagenet' nor an existing weights file.",
                expected="imagenet, null, or the path of a .weights.h5 file for this base",
                fix="correct the path, or use weights: imagenet (needs a network connection once).",
            )
        weights = None
    constructor = getattr(keras.applications, config.base)
    _application_module(config.base)
    base = constructor(include_top=False, weights=weights, input_shape=tuple(shape), pooling="avg")
    if weights_file is not None:
        base.load_weights(weights_file)
    base.trainable = config.freeze_base is False
    if base.trainable:  # Keras' advice for a large base: its batch norm keeps the statistics learned on ImageNet
        _keep_batch_norm_statistics(base)
    _dropout_off(base)  # the base runs in inference mode (training=False below), dropout included
    inputs, x = augmented_input(shape, augmentation, seed)
    x = preprocessing_layer(config.base, PREPROCESS_LAYER)(x)
    x = base(x, training=False)
    x = keras.layers.Identity(name=EMBEDDING_LAYER)(x)
    out = dense_head(x, task, n_classes, config, None)
    return keras.Model(inputs, out, name=f"deepwise_{config.base.lower()}")


def build_from_run(run_model, task: TaskSpec, n_classes: int, config: ModelConfig, augmentation=None, seed: int = 0):
    """Reuse an earlier run's network up to its embedding layer and add a new head.

    ``config.freeze_base``: True keeps the reused weights fixed (batch norm in inference mode); False trains them on
    from their weights, batch normalization included: its statistics are re-estimated on the new images (measured
    in plain Keras, MNIST 0-4 -> 5-9, 50 images per class, means of 10 draws: 0.933 vs 0.928 with the earlier
    statistics kept; 10 of 10 draws above scratch vs 7 of 10). A keras.applications base inside the earlier run
    keeps its own statistics. The earlier run's augmentation layers are left out; this run's come first.
    """
    keras = keras_module()
    try:
        embedding = run_model.get_layer(EMBEDDING_LAYER)
    except ValueError:
        raise RunError(
            "The earlier run's model has no embedding layer to transfer from.",
            expected="an image run trained by deepwise (cnn or pretrained)",
            fix="point model.from_run at an image classification run.",
        ) from None
    augmenting = [layer for layer in run_model.layers if layer.name.startswith("aug_")]
    start = augmenting[-1].output if augmenting else _single_input(run_model)
    base = keras.Model(start, embedding.output, name=TRANSFERRED_BASE)
    train_whole = config.freeze_base is False
    base.trainable = train_whole
    if train_whole:
        for application in applications_in(base):
            _keep_batch_norm_statistics(application)
            _dropout_off(application)
        for layer in all_layers(base):
            if layer.name == PREPROCESS_LAYER:  # preprocess_input is a fixed map, never learned
                layer.trainable = False
    else:
        _dropout_off(base)
    inputs, x = augmented_input(run_model.input_shape[1:], augmentation, seed)
    x = base(x) if train_whole else base(x, training=False)
    x = keras.layers.Identity(name=EMBEDDING_LAYER)(x)
    out = dense_head(x, task, n_classes, config, None)
    return keras.Model(inputs, out, name="deepwise_transfer")


def applications_in(model) -> list:
    """The keras.applications bases inside a deepwise network (through transferred bases, which are our own)."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            found.extend(applications_in(layer) if layer.name == TRANSFERRED_BASE else [layer])
    return found


def all_layers(model) -> list:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(all_layers(layer))
    return out


def _dropout_off(model) -> None:
    """Dropout in ``model`` acts as at inference, also while the network around it trains.

    ``base(x, training=False)`` alone does not do it: Keras 3 passes the outer model's ``training=True`` on to every
    layer inside (``keras/src/models/functional.py: operation_fn``), so EfficientNet's stochastic depth dropped
    residual branches of a frozen base while the head trained. A rate of 0 is what inference does.
    """
    keras = keras_module()
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0


def _keep_batch_norm_statistics(model) -> None:
    """Batch normalization layers of ``model`` (and of models nested in it) keep their statistics and scales."""
    for layer in all_layers(model):
        if type(layer).__name__ == "BatchNormalization":
            layer.trainable = False


def unfreeze_top(model, n_layers: int) -> int:
    """Make the top ``n_layers`` layers of the frozen base trainable (batch norm stays frozen); returns how many."""
    base = next((layer for layer in model.layers if hasattr(layer, "layers") and not layer.trainable), None)
    if base is None or n_layers <= 0:
        return 0
    base.trainable = True
    candidates = [layer for layer in base.layers if layer.weights]
    for layer in candidates[:-n_layers]:
        layer.trainable = False
    unfrozen = 0
    for layer in candidates[-n_layers:]:
        is_bn = type(layer).__name__ == "BatchNormalization"
        layer.trainable = not is_bn
        unfrozen += not is_bn
    return unfrozen


def describe_image_model(model, config: ModelConfig) -> str:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    if config.type == "cnn":
        pooling = config.pooling or default_pooling(model.input_shape[1:3])
        body = (
            f"A CNN from scratch: {len(config.conv_filters)} block(s) of a 3x3 convolution "
            f"({', '.join(map(str, config.conv_filters))} filters) and max-pooling, then "
            f"{_POOLING_TEXT[pooling]} and dense layers. A convolution slides small learned filters over "
            "the image, so the same pattern (an edge, a stroke) is recognised anywhere"
        )
    else:
        source = (
            f"the earlier run '{config.from_run}'"
            if config.from_run
            else f"{config.base} ({config.weights or 'random'} weights)"
        )
        if config.freeze_base is False:
            body = (
                f"Transfer learning from {source}: every layer starts from its learned weights and trains on with "
                "a new head (batch normalization "
                + ("re-estimates its statistics on your images)" if config.from_run else "keeps ImageNet's statistics)")
            )
        else:
            body = f"Transfer learning from {source}: its layers are frozen, a new head learns from your images"
    return f"{body}. Parameters: {total:,} in total, {trainable:,} trainable."


def embedding_model(model, with_output: bool = False):
    """The network up to its penultimate layer (the input of the output layer): what the OOD guard measures.

    ``with_output=True``: a model with two outputs, ``[network output, embedding]``, computed in one forward pass.
    """
    keras = keras_module()
    embedding = model.get_layer("output").input
    outputs = [model.outputs[0], embedding] if with_output else embedding
    return keras.Model(_single_input(model), outputs, name="embedding")


def _single_input(model):
    """The model's one input tensor (a list of one would make Keras warn on every bare-array call)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def confidence(output: np.ndarray, task: str) -> np.ndarray:
    """1 - the maximum class probability: high when the network is unsure."""
    output = np.asarray(output, dtype=np.float64)
    if task == "binary":
        p = output.reshape(-1)
        return 1.0 - np.maximum(p, 1.0 - p)
    return 1.0 - output.max(axis=1)
