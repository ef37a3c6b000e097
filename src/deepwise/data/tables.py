"""Read tables (CSV, TSV, Parquet) into pandas, with errors that say what to do.

Example:
    >>> df = read_table("examples/penguins/penguins.csv")
    >>> df.shape
    (344, 8)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from deepwise.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".parquet": None, ".pq": None}


def is_table_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_table(path: str | Path, na_values: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file. Raises :class:`DataError` for a missing, empty or unreadable file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"The data file '{path}' does not exist.",
            expected="a path to a CSV, TSV or Parquet file",
            fix="check the path (relative paths in a config are relative to the config's folder).",
        )
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
    if path.stat().st_size == 0:
        raise DataError(
            f"The data file '{path}' is empty (0 bytes).",
            expected="a header row and at least a few data rows",
            fix="check that the export that produced it finished.",
        )
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = _read_delimited(path, TABLE_SUFFIXES[suffix], na_values or [])
    except DataError:
        raise
    except (pd.errors.ParserError, ValueError, OSError) as err:
        raise DataError(
            f"'{path}' could not be read as a {suffix.lstrip('.').upper()} table: {err}",
            expected="a well-formed table with one header row",
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
    return df


def _read_delimited(path: Path, sep: str | None, na_values: list[str]) -> pd.DataFrame:
    kwargs = dict(sep=sep, na_values=na_values or None, skipinitialspace=True)
    if sep is None:
        kwargs["engine"] = "python"
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except UnicodeDecodeError:
        pass
    except pd.errors.EmptyDataError:
        raise DataError(
            f"'{path}' contains no table (only blank lines).",
            expected="a header row and data rows",
            fix="check that the export that produced it finished.",
        ) from None
    # Not UTF-8: Latin-1 decodes any byte sequence, which is how most lab software writes non-UTF-8 text.
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head:
        raise DataError(
            f"'{path}' looks like a binary file, not a text table.",
            expected="a text CSV/TSV file (or Parquet with a .parquet extension)",
            fix="export the data as CSV or Parquet.",
        )
    return pd.read_csv(path, encoding="latin-1", **kwargs)


def fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes: identifies the exact data a run was trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
