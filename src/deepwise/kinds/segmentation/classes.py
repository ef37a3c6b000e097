"""Masks as stored -> class indices: colours through the legend, 0/255 remapped, instance masks, unknown ids.

Decided over the whole set, so that one all-background mask does not change how the others are read.

Example:
    >>> masks, legend, fmt, notes = masks_to_classes([read_mask(p) for p in paths], paths)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepwise.errors import DataError
from deepwise.kinds.segmentation.legend import Legend, hex_color

MASK_MODES = ("auto", "classes", "instances")
#: without a legend, more ids than this in one mask, mostly one connected piece each, are read as instances
INSTANCE_MIN_IDS = 32
MAX_LISTED = 8


@dataclass
class RawMask:
    """A mask as stored: integer values ``[H, W]`` (or RGB ``[H, W, 3]`` colours) and how it was read."""

    values: np.ndarray
    kind: str  # "ids", "palette" or "color"
    palette: list[tuple[int, int, int]] | None = None


# ------------------------------------------------------------------------------------------- masks -> classes


def _color_codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _colors_found(rgb: np.ndarray, limit: int = MAX_LISTED) -> str:
    codes, counts = np.unique(_color_codes(rgb), return_counts=True)
    order = np.argsort(-counts)[:limit]
    found = [f"#{int(codes[i]):06x} ({int(counts[i]):,} px)" for i in order]
    return ", ".join(found) + (f" and {len(codes) - limit} more" if len(codes) > limit else "")


def _color_to_values(raw: RawMask, legend: Legend | None, path: Path) -> np.ndarray:
    """An RGB mask -> the legend's class ids, or an error naming the file and the colours found."""
    if legend is None or not legend.has_colors:
        raise DataError(
            f"The mask '{path}' is an RGB colour mask (colours found: {_colors_found(raw.values)}), and no legend "
            "says which colour is which class.",
            expected="a legend file (legend.csv: 'id,name,color' rows such as '1,tumour,#ff0000') next to images/ "
            "and masks/, or masks that store class ids",
            fix="write legend.csv with one row per colour, or export the masks as class ids (palette or 8-bit PNG).",
        )
    codes = _color_codes(raw.values)
    known = np.array([(c[0] << 16) | (c[1] << 8) | c[2] for c in legend.colors], dtype=np.int64)
    order = np.argsort(known)
    pos = np.clip(np.searchsorted(known[order], codes), 0, len(known) - 1)
    hit = known[order][pos] == codes
    if not hit.all():
        raise DataError(
            f"The mask '{path}' has {int((~hit).sum()):,} pixel(s) of colours the legend {legend.source} does not "
            f"list: {_colors_found(raw.values[~hit])}.",
            expected=f"only the legend's colours: {', '.join(hex_color(c) for c in legend.colors)}",
            fix="add these colours to the legend, or re-export the mask without smoothing/anti-aliasing (blended "
            "edge colours come from resizing or soft brushes).",
        )
    return np.asarray(legend.ids, dtype=np.int64)[order][pos]


def looks_like_instances(values: np.ndarray) -> bool:
    """Many ids (>= 32), each mostly one connected piece: an instance mask (one id per object), not classes.

    Example:
        >>> looks_like_instances(tifffile.imread("mask2d.tif"))   # 183 nuclei
        True
    """
    from skimage.measure import label

    ids = np.unique(values)
    n_ids = int((ids != 0).sum())
    if n_ids < INSTANCE_MIN_IDS:
        return False
    pieces = int(label(values, background=0, connectivity=2).max())
    return pieces <= 1.5 * n_ids


def _unknown_ids_error(path: Path, unknown: np.ndarray, counts: np.ndarray, legend: Legend) -> DataError:
    shown = ", ".join(f"{int(v)} ({int(c):,} px)" for v, c in list(zip(unknown, counts, strict=True))[:MAX_LISTED])
    return DataError(
        f"The mask '{path}' holds class id(s) the legend {legend.source} does not list: {shown}.",
        expected=f"only the legend's ids: {legend.ids}",
        fix="add these ids to the legend, or correct the mask (a resized mask blends ids at edges: resize masks with "
        "nearest-neighbour interpolation only).",
    )


def _instance_note(values: list[np.ndarray], paths: list[Path]) -> str | None:
    for v, p in zip(values, paths, strict=True):
        if looks_like_instances(v):
            return (
                f"'{p.name}' holds {len(np.unique(v)) - 1} ids, each mostly one connected piece: the masks are read as "
                "instance masks (every object -> class 'object', 0 -> background). If the ids are classes, set the "
                "mask mode to 'classes'."
            )
    return None


