"""Transfer learning for segmentation (``model.from_run``): a new U-Net starts from an earlier segmentation run's
encoder.

What is reused: the encoder, i.e. every layer of the contracting path and the bottleneck (``down<level>_*`` and
``bottleneck_*``: convolutions and batch normalization). The decoder and the output layer start fresh, so the new
run may have other classes (a 4-class shapes run can start a binary nuclei run). The input standardization is this
run's own (the new images' mean and spread), so the reused filters see inputs on the scale they learned on.

The U-Net takes the earlier run's depth and filters (the reused weights fix them) and this run's patch size.
``model.freeze_base`` as for images (:func:`deepwise.kinds.images.data._resolve_freeze_base`): by default the
reused encoder trains on with the decoder from its weights; ``true`` keeps it fixed (batch normalization in
inference mode) and only the decoder learns. ``model.fine_tune_layers`` (unfreeze the top of a frozen base after
the head) is for image classifiers and is refused here.

An image classification run's CNN is refused: its blocks have one 3x3 convolution each where the U-Net's levels
have two, and it rescales pixels by 1/255 where the U-Net standardizes them, so its filters fit no encoder layer
(only the first would line up with anything).

Example:
    >>> earlier = earlier_segmentation_run("runs/shapes-20260101-120000", channels=1)
    >>> plan = transferred_plan(earlier, plan_unet(112, 170_000), depth=None, base_filters=None)
    >>> copied = copy_encoder(model, earlier.open_model())       # the names of the layers whose weights were set
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.errors import ConfigError, RunError
from deepwise.records import RunFiles

ENCODER_PREFIXES = ("down", "bottleneck")


def is_encoder_layer(name: str) -> bool:
    """``down<level>_conv1``, ``down<level>_bn2``, ``bottleneck_conv1``... (not the pooling or activations, which
    hold no weights anyway)."""
    head = name.split("_", 1)[0]
    return head == "bottleneck" or (head.startswith("down") and head[4:].isdigit())


def earlier_segmentation_run(path: str, channels: int) -> RunFiles:
    """The earlier run of ``model.from_run``: a complete segmentation run on images with as many channels."""
    earlier = RunFiles(path)
    kind = earlier.kind
    if kind == "images":
        raise ConfigError(
            f"model.from_run '{path}' is an image classification run; segmentation reuses the encoder of an earlier "
            "segmentation run's U-Net. A classifier's CNN does not fit it: one 3x3 convolution per block where the "
            "U-Net has two per level, and pixels rescaled by 1/255 where the U-Net standardizes them.",
            expected="the folder of an earlier deepwise segmentation run (a folder of images/ and masks/)",
            fix="train a segmentation run first (deepwise train FOLDER with images/ and masks/) and point "
            "model.from_run at it, or leave model.from_run out to train the U-Net from scratch.",
        )
    if kind != "segmentation":
        raise ConfigError(
            f"model.from_run '{path}' is a {kind} run ({earlier.metrics.task}); segmentation reuses the encoder of "
            "an earlier segmentation run's U-Net.",
            expected="the folder of an earlier deepwise segmentation run",
            fix="point model.from_run at a segmentation run, or leave it out to train the U-Net from scratch.",
        )
    state = earlier.preprocessing
    if int(state.get("channels", -1)) != channels:
        raise ConfigError(
            f"model.from_run '{path}' was trained on images of {state.get('channels')} channel(s); these images "
            f"have {channels}. The encoder's first filters take one weight per input channel.",
            expected=f"an earlier segmentation run on images of {channels} channel(s)",
            fix="point model.from_run at a run on images like these (grayscale or colour), or convert the images.",
        )
    return earlier


def transferred_plan(earlier: RunFiles, plan: Any, depth: int | None, base_filters: int | None) -> Any:
    """This run's plan (patch, batch) with the earlier run's depth and filters; a conflicting setting is an error."""
    from deepwise.kinds.segmentation.unet import UNetPlan

    earlier_plan = earlier.preprocessing["plan"]
    e_depth, e_filters = int(earlier_plan["depth"]), int(earlier_plan["base_filters"])
    for name, wanted, have in (("depth", depth, e_depth), ("base_filters", base_filters, e_filters)):
        if wanted is not None and wanted != have:
            raise ConfigError(
                f"segmentation.{name}: {wanted} differs from the earlier run's {have} (model.from_run "
                f"'{earlier.path}'): the reused encoder fixes the U-Net's size.",
                expected=f"segmentation.{name}: null (or {have})",
                fix=f"remove segmentation.{name}, or leave model.from_run out to train a U-Net of your size.",
            )
    if plan.patch % (2**e_depth):
        raise ConfigError(
            f"The earlier run's U-Net has depth {e_depth} ({2**e_depth}x downsampling); this run's training patches "
            f"({plan.patch} px, the largest that fit these images) are not a multiple of {2**e_depth}.",
            expected=f"images large enough for patches that are a multiple of {2**e_depth} px",
            fix="use larger images (or fewer, larger cells: segmentation.cell_size), or train from scratch.",
        )
    reason = (
        f"a U-Net of depth {e_depth} with {e_filters} filters in its first level, as the earlier run "
        f"'{earlier.path.name}' whose encoder it starts from, trained on {plan.patch}x{plan.patch} patches in "
        f"batches of {plan.batch_size}"
    )
    return UNetPlan(e_depth, e_filters, plan.patch, plan.batch_size, reason)


def copy_encoder(model: Any, earlier_model: Any) -> list[str]:
    """Set the encoder layers of ``model`` to the earlier model's weights; returns their names.

    Both must be deepwise U-Nets of the same depth, filters and channels; anything else is a :class:`RunError`.
    """
    copied = []
    for layer in model.layers:
        if not (layer.weights and is_encoder_layer(layer.name)):
            continue
        try:
            source = earlier_model.get_layer(layer.name)
        except ValueError:
            source = None
        shapes = [tuple(w.shape) for w in layer.weights]
        if source is None or [tuple(w.shape) for w in source.weights] != shapes:
            raise RunError(
                f"The earlier run's model has no layer '{layer.name}' of the shapes {shapes}: it is not the U-Net "
                "its preprocessing.json describes.",
                expected="a model.keras written by a deepwise segmentation run",
                fix="retrain the earlier run, or leave model.from_run out.",
            )
        layer.set_weights([np.asarray(w) for w in source.get_weights()])
        copied.append(layer.name)
    if not copied:
        raise RunError(
            "The earlier run's model shares no encoder layer with the U-Net.",
            expected="a model.keras written by a deepwise segmentation run",
            fix="retrain the earlier run, or leave model.from_run out.",
        )
    return copied


def freeze_encoder(model: Any) -> int:
    """Keep the encoder fixed (its batch normalization in inference mode); returns how many weights are frozen."""
    frozen = 0
    for layer in model.layers:
        if layer.weights and is_encoder_layer(layer.name):
            layer.trainable = False
            frozen += sum(int(np.prod(w.shape)) for w in layer.weights)
    return frozen


def check_transfer_config(model: Any) -> None:
    """Resolve ``model.freeze_base`` as for images and refuse what segmentation cannot do (``fine_tune_layers``)."""
    from deepwise.kinds.images.data import _resolve_freeze_base

    if model.fine_tune_layers:
        raise ConfigError(
            f"model.fine_tune_layers: {model.fine_tune_layers} is not available for segmentation: the reused encoder "
            "is either fixed or trains with the decoder from the start.",
            expected="model.fine_tune_layers: 0, with model.freeze_base: false (the default: the encoder trains on) "
            "or true (only the decoder learns)",
            fix="remove model.fine_tune_layers.",
        )
    _resolve_freeze_base(model, reuses_application=False)
