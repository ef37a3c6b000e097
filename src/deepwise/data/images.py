"""Image data: a folder of class sub-folders, a CSV of image paths and labels, or NumPy arrays.

Files are checked when the set is opened (unreadable or non-image files are listed by path, or skipped with
``on_bad_files: skip``); pixels are decoded later, batch by batch (:class:`ImageBatches`), or once into memory
when the set is small.

Example:
    >>> images = open_images("digits/")                 # digits/0/*.png, digits/1/*.png, ...
    >>> images.classes, len(images)
    (['0', '1', ...], 1797)
    >>> pixels = images.load(np.arange(32), size=(28, 28), channels=1)   # uint8 [32, 28, 28, 1]
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.tables import parquet_folder_files
from deepwise.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IMAGE_ARRAYS = ("images.npy", "labels.npy")


@dataclass
class ImageSet:
    """Where the images are (paths, or an array) and their labels (None when unlabelled)."""

    paths: list[str] | None
    array: np.ndarray | None
    labels: list[Any] | None
    skipped: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.paths) if self.paths is not None else len(self.array)

    @property
    def classes(self) -> list[str]:
        return sorted({str(v) for v in self.labels}) if self.labels is not None else []

    def names(self, index: np.ndarray | None = None) -> list[str]:
        """A name per image: its path, or ``#i`` for array rows."""
        index = np.arange(len(self)) if index is None else index
        if self.paths is not None:
            return [self.paths[i] for i in index]
        return [f"#{i}" for i in index]

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(
            paths=[self.paths[i] for i in index] if self.paths is not None else None,
            array=self.array[index] if self.array is not None else None,
            labels=[self.labels[i] for i in index] if self.labels is not None else None,
            source=self.source,
        )

    def load(self, index: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
        """Decode (or take from the array) and resize the images at ``index``: uint8 [n, h, w, channels]."""
        if self.array is not None and self.array.dtype == np.uint8:
            ready = [(*size, channels)] + ([tuple(size)] if channels == 1 else [])
            if self.array.shape[1:] in ready:
                # already uint8 pixels of the model's size: one slice, no per-image work
                return np.asarray(self.array[np.asarray(index)]).reshape(len(index), size[0], size[1], channels)
        out = np.empty((len(index), size[0], size[1], channels), dtype=np.uint8)
        for k, i in enumerate(index):
            out[k] = self._one(int(i), size, channels)
        return out

    def _one(self, i: int, size: tuple[int, int], channels: int) -> np.ndarray:
        from PIL import Image

        if self.paths is not None:
            try:
                with Image.open(self.paths[i]) as img:
                    img = img.convert("L" if channels == 1 else "RGB")
                    if img.size != (size[1], size[0]):
                        img = img.resize((size[1], size[0]), Image.BILINEAR)
                    pixels = np.asarray(img, dtype=np.uint8)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
                # the check when the set was opened reads headers only; a file damaged deeper inside (or changed
                # since) fails here, while its pixels are decoded. In-memory files (serving) keep Pillow's error.
                if not isinstance(self.paths[i], (str, PathLike)):
                    raise
                raise DataError(
                    f"The image '{self.paths[i]}' could not be decoded: {err}.",
                    expected="image files that decode without errors",
                    fix="remove or repair this file (re-export it), or set data.on_bad_files: skip when training.",
                ) from None
        else:
            pixels = _to_uint8(self.array[i])
            if pixels.ndim == 3 and pixels.shape[-1] not in (1, 3, 4):
                pixels = pixels[..., 0]
            have_channels = 1 if pixels.ndim == 2 else pixels.shape[-1]
            if pixels.shape[:2] != tuple(size) or have_channels != channels:
                mode_in = "L" if pixels.ndim == 2 or pixels.shape[-1] == 1 else "RGB"
                img = Image.fromarray(pixels.squeeze() if mode_in == "L" else pixels[..., :3], mode_in)
                img = img.convert("L" if channels == 1 else "RGB")
                if img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.BILINEAR)
                pixels = np.asarray(img, dtype=np.uint8)
        return pixels.reshape(size[0], size[1], channels)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        return pixels
    if np.issubdtype(pixels.dtype, np.floating) and pixels.size and float(np.nanmax(pixels)) <= 1.0:
        pixels = pixels * 255.0
    return np.clip(np.nan_to_num(pixels), 0, 255).astype(np.uint8)


