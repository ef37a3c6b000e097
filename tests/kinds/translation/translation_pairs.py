"""Helpers for the translation tests: writing sentence pairs to a CSV."""

from __future__ import annotations

import csv
from pathlib import Path


def write_pairs(path: Path, pairs: list[tuple[str, str]], header: tuple[str, str] = ("en", "fr")) -> Path:
    """A CSV with a header and one pair a row (quoted where needed)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(pairs)
    return path
