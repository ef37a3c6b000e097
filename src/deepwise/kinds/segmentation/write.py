"""Writing predicted masks: PNGs with the user's class ids (palette colours when they fit), and overlays.

A mask whose ids are all below 256 is written as a palette PNG: each pixel's value is its class id (what the
user's tools read back) and the palette shows the legend's colours (or a default set), so it is viewable as is.
Larger ids go to a 16-bit grayscale PNG.

Example:
    >>> write_mask_png("out/a.png", labels, legend)                  # class indices -> the user's ids
    >>> write_overlay_png("out/a_overlay.png", image, labels, legend)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepwise.kinds.segmentation.classes import indices_to_values
from deepwise.kinds.segmentation.legend import Legend

#: background black, then well-separated colours (matplotlib's tab10 order)
DEFAULT_COLORS = [
    (0, 0, 0),
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def class_colors(legend: Legend) -> list[tuple[int, int, int]]:
    """A colour per class: the legend's own where given, else the default colours in class order.

    Example:
        >>> class_colors(Legend([0, 1], ["bg", "cell"], [None, None]))
        [(0, 0, 0), (31, 119, 180)]
    """
    out = []
    for k, color in enumerate(legend.colors):
        if color is not None:
            out.append(tuple(color))
        else:
            rng = np.random.default_rng(k)
            fallback = tuple(int(v) for v in rng.integers(40, 256, 3))
            out.append(DEFAULT_COLORS[k] if k < len(DEFAULT_COLORS) else fallback)
    return out


def write_mask_png(path: str | Path, indices: np.ndarray, legend: Legend) -> Path:
    """Class indices ``[H, W]`` -> a PNG holding the user's class ids (palette PNG when ids < 256).

    Example:
        >>> write_mask_png("pred/a.png", model_output.argmax(-1), legend)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mask_image(indices, legend).save(path)
    return path


def mask_image(indices: np.ndarray, legend: Legend):
    """Class indices ``[H, W]`` -> a PIL image of the user's class ids (palette-coloured when ids < 256).

    Example:
        >>> mask_image(labels, legend).save(buffer, format="PNG")
    """
    from PIL import Image

    values = indices_to_values(np.asarray(indices), legend)
    if values.dtype == np.uint8:
        img = Image.fromarray(values, mode="P")
        palette = [0] * (256 * 3)
        for class_id, color in zip(legend.ids, class_colors(legend), strict=True):
            palette[3 * class_id : 3 * class_id + 3] = color
        img.putpalette(palette)
    else:
        img = Image.fromarray(values.astype(np.uint16))
    return img


def overlay(image: np.ndarray, indices: np.ndarray, legend: Legend, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]``: the image (contrast-stretched to its 1-99 % range) with class colours blended in;
    background (class index 0) left uncoloured.

    Example:
        >>> overlay(image, labels, legend).shape
        (512, 512, 3)
    """
    x = np.asarray(image, dtype=np.float32)
    x = x if x.ndim == 3 else x[..., None]
    lo, hi = np.percentile(x, [1, 99])
    gray = np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat(gray.mean(-1, keepdims=True), 3, -1) if gray.shape[-1] != 3 else gray
    colors = np.asarray(class_colors(legend), dtype=np.float32) / 255.0
    painted = colors[np.asarray(indices)]
    blend = np.where((np.asarray(indices) > 0)[..., None], (1 - alpha) * rgb + alpha * painted, rgb)
    return (blend * 255 + 0.5).astype(np.uint8)


def write_overlay_png(
    path: str | Path, image: np.ndarray, indices: np.ndarray, legend: Legend, alpha: float = 0.45
) -> Path:
    """Save :func:`overlay` as a PNG.

    Example:
        >>> write_overlay_png("pred/a_overlay.png", image, labels, legend)
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay(image, indices, legend, alpha)).save(path)
    return path
