"""Train / validation / test splits for segmentation: by image, or spatially within one large image.

Neighbouring pixels are nearly copies of each other, so a random split of pixels (or of overlapping patches) would
test the network on pixels it has all but seen. A single large image (common in microscopy) is instead cut into a
grid of cells, each cell goes wholly to one split, and a ``gap`` of pixels along every border between cells of
different splits belongs to no split: no training patch touches a test pixel or its immediate neighbours. Each
test cell is one unit of the paired bootstrap.

Example:
    >>> split = spatial_tiles(512, 512, seed=0)          # 8 x 8 cells of 64 px, 8 px gaps between splits
    >>> split.describe()
    'one 512x512 image split spatially into 64 cells of about 64x64 px: 42 train, 10 validation, 12 test ...'
    >>> test_images = [split.crop(image, t) for t in split.tiles("test")]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepwise.errors import DataError

SPLITS = ("train", "validation", "test")
GAP_LABEL = -1
DEFAULT_FRACTIONS = (0.65, 0.15, 0.2)  # deepwise's split for tables, kept here
MIN_CELL = 32


@dataclass(frozen=True)
class Tile:
    """One cell of a spatial split: rows ``y0:y1``, columns ``x0:x1`` (gaps already taken off)."""

    split: str
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def to_list(self) -> list:
        return [self.split, self.y0, self.y1, self.x0, self.x1]


@dataclass
class SpatialSplit:
    """Which pixels of one image belong to which split (``split_map``: 0 train, 1 validation, 2 test, -1 gap)."""

    split_map: np.ndarray
    cells: list[Tile]
    cell_size: int
    gap: int

    def tiles(self, split: str) -> list[Tile]:
        """The cells of ``split``, gaps taken off, in reading order."""
        return [t for t in self.cells if t.split == split]

    @staticmethod
    def crop(array: np.ndarray, tile: Tile) -> np.ndarray:
        """``array[tile]`` (an image ``[H, W, C]`` or a mask ``[H, W]``)."""
        return array[tile.y0 : tile.y1, tile.x0 : tile.x1]

    def pixels(self, split: str) -> int:
        return int((self.split_map == SPLITS.index(split)).sum())

    def describe(self) -> str:
        h, w = self.split_map.shape
        counts = {s: len(self.tiles(s)) for s in SPLITS}
        share = {s: self.pixels(s) / (h * w) for s in SPLITS}
        return (
            f"one {w}x{h} image split spatially into {len(self.cells)} cells of about {self.cell_size}x"
            f"{self.cell_size} px: {counts['train']} train, {counts['validation']} validation, {counts['test']} test "
            f"({share['train']:.0%} / {share['validation']:.0%} / {share['test']:.0%} of the pixels; a {self.gap} px "
            f"gap between cells of different splits belongs to none, so no training patch touches a test pixel); "
            "each test cell is one unit of the bootstrap."
        )

    def to_dict(self) -> dict:
        """JSON-able record of the split (for the run's manifest)."""
        return {
            "shape": list(self.split_map.shape),
            "cell_size": self.cell_size,
            "gap": self.gap,
            "cells": [t.to_list() for t in self.cells],
        }


def default_cell_size(height: int, width: int) -> int:
    """About 8 cells along the shorter side, a multiple of 16 between 32 and 256 px.

    Example:
        >>> default_cell_size(512, 512), default_cell_size(4096, 4096)
        (64, 256)
    """
    side = min(height, width) / 8
    return int(np.clip(16 * round(side / 16), MIN_CELL, 256))


def _counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    total = float(sum(fractions))
    n_test = max(1, round(n * fractions[2] / total))
    n_val = max(1, round(n * fractions[1] / total)) if fractions[1] > 0 else 0
    return n - n_val - n_test, n_val, n_test


def _edges(size: int, cell: int) -> np.ndarray:
    n = max(1, round(size / cell))
    return np.round(np.linspace(0, size, n + 1)).astype(int)


def spatial_tiles(
    height: int,
    width: int,
    cell_size: int | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    gap: int | None = None,
    seed: int = 0,
) -> SpatialSplit:
    """Split one ``height x width`` image into grid cells assigned to train/validation/test, with gaps between splits.

    Cells go to the splits at random (seeded) in exact proportions; ``gap`` (default cell_size/8) pixels along each
    border between cells of different splits go to no split (half from each side).

    Example:
        >>> split = spatial_tiles(512, 512, cell_size=64, seed=0)
        >>> [len(split.tiles(s)) for s in ("train", "validation", "test")]
        [42, 10, 12]
    """
    cell = cell_size or default_cell_size(height, width)
    gap = cell // 8 if gap is None else int(gap)
    rows, cols = _edges(height, cell), _edges(width, cell)
    n_cells = (len(rows) - 1) * (len(cols) - 1)
    n_train, n_val, n_test = _counts(n_cells, fractions)
    if n_cells < 3 or n_train < 1:
        raise DataError(
            f"A {width}x{height} image cut into cells of {cell} px gives {n_cells} cell(s): too few to hold training, "
            "validation and test regions apart.",
            expected=f"an image at least {3 * MIN_CELL} px on its longer side, or a smaller cell size",
            fix="use a smaller cell size, or provide several images (split by image).",
        )
    labels = np.array([0] * n_train + [1] * n_val + [2] * n_test, dtype=np.int8)
    grid = np.random.default_rng(seed).permutation(labels).reshape(len(rows) - 1, len(cols) - 1)
    split_map = np.repeat(np.repeat(grid, np.diff(rows), axis=0), np.diff(cols), axis=1)
    half_lo, half_hi = gap // 2, gap - gap // 2
    cells: list[Tile] = []
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            y0, y1, x0, x1 = rows[i], rows[i + 1], cols[j], cols[j + 1]
            differs = {
                "top": i > 0 and grid[i - 1, j] != grid[i, j],
                "bottom": i + 1 < grid.shape[0] and grid[i + 1, j] != grid[i, j],
                "left": j > 0 and grid[i, j - 1] != grid[i, j],
                "right": j + 1 < grid.shape[1] and grid[i, j + 1] != grid[i, j],
            }
            ty0, ty1 = y0 + (half_hi if differs["top"] else 0), y1 - (half_lo if differs["bottom"] else 0)
            tx0, tx1 = x0 + (half_hi if differs["left"] else 0), x1 - (half_lo if differs["right"] else 0)
            split_map[y0:ty0, x0:x1] = GAP_LABEL
            split_map[ty1:y1, x0:x1] = GAP_LABEL
            split_map[y0:y1, x0:tx0] = GAP_LABEL
            split_map[y0:y1, tx1:x1] = GAP_LABEL
            cells.append(Tile(SPLITS[int(grid[i, j])], int(ty0), int(ty1), int(tx0), int(tx1)))
    _gap_corners(split_map, grid, rows, cols, half_lo, half_hi)
    return SpatialSplit(split_map=split_map, cells=cells, cell_size=cell, gap=gap)


def _gap_corners(split_map, grid, rows, cols, half_lo: int, half_hi: int) -> None:
    """Where four cells meet, a diagonal neighbour of another split also needs the gap (its corner touches)."""
    for i in range(1, grid.shape[0]):
        for j in range(1, grid.shape[1]):
            block = grid[i - 1 : i + 1, j - 1 : j + 1]
            if len(np.unique(block)) > 1:
                y, x = rows[i], cols[j]
                split_map[y - half_lo : y + half_hi, x - half_lo : x + half_hi] = GAP_LABEL


def patch_origins(region: np.ndarray, patch: int, stride: int = 1) -> np.ndarray:
    """Top-left corners ``[n, 2]`` of every ``patch x patch`` window lying wholly inside ``region`` (a bool map).

    Example:
        >>> patch_origins(split.split_map == 0, 64).shape      # windows of training pixels only
        (61234, 2)
    """
    region = np.asarray(region, dtype=bool)
    h, w = region.shape
    if h < patch or w < patch:
        return np.zeros((0, 2), dtype=np.int32)
    summed = np.zeros((h + 1, w + 1), dtype=np.int64)
    summed[1:, 1:] = region.cumsum(0).cumsum(1)
    inside = summed[patch:, patch:] - summed[:-patch, patch:] - summed[patch:, :-patch] + summed[:-patch, :-patch]
    full = inside[::stride, ::stride] == patch * patch
    ys, xs = np.nonzero(full)
    return np.stack([ys * stride, xs * stride], axis=1).astype(np.int32)


def split_images(n_images: int, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, seed: int = 0) -> dict:
    """Image indices for train/validation/test (several images: each image wholly in one split).

    Example:
        >>> split_images(20, seed=0)
        {'train': array([...13 indices]), 'validation': array([...3]), 'test': array([...4])}
    """
    if n_images < 3:
        raise DataError(
            f"{n_images} image(s) cannot be split by image into training, validation and test.",
            expected="at least 3 images, or one large image (split spatially into tiles)",
            fix="add images, or give one large image so that it is split spatially.",
        )
    n_train, n_val, n_test = _counts(n_images, fractions)
    order = np.random.default_rng(seed).permutation(n_images)
    return {
        "train": np.sort(order[:n_train]),
        "validation": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }
