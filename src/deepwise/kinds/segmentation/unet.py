"""A U-Net sized to the images, a Dice + cross-entropy loss, and training patches with flips and rotations.

The network is fully convolutional (input ``[None, None, C]``): trained on square patches, it predicts images of
any size whose sides are multiples of ``2**depth`` (``tiling.py`` pads and tiles the rest). Its first layer
standardizes the raw pixels with the training pixels' per-channel mean and variance, so it takes images as read
(uint8, uint16, float). Output: softmax over the classes (two for a binary task), ``[B, H, W, K]``.

Masks given to the loss hold class indices; any value outside ``0..K-1`` (e.g. :data:`IGNORE`) marks a pixel to
leave out (padding, gaps), for the cross-entropy and the Dice term alike.

Example:
    >>> plan = plan_unet(patch_limit=112, train_pixels=170_000)
    >>> model = build_unet(channels=1, n_classes=2, depth=plan.depth, base_filters=plan.base_filters,
    ...                    mean=[31.8], variance=[900.0], seed=0)
    >>> model.compile(optimizer="adam", loss=DiceCrossEntropy(n_classes=2))
    >>> model.fit(PatchDataset(sources, patch=plan.patch, batch_size=16, steps=50, seed=0), epochs=30)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.models.init import host_initializers

keras = keras_module()
IGNORE = 255  # mask value left out of the loss (padding); any value >= n_classes works the same
BN_MOMENTUM = 0.9
PATCH_CHOICES = (256, 192, 128, 96, 64, 48, 32)


@dataclass
class UNetPlan:
    """How big the U-Net and its training patches are, and why (``reason`` is said in the run)."""

    depth: int
    base_filters: int
    patch: int
    batch_size: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_unet(patch_limit: int, train_pixels: int, max_depth: int = 4) -> UNetPlan:
    """Size the U-Net to the data: the patch is the largest of 256/192/128/96/64/48/32 px that fits the training
    regions (``patch_limit``: the side of the largest square inside them); depth = downsamplings, so that the
    bottleneck sees 8x8 positions of the patch (2 to 4 levels); 16 filters in the first level, 32 when there are
    more than 4 million training pixels (more data carries a bigger network). Batches hold about 64k pixels.

    Example:
        >>> plan_unet(patch_limit=112, train_pixels=170_000)
        UNetPlan(depth=3, base_filters=16, patch=96, batch_size=8, reason='...')
    """
    fitting = [p for p in PATCH_CHOICES if p <= patch_limit]
    if not fitting:
        raise ValueError(f"training regions of {patch_limit} px are smaller than the smallest patch (32 px)")
    patch = fitting[0]
    depth = int(np.clip(int(np.log2(patch)) - 3, 2, max_depth))
    while patch % (2**depth):
        depth -= 1
    filters = 32 if train_pixels > 4_000_000 else 16
    batch = int(np.clip(2 ** round(np.log2(65536 / patch**2)), 2, 32))
    reason = (
        f"a U-Net of depth {depth} ({2**depth}x downsampling) with {filters} filters in its first level, trained "
        f"on {patch}x{patch} patches in batches of {batch}: the largest patch that fits the training regions, and "
        f"{'more' if filters == 32 else 'fewer'} than 4 million training pixels ({train_pixels:,})"
    )
    return UNetPlan(depth=depth, base_filters=filters, patch=patch, batch_size=batch, reason=reason)


def _conv_block(x, filters: int, name: str, batch_norm: bool, dropout: float):
    layers = keras.layers
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    if dropout:
        x = layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(x)
    return x


def build_unet(
    channels: int,
    n_classes: int,
    depth: int = 3,
    base_filters: int = 16,
    mean: Sequence[float] | None = None,
    variance: Sequence[float] | None = None,
    batch_norm: bool = True,
    dropout: float = 0.0,
    seed: int = 0,
):
    """A U-Net: ``depth`` levels of two 3x3 convolutions + max-pooling (filters doubling), a bottleneck, and a
    decoder of 2x2 transposed convolutions with skip connections; a 1x1 convolution + softmax gives ``n_classes``.

    ``mean``/``variance``: per-channel statistics of the training pixels for the input standardization layer.
    Initial weights are drawn with NumPy (``host_initializers``), so building compiles nothing.

    Example:
        >>> build_unet(channels=1, n_classes=2, depth=3, base_filters=16).count_params()
        470658
    """
    layers = keras.layers
    mean = list(mean) if mean is not None else [0.0] * channels
    variance = list(variance) if variance is not None else [1.0] * channels
    with host_initializers(seed):
        inputs = keras.Input(shape=(None, None, channels), name="image")
        x = layers.Normalization(mean=mean, variance=variance, name="standardize")(inputs)
        skips = []
        for level in range(depth):
            x = _conv_block(x, base_filters * 2**level, f"down{level}", batch_norm, 0.0)
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
        x = _conv_block(x, base_filters * 2**depth, "bottleneck", batch_norm, dropout)
        for level in reversed(range(depth)):
            filters = base_filters * 2**level
            x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}_transpose")(x)
            x = layers.Concatenate(name=f"up{level}_concat")([x, skips[level]])
            x = _conv_block(x, filters, f"up{level}", batch_norm, 0.0)
        outputs = layers.Conv2D(n_classes, 1, activation="softmax", dtype="float32", name="classes")(x)
        return keras.Model(inputs, outputs, name=f"unet_d{depth}_f{base_filters}")


def receptive_radius(depth: int) -> int:
    """Pixels of context on each side that a prediction depends on (two 3x3 convolutions per level, both ways).

    Tiles that keep at least this margin give the same predictions as the whole image.

    Example:
        >>> receptive_radius(3)
        58
    """
    # per level: 2 convolutions down, 2 up (radius 1 each at scale 2**level), pooling and transposed convolution
    # (radius up to 1 each at that scale); the bottleneck's 2 convolutions at scale 2**depth
    return 6 * (2**depth - 1) + 2 * 2**depth


@keras.saving.register_keras_serializable(package="deepwise")
class DiceCrossEntropy(keras.losses.Loss):
    """Mean pixel cross-entropy + ``dice_weight`` x (1 - soft Dice averaged over the classes present in the batch).

    Cross-entropy teaches every pixel; the Dice term keeps small classes (a few nuclei on much background) from
    being drowned out. Mask values outside ``0..n_classes-1`` are left out of both.

    Example:
        >>> model.compile(optimizer="adam", loss=DiceCrossEntropy(n_classes=3))
    """

    def __init__(self, n_classes: int, dice_weight: float = 1.0, name: str = "dice_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_classes = int(n_classes)
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, -1)
        valid = ops.cast((y_true >= 0) & (y_true < self.n_classes), "float32")
        onehot = ops.one_hot(ops.where(valid > 0, y_true, 0), self.n_classes) * valid[..., None]
        probs = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0)
        n_valid = ops.maximum(ops.sum(valid), 1.0)
        cross_entropy = -ops.sum(onehot * ops.log(probs)) / n_valid
        if not self.dice_weight:
            return cross_entropy
        probs = probs * valid[..., None]
        axes = (0, 1, 2)
        intersection = ops.sum(probs * onehot, axis=axes)
        sizes = ops.sum(probs, axis=axes) + ops.sum(onehot, axis=axes)
        present = ops.cast(ops.sum(onehot, axis=axes) > 0, "float32")
        dice = (2.0 * intersection + 1.0) / (sizes + 1.0)
        mean_dice = ops.sum(dice * present) / ops.maximum(ops.sum(present), 1.0)
        return cross_entropy + self.dice_weight * (1.0 - mean_dice)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_classes": self.n_classes, "dice_weight": self.dice_weight}


# ---------------------------------------------------------------------------------------------------- patches


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 symmetries of the square: rotate by ``k % 4`` quarter turns, then mirror when ``k >= 4``.

    Applied with the same ``k`` to an image ``[H, W, C]`` and its mask ``[H, W]``, it keeps them aligned.

    Example:
        >>> dihedral(np.array([[1, 2], [3, 4]]), 1)
        array([[2, 4],
               [1, 3]])
    """
    out = np.rot90(array, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


@dataclass
class PatchSource:
    """An image (``[H, W, C]``), its mask (``[H, W]``) and the top-left corners of allowed patches (``[n, 2]``;
    None: anywhere in the image)."""

    image: np.ndarray
    mask: np.ndarray
    origins: np.ndarray | None = None

    def count(self, patch: int) -> int:
        if self.origins is not None:
            return len(self.origins)
        h, w = self.mask.shape
        return max(0, h - patch + 1) * max(0, w - patch + 1)

    def draw(self, rng: np.random.Generator, patch: int) -> tuple[int, int]:
        if self.origins is not None:
            oy, ox = self.origins[rng.integers(len(self.origins))]
            return int(oy), int(ox)
        h, w = self.mask.shape
        return int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))


