"""Reading image-to-image data: a folder with ``inputs/`` and ``targets/`` whose files match by name (stem).

``noisy/inputs/0001.png`` pairs with ``noisy/targets/0001.png`` (or ``0001.tif``: the suffix may differ, the stem
may not). Every input must have a target and the other way round; the error lists the files without a partner.
Images are decoded with Pillow (TIFF with tifffile when Pillow cannot: 16-bit and float TIFFs) into float32 in
[0, 1], shaped (n, height, width, channels): 1 channel when every image of that side is grayscale, else 3 (RGB;
alpha is dropped). All inputs share one size, all targets one size, and a target may be an integer multiple of
its input's size (super-resolution).

Example:
    >>> pairs = read_pairs("denoise/")
    >>> pairs.inputs.shape, pairs.targets.shape, pairs.names[:2]
    ((5000, 28, 28, 1), (5000, 28, 28, 1), ['0000', '0001'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepwise.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
_LISTED = 10  # file names shown in an error before "and N more"


@dataclass
class ImagePairs:
    """Matched input/target images, float32 in [0, 1], and the stems that matched them."""

    inputs: np.ndarray
    targets: np.ndarray
    names: list[str]

    @property
    def upscale(self) -> int:
        """How many times larger the targets are than the inputs (1: the same size)."""
        return int(self.targets.shape[1] // self.inputs.shape[1])


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    twins: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            twins.append(f"{found[path.stem].name} / {path.name}")
        found[path.stem] = path
    if twins:
        raise DataError(
            f"{folder} has several images with the same name: {_listing(twins)}.",
            expected="one image per name in each of inputs/ and targets/",
            fix="remove or rename the duplicates.",
        )
    return found


def has_pair_folders(path: str | Path) -> bool:
    """True for a folder holding ``inputs/`` and ``targets/`` (the image-to-image layout).

    Example:
        >>> has_pair_folders("denoise/")
        True
    """
    root = Path(path)
    return root.is_dir() and (root / "inputs").is_dir() and (root / "targets").is_dir()


def pair_files(folder: str | Path) -> list[tuple[str, Path, Path]]:
    """(stem, input path, target path) for every matching pair, sorted by stem.

    Example:
        >>> pair_files("denoise/")[0]
        ('0000', PosixPath('denoise/inputs/0000.png'), PosixPath('denoise/targets/0000.png'))
    """
    root = Path(folder)
    missing = [name for name in ("inputs", "targets") if not (root / name).is_dir()]
    if missing:
        raise DataError(
            f"{root} has no {' and no '.join(m + '/' for m in missing)} folder.",
            expected="a folder with inputs/ and targets/ holding images with matching names "
            "(inputs/0001.png <-> targets/0001.png)",
            fix=f"put the images to enhance in {root / 'inputs'} and the desired results in {root / 'targets'}.",
        )
    inputs, targets = _images_by_stem(root / "inputs"), _images_by_stem(root / "targets")
    lonely_inputs = sorted(set(inputs) - set(targets))
    lonely_targets = sorted(set(targets) - set(inputs))
    if lonely_inputs or lonely_targets:
        parts = []
        if lonely_inputs:
            parts.append(f"inputs without a target: {_listing([inputs[s].name for s in lonely_inputs])}")
        if lonely_targets:
            parts.append(f"targets without an input: {_listing([targets[s].name for s in lonely_targets])}")
        raise DataError(
            f"The images in {root} do not pair up: " + "; ".join(parts) + ".",
            expected="every file in inputs/ to have a file with the same name (any image suffix) in targets/",
            fix="add the missing partners or remove the unpaired files.",
        )
    if not inputs:
        raise DataError(
            f"{root / 'inputs'} holds no images.",
            expected="image files (" + ", ".join(IMAGE_SUFFIXES) + ")",
            fix="put the input images in inputs/ and the targets in targets/.",
        )
    return [(stem, inputs[stem], targets[stem]) for stem in sorted(inputs)]


def load_image(path: str | Path) -> np.ndarray:
    """One image as float32 in [0, 1], shaped (height, width, channels), channels 1 (gray) or 3 (RGB).

    Example:
        >>> load_image("inputs/0001.png").shape
        (28, 28, 1)
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            array = _pil_to_array(img)
    except Image.DecompressionBombError:
        raise DataError(
            f"{path} is too large to decode safely (more than {Image.MAX_IMAGE_PIXELS:,} pixels).",
            expected="images of at most about 89 million pixels",
            fix="cut the image into tiles or remove it.",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        if path.suffix.lower() in (".tif", ".tiff"):
            array = _read_tiff(path)
        else:
            raise DataError(
                f"{path} cannot be decoded as an image ({err}).",
                expected="a readable PNG, JPEG, BMP, GIF or TIFF file",
                fix="re-save the file or remove it.",
            ) from None
    return array


def _pil_to_array(img) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        raw = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if raw.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        return (raw / scale).astype(np.float32)[..., None]
    if img.mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0, 1)[..., None]
    if img.mode in ("1", "L", "LA", "P") and (img.mode != "P" or _palette_is_gray(img)):
        return (np.asarray(img.convert("L"), dtype=np.float32) / 255.0)[..., None]
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _palette_is_gray(img) -> bool:
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        raw = np.asarray(tifffile.imread(path))
    except Exception as err:  # tifffile raises many kinds of errors for damaged files
        raise DataError(
            f"{path} cannot be decoded as a TIFF image ({err}).",
            expected="a readable TIFF file",
            fix="re-save the file or remove it.",
        ) from None
    if raw.dtype.kind in "ui":
        array = raw.astype(np.float32) / float(np.iinfo(raw.dtype).max)
    else:
        array = np.clip(raw.astype(np.float32), 0, 1)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise DataError(
            f"{path} holds a {array.ndim}-dimensional array, not one image.",
            expected="a 2-D grayscale or (height, width, channels) colour TIFF",
            fix="save each image (or each slice of a stack) as its own file.",
        )
    return array[..., :3] if array.shape[-1] >= 3 else array[..., :1]


