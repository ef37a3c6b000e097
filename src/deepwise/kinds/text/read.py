"""Is a config's data text, and the documents it holds: the text kind's ``claims`` rule and its readers.

A config is text when (cheaply decided, never more than :data:`SAMPLE_ROWS` rows or :data:`SCAN_FILES` file names
read):

- ``text.columns`` names its text columns, or
- ``data.path`` is a folder of class sub-folders holding ``.txt`` files and no image files (``bbc/sport/001.txt``), or
- ``data.path`` is a table (CSV, TSV, Parquet) of which an input column is **free text** in its first
  :data:`SAMPLE_ROWS` rows (:func:`deepwise.kinds.text.detect.detect_column_kind`: several words per value, varied
  values, a real vocabulary) while the target is not (a free-text target is translation's).

Never for ``problem.task: forecasting`` or ``translation`` (their kinds), and never when the table cannot be read
here (the table kind reads it and names the problem).

Example:
    >>> claims_text(Config(problem={"target": "label"}, data={"path": "bbc/"}))
    True
    >>> documents(frame, ["title", "body"])[0][:40]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from deepwise.config import Config
from deepwise.data.tables import TABLE_SUFFIXES, parquet_folder_files, sniff_format, text_encoding
from deepwise.errors import ConfigError, DataError
from deepwise.kinds.text.detect import (
    TEXT_SUFFIXES,
    ColumnVerdict,
    clean_texts,
    detect_column_kind,
    find_text_columns,
)

SAMPLE_ROWS = 2_000
SCAN_FILES = 400
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: the name of the one text column of a folder of documents
FOLDER_TEXT = "text"
#: what joins the values of several text columns into one document
COLUMN_JOINER = "\n\n"
OTHER_KINDS_TASKS = ("forecasting", "translation")


def is_text_folder(path: str | Path) -> bool:
    """True for a folder whose class sub-folders hold ``.txt`` files and no image files (at most
    :data:`SCAN_FILES` names are looked at).

    Example:
        >>> is_text_folder("bbc/")
        True
    """
    path = Path(path)
    if not path.is_dir() or parquet_folder_files(path):
        return False
    texts = images = seen = 0
    with os.scandir(path) as top:
        folders = sorted(e.path for e in top if e.is_dir() and not e.name.startswith((".", "_")))
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                suffix = os.path.splitext(entry.name)[1].lower()
                texts += suffix in TEXT_SUFFIXES
                images += suffix in IMAGE_SUFFIXES
                seen += 1
                if seen >= SCAN_FILES:
                    break
        if seen >= SCAN_FILES:
            break
    return texts > 0 and images == 0


def sample_table(path: str | Path, rows: int = SAMPLE_ROWS) -> pd.DataFrame | None:
    """The first ``rows`` rows of a CSV/TSV/Parquet table (None when the path is not a table file).

    Example:
        >>> sample_table("reviews.csv").shape
        (2000, 4)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in TABLE_SUFFIXES:
        return None
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        return None if batch is None else batch.to_pandas()
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    encoding = text_encoding(path, head)
    sep, decimal = sniff_format(head.decode(encoding, errors="replace"), TABLE_SUFFIXES[suffix])
    frame = pd.read_csv(path, nrows=rows, sep=sep, decimal=decimal, encoding=encoding, encoding_errors="replace",
                        skipinitialspace=True, on_bad_lines="skip", engine="python" if sep == r"\s+" else "c")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def candidate_columns(frame: pd.DataFrame, config: Config) -> list[str]:
    """The columns that may be inputs: ``data.inputs`` (or every column), less the target and ``data.exclude``."""
    target, excluded = config.problem.target, set(config.data.exclude)
    chosen = config.data.inputs if config.data.inputs is not None else list(frame.columns)
    return [str(c) for c in chosen if c != target and c not in excluded and c in frame.columns]


