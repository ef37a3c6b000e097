"""The legend file of a segmentation set: class ids, names and colours.

``legend.csv`` with a header ``id,name,color`` (``color`` optional, ``#rrggbb``; ``id`` optional when every row has
a colour: the row order then gives the ids, from 0), or ``legend.json``:
``{"classes": [{"id": 0, "name": "background", "color": "#000000"}, ...]}`` or the short form
``{"background": "#000000", "tumour": "#ff0000"}`` (ids in order, from 0).

Example:
    >>> read_legend("cells/legend.csv").names
    ['background', 'nucleus', 'membrane']
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepwise.errors import DataError


@dataclass
class Legend:
    """Class ids, names and (for colour masks) colours, from a legend file or found in the masks."""

    ids: list[int]
    names: list[str]
    colors: list[tuple[int, int, int] | None]
    source: str = ""

    def __post_init__(self) -> None:
        if len(set(self.ids)) != len(self.ids) or len(set(self.names)) != len(self.names):
            raise DataError(
                f"The legend {self.source or ''} repeats a class id or name: ids {self.ids}, names {self.names}.",
                expected="one row per class, each id and name once",
                fix="remove the repeated rows from the legend file.",
            )

    @property
    def has_colors(self) -> bool:
        return all(c is not None for c in self.colors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [
                {"id": i, "name": n, "color": hex_color(c) if c is not None else None}
                for i, n, c in zip(self.ids, self.names, self.colors, strict=True)
            ]
        }


# ------------------------------------------------------------------------------------------------------ legend


def hex_color(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def parse_color(text: Any, where: str) -> tuple[int, int, int]:
    """``"#ff8000"``, ``"255 128 0"`` or ``[255, 128, 0]`` -> ``(255, 128, 0)``.

    Example:
        >>> parse_color("#ff8000", "legend.csv")
        (255, 128, 0)
    """
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        value = str(text).strip()
        match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value)
        if match:
            h = match.group(1)
            return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
        parts = [p for p in re.split(r"[\s,;/]+", value) if p]
    try:
        rgb = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise DataError(
            f"The colour {text!r} in {where} is not a colour.",
            expected="'#rrggbb' (e.g. '#ff0000') or three numbers 0-255 ('255 0 0')",
            fix=f"correct the colour in {where}.",
        )
    return rgb  # type: ignore[return-value]


def _legend_from_rows(rows: list[dict[str, Any]], where: str) -> Legend:
    if not rows:
        raise DataError(f"The legend {where} lists no classes.", expected="one row per class", fix="add the classes.")
    names, ids, colors = [], [], []
    for k, row in enumerate(rows):
        row = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
        name = str(row.get("name", "") or "").strip()
        if not name:
            raise DataError(
                f"Row {k + 1} of the legend {where} has no class name: {row}.",
                expected="a 'name' for every class",
                fix="add the class name (or a header line 'id,name,color').",
            )
        color = row.get("color", row.get("colour"))
        colors.append(parse_color(color, where) if color not in (None, "") else None)
        raw_id = row.get("id")
        if raw_id in (None, ""):
            ids.append(None)
        else:
            try:
                ids.append(int(str(raw_id).strip()))
            except ValueError:
                raise DataError(
                    f"The class id {raw_id!r} (row {k + 1} of {where}) is not a whole number.",
                    expected="class ids 0, 1, 2, ... as stored in the masks",
                    fix="correct the id column.",
                ) from None
        names.append(name)
    if any(i is None for i in ids):
        if not all(c is not None for c in colors) or any(i is not None for i in ids):
            raise DataError(
                f"The legend {where} gives ids for some classes but not all.",
                expected="an id for every class, or (for colour masks) no ids at all: the row order gives 0, 1, ...",
                fix="fill in the 'id' column or leave it out entirely.",
            )
        ids = list(range(len(names)))
    return Legend(ids=ids, names=names, colors=colors, source=where)


def read_legend(path: str | Path) -> Legend:
    """A legend file (CSV or JSON, see the module's docstring) -> :class:`Legend`.

    Example:
        >>> read_legend("cells/legend.csv").names
        ['background', 'nucleus', 'membrane']
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"The legend file '{path}' does not exist.",
            expected="a CSV or JSON file naming the classes",
            fix="check the path, or leave the legend out for masks that store class ids.",
        )
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            content = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(
                f"The legend '{path}' is not valid JSON: {err}.",
                expected='{"classes": [{"id": 0, "name": "background", "color": "#000000"}, ...]}',
                fix="correct the JSON (or use a CSV legend: id,name,color).",
            ) from None
        if isinstance(content, dict) and isinstance(content.get("classes"), list):
            rows = content["classes"]
        elif isinstance(content, dict):
            rows = [{"name": name, "color": color} for name, color in content.items()]
        elif isinstance(content, list):
            rows = content
        else:
            rows = []
        if not all(isinstance(r, dict) for r in rows):
            raise DataError(
                f"The legend '{path}' lists classes that are not objects.",
                expected='{"classes": [{"id": 0, "name": "background", "color": "#000000"}, ...]}',
                fix="write each class as an object with 'name' and 'id' and/or 'color'.",
            )
        return _legend_from_rows(rows, f"'{path}'")
    rows = list(csv.DictReader(text.splitlines()))
    header = [h.strip().lower() for h in (csv.DictReader(text.splitlines()).fieldnames or [])]
    if "name" not in header:
        raise DataError(
            f"The legend '{path}' has no 'name' column (header: {header}).",
            expected="a CSV header line 'id,name,color' (color optional, '#rrggbb')",
            fix="add the header line.",
        )
    return _legend_from_rows(rows, f"'{path}'")