def is_image_source(path: str | Path, image_column: str | None = None) -> bool:
    path = Path(path)
    if image_column is None and parquet_folder_files(path):
        return False  # a folder of Parquet files is a table
    return image_column is not None or path.is_dir() or path.suffix.lower() == ".npy"


def open_images(
    path: str | Path,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    on_bad_files: str = "error",
    labelled: bool = True,
    allow_outside: bool = False,
) -> ImageSet:
    """Open an image data set in any of the supported forms, checking every file.

    Files must lie inside the data folder (the CSV's folder for a CSV of paths): symlinks and paths that lead
    elsewhere are refused unless ``allow_outside`` (``data.allow_outside_paths``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"The image data '{path}' does not exist.",
            expected="a folder of class sub-folders, a CSV of image paths, or images.npy + labels.npy",
            fix="check the path.",
        )
    if path.suffix.lower() == ".npy" or (path.is_dir() and (path / IMAGE_ARRAYS[0]).is_file()):
        return _open_arrays(path, labelled)
    if path.is_dir():
        return _open_folder(path, on_bad_files, labelled, allow_outside)
    return _open_csv(path, image_column, label_column, on_bad_files, labelled, allow_outside)


def _open_arrays(path: Path, labelled: bool) -> ImageSet:
    images_path = path / IMAGE_ARRAYS[0] if path.is_dir() else path
    labels_path = images_path.with_name(images_path.name.replace("images", "labels"))
    try:
        array = np.load(images_path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(
            f"'{images_path}' is not a plain NumPy array file: {err}",
            expected="an array saved with np.save (no pickled objects)",
            fix="save the images with np.save(path, uint8_array).",
        ) from None
    if array.ndim not in (3, 4):
        raise DataError(
            f"'{images_path}' holds an array of shape {array.shape}.",
            expected="[n, height, width] or [n, height, width, channels]",
            fix="reshape the images before saving them.",
        )
    labels = None
    if labelled and labels_path != images_path and labels_path.is_file():
        try:
            labels = np.load(labels_path, allow_pickle=False).reshape(-1).tolist()
        except (ValueError, OSError, EOFError) as err:
            raise DataError(
                f"'{labels_path}' is not a plain NumPy array file: {err}",
                expected="labels saved with np.save as numbers or fixed-width text (no pickled objects)",
                fix="save them with np.save(path, np.asarray(labels, dtype=str)) or as integers.",
            ) from None
        if len(labels) != len(array):
            raise DataError(
                f"'{images_path.name}' has {len(array)} images but '{labels_path.name}' has {len(labels)} labels.",
                expected="one label per image",
                fix="save the labels of exactly the images in the image array, in the same order.",
            )
    elif labelled:
        raise DataError(
            f"No labels next to '{images_path}' (looked for '{labels_path.name}').",
            expected="labels.npy beside images.npy (one label per image)",
            fix="save the labels with np.save next to the images.",
        )
    return ImageSet(paths=None, array=array, labels=labels, source=str(images_path))


def check_image_files(paths: list[Path]) -> dict[str, str]:
    """``{path: why}`` for the files that are not safely readable images: wrong extension, empty, not an image,
    damaged or truncated, or so many pixels that decoding them could exhaust memory (a decompression bomb).

    Only headers are read (``Image.verify``), so checking is fast and never decodes a huge image."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    bad: dict[str, str] = {}
    for p in paths:
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            bad[str(p)] = f"not an image file extension ('{p.suffix or '(none)'}')"
            continue
        try:
            if p.stat().st_size == 0:
                bad[str(p)] = "empty file (0 bytes)"
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(p) as img:
                    width, height = img.size
                    if limit and width * height > limit:
                        bad[str(p)] = _bomb_reason(width, height, limit)
                        continue
                    img.verify()
        except Image.DecompressionBombError as err:
            bad[str(p)] = _bomb_reason(None, None, limit, str(err))
        except UnidentifiedImageError:
            bad[str(p)] = "not an image (its content is no image format; a renamed text or other file?)"
        except (OSError, SyntaxError, ValueError, struct.error, EOFError) as err:
            bad[str(p)] = f"damaged or truncated ({' '.join(str(err).split())[:120] or type(err).__name__})"
    return bad


def _bomb_reason(width: int | None, height: int | None, limit: int, detail: str = "") -> str:
    if width is not None and height is not None:
        size = f"{width:,}x{height:,} = {width * height:,} pixels"
    else:  # Pillow refused it while opening (over twice the limit): its message has the pixel count
        found = re.search(r"\((\d+) pixels\)", detail)
        size = f"{int(found.group(1)):,} pixels" if found else detail.rstrip(".")
    return (
        f"too large to decode safely: {size}, over the limit of {limit:,} (a small file that expands to "
        "gigabytes in memory: a decompression bomb)"
    )


