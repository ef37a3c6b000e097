"""Image-to-image networks (denoising, sharpening, colourising, restoration, super-resolution): a small U-Net or a
convolutional autoencoder, their training and their use on images of any size.

Both are fully convolutional (input ``(None, None, channels)``), end in a sigmoid (pixels in [0, 1]) and are
trained with binary cross-entropy against the target pixels by default: on mostly black digits a mean-squared-error
U-Net (32 filters) stayed at "predict black" for 8 epochs while the cross-entropy one learned from the first
epoch (measured once each, 3,400 noisy MNIST digits, sigma 0.5 and 0.4). The U-Net's skip connections carry the
input's detail past the bottleneck; the autoencoder has none (the lesson's "encoder, bottleneck, decoder"), so it
must redraw every detail from the compressed code. For super-resolution the network first upsamples its input
(bicubic), so it only has to learn the correction.

Height and width must be multiples of ``2 ** depth``: :func:`enhance` pads (reflect) and crops for you.

Example:
    >>> model = build_unet(input_channels=1, output_channels=1, seed=0)
    >>> history = fit_image2image(model, noisy_train, clean_train, noisy_val, clean_val, epochs=10)
    >>> denoised = enhance(model, noisy_test)
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.models.inference import predict_rows
from deepwise.models.init import host_initializers

DEFAULT_FILTERS = 16
DEFAULT_LOSS = "binary_crossentropy"


def default_depth(height: int, width: int) -> int:
    """How many times to halve the image: until it is about 7 pixels across, 1 to 4 times (28 px -> 2).

    Example:
        >>> default_depth(28, 28), default_depth(256, 256)
        (2, 4)
    """
    return int(min(4, max(1, math.floor(math.log2(max(1, min(height, width)) / 7)))))


def _conv(x, filters: int, name: str):
    keras = keras_module()
    return keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)


def _build(
    input_channels: int,
    output_channels: int,
    base_filters: int,
    depth: int,
    upscale: int,
    skips: bool,
    seed: int,
    name: str,
):
    keras = keras_module()
    layers = keras.layers
    with host_initializers(seed):
        inputs = keras.Input((None, None, input_channels), name="inputs")
        x = inputs
        if upscale > 1:
            x = layers.UpSampling2D(upscale, interpolation="bicubic", name="bicubic_upscale")(x)
        saved = []
        for level in range(depth):
            filters = base_filters * 2**level
            x = _conv(_conv(x, filters, f"down{level}_a"), filters, f"down{level}_b")
            saved.append(x)
            x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
        x = _conv(x, base_filters * 2**depth, "bottleneck")
        for level in reversed(range(depth)):
            x = layers.UpSampling2D(2, name=f"up{level}")(x)
            if skips:
                x = layers.Concatenate(name=f"skip{level}")([x, saved[level]])
            x = _conv(x, base_filters * 2**level, f"up{level}_conv")
        outputs = layers.Conv2D(output_channels, 1, activation="sigmoid", name="outputs")(x)
        return keras.Model(inputs, outputs, name=name)


def build_unet(
    input_channels: int,
    output_channels: int,
    base_filters: int = DEFAULT_FILTERS,
    depth: int = 2,
    upscale: int = 1,
    seed: int = 0,
):
    """A small U-Net: ``depth`` levels of two 3x3 convolutions and max-pooling, skip connections, sigmoid output.

    Example:
        >>> build_unet(1, 1).count_params()
        69489
    """
    return _build(input_channels, output_channels, base_filters, depth, upscale, True, seed, "deepwise_unet")


def build_autoencoder(
    input_channels: int,
    output_channels: int,
    base_filters: int = DEFAULT_FILTERS,
    depth: int = 2,
    upscale: int = 1,
    seed: int = 0,
):
    """The same encoder and decoder without skip connections: a convolutional autoencoder.

    Example:
        >>> build_autoencoder(1, 1).name
        'deepwise_autoencoder'
    """
    return _build(input_channels, output_channels, base_filters, depth, upscale, False, seed, "deepwise_autoencoder")


def depth_of(model) -> int:
    """The number of pooling levels of a model built here (what :func:`enhance` pads for)."""
    return sum(1 for layer in model.layers if layer.name.startswith("pool"))


def upscale_of(model) -> int:
    for layer in model.layers:
        if layer.name == "bicubic_upscale":
            return int(layer.size[0])
    return 1


def pad_to_multiple(images: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Images padded (reflect) at the bottom and right to a multiple of ``multiple``, and their original size.

    Example:
        >>> pad_to_multiple(np.zeros((1, 30, 30, 1)), 4)[0].shape
        (1, 32, 32, 1)
    """
    h, w = images.shape[1:3]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return images, (h, w)
    mode = "reflect" if ph < h and pw < w else "edge"
    return np.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode), (h, w)


def time_limit_callback(seconds: float):
    """A Keras callback that stops training after the epoch that passes ``seconds`` of wall time.

    Example:
        >>> model.fit(x, y, callbacks=[time_limit_callback(120)])
    """
    keras = keras_module()

    class TimeLimit(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.start > seconds:
                self.model.stop_training = True

    return TimeLimit()


def fit_image2image(
    model,
    train_inputs: np.ndarray,
    train_targets: np.ndarray,
    val_inputs: np.ndarray,
    val_targets: np.ndarray,
    epochs: int = 30,
    batch_size: int = 32,
    patience: int = 5,
    learning_rate: float = 1e-3,
    loss: str = DEFAULT_LOSS,
    max_seconds: float | None = None,
    verbose: int = 0,
) -> dict[str, Any]:
    """Compile and train with early stopping on the validation loss (best weights kept); returns the history.

    ``max_seconds``: stop after the epoch that passes this wall time (None: no limit).

    Example:
        >>> fit_image2image(model, x_tr, y_tr, x_val, y_val, epochs=5)["epochs"]
        5
    """
    keras = keras_module()
    multiple = 2 ** depth_of(model)
    x_tr, _ = pad_to_multiple(np.asarray(train_inputs, dtype=np.float32), multiple)
    x_val, _ = pad_to_multiple(np.asarray(val_inputs, dtype=np.float32), multiple)
    target_multiple = multiple * upscale_of(model)
    y_tr, _ = pad_to_multiple(np.asarray(train_targets, dtype=np.float32), target_multiple)
    y_val, _ = pad_to_multiple(np.asarray(val_targets, dtype=np.float32), target_multiple)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["mse"], steps_per_execution=16
    )
    callbacks = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
    if max_seconds is not None:
        callbacks.append(time_limit_callback(max_seconds))
    start = time.perf_counter()
    history = model.fit(
        x_tr, y_tr, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size,
        callbacks=callbacks, verbose=verbose,
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    best = int(np.argmin(logs["val_loss"]))
    return {
        "history": logs,
        "epochs": len(logs["loss"]),
        "best_epoch": best + 1,
        "seconds": round(time.perf_counter() - start, 2),
        "loss": loss,
    }


def enhance(model, inputs: np.ndarray) -> np.ndarray:
    """The model's output for images of any size (padded to the network's multiple, then cropped back).

    Example:
        >>> enhance(model, noisy_test).shape
        (1000, 28, 28, 1)
    """
    multiple = 2 ** depth_of(model)
    padded, (h, w) = pad_to_multiple(np.asarray(inputs, dtype=np.float32), multiple)
    factor = upscale_of(model)
    return predict_rows(model, padded)[:, : h * factor, : w * factor, :]


def cut_tiles(image: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` tiles of one image (h, w[, c]), row by row; the ragged edge is dropped.

    Example:
        >>> cut_tiles(np.zeros((512, 512)), 28).shape
        (324, 28, 28, 1)
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    rows, cols = image.shape[0] // size, image.shape[1] // size
    tiles = image[: rows * size, : cols * size].reshape(rows, size, cols, size, image.shape[-1])
    return tiles.transpose(0, 2, 1, 3, 4).reshape(rows * cols, size, size, image.shape[-1])