class PatchDataset(keras.utils.PyDataset):
    """Training batches of random patches, each flipped/rotated with its mask (8 symmetries of the square), and
    optionally jittered in contrast and brightness (``intensity_jitter``: relative amount; ``channel_std``: the
    training pixels' spread per channel, the unit of the brightness shift).

    Sources are drawn in proportion to their number of allowed patches; batch ``i`` of epoch ``e`` depends on
    ``(seed, e, i)`` only, so training is reproducible.

    Example:
        >>> ds = PatchDataset([PatchSource(image, mask, patch_origins(split_map == 0, 96))], patch=96,
        ...                   batch_size=8, steps=50, seed=0)
        >>> x, y = ds[0]       # float32 [8, 96, 96, C], int32 [8, 96, 96]
    """

    def __init__(
        self,
        sources: Sequence[PatchSource],
        patch: int,
        batch_size: int,
        steps: int,
        seed: int = 0,
        augment: bool = True,
        intensity_jitter: float = 0.0,
        channel_std: Sequence[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.jitter = float(intensity_jitter)
        self.channel_std = np.asarray(channel_std if channel_std is not None else [1.0], dtype=np.float32)
        self.sources = [s for s in sources if s.count(patch)]
        if not self.sources:
            raise ValueError(f"no training region holds a {patch}x{patch} patch")
        sizes = np.array([s.count(patch) for s in self.sources], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.patch, self.batch_size, self.steps = patch, batch_size, steps
        self.seed, self.augment, self.epoch = seed, augment, 0

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        p = self.patch
        channels = self.sources[0].image.shape[-1]
        x = np.empty((self.batch_size, p, p, channels), dtype=np.float32)
        y = np.empty((self.batch_size, p, p), dtype=np.int32)
        picks = rng.choice(len(self.sources), size=self.batch_size, p=self.weights)
        for b, s in enumerate(picks):
            source = self.sources[s]
            oy, ox = source.draw(rng, p)
            image = source.image[oy : oy + p, ox : ox + p]
            mask = source.mask[oy : oy + p, ox : ox + p]
            if self.augment:
                k = int(rng.integers(8))
                image, mask = dihedral(image, k), dihedral(mask, k)
            x[b], y[b] = image, mask
            if self.jitter:  # contrast x (1 +- j) around the patch mean, brightness +- j training spreads
                centre = x[b].mean(axis=(0, 1))
                gain = 1.0 + rng.uniform(-self.jitter, self.jitter)
                shift = rng.uniform(-self.jitter, self.jitter) * self.channel_std
                x[b] = centre + (x[b] - centre) * gain + shift
        return x, y


def cover_patches(
    image: np.ndarray, mask: np.ndarray, patch: int, pad_value: float | Sequence[float] = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``patch x patch`` pieces covering a whole image (for validation batches of one shape).

    Pieces beyond the image edge are filled with ``pad_value`` pixels (e.g. the training mean) and :data:`IGNORE`
    mask values, which the loss leaves out, so every pixel counts exactly once.

    Example:
        >>> x, y = cover_patches(tile, tile_mask, 96)     # a 60x60 tile -> one 96x96 piece
        >>> x.shape, (y != IGNORE).sum()
        ((1, 96, 96, 1), 3600)
    """
    h, w = mask.shape
    ny, nx = -(-h // patch), -(-w // patch)
    padded_image = np.empty((ny * patch, nx * patch, image.shape[-1]), dtype=np.float32)
    padded_image[:] = np.asarray(pad_value, dtype=np.float32)
    padded_mask = np.full((ny * patch, nx * patch), IGNORE, dtype=np.int32)
    padded_image[:h, :w] = image
    padded_mask[:h, :w] = mask
    xs = padded_image.reshape(ny, patch, nx, patch, -1).swapaxes(1, 2).reshape(ny * nx, patch, patch, -1)
    ys = padded_mask.reshape(ny, patch, nx, patch).swapaxes(1, 2).reshape(ny * nx, patch, patch)
    return xs, ys