def _check_files(paths: list[Path]) -> list[str]:
    """Paths that are not readable images (wrong extension, truncated, not an image at all, too large)."""
    return list(check_image_files(paths))


def _bad_files_error(bad: list[str], where: str, reasons: dict[str, str] | None = None) -> DataError:
    reasons = reasons or {}
    shown = [f"  {b}: {reasons[b]}" if b in reasons else f"  {b}" for b in bad[:20]]
    listed = "\n".join(shown) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
    return DataError(
        f"{len(bad)} file(s) in {where} are not readable images:\n{listed}",
        expected="only image files (jpg, png, bmp, gif, tiff, webp) that open without errors, each at most "
        f"{_pixel_limit():,} pixels",
        fix="remove or repair those files (shrink a huge image), or set data.on_bad_files: skip to leave them "
        "out with a warning.",
    )


def _pixel_limit() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 0)


def _outside_error(outside: dict[str, str], where: str) -> DataError:
    listed = "\n".join(f"  {p} -> {target}" for p, target in list(outside.items())[:20])
    more = f"\n  ... and {len(outside) - 20} more" if len(outside) > 20 else ""
    return DataError(
        f"{len(outside)} image path(s) in {where} lead outside the data folder:\n{listed}{more}",
        expected="image files inside the data folder (a link or a '../' path could make deepwise read any file "
        "on this machine)",
        fix="copy the images into the data folder, or, if you trust these paths, set data.allow_outside_paths: "
        "true in the config.",
    )


def _outside(root: Path, paths: list[Path], linked_dirs: set[Path] = frozenset()) -> dict[str, str]:
    """``{path: where it leads}`` for links (or files in linked folders) that resolve outside ``root``."""
    base = root.resolve()
    out = {}
    for p in paths:
        if p.is_symlink() or p.parent in linked_dirs:
            real = p.resolve()
            if not real.is_relative_to(base):
                out[str(p)] = str(real)
    return out


def _open_folder(root: Path, on_bad_files: str, labelled: bool, allow_outside: bool = False) -> ImageSet:
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not labelled and not subdirs:
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
        outside = {} if allow_outside else _outside(root, files)
        if outside:
            raise _outside_error(outside, f"'{root}'")
        reasons = check_image_files(files)
        bad = list(reasons)
        if bad and on_bad_files != "skip":
            raise _bad_files_error(bad, f"'{root}'", reasons)
        good = [str(p) for p in files if str(p) not in set(bad)]
        return ImageSet(paths=good, array=None, labels=None, skipped=bad, source=str(root))
    if not subdirs:
        raise DataError(
            f"'{root}' has no sub-folders, so there are no classes.",
            expected="one sub-folder per class, e.g. cats/*.jpg and dogs/*.jpg",
            fix="put the images of each class in a folder named after the class.",
        )
    paths: list[Path] = []
    labels: list[str] = []
    empty = []
    linked: set[Path] = set()
    for d in subdirs:
        files = sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            empty.append(d.name)
        if d.is_symlink():
            linked |= {p.parent for p in files}
        paths += files
        labels += [d.name] * len(files)
    if empty:
        raise DataError(
            f"Class folder(s) {', '.join(empty)} in '{root}' are empty.",
            expected="at least a few images in every class folder",
            fix="add images to those folders or remove them.",
        )
    if labelled and len(subdirs) < 2:
        raise DataError(
            f"'{root}' has a single class folder ('{subdirs[0].name}'): there is nothing to tell apart.",
            expected="two or more class folders",
            fix="add a folder of images for every other class.",
        )
    outside = {} if allow_outside else _outside(root, paths, linked)
    if outside:
        raise _outside_error(outside, f"'{root}'")
    reasons = check_image_files(paths)
    bad = set(reasons)
    if bad and on_bad_files != "skip":
        raise _bad_files_error(sorted(bad), f"'{root}'", reasons)
    keep = [i for i, p in enumerate(paths) if str(p) not in bad]
    return ImageSet(
        paths=[str(paths[i]) for i in keep],
        array=None,
        labels=[labels[i] for i in keep] if labelled else None,
        skipped=sorted(bad),
        source=str(root),
    )


