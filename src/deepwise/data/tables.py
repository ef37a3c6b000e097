"""Read tables (CSV, TSV, Parquet) into pandas, with errors that say what to do.

Example:
    >>> df = read_table("examples/penguins/penguins.csv")
    >>> df.shape
    (344, 8)
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from deepwise.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".parquet": None, ".pq": None}


def is_table_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_table(path: str | Path, na_values: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file. Raises :class:`DataError` for a missing, empty or unreadable file.

    Text tables may be UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or Latin-1;
    the delimiter (comma, semicolon, tab or bar) is taken from the header row, and a semicolon table whose numbers
    use decimal commas ("3,25") is read with decimal commas.
    """
    path = expand_path(path)
    if not path.exists():
        raise DataError(
            f"The data file '{path}' does not exist.",
            expected="a path to a CSV, TSV or Parquet file",
            fix="check the path (relative paths in a config are relative to the config's folder).",
        )
    if parquet_folder_files(path):
        return _read_parquet(path)  # a folder of Parquet files: one table
    if path.is_dir():
        raise DataError(
            f"'{path}' is a folder, not a table.",
            expected="a CSV, TSV or Parquet file",
            fix="point at the file inside the folder.",
        )
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"'{path.name}' has the extension '{suffix or '(none)'}', which deepwise cannot read as a table.",
            expected="one of " + ", ".join(TABLE_SUFFIXES),
            fix="save the table as CSV or Parquet, or rename it if it already is one.",
        )
    if not path.is_file():
        raise DataError(
            f"'{path}' is not a regular file (a device, pipe or socket).",
            expected="a CSV, TSV or Parquet file on disk",
            fix="save the data to a file first.",
        )
    if path.stat().st_size == 0:
        raise DataError(
            f"The data file '{path}' is empty (0 bytes).",
            expected="a header row and at least a few data rows",
            fix="check that the export that produced it finished.",
        )
    try:
        if suffix in (".parquet", ".pq"):
            df = _read_parquet(path)
        else:
            df = _read_delimited(path, TABLE_SUFFIXES[suffix], na_values or [])
    except DataError:
        raise
    except (pd.errors.ParserError, ValueError, OSError, csv.Error, OverflowError, IndexError) as err:
        # pyarrow's errors for a damaged Parquet file are ValueErrors (ArrowInvalid) or OSErrors
        raise DataError(
            f"'{path}' could not be read as a {suffix.lstrip('.').upper()} table: {_short(err)}",
            expected="a well-formed table with one header row"
            + (" (a Parquet file written by pandas, pyarrow or Spark)" if suffix in (".parquet", ".pq") else ""),
            fix="open the file in a text editor or spreadsheet and check its format at the place named above.",
        ) from None
    if df.shape[1] == 0:
        raise DataError(f"'{path}' has no columns.", expected="a header row naming the columns", fix="check the file.")
    if len(df) == 0:
        raise DataError(
            f"'{path}' has a header ({', '.join(map(str, df.columns[:8]))}) but no data rows.",
            expected="at least a few data rows",
            fix="check that the export that produced it finished.",
        )
    df.columns = [str(c).strip() for c in df.columns]
    _check_unique_names(path, list(df.columns))
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        df = pd.read_parquet(path)
    except pa.lib.ArrowException as err:  # ArrowNotImplementedError and others are not ValueErrors
        raise DataError(
            f"'{path}' could not be read as a PARQUET table: {_short(err)}",
            expected="a Parquet file of plain columns (numbers, text, true/false, dates)",
            fix="write it again with pandas (df.to_parquet) or export the data as CSV.",
        ) from None
    nested = []
    for name in df.columns:
        col = df[name]
        if col.dtype == object:
            sample = col.dropna().head(100)
            if any(isinstance(v, (list, tuple, dict, set, np.ndarray, bytes)) for v in sample):
                nested.append(str(name))
    if nested:
        raise DataError(
            f"'{path.name}' has column(s) whose cells hold lists, structures or raw bytes: "
            + ", ".join(f"'{c}'" for c in nested[:10])
            + ".",
            expected="one plain value (a number, a text, true/false or a date) per cell",
            fix="flatten those columns into one column per value (e.g. df.explode or pd.json_normalize), or drop them.",
        )
    return df


def expand_path(path: str | Path) -> Path:
    """``Path(path).expanduser()``, with a :class:`DataError` for '~user' of an unknown user or a NUL byte."""
    text = str(path)
    if "\x00" in text:
        raise DataError(
            f"The path {text!r} contains a NUL character.",
            expected="a file path without control characters",
            fix="check how the path was written (a copy-paste from a binary file?).",
        )
    try:
        return Path(text).expanduser()
    except RuntimeError:
        raise DataError(
            f"The path '{text}' starts with '~' but that user's home folder is unknown.",
            expected="an existing path (~ alone is your home folder)",
            fix="write the path out in full.",
        ) from None


