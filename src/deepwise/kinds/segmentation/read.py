"""Segmentation data: ``images/`` and ``masks/`` paired by file name, every mask format checked and explained.

A mask holds one class id per pixel. Accepted: single-channel PNG/TIFF/BMP (8 or 16 bit), palette PNGs (the
palette index is the class id), RGB colour masks with a legend file (colour -> class), and instance masks (one id
per object, e.g. from StarDist or Cellpose) read as object vs background. Masks of only 0 and 255 are remapped to
0/1 and the run says so. JPEG masks are refused: lossy compression invents intermediate values at every edge,
i.e. class ids that nobody drew. Mismatched sizes, missing partners and unknown ids are errors naming the files.

Legend file (``legend.csv`` or ``legend.json`` next to ``images/`` and ``masks/``, or any path):

- CSV with a header: ``id,name,color`` (``color`` optional, ``#rrggbb``; ``id`` optional when every row has a colour:
  the row order then gives the ids, from 0)::

      id,name,color
      0,background,#000000
      1,tumour,#ff0000

- JSON: ``{"classes": [{"id": 0, "name": "background", "color": "#000000"}, ...]}`` (same keys as the CSV), or the
  short form ``{"background": "#000000", "tumour": "#ff0000"}`` (ids in order, from 0).

A class ``id`` is the value stored in single-channel and palette masks; predictions are written back with these
ids, so they open in the user's own tools as they drew them.

Example:
    >>> data = read_segmentation_folder("cells/")       # cells/images/a.tif, cells/masks/a.png, ...
    >>> data.class_names, data.notes
    (['background', 'object'], ["masks hold only 0 and 255: read as 0 = background, 255 = class 1 ..."])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepwise.errors import DataError
from deepwise.kinds.segmentation.classes import MAX_LISTED, RawMask, masks_to_classes
from deepwise.kinds.segmentation.legend import Legend, read_legend

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".gif")
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")
TIFF_SUFFIXES = (".tif", ".tiff")
#: a mask file may add one of these to its image's stem: ``a.png`` <- ``a_mask.png``
MASK_STEM_SUFFIXES = ("_mask", "_masks", "-mask", "_label", "_labels", "_seg", "_gt")
LEGEND_NAMES = ("legend.csv", "legend.json")


@dataclass
class SegmentationData:
    """Images (``[H, W, C]``, their own dtype) and masks (``[H, W]`` class indices 0..K-1), paired by name.

    ``legend.ids[k]`` is the value written in the user's masks for class index ``k``.
    """

    images: list[np.ndarray]
    masks: list[np.ndarray]
    names: list[str]
    image_paths: list[str]
    mask_paths: list[str]
    legend: Legend
    mask_format: str
    notes: list[str] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return list(self.legend.names)

    @property
    def n_classes(self) -> int:
        return len(self.legend.ids)

    @property
    def channels(self) -> int:
        return int(self.images[0].shape[-1])

    def __len__(self) -> int:
        return len(self.images)


# ---------------------------------------------------------------------------------------------------- reading


def _pil_open(path: Path):
    from PIL import Image

    try:
        img = Image.open(path)
        img.load()
        return img
    except Image.DecompressionBombError:
        raise DataError(
            f"'{path}' has more pixels than Pillow opens by default (a protection against decompression bombs).",
            expected="PNG/BMP images up to about 89 million pixels, or TIFF files of any size",
            fix="save large images as TIFF (read without this limit), or split them into tiles.",
        ) from None
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(
            f"'{path}' could not be read as an image: {err}.",
            expected="PNG, TIFF, BMP or JPEG files that open in an image viewer",
            fix="re-export this file, or remove it (and its partner) from the folder.",
        ) from None


def _tiff_array(path: Path) -> np.ndarray:
    import tifffile

    try:
        return np.asarray(tifffile.imread(path))
    except Exception as err:  # tifffile raises many kinds of errors for broken files
        raise DataError(
            f"'{path}' could not be read as a TIFF file: {err}.",
            expected="a 2D TIFF (one page; grayscale or RGB)",
            fix="re-export this file as a single-page TIFF or PNG.",
        ) from None


def _as_hwc(array: np.ndarray, path: Path) -> np.ndarray:
    """2D -> [H, W, 1]; [H, W, C] stays; [C, H, W] with C <= 4 is moved to the end; a stack is refused."""
    array = np.squeeze(array) if array.ndim > 3 else array
    if array.ndim == 2:
        return array[..., None]
    if array.ndim == 3 and array.shape[-1] <= 4:
        return array
    if array.ndim == 3 and array.shape[0] <= 4:
        return np.moveaxis(array, 0, -1)
    raise DataError(
        f"'{path}' holds an array of shape {array.shape}, not one 2D image.",
        expected="a 2D image: [height, width] or [height, width, channels] with 1-4 channels",
        fix="save one plane per file (a z-stack or time series as separate 2D images).",
    )


def read_image(path: str | Path) -> np.ndarray:
    """An image file -> ``[H, W, C]`` in its own dtype (uint8, uint16, float32...). Pictures (PNG, JPEG...) lose
    their alpha channel; a TIFF keeps all its channels (up to 4 fluorescence channels are channels, not alpha).

    Example:
        >>> read_image("cells/images/a.tif").shape
        (512, 512, 1)
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        array = _as_hwc(_tiff_array(path), path)
    else:
        img = _pil_open(path)
        if img.mode in ("LA", "PA", "La"):  # the alpha channel of a picture carries no image content here
            img = img.convert("L" if img.mode != "PA" else "RGB")
        elif img.mode not in ("L", "I", "I;16", "I;16B", "I;16L", "F", "RGB"):  # palette, CMYK, RGBA, 1-bit...
            img = img.convert("L" if img.mode == "1" else "RGB")
        array = _as_hwc(np.asarray(img), path)
    return np.ascontiguousarray(array)


