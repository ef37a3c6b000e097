"""Seeded, offline segmentation sets for tests and benchmarks.

- :func:`shapes_set`: circles, rectangles and triangles (3 classes + background) on a textured background. Every
  shape draws its brightness from the same range whatever its class, so the class is in the geometry, not in the
  pixel: per-pixel baselines cannot tell the shapes apart, a network that sees context can.
- :func:`high_contrast_set`: bright disks on a dark, slightly noisy background, with the two intensity ranges far
  apart: an Otsu threshold is exact, so the verdict must say "a threshold is enough".
- :func:`write_set`: write a set as ``images/`` + ``masks/`` PNG files (what ``deepwise train FOLDER`` reads).

Shapes come from ``skimage.draw.random_shapes`` (one shape per call, its pixels taken as the mask), placed where
they overlap no earlier shape (an occluded shape's class would be a guess).

Example:
    >>> images, masks, names = shapes_set(n_images=40, size=128, seed=0)
    >>> images[0].shape, masks[0].dtype, names
    ((128, 128, 1), dtype('uint8'), ['background', 'circle', 'rectangle', 'triangle'])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPE_CLASSES = ("circle", "rectangle", "triangle")


def _texture(size: int, rng: np.random.Generator, base: float, amplitude: float) -> np.ndarray:
    """Smooth blobs (Gaussian-filtered noise at two scales) around ``base``: a background with structure."""
    from scipy.ndimage import gaussian_filter

    field = (
        gaussian_filter(rng.standard_normal((size, size)), 6) * 18
        + gaussian_filter(rng.standard_normal((size, size)), 1.5) * 4
    )
    field = field / max(float(np.abs(field).max()), 1e-6)
    return base + amplitude * field


def _one_shape(size: int, kind: str, min_size: int, max_size: int, rng: np.random.Generator) -> np.ndarray | None:
    from skimage.draw import random_shapes

    image, labels = random_shapes(
        (size, size),
        max_shapes=1,
        min_shapes=1,
        min_size=min_size,
        max_size=max_size,
        shape=kind,
        channel_axis=None,
        intensity_range=(0, 0),
        rng=int(rng.integers(2**31)),
    )
    return image == 0 if labels else None


def shapes_set(
    n_images: int = 40,
    size: int = 128,
    seed: int = 0,
    shapes_per_image: tuple[int, int] = (3, 7),
    min_size: int = 14,
    max_size: int = 36,
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Grayscale uint8 images ``[size, size, 1]`` of circles/rectangles/triangles on texture, and their masks.

    Shape brightness: uniform in 120-220 for every class; background texture around 80 (+-40) plus pixel noise
    (sd 12), so intensity separates shapes from background only roughly and classes not at all.

    Example:
        >>> images, masks, names = shapes_set(4, 96, seed=1)
        >>> np.unique(np.concatenate([m.ravel() for m in masks]))
        array([0, 1, 2, 3], dtype=uint8)
    """
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for _ in range(n_images):
        canvas = _texture(size, rng, base=80.0, amplitude=40.0)
        mask = np.zeros((size, size), dtype=np.uint8)
        for _ in range(int(rng.integers(shapes_per_image[0], shapes_per_image[1] + 1))):
            k = int(rng.integers(len(SHAPE_CLASSES)))
            for _attempt in range(20):  # shapes do not overlap: an occluded shape's class would be a guess
                pixels = _one_shape(size, SHAPE_CLASSES[k], min_size, max_size, rng)
                if pixels is not None and not (mask[pixels] > 0).any():
                    break
            else:
                continue
            canvas[pixels] = rng.uniform(120, 220) + rng.normal(0, 6, int(pixels.sum()))
            mask[pixels] = k + 1
        canvas = canvas + rng.normal(0, 12, canvas.shape)
        images.append(np.clip(canvas, 0, 255).astype(np.uint8)[..., None])
        masks.append(mask)
    return images, masks, ["background", *SHAPE_CLASSES]


def high_contrast_set(
    n_images: int = 20, size: int = 96, seed: int = 0, disks: tuple[int, int] = (2, 6)
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Bright disks (200-230) on a dark background (20-50), no blur: Otsu's threshold is exact on every pixel.

    Example:
        >>> images, masks, names = high_contrast_set(4, seed=0)
        >>> names
        ['background', 'disk']
    """
    from skimage.draw import disk

    rng = np.random.default_rng(seed)
    images, masks = [], []
    for _ in range(n_images):
        image = rng.uniform(20, 50, (size, size))
        mask = np.zeros((size, size), dtype=np.uint8)
        for _ in range(int(rng.integers(disks[0], disks[1] + 1))):
            radius = rng.uniform(5, size / 8)
            centre = rng.uniform(radius, size - radius, 2)
            rr, cc = disk(tuple(centre), radius, shape=(size, size))
            mask[rr, cc] = 1
        image[mask == 1] = rng.uniform(200, 230, int(mask.sum()))
        images.append(image.astype(np.uint8)[..., None])
        masks.append(mask)
    return images, masks, ["background", "disk"]


def write_set(
    folder: str | Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    class_names: list[str] | None = None,
    mask_suffix: str = ".png",
) -> Path:
    """Write ``folder/images/NNN.png`` and ``folder/masks/NNN.png`` (masks as 8-bit class ids), and a legend.csv
    when class names are given. Returns the folder.

    Example:
        >>> write_set(tmp_path / "shapes", *shapes_set(8, 64))
    """
    from PIL import Image

    root = Path(folder)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(np.asarray(mask, dtype=np.uint8)).save(root / "masks" / f"{i:03d}{mask_suffix}")
    if class_names:
        rows = ["id,name"] + [f"{k},{name}" for k, name in enumerate(class_names)]
        (root / "legend.csv").write_text("\n".join(rows) + "\n")
    return root