def _short(err: Exception, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_unique_names(path: Path, names: list[str]) -> None:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:  # empty header cells (trailing delimiters) become 'Unnamed: N', which are distinct
            seen.setdefault(name, []).append(i + 1)
    repeated = {name: where for name, where in seen.items() if len(where) > 1}
    if repeated:
        listed = "; ".join(
            f"'{name}' (columns {', '.join(map(str, where))})" for name, where in list(repeated.items())[:5]
        )
        raise DataError(
            f"'{path.name}' has more than one column with the same name: {listed}.",
            expected="a distinct name in every column of the header row",
            fix="rename the repeated columns in the header row (or drop the copies); deepwise does not guess "
            "which one you mean.",
        )


DELIMITERS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_DECIMAL_POINT = re.compile(r"^\s*[-+]?\d*\.\d+\s*$")


def _encoding(path: Path, head: bytes) -> str:
    """utf-16 (with its byte-order mark), else utf-8-sig; NUL bytes without one mean a binary file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise DataError(
            f"'{path}' looks like a binary file, not a text table (it contains NUL bytes).",
            expected="a text CSV/TSV file (UTF-8, UTF-16 with a byte-order mark, or Latin-1), or Parquet with a "
            ".parquet extension",
            fix="export the data as CSV or Parquet (an Excel workbook: File > Save As > CSV).",
        )
    return "utf-8-sig"


def _outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def sniff_format(text: str, default: str | None) -> tuple[str, str]:
    """``(delimiter, decimal)`` from the start of a text table.

    The delimiter is a candidate (comma, semicolon, tab, bar) found outside quotes in the header row, preferring
    one that splits the next rows into as many fields as the header, then the one found most often, then the
    extension's own (.csv: comma, .tsv: tab); a .txt table with none of them is read as space-aligned. A
    semicolon table whose numbers are written like 3,25 (and none like 3.25) has decimal commas."""
    lines = text.lstrip("\ufeff").splitlines()[:50]
    header = lines[0] if lines else ""
    rows = [line for line in lines[1:-1] if line.strip()]  # the last line of the sample may be cut short
    counts = {d: _outside_quotes(header, d) for d in DELIMITERS}
    found = [d for d in DELIMITERS if counts[d]]
    if found:

        def rank(d: str) -> tuple[bool, int, bool]:
            consistent = all(_outside_quotes(row, d) == counts[d] for row in rows)
            return consistent, counts[d], d == default

        sep = max(found, key=rank)
    elif default is None and len(header.split()) > 1:
        sep = r"\s+"  # a .txt table aligned with spaces
    else:
        sep = default or ","
    decimal = "."
    if sep == ";":
        fields = [f for line in rows for f in line.split(";")]
        commas = sum(1 for f in fields if _DECIMAL_COMMA.match(f))
        points = sum(1 for f in fields if _DECIMAL_POINT.match(f))
        if commas and not points:
            decimal = ","
    return sep, decimal


def text_encoding(path: Path, head: bytes) -> str:
    """The encoding of a text table from its first bytes: UTF-8/UTF-16 by byte-order mark, else UTF-8 unless the
    sample does not decode, then Latin-1."""
    encoding = _encoding(path, head)
    try:
        head.decode(encoding)
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the sample
            encoding = "latin-1"  # decodes any bytes; how most lab software writes non-UTF-8 text
    return encoding


def parquet_folder_files(path: str | Path) -> list[Path]:
    """The Parquet files directly inside a folder, sorted by name ([] for a file or a folder without any): such a
    folder is one table."""
    path = Path(path)
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".parquet", ".pq"))


def _read_delimited(path: Path, sep: str | None, na_values: list[str]) -> pd.DataFrame:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    encoding = text_encoding(path, head)
    sep, decimal = sniff_format(head.decode(encoding, errors="replace"), sep)
    kwargs: dict = dict(sep=sep, decimal=decimal, skipinitialspace=True)
    try:
        df = pd.read_csv(path, encoding=encoding, na_values=na_values or None, **kwargs)
    except UnicodeDecodeError:
        encoding = "latin-1"
        df = pd.read_csv(path, encoding=encoding, na_values=na_values or None, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"'{path}' contains no table (only blank lines).",
            expected="a header row and data rows",
            fix="check that the export that produced it finished.",
        ) from None
    # pandas renames repeated header names to name.1, name.2: read the header row as it is written
    header = pd.read_csv(
        path, encoding=encoding, header=None, nrows=1, dtype=str, keep_default_na=False, na_filter=False, **kwargs
    )
    if header.shape[1] == df.shape[1]:
        _check_unique_names(path, [str(c).strip() for c in header.iloc[0].tolist()])
    return df


def fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes (a folder of Parquet files: of each file's name and bytes, in name order):
    identifies the exact data a run was trained on."""
    digest = hashlib.sha256()
    path = Path(path)
    files = parquet_folder_files(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