def _jpeg_refusal(path: Path) -> DataError:
    return DataError(
        f"The mask '{path}' is a JPEG file. JPEG compression is lossy: it blurs every edge into values between the "
        "classes, i.e. class ids nobody drew, so a JPEG mask cannot be trusted pixel by pixel.",
        expected="masks as PNG or TIFF (lossless): one class id per pixel, a palette PNG, or RGB colours with a legend",
        fix="export the masks again from the tool that drew them as PNG or TIFF (converting the JPEG keeps its "
        "damage).",
    )


def _integral(values: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(values.dtype, np.bool_):
        return values.astype(np.uint8)
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all() or not np.array_equal(values, np.round(values)) or (values < 0).any():
            bad = values[~finite | (values != np.round(values)) | (values < 0)]
            raise DataError(
                f"The mask '{path}' holds values that are not class ids: e.g. {np.unique(bad)[:5].tolist()}.",
                expected="whole numbers >= 0 (class ids) in every pixel",
                fix="save the mask with integer class ids (uint8 or uint16), not probabilities or resampled values.",
            )
        return values.astype(np.int64)
    if np.issubdtype(values.dtype, np.signedinteger) and (values < 0).any():
        raise DataError(
            f"The mask '{path}' holds negative values ({int(values.min())}).",
            expected="class ids >= 0",
            fix="store class ids 0, 1, 2, ... (use 0 for background).",
        )
    return values


def read_mask(path: str | Path) -> RawMask:
    """A mask file as stored: ids (single channel), palette indices, or RGB colours. JPEG is refused.

    Example:
        >>> read_mask("cells/masks/a.png").kind
        'palette'
    """
    path = Path(path)
    if path.suffix.lower() in LOSSY_SUFFIXES:
        raise _jpeg_refusal(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        array = _tiff_array(path)
        array = np.squeeze(array) if array.ndim > 2 else array
        if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
            array = np.moveaxis(array, 0, -1)
    else:
        img = _pil_open(path)
        if img.format in ("JPEG", "MPO", "WEBP"):
            raise _jpeg_refusal(path)
        if img.mode in ("P", "PA"):
            raw = img.getpalette() or []
            palette = [tuple(raw[i : i + 3]) for i in range(0, len(raw) - 2, 3)]
            return RawMask(np.asarray(img.convert("P") if img.mode == "PA" else img), "palette", palette)
        if img.mode == "LA":
            img = img.getchannel("L")
        elif img.mode == "RGBA":
            img = img.convert("RGB")
        array = np.asarray(img)
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    if array.ndim == 3 and array.shape[-1] == 3:
        if np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2]):
            return RawMask(_integral(array[..., 0], path), "ids")  # gray saved as RGB
        return RawMask(array.astype(np.uint8, copy=False), "color")
    if array.ndim != 2:
        raise DataError(
            f"The mask '{path}' has shape {array.shape}, not one class id per pixel.",
            expected="a 2D mask [height, width] of class ids, or an RGB colour mask with a legend",
            fix="save one 2D mask per image.",
        )
    return RawMask(_integral(array, path), "ids")