def _legend_from_masks(
    values: list[np.ndarray], raws: list[RawMask], paths: list[Path], notes: list[str]
) -> tuple[list[np.ndarray], Legend]:
    """No legend: the ids found are the classes (0/255 -> 0/1, said); names and colours made up."""
    ids = [int(i) for i in np.unique(np.concatenate([np.unique(v) for v in values]))]
    remap = ids in ([0, 255], [255])
    if remap:
        ids = [0, 1]
        values = [(np.asarray(v) == 255).astype(np.uint8) for v in values]
        notes.append(
            "the masks hold only 0 and 255: read as binary, 0 = background and 255 = foreground (class 1); "
            "predicted masks are written with 0 and 1."
        )
    if len(ids) < 2:
        raise DataError(
            f"Every mask holds the single value {ids[0]}: there is nothing to segment (e.g. '{paths[0]}').",
            expected="masks with at least two classes (e.g. 0 = background and 1 = object)",
            fix="check that these are the right masks (a mask exported as all-black is a common mistake).",
        )
    palette = next((r.palette for r in raws if r.palette), None)
    colors = [palette[i] if palette and i < len(palette) else None for i in ids]
    if remap or ids == [0, 1]:
        names = ["background", "foreground"]
    else:
        names = ["background" if i == 0 else f"class_{i}" for i in ids]
    if any(r.kind == "palette" for r in raws):
        notes.append("palette PNG masks: each pixel's palette index is its class id.")
    if 255 in ids and len(ids) > 2 and max(i for i in ids if i != 255) < 64:
        notes.append(
            "id 255 next to small class ids looks like a 'void'/'ignore' border label (Pascal VOC): it is treated "
            "as a class of its own; relabel it if it should not be learned."
        )
    if ids != list(range(len(ids))):
        notes.append(f"class ids found in the masks: {ids}; predicted masks are written with the same ids.")
    return values, Legend(ids, names, colors, source="the masks")


def masks_to_classes(
    raws: list[RawMask], paths: list[Path], legend: Legend | None = None, mask_mode: str = "auto"
) -> tuple[list[np.ndarray], Legend, str, list[str]]:
    """Masks as stored -> class indices 0..K-1 (uint8, or uint16 beyond 256 classes), the legend, format, notes.

    ``mask_mode``: "auto" (instance masks recognised, see :func:`looks_like_instances`), "classes" or "instances".

    Example:
        >>> masks, legend, fmt, notes = masks_to_classes([read_mask(p) for p in paths], paths)
    """
    if mask_mode not in MASK_MODES:
        raise DataError(f"Unknown mask mode {mask_mode!r}.", expected=f"one of {MASK_MODES}", fix="choose one.")
    notes: list[str] = []
    kinds = sorted({r.kind for r in raws})
    values = [
        _color_to_values(r, legend, p) if r.kind == "color" else r.values for r, p in zip(raws, paths, strict=True)
    ]
    note = None
    if mask_mode == "auto" and legend is None and "color" not in kinds:
        note = _instance_note(values, paths)
    if mask_mode == "instances" or note:
        notes.append(note or "instance masks: every object (id > 0) is class 'object', 0 is background.")
        legend = Legend([0, 1], ["background", "object"], [(0, 0, 0), (255, 255, 0)], source="instance masks")
        return [(np.asarray(v) > 0).astype(np.uint8) for v in values], legend, "instances", notes
    if legend is None:
        values, legend = _legend_from_masks(values, raws, paths, notes)
    else:
        for v, p in zip(values, paths, strict=True):
            vals, counts = np.unique(v, return_counts=True)
            unknown = ~np.isin(vals, legend.ids)
            if unknown.any():
                raise _unknown_ids_error(p, vals[unknown], counts[unknown], legend)
    return _values_to_indices(values, legend.ids), legend, "+".join(kinds), notes


def _values_to_indices(values: list[np.ndarray], ids: list[int]) -> list[np.ndarray]:
    dtype = np.uint8 if len(ids) <= 256 else np.uint16
    order = np.argsort(ids)
    sorted_ids = np.asarray(ids, dtype=np.int64)[order]
    out = []
    for v in values:
        pos = np.searchsorted(sorted_ids, np.asarray(v, dtype=np.int64))
        out.append(order[pos].astype(dtype))
    return out


def indices_to_values(indices: np.ndarray, legend: Legend) -> np.ndarray:
    """Class indices 0..K-1 -> the ids the user's masks use (uint8 when they fit, else uint16/int32).

    Example:
        >>> indices_to_values(np.array([[0, 1]]), Legend([0, 255], ["bg", "cell"], [None, None]))
        array([[  0, 255]], dtype=uint8)
    """
    top = max(legend.ids)
    dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32
    return np.asarray(legend.ids, dtype=dtype)[indices]