def detected_text_columns(frame: pd.DataFrame, config: Config) -> tuple[list[str], dict[str, ColumnVerdict]]:
    """The free-text input columns of ``frame`` (text.columns when set) and every candidate's verdict."""
    verdicts = find_text_columns(frame[candidate_columns(frame, config)])
    named = config.text.columns
    columns = list(named) if named else [c for c, v in verdicts.items() if v.kind == "text"]
    return columns, verdicts


def claims_text(config: Config) -> bool:
    """The module's rule; never raises (what cannot be read here is left to the kinds that read it)."""
    if config.problem.task in OTHER_KINDS_TASKS or config.translation.target_path:
        return False
    if config.text.columns:
        return True
    path = Path(config.data.path).expanduser()
    try:
        if path.is_dir():
            return is_text_folder(path)
        frame = sample_table(path)
    except Exception:  # unreadable here: the table kind reads it and says what is wrong
        return False
    if frame is None or config.problem.target not in frame.columns or frame.columns.duplicated().any():
        return False  # (duplicate column names: the table kind says which)
    columns, _ = detected_text_columns(frame, config)
    return bool(columns) and detect_column_kind(frame[config.problem.target]).kind != "text"


def check_text_columns(frame: pd.DataFrame, columns: list[str], verdicts: dict[str, ColumnVerdict],
                       config: Config) -> None:
    """Named text columns exist, are not the target, and hold free text (not identifiers, categories or numbers)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"text.columns names column(s) that are not in the data: {', '.join(missing)}.",
            expected="columns of the data: " + ", ".join(map(str, frame.columns[:30])),
            fix="correct the names in text.columns, or set it to null to detect the free-text columns.",
        )
    if config.problem.target in columns:
        raise ConfigError(
            f"The target '{config.problem.target}' is also listed in text.columns.",
            expected="text inputs that do not include the column to predict",
            fix=f"remove '{config.problem.target}' from text.columns.",
        )
    for column in columns:
        verdict = verdicts.get(column) or detect_column_kind(frame[column], column)
        if verdict.kind in ("identifier", "numeric", "empty"):
            raise DataError(
                f"text.columns names '{column}', but it is not text a model can learn from: {verdict.reason}.",
                expected="a column of free text: sentences or documents of several words that differ from row to "
                "row",
                fix=f"remove '{column}' from text.columns (an identifier is no input; a category or number is a "
                "table column the text kind uses as such).",
            )


def documents(frame: pd.DataFrame, columns: list[str], max_chars: int) -> tuple[list[str], dict[str, Any]]:
    """One document per row: the text columns' values joined (missing values left out), cleaned and cut at
    ``max_chars`` characters; and what was done (missing, empty, cut values), per column.

    Example:
        >>> docs, report = documents(frame, ["title", "body"], 1_000_000)
    """
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataError(
            f"The data has no text column(s) {', '.join(map(repr, absent))}.",
            expected="the text column(s) the run was trained on: " + ", ".join(map(repr, columns)),
            fix="add the column(s) (renamed columns must get their training names back).",
        )
    cleaned: list[list[str]] = []
    reports: dict[str, Any] = {}
    for column in columns:
        texts, report = clean_texts(frame[column].tolist(), max_chars=max_chars)
        cleaned.append(texts)
        reports[column] = report
    if len(columns) == 1:
        docs = cleaned[0]
    else:
        docs = [COLUMN_JOINER.join(t for t in parts if t.strip()) for parts in zip(*cleaned, strict=True)]
    blank = sum(1 for d in docs if not d.strip())
    return docs, {"columns": reports, "documents": len(docs), "empty_documents": blank}


def text_files(path: Path) -> list[Path]:
    """The ``.txt`` files under a folder (its sub-folders too), sorted, hidden ones left out."""
    found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
             and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    return sorted(found)


def folder_fingerprint(root: str | Path) -> str:
    """sha256 over every ``.txt`` file in the class sub-folders (relative name and bytes, in name order): identifies
    the exact documents a run was trained on.

    Example:
        >>> folder_fingerprint("bbc/")[:12]
    """
    import hashlib

    root = Path(root)
    digest = hashlib.sha256()
    for path in text_files(root):
        digest.update(str(path.relative_to(root)).encode("utf-8", errors="replace") + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