# ------------------------------------------------------------------------------------------------------ pairing


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
    )


def _mask_key(stem: str, image_stems: set[str]) -> str:
    if stem in image_stems:
        return stem
    for tail in MASK_STEM_SUFFIXES:
        if stem.lower().endswith(tail) and stem[: -len(tail)] in image_stems:
            return stem[: -len(tail)]
    return stem


def _by_stem(paths: list[Path], what: str, folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        if p.stem in out:
            raise DataError(
                f"Two {what} in '{folder}' have the same name: '{out[p.stem].name}' and '{p.name}'.",
                expected=f"one {what[:-1]} per name (files are paired by name without the extension)",
                fix="remove or rename one of them.",
            )
        out[p.stem] = p
    return out


def pair_files(folder: str | Path) -> list[tuple[Path, Path]]:
    """``(image, mask)`` paths matched by stem: ``images/a.tif`` with ``masks/a.png`` (or ``masks/a_mask.png``).

    Example:
        >>> pair_files("cells/")[0]
        (PosixPath('cells/images/a.tif'), PosixPath('cells/masks/a.png'))
    """
    root = Path(folder)
    image_dir, mask_dir = root / "images", root / "masks"
    for d in (image_dir, mask_dir):
        if not d.is_dir():
            raise DataError(
                f"'{root}' has no '{d.name}/' folder.",
                expected="a folder with images/ and masks/ inside; each mask named like its image (a.tif <-> a.png)",
                fix=f"create '{d}' and put the {d.name} there.",
            )
    images = _by_stem(_files(image_dir, IMAGE_SUFFIXES), "images", image_dir)
    jpeg_masks = _files(mask_dir, LOSSY_SUFFIXES)
    if len(jpeg_masks) == 1:
        raise _jpeg_refusal(jpeg_masks[0])
    if jpeg_masks:
        raise DataError(
            f"{len(jpeg_masks)} masks in '{mask_dir}' are JPEG files ({_listed([p.name for p in jpeg_masks])}). "
            "JPEG compression is lossy: it blurs every edge into values between the classes, i.e. class ids nobody "
            "drew.",
            expected="masks as PNG or TIFF (lossless)",
            fix="export the masks again from the tool that drew them as PNG or TIFF (converting the JPEGs keeps "
            "their damage).",
        )
    masks_found = _files(mask_dir, MASK_SUFFIXES)
    masks: dict[str, Path] = {}
    for p in masks_found:
        key = _mask_key(p.stem, set(images))
        if key in masks:
            raise DataError(
                f"Two masks in '{mask_dir}' belong to the image '{key}': '{masks[key].name}' and '{p.name}'.",
                expected="one mask per image",
                fix="remove or rename one of them.",
            )
        masks[key] = p
    if not images:
        raise DataError(
            f"'{image_dir}' holds no images.",
            expected=f"image files ({', '.join(IMAGE_SUFFIXES)})",
            fix="put the images there.",
        )
    lonely_images = sorted(images[s].name for s in set(images) - set(masks))
    lonely_masks = sorted(masks[s].name for s in set(masks) - set(images))
    if lonely_images or lonely_masks:
        parts = []
        if lonely_images:
            parts.append(f"{len(lonely_images)} image(s) without a mask in '{mask_dir}': {_listed(lonely_images)}")
        if lonely_masks:
            parts.append(f"{len(lonely_masks)} mask(s) without an image in '{image_dir}': {_listed(lonely_masks)}")
        raise DataError(
            "Images and masks do not pair up: " + "; ".join(parts) + ".",
            expected="every image with a mask of the same name (a.tif <-> a.png; a_mask.png is accepted too)",
            fix="add the missing files, correct their names, or move the unpaired ones out of the folder.",
        )
    return [(images[s], masks[s]) for s in sorted(images)]


# ------------------------------------------------------------------------------------------------- the whole set


def _find_legend(root: Path, legend: str | Path | Legend | None) -> Legend | None:
    if isinstance(legend, Legend):
        return legend
    if legend is not None:
        return read_legend(legend)
    present = [root / n for n in LEGEND_NAMES if (root / n).is_file()]
    if len(present) > 1:
        raise DataError(
            f"'{root}' has both legend.csv and legend.json.",
            expected="one legend file",
            fix="remove one of them.",
        )
    return read_legend(present[0]) if present else None


def _check_sizes(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    if image.shape[:2] != mask.shape[:2]:
        (ih, iw), (mh, mw) = image.shape[:2], mask.shape[:2]
        raise DataError(
            f"The image '{image_path}' is {iw}x{ih} pixels but its mask '{mask_path}' is {mw}x{mh}.",
            expected="each mask exactly the size of its image (one class id per pixel)",
            fix="export the mask at the image's size; if you resize masks, use nearest-neighbour interpolation.",
        )


def read_pairs(
    pairs: list[tuple[Path, Path]], legend: str | Path | Legend | None = None, mask_mode: str = "auto"
) -> SegmentationData:
    """Read and check ``(image, mask)`` paths: sizes, formats, ids; classes decided over the whole set.

    Example:
        >>> data = read_pairs([(Path("img2d.tif"), Path("mask2d.tif"))])     # instance mask -> object/background
    """
    legend_obj = legend if isinstance(legend, Legend) or legend is None else read_legend(legend)
    images, raws = [], []
    for image_path, mask_path in pairs:
        image, raw = read_image(image_path), read_mask(mask_path)
        _check_sizes(image, raw.values, image_path, mask_path)
        images.append(image)
        raws.append(raw)
    masks, legend_obj, fmt, notes = masks_to_classes(raws, [m for _, m in pairs], legend_obj, mask_mode)
    channels = sorted({im.shape[-1] for im in images})
    if len(channels) > 1:
        images = [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in images]
        n_gray = sum(1 for im in images if im.shape[-1] == 1)
        notes.append(f"the images mix grayscale and colour: {n_gray} grayscale image(s) are read as RGB.")
    dtypes = sorted({str(im.dtype) for im in images})
    if len(dtypes) > 1:
        notes.append(
            f"the images mix pixel types ({', '.join(dtypes)}): intensities are compared as numbers, so "
            "an 8-bit and a 16-bit image of the same scene look different to the model."
        )
    return SegmentationData(
        images=images,
        masks=masks,
        names=[p.stem for p, _ in pairs],
        image_paths=[str(p) for p, _ in pairs],
        mask_paths=[str(m) for _, m in pairs],
        legend=legend_obj,
        mask_format=fmt,
        notes=notes,
    )


def read_segmentation_folder(
    folder: str | Path, legend: str | Path | Legend | None = None, mask_mode: str = "auto"
) -> SegmentationData:
    """``FOLDER/images/`` + ``FOLDER/masks/`` (+ optional ``FOLDER/legend.csv|json``) -> :class:`SegmentationData`.

    Example:
        >>> data = read_segmentation_folder("cells/")
        >>> len(data), data.class_names
        (24, ['background', 'nucleus'])
    """
    root = Path(folder)
    pairs = pair_files(root)
    return read_pairs(pairs, _find_legend(root, legend), mask_mode)


def is_segmentation_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds ``images/`` and ``masks/`` sub-folders (what ``deepwise train`` recognises).

    Example:
        >>> is_segmentation_folder("cells/")
        True
    """
    root = Path(folder)
    return root.is_dir() and (root / "images").is_dir() and (root / "masks").is_dir()


def open_image_lazily(path: str | Path) -> np.ndarray:
    """An image for tiled prediction: a memory map of an uncompressed TIFF (pixels read a window at a time, so a
    slide larger than memory works), otherwise the decoded image (:func:`read_image`).

    Example:
        >>> image = open_image_lazily("slide.tif")       # np.memmap [H, W] or [H, W, C]
        >>> labels = predict_tiled(model, image, tile=512, margin=64, multiple=8)
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        try:
            mapped = tifffile.memmap(path, mode="r")
        except (ValueError, OSError):  # compressed or tiled TIFF: not mappable
            mapped = None
        if mapped is not None and (mapped.ndim == 2 or (mapped.ndim == 3 and mapped.shape[-1] <= 4)):
            return mapped
    return read_image(path)