def _open_csv(
    path: Path,
    image_column: str | None,
    label_column: str | None,
    on_bad_files: str,
    labelled: bool,
    allow_outside: bool = False,
) -> ImageSet:
    from deepwise.data.tables import read_table

    df = read_table(path)
    if image_column is None or image_column not in df.columns:
        raise DataError(
            f"The image-path column {image_column!r} is not in '{path.name}'.",
            expected="data.image_column naming the column of image paths: one of " + ", ".join(df.columns[:20]),
            fix="set data.image_column in the config.",
        )
    if labelled and (label_column is None or label_column not in df.columns):
        raise DataError(
            f"The label column {label_column!r} is not in '{path.name}'.",
            expected="one of " + ", ".join(df.columns[:20]),
            fix="set problem.target to the label column.",
        )
    root = path.parent.resolve()
    resolved = []
    outside: dict[str, str] = {}
    blank = int(df[image_column].isna().sum())
    if blank:
        raise DataError(
            f"The image-path column '{image_column}' of '{path.name}' is empty in {blank} row(s).",
            expected="an image path in every row",
            fix="fill in or drop those rows.",
        )
    for p in df[image_column].astype(str):
        if "\x00" in p:
            raise DataError(
                f"The image path {p!r} in '{path.name}' contains a NUL character.",
                expected="plain file paths",
                fix="correct the path.",
            )
        full = (root / p).resolve()
        if not allow_outside and not full.is_relative_to(root):
            outside[p] = str(full)
        resolved.append(full)
    if outside:
        raise _outside_error(outside, f"'{path.name}'")
    reasons = {str(p): "missing (no such file)" for p in resolved if not p.is_file()}
    reasons.update(check_image_files([p for p in resolved if p.is_file()]))
    bad = set(reasons)
    if bad and on_bad_files != "skip":
        raise _bad_files_error(sorted(bad), f"the paths of '{path.name}'", reasons)
    keep = [i for i, p in enumerate(resolved) if str(p) not in bad]
    labels = df[label_column].tolist() if labelled else None
    return ImageSet(
        paths=[str(resolved[i]) for i in keep],
        array=None,
        labels=[labels[i] for i in keep] if labels is not None else None,
        skipped=sorted(bad),
        source=str(path),
    )


def describe(images: ImageSet, max_files: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Sizes, channels and exact duplicates (on a sample of at most ``max_files`` files)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    n = len(images)
    index = np.sort(rng.choice(n, min(n, max_files), replace=False))
    sizes: Counter = Counter()
    modes: Counter = Counter()
    digests: dict[str, list[str]] = {}
    for i in index:
        if images.paths is not None:
            p = images.paths[i]
            with Image.open(p) as img:
                sizes[(img.size[1], img.size[0])] += 1
                modes["grayscale" if img.mode in ("L", "1", "I", "I;16", "F") else "colour"] += 1
            digest = hashlib.sha1(Path(p).read_bytes()).hexdigest()
            digests.setdefault(digest, []).append(p)
        else:
            a = images.array[i]
            sizes[tuple(a.shape[:2])] += 1
            modes["grayscale" if a.ndim == 2 or a.shape[-1] == 1 else "colour"] += 1
            digests.setdefault(hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest(), []).append(f"#{i}")
    duplicates = [group for group in digests.values() if len(group) > 1]
    heights = [h for (h, _), c in sizes.items() for _ in range(c)]
    widths = [w for (_, w), c in sizes.items() for _ in range(c)]
    return {
        "images": n,
        "checked": int(len(index)),
        "sizes": {f"{h}x{w}": c for (h, w), c in sizes.most_common(10)},
        "median_size": [int(np.median(heights)), int(np.median(widths))],
        "channels": dict(modes),
        "duplicate_groups": duplicates[:20],
        "duplicates": int(sum(len(g) - 1 for g in duplicates)),
        "class_counts": dict(Counter(map(str, images.labels))) if images.labels is not None else {},
        "skipped": images.skipped,
    }


def labels_frame(images: ImageSet) -> pd.Series:
    return pd.Series(images.labels, name="label")


def fingerprint_source(images: ImageSet) -> str:
    """sha256 over the image bytes (and labels): identifies the exact images a run was trained on."""
    digest = hashlib.sha256()
    if images.paths is not None:
        for p, label in zip(images.paths, images.labels or [None] * len(images.paths), strict=True):
            digest.update(f"{Path(p).name}\0{label}\0".encode())
            digest.update(hashlib.sha256(Path(p).read_bytes()).digest())
    else:
        digest.update(hashlib.sha256(Path(images.source).read_bytes()).digest())
        digest.update(str(images.labels).encode())
    return digest.hexdigest()
