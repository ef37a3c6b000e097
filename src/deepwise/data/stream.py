"""Tables read from disk in chunks, for tables too big to load at once: CSV/TSV, a Parquet file, or a folder of
Parquet files (read in file-name order).

:meth:`TableSource.chunks` yields pandas frames of about ``CHUNK_ROWS`` rows in file order, with the same column
types every time (numbers as float64, true/false as bool, everything else as text), so a pass over the table
never holds more than one chunk. :func:`row_hash` gives each row a reproducible uniform number from its position in
the file: the basis of a split that needs no shuffle of the whole table.

Example:
    >>> source = TableSource.open("big.csv")
    >>> source.estimated_rows, source.columns[:3]
    (10000000, ['x0', 'x1', 'x2'])
    >>> for chunk in source.chunks(["x0", "y"]):   # pandas frames, ~65,000 rows each
    ...     pass
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepwise.data.tables import (
    TABLE_SUFFIXES,
    _short,
    expand_path,
    parquet_folder_files,
    sniff_format,
    text_encoding,
)
from deepwise.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
CHUNK_ROWS = 65_536
CSV_BLOCK_BYTES = 8 << 20  # pyarrow's read unit; column types come from the first block
#: bytes of memory per table cell when a table is loaded whole: the pandas frame, the split copies, the float feature
#: matrices, the baselines' copies together (measured: a 1,000,000 x 20 CSV peaks 1.35 GB above the 0.83 GB that
#: Keras on JAX takes at rest, in `deepwise train`; bench/scaling.py)
BYTES_PER_CELL_IN_MEMORY = 64
#: a table whose in-memory estimate exceeds this (or a quarter of the free memory) is streamed
STREAM_ABOVE_BYTES = 768 << 20
_CSV_NULLS = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "-NaN", "-nan", "<NA>"]


def is_streamable(path: str | Path) -> bool:
    path = Path(path)
    return bool(parquet_folder_files(path)) or (path.is_file() and path.suffix.lower() in TABLE_SUFFIXES)


def available_memory() -> int:
    """Bytes of memory available to new allocations (MemAvailable), or 4 GB when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def stream_threshold() -> int:
    """Bytes of estimated in-memory size above which a table is streamed."""
    return min(STREAM_ABOVE_BYTES, available_memory() // 4)


def may_be_too_big(path: str | Path) -> bool:
    """A cheap first look: False when a CSV file is so small that it cannot be too big for memory (a cell takes at
    least 2 bytes in a CSV file and :data:`BYTES_PER_CELL_IN_MEMORY` in memory), so small tables are never opened
    twice. Parquet files and folders: True (their row counts are read from the metadata)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in PARQUET_SUFFIXES:
        return path.stat().st_size * BYTES_PER_CELL_IN_MEMORY / 2 > stream_threshold()
    return True


def row_hash(rows: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per row position, the same for the same (row, seed) on every machine
    (splitmix64 of the position mixed with the seed)."""
    z = rows.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class TableSource:
    """A table on disk that is read chunk by chunk (see the module docstring)."""

    path: Path
    kind: str  # csv | parquet
    files: list[Path]
    columns: list[str]
    estimated_rows: int
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    na_values: list[str] = field(default_factory=list)
    _types: dict[str, str] = field(default_factory=dict)  # csv: column -> float64 | bool | string

    @classmethod
    def open(cls, path: str | Path, na_values: list[str] | None = None) -> TableSource:
        path = expand_path(path)
        files = parquet_folder_files(path)
        if files or path.suffix.lower() in PARQUET_SUFFIXES:
            return cls._open_parquet(path, files or [path])
        if not path.is_file():
            raise DataError(
                f"The data '{path}' is neither a table file nor a folder of Parquet files.",
                expected="a CSV/TSV/Parquet file, or a folder of .parquet files",
                fix="check the path.",
            )
        return cls._open_csv(path, na_values or [])

    @classmethod
    def _open_parquet(cls, path: Path, files: list[Path]) -> TableSource:
        import pyarrow.parquet as pq

        rows, columns = 0, None
        for file in files:
            try:
                meta = pq.ParquetFile(file)
            except Exception as err:  # pyarrow raises several kinds for a damaged file
                raise DataError(
                    f"'{file}' could not be read as a Parquet file: {_short(err)}",
                    expected="Parquet files written by pandas, pyarrow or Spark",
                    fix="write the file again, or remove it from the folder.",
                ) from None
            names = [f.name for f in meta.schema_arrow]
            if columns is None:
                columns = names
            elif names != columns:
                raise DataError(
                    f"The Parquet files of '{path}' do not have the same columns: '{file.name}' has "
                    f"{len(names)} ({', '.join(names[:5])}...), '{files[0].name}' has {len(columns)}.",
                    expected="one table split over several files, every file with the same columns in the same order",
                    fix="write every part with the same columns, or move the odd file out of the folder.",
                )
            rows += meta.metadata.num_rows
        return cls(path=path, kind="parquet", files=files, columns=list(columns or []), estimated_rows=rows)

    @classmethod
    def _open_csv(cls, path: Path, na_values: list[str]) -> TableSource:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        encoding = text_encoding(path, head)
        text = head.decode(encoding, errors="replace")
        delimiter, decimal = sniff_format(text, TABLE_SUFFIXES.get(path.suffix.lower()))
        if delimiter == r"\s+":
            raise DataError(
                f"'{path.name}' is aligned with spaces, which cannot be read in chunks.",
                expected="a CSV or TSV file (or Parquet) for a table this big",
                fix="save the table as CSV or Parquet (e.g. pandas: df.to_parquet('data.parquet')).",
            )
        lines = text.lstrip("\ufeff").splitlines()
        complete = lines[:-1] if len(lines) > 2 else lines  # the last line of the sample may be cut short
        per_line = max(sum(len(line.encode(encoding, errors="replace")) + 1 for line in complete[1:]), 1)
        per_line /= max(len(complete) - 1, 1)
        size = path.stat().st_size
        estimated = int((size - len(complete[0].encode(encoding, errors="replace")) - 1) / per_line) if lines else 0
        source = cls(
            path=path,
            kind="csv",
            files=[path],
            columns=[],
            estimated_rows=max(estimated, 0),
            encoding=encoding,
            delimiter=delimiter,
            decimal=decimal,
            na_values=list(na_values),
        )
        source.columns = source._csv_header()
        return source

    # -------------------------------------------------------------------------------------------------- reading
    def estimated_memory(self) -> int:
        """Bytes a whole load of the table would take (:data:`BYTES_PER_CELL_IN_MEMORY` per cell)."""
        return self.estimated_rows * max(len(self.columns), 1) * BYTES_PER_CELL_IN_MEMORY

    def too_big_for_memory(self) -> bool:
        return self.estimated_memory() > stream_threshold()

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Frames of about :data:`CHUNK_ROWS` rows, in file order, with ``columns`` (default: all)."""
        columns = list(columns) if columns is not None else list(self.columns)
        if self.kind == "parquet":
            yield from self._parquet_chunks(columns)
        else:
            yield from self._csv_chunks(columns)

    def _parquet_chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        for file in self.files:
            reader = pq.ParquetFile(file)
            for batch in reader.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
                yield batch.to_pandas()

    def _csv_options(self, columns: list[str], types: dict[str, str] | None):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(encoding=self.encoding, block_size=CSV_BLOCK_BYTES)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)
        pa_types = {"float64": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
        convert = pacsv.ConvertOptions(
            include_columns=columns,
            column_types={c: pa_types[t] for c, t in (types or {}).items() if c in columns},
            null_values=_CSV_NULLS + [str(v) for v in self.na_values],
            strings_can_be_null=True,
            decimal_point=self.decimal,
        )
        return read, parse, convert

    def _csv_header(self) -> list[str]:
        import pyarrow.csv as pacsv

        read, parse, _ = self._csv_options([], None)
        try:
            with pacsv.open_csv(self.path, read_options=read, parse_options=parse) as reader:
                return [f.name for f in reader.schema]
        except Exception as err:  # ArrowInvalid and friends
            raise DataError(
                f"'{self.path}' could not be read as a CSV table in chunks: {_short(err)}",
                expected="a CSV/TSV file with a header row",
                fix="check the file (does it open in a spreadsheet?), or save it as Parquet.",
            ) from None

    def _csv_types(self, columns: list[str]) -> dict[str, str]:
        """The type of each column from the first block: numbers -> float64 (so that a later 1.5 in a column
        of integers still fits), true/false -> bool, anything else -> text."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        unknown = [c for c in columns if c not in self._types]
        if unknown:
            read, parse, convert = self._csv_options(unknown, None)
            with pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert) as r:
                for f in r.schema:
                    if pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
                        self._types[f.name] = "float64"
                    elif pa.types.is_boolean(f.type):
                        self._types[f.name] = "bool"
                    else:
                        self._types[f.name] = "string"
        return {c: self._types[c] for c in columns}

    def _csv_chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        types = self._csv_types(columns)
        read, parse, convert = self._csv_options(columns, types)
        yielded = 0
        try:
            with pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert) as reader:
                for batch in reader:
                    for start in range(0, batch.num_rows, CHUNK_ROWS):
                        part = batch.slice(start, CHUNK_ROWS)
                        yielded += part.num_rows
                        yield part.to_pandas()
        except pa.ArrowInvalid as err:
            # pyarrow names the row too when it knows it ("In CSV column #8: Row #302: CSV conversion error ...")
            found = re.search(r"In CSV column #(\d+):(?: Row #\d+:)? CSV conversion error to (\w+)", str(err))
            if found:
                name = self.columns[int(found.group(1))]
                raise ColumnTypeChanged(name, yielded) from None
            raise DataError(
                f"'{self.path}' could not be read past row {yielded:,}: {_short(err)}",
                expected="a CSV/TSV table whose rows all have the header's number of fields",
                fix="check the rows after that one (a stray delimiter or quote?), or save the table as Parquet.",
            ) from None

    def set_text(self, column: str) -> None:
        """Read ``column`` as text from now on (a later row held a value its first-block type cannot hold)."""
        self._types[column] = "string"


class ColumnTypeChanged(Exception):
    """A CSV column held a value its first-block type cannot hold; :meth:`TableSource.set_text` and read again."""

    def __init__(self, column: str, row: int):
        super().__init__(f"column {column!r} changes type after row {row}")
        self.column = column