def _stack(images: list[np.ndarray], paths: list[Path], side: str) -> np.ndarray:
    sizes = {img.shape[:2] for img in images}
    if len(sizes) > 1:
        first = images[0].shape[:2]
        odd = [p.name for p, img in zip(paths, images, strict=True) if img.shape[:2] != first]
        raise DataError(
            f"The {side} images differ in size: {paths[0].name} is {first[1]}x{first[0]} but "
            f"{_listing(odd)} {'is' if len(odd) == 1 else 'are'} not.",
            expected=f"all {side} images of one size",
            fix="resize or crop them to one size first (or cut large images into tiles of one size).",
        )
    channels = 3 if any(img.shape[-1] == 3 for img in images) else 1
    return np.stack([np.repeat(img, 3, axis=-1) if img.shape[-1] != channels else img for img in images])


def read_pairs(folder: str | Path) -> ImagePairs:
    """Read every input/target pair of ``folder`` (see the module docstring for the rules).

    Example:
        >>> read_pairs("colourise/").targets.shape[-1]
        3
    """
    matched = pair_files(folder)
    names = [stem for stem, _, _ in matched]
    input_paths = [p for _, p, _ in matched]
    target_paths = [p for _, _, p in matched]
    inputs = _stack([load_image(p) for p in input_paths], input_paths, "input")
    targets = _stack([load_image(p) for p in target_paths], target_paths, "target")
    (hi, wi), (ht, wt) = inputs.shape[1:3], targets.shape[1:3]
    if ht % hi or wt % wi or ht // hi != wt // wi or ht < hi:
        raise DataError(
            f"The targets ({wt}x{ht}) are not the inputs' size ({wi}x{hi}) or a whole multiple of it "
            f"(e.g. {target_paths[0].name} vs {input_paths[0].name}).",
            expected="targets the same size as their inputs, or 2, 3, 4 ... times larger in both directions",
            fix="resize the inputs or the targets so that their sizes match (or differ by a whole factor).",
        )
    return ImagePairs(inputs=inputs, targets=targets, names=names)
