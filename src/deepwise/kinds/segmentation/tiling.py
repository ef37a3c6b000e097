"""Predict an image of any size with a network trained on patches: overlapping tiles, center-cropped, bounded memory.

The image is cut into ``tile x tile`` windows that overlap by ``2 * margin``; of each window's prediction only the
center is kept (the full extent along the image's own borders), so every pixel is predicted with at least
``margin`` pixels of real context on every side. With ``margin`` at least the network's receptive radius and
windows aligned to its downsampling grid, the result equals predicting the whole image at once (tested), while
memory stays that of one batch of windows plus the output labels (uint8 ``[H, W]``): the input may be a
``np.memmap`` / ``tifffile.memmap`` (read a window at a time) and the output may be a memmap too.

Sides that are not multiples of the network's downsampling (``multiple``) are reflect-padded and cropped back, as
:func:`predict_whole` does. Center-cropping rather than blending: with enough margin every kept pixel is already
exact, so averaging overlaps would only cost time.

Example:
    >>> labels = predict_tiled(model, big_image, tile=512, margin=64, multiple=8)      # uint8 [H, W]
    >>> labels = predict_tiled(model, tifffile.memmap("slide.tif"), out=np.lib.format.open_memmap(...))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

DEFAULT_TILE = 512
DEFAULT_BATCH = 4


def _predict_fn(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    return model.predict_on_batch if hasattr(model, "predict_on_batch") else model


def padded_size(size: int, multiple: int) -> int:
    """``size`` rounded up to a multiple of ``multiple``."""
    return -(-size // multiple) * multiple


def reflect_pad(window: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Pad ``window`` at the bottom/right to ``rows x cols`` by reflection (edge copies when it is too small)."""
    extra_r, extra_c = rows - window.shape[0], cols - window.shape[1]
    if extra_r == 0 and extra_c == 0:
        return window
    mode = "reflect" if min(window.shape[:2]) > 1 else "edge"
    widths = [(0, extra_r), (0, extra_c)] + [(0, 0)] * (window.ndim - 2)
    return np.pad(window, widths, mode=mode)


def _as_hwc(image: Any) -> Any:
    return image if image.ndim == 3 else image[..., None]


def predict_whole(model: Any, image: np.ndarray, multiple: int = 8) -> np.ndarray:
    """Class probabilities ``[H, W, K]`` for a whole image in one call (padded to a multiple of ``multiple``).

    Example:
        >>> predict_whole(model, image, multiple=2**depth).argmax(-1)
    """
    image = _as_hwc(np.asarray(image))
    h, w = image.shape[:2]
    x = reflect_pad(image.astype(np.float32), padded_size(h, multiple), padded_size(w, multiple))
    return np.asarray(_predict_fn(model)(x[None]))[0, :h, :w]


def _starts(size: int, tile: int, keep: int) -> list[int]:
    """Window starts along one side: every ``keep`` pixels, the last one flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, keep))
    return starts + [size - tile]


def tile_windows(height: int, width: int, tile: int, margin: int) -> Iterator[tuple[tuple[int, int], tuple]]:
    """``((y0, x0), (ky0, ky1, kx0, kx1))`` per window: its start and the part of it to keep (image coordinates).

    ``height``/``width`` are the padded sizes; windows are ``min(tile, side)`` long.

    Example:
        >>> list(tile_windows(256, 256, 256, 32))
        [((0, 0), (0, 256, 0, 256))]
    """
    th, tw = min(tile, height), min(tile, width)
    keep = tile - 2 * margin
    for y0 in _starts(height, th, keep):
        ky0 = 0 if y0 == 0 else y0 + margin
        ky1 = height if y0 + th >= height else y0 + th - margin
        for x0 in _starts(width, tw, keep):
            kx0 = 0 if x0 == 0 else x0 + margin
            kx1 = width if x0 + tw >= width else x0 + tw - margin
            yield (y0, x0), (ky0, ky1, kx0, kx1)


def _check(tile: int, margin: int, multiple: int) -> tuple[int, int]:
    margin = padded_size(max(int(margin), 0), multiple)
    tile = padded_size(int(tile), multiple)
    if tile - 2 * margin < multiple:
        raise ValueError(f"a tile of {tile} px with a margin of {margin} px keeps nothing; use a larger tile")
    return tile, margin


def predict_tiled(
    model: Any,
    image: Any,
    tile: int = DEFAULT_TILE,
    margin: int = 64,
    multiple: int = 8,
    batch_size: int = DEFAULT_BATCH,
    out: np.ndarray | None = None,
    probabilities: bool = False,
) -> np.ndarray:
    """Class indices ``[H, W]`` (uint8; or probabilities ``[H, W, K]`` float32) for an image of any size, in tiles.

    ``model``: a Keras model or a function of a batch ``[B, tile, tile, C]`` -> ``[B, tile, tile, K]``.
    ``image``: ``[H, W]`` or ``[H, W, C]``, any array that slices (NumPy, memmap). ``margin`` and ``tile`` are
    rounded up to multiples of ``multiple`` (the network's ``2**depth``). Every batch has ``batch_size`` windows
    (the last one padded with copies), so the network meets one input shape per image size class.
    ``out``: where to write (e.g. a memmap ``[H, W]`` uint8); allocated when None.

    Example:
        >>> labels = predict_tiled(model, image, tile=512, margin=64, multiple=8)
    """
    tile, margin = _check(tile, margin, multiple)
    image = _as_hwc(image)
    h, w = image.shape[:2]
    ph, pw = padded_size(h, multiple), padded_size(w, multiple)
    fn = _predict_fn(model)
    windows = list(tile_windows(ph, pw, tile, margin))
    th, tw = min(tile, ph), min(tile, pw)
    batch_size = min(batch_size, len(windows))
    batch = np.empty((batch_size, th, tw, image.shape[-1]), dtype=np.float32)
    for first in range(0, len(windows), batch_size):
        group = windows[first : first + batch_size]
        for b, ((y0, x0), _) in enumerate(group):
            window = np.asarray(image[y0 : min(y0 + th, h), x0 : min(x0 + tw, w)], dtype=np.float32)
            batch[b] = reflect_pad(window, th, tw)
        batch[len(group) :] = batch[len(group) - 1]
        probs = np.asarray(fn(batch))
        if out is None:  # allocated once the number of classes is known
            shape = (h, w, probs.shape[-1]) if probabilities else (h, w)
            out = np.empty(shape, dtype=np.float32 if probabilities else np.uint8)
        for b, ((y0, x0), (ky0, ky1, kx0, kx1)) in enumerate(group):
            ky1, kx1 = min(ky1, h), min(kx1, w)
            if ky1 <= ky0 or kx1 <= kx0:
                continue
            piece = probs[b, ky0 - y0 : ky1 - y0, kx0 - x0 : kx1 - x0]
            out[ky0:ky1, kx0:kx1] = piece if probabilities else piece.argmax(-1).astype(np.uint8)
    return out
