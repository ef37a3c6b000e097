"""Sentence pairs from a table (a source and a target text column) or from two files aligned line by line.

Reading checks what breaks translation data, and each error names the lines: bytes that are not UTF-8 inside an
otherwise UTF-8 file (mixed encodings) and text that was encoded twice ("cafÃ©"), files with different line counts,
pairs with an empty side, and sentences longer than ``max_chars`` (a 10,000-character "sentence" is a paragraph or
two lines run together, and would make every padded batch enormous). Text is Unicode-normalized (NFC: "é" typed as
one character or as "e" plus an accent is the same) and stripped of surrounding white space.

Example:
    >>> pairs = read_pairs("pairs.csv", target="fr")            # the source is the other text column
    >>> pairs = read_aligned("train.en", "train.fr")
    >>> pairs.sources[0], pairs.targets[0], pairs.lines[0]
    ('Tuesday, March 5, 2024', 'mardi 5 mars 2024', 2)
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from deepwise.errors import DataError

DEFAULT_MAX_CHARS = 1000  # a sentence longer than this is almost always a paragraph or a broken line
SHOW = 5  # line numbers named in an error
# text encoded twice: UTF-8 bytes read as Latin-1/Windows-1252 and saved again ("Ã©" for "é", "â€™" for "’")
_MOJIBAKE = re.compile(
    "[\u00c2\u00c3][\u0080-\u00bf\u00a0-\u00bf]|\u00e2\u20ac[\u0080-\u00bf\u2018-\u203a\u0153\u2122]"
)


@dataclass
class Pairs:
    """Aligned sentence pairs and where each came from (``lines``: the 1-based line in the file(s))."""

    sources: list[str]
    targets: list[str]
    lines: list[int]
    source_name: str
    target_name: str
    origin: str
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, index) -> Pairs:
        """The pairs at ``index`` (positions), same names and notes."""
        return Pairs(
            [self.sources[i] for i in index],
            [self.targets[i] for i in index],
            [self.lines[i] for i in index],
            self.source_name,
            self.target_name,
            self.origin,
            list(self.notes),
        )


def _name_lines(lines: list[int]) -> str:
    shown = ", ".join(f"{n:,}" for n in lines[:SHOW])
    return shown + (f" and {len(lines) - SHOW:,} more" if len(lines) > SHOW else "")


def decode_lines(raw: bytes, name: str, encoding: str | None = None) -> list[str]:
    """The file's text split into lines, after checking that every line decodes the same way.

    ``encoding``: None reads UTF-8 (a byte-order mark, UTF-8 or UTF-16, is honoured); another name (e.g. "cp1252")
    reads the whole file in it.

    Example:
        >>> decode_lines("café\\n".encode(), "a.txt")
        ['café']
    """
    if encoding is None and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding is None and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if encoding is not None:
        try:
            return raw.decode(encoding).splitlines()
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(
                f"{name} cannot be read as {encoding}: {exc}.",
                expected="a text file in one encoding",
                fix="give the file's real encoding, or convert it to UTF-8 (iconv -f OLD -t UTF-8)",
            ) from exc
    lines, bad, good_non_ascii = [], [], 0
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append(line.decode("utf-8").rstrip("\r"))
            good_non_ascii += not line.isascii()
        except UnicodeDecodeError:
            bad.append(number)
            lines.append(line.decode("cp1252", errors="replace").rstrip("\r"))
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if bad:
        every = good_non_ascii == 0  # no line needs UTF-8 to be read: the file is in one other encoding
        example = lines[bad[0] - 1][:60]
        raise DataError(
            f"{name}: line{'s' if len(bad) > 1 else ''} {_name_lines(bad)} "
            f"{'are' if len(bad) > 1 else 'is'} not UTF-8"
            + (
                " (and no line needs UTF-8: the whole file is in another encoding)"
                if every
                else f", while {good_non_ascii:,} other line{'s' if good_non_ascii > 1 else ''} with accents or "
                f"symbols {'are' if good_non_ascii > 1 else 'is'}: the file mixes encodings"
            )
            + f". Line {bad[0]:,} read as Windows-1252 says {example!r}.",
            expected="UTF-8 text (every line in the same encoding)",
            fix=(
                "convert the file to UTF-8 (e.g. iconv -f WINDOWS-1252 -t UTF-8 in.txt > out.txt; Python: "
                "read_pairs(..., encoding='cp1252'))"
                if every
                else f"re-save line{'s' if len(bad) > 1 else ''} {_name_lines(bad)} as UTF-8 "
                f"({'they were' if len(bad) > 1 else 'it was'} probably pasted from a Windows-1252 or Latin-1 "
                "source), then read the file again"
            ),
        )
    return lines


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def check_pairs(
    sources: list[str],
    targets: list[str],
    lines: list[int],
    origin: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    drop_bad: bool = False,
) -> tuple[list[int], list[str]]:
    """Positions of the usable pairs and notes on what was left out; raises on bad pairs unless ``drop_bad``.

    Bad pairs: an empty side, a side longer than ``max_chars`` characters, double-encoded text ("Ã©").

    Example:
        >>> check_pairs(["a", "b"], ["x", "y"], [2, 3], "pairs.csv")
        ([0, 1], [])
    """
    empty = [i for i, (s, t) in enumerate(zip(sources, targets, strict=True)) if not s or not t]
    long = [i for i, (s, t) in enumerate(zip(sources, targets, strict=True)) if max(len(s), len(t)) > max_chars]
    mojibake = [i for i, (s, t) in enumerate(zip(sources, targets, strict=True)) if _MOJIBAKE.search(s + "\n" + t)]
    problems = []
    if empty:
        which = [lines[i] for i in empty]
        problems.append(
            (
                f"{len(empty):,} pair{'s have' if len(empty) > 1 else ' has'} an empty side in {origin} "
                f"(line{'s' if len(empty) > 1 else ''} {_name_lines(which)})",
                "every pair has a source and a target sentence",
            )
        )
    if long:
        first = long[0]
        size = max(len(sources[first]), len(targets[first]))
        problems.append(
            (
                f"{len(long):,} sentence pair{'s are' if len(long) > 1 else ' is'} longer than {max_chars:,} "
                f"characters in {origin} (line{'s' if len(long) > 1 else ''} "
                f"{_name_lines([lines[i] for i in long])}; line {lines[first]:,} has {size:,}): a paragraph, or "
                "lines run together",
                f"one sentence per pair, at most {max_chars:,} characters (split longer texts into sentences, or "
                "raise max_chars)",
            )
        )
    if mojibake:
        first = mojibake[0]
        snippet = _MOJIBAKE.search(sources[first] + "\n" + targets[first])
        problems.append(
            (
                f"{len(mojibake):,} pair{'s look' if len(mojibake) > 1 else ' looks'} encoded twice in {origin} "
                f"(line{'s' if len(mojibake) > 1 else ''} {_name_lines([lines[i] for i in mojibake])}: "
                f"{snippet.group(0) if snippet else ''!r} is how 'é' or '’' looks after UTF-8 was read as "
                "Windows-1252 and saved again)",
                "each character encoded once, in UTF-8 (repair with text.encode('cp1252').decode('utf-8'))",
            )
        )
    if not problems:
        return list(range(len(sources))), []
    if not drop_bad:
        raise DataError(
            ". ".join(p for p, _ in problems) + ".",
            expected="; ".join(e for _, e in problems),
            fix="correct or remove those lines (Python: read_pairs(..., drop_bad=True) leaves them out)"
            + (f", or raise translation.max_chars above {max_chars:,} if such long sentences are real" if long else ""),
        )
    bad = set(empty) | set(long) | set(mojibake)
    keep = [i for i in range(len(sources)) if i not in bad]
    return keep, [p + "; left out" for p, _ in problems]


def _finish(sources, targets, lines, source_name, target_name, origin, max_chars, drop_bad, notes) -> Pairs:
    sources, targets = [_clean(s) for s in sources], [_clean(t) for t in targets]
    keep, dropped = check_pairs(sources, targets, lines, origin, max_chars, drop_bad)
    if not keep:
        raise DataError(
            f"{origin} has no usable sentence pairs.",
            expected="at least one pair with a source and a target sentence",
            fix="check that the file holds the text you meant to give",
        )
    pairs = Pairs(sources, targets, lines, source_name, target_name, origin, notes + dropped)
    return pairs.subset(keep) if len(keep) < len(sources) else pairs


def read_aligned(
    source_path: str | Path,
    target_path: str | Path,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    drop_bad: bool = False,
    encoding: str | None = None,
) -> Pairs:
    """Pairs from two text files, one sentence per line, line i of one translating line i of the other.

    Example:
        >>> pairs = read_aligned("train.en", "train.fr")
    """
    source_path, target_path = Path(source_path), Path(target_path)
    for path in (source_path, target_path):
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file.", expected="a text file", fix="check the path")
    sources = decode_lines(source_path.read_bytes(), source_path.name, encoding)
    targets = decode_lines(target_path.read_bytes(), target_path.name, encoding)
    if len(sources) != len(targets):
        longer, shorter = (source_path, target_path) if len(sources) > len(targets) else (target_path, source_path)
        first_orphan = min(len(sources), len(targets)) + 1
        raise DataError(
            f"{source_path.name} has {len(sources):,} lines and {target_path.name} {len(targets):,}: the files are "
            f"not aligned (line {first_orphan:,} of {longer.name} has no partner in {shorter.name}, and every line "
            "after a missing or extra one pairs two sentences that are not translations of each other).",
            expected="two files with the same number of lines, line i of one translating line i of the other",
            fix="find the first line where they drift apart (a sentence split in two, or an empty line left out) "
            "and repair it",
        )
    origin = f"{source_path.name} + {target_path.name}"
    lines = list(range(1, len(sources) + 1))
    return _finish(sources, targets, lines, source_path.name, target_path.name, origin, max_chars, drop_bad, [])


def _table_rows(path: Path, encoding: str | None) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's first line for CSV/TSV; Parquet rows are numbered as lines after a header."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pandas as pd

        frame = pd.read_parquet(path)
        header = [str(c) for c in frame.columns]
        rows = [["" if v is None else str(v) for v in row] for row in frame.astype(object).itertuples(index=False)]
        return header, rows, list(range(2, len(rows) + 2))
    text = "\n".join(decode_lines(path.read_bytes(), path.name, encoding))
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, [])
    rows, starts, previous = [], [], reader.line_num
    for row in reader:
        rows.append(row)
        starts.append(previous + 1)
        previous = reader.line_num
    return header, rows, starts


def _pick_columns(header: list[str], target: str, source: str | None, name: str) -> tuple[int, int]:
    if target not in header:
        raise DataError(
            f"The target column {target!r} is not in {name}.",
            expected=f"one of: {', '.join(header) or '(no header)'}",
            fix="pass the name of the column that holds the translations (--target)",
        )
    if source is None:
        others = [c for c in header if c != target]
        if len(others) != 1:
            raise DataError(
                f"{name} has {len(others)} columns besides the target {target!r}, so the source text is not clear.",
                expected="a table with one source and one target text column, or the source column named",
                fix=f"pass the source column (--source), one of: {', '.join(others) or '(none)'}",
            )
        source = others[0]
    if source not in header:
        raise DataError(
            f"The source column {source!r} is not in {name}.",
            expected=f"one of: {', '.join(header)}",
            fix="pass the name of the column that holds the sentences to translate",
        )
    return header.index(source), header.index(target)


def read_pairs(
    path: str | Path,
    target: str,
    source: str | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    drop_bad: bool = False,
    encoding: str | None = None,
) -> Pairs:
    """Pairs from a CSV, TSV or Parquet table: ``target`` is the translation column, ``source`` the text to translate
    (default: the only other column).

    Example:
        >>> pairs = read_pairs("dates.csv", target="fr")
        >>> pairs.source_name, len(pairs)
        ('en', 5000)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file.", expected="a CSV, TSV or Parquet file",
                        fix="check the path")
    header, rows, starts = _table_rows(path, encoding)
    si, ti = _pick_columns(header, target, source, path.name)
    short = [starts[r] for r, row in enumerate(rows) if len(row) <= max(si, ti)]
    if short:
        raise DataError(
            f"{path.name}: line{'s' if len(short) > 1 else ''} {_name_lines(short)} "
            f"{'have' if len(short) > 1 else 'has'} fewer fields than the header ({len(header)}).",
            expected=f"every row with a {header[si]!r} and a {header[ti]!r} field",
            fix="quote fields that contain the delimiter, and check for a broken line",
        )
    sources, targets = [row[si] for row in rows], [row[ti] for row in rows]
    return _finish(sources, targets, starts, header[si], header[ti], path.name, max_chars, drop_bad, [])


def _name_items(labels: list[str]) -> str:
    return ", ".join(labels[:SHOW]) + (f" and {len(labels) - SHOW:,} more" if len(labels) > SHOW else "")


def check_sources(sources: list[str], labels: list[str], origin: str, max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """Raise a DataError naming the empty, too long or double-encoded sentences to translate (``labels``: how each
    is named, e.g. "line 3" or "sources[2]").

    Example:
        >>> check_sources(["March 5"], ["line 1"], "new.txt")
    """
    if not sources:
        raise DataError(
            f"{origin} holds no sentence to translate.",
            expected="at least one sentence",
            fix="pass a list of sentences, a table with the source column, or a text file with one sentence a line",
        )
    empty = [labels[i] for i, s in enumerate(sources) if not s]
    long = [i for i, s in enumerate(sources) if len(s) > max_chars]
    mojibake = [labels[i] for i, s in enumerate(sources) if _MOJIBAKE.search(s)]
    problems = []
    if empty:
        problems.append(f"{len(empty):,} empty sentence{'s' if len(empty) > 1 else ''} ({_name_items(empty)})")
    if long:
        first = long[0]
        problems.append(
            f"{len(long):,} sentence{'s' if len(long) > 1 else ''} longer than {max_chars:,} characters "
            f"({_name_items([labels[i] for i in long])}; {labels[first]} has {len(sources[first]):,}): a paragraph, "
            "or lines run together"
        )
    if mojibake:
        problems.append(f"{len(mojibake):,} encoded twice, like 'Ã©' for 'é' ({_name_items(mojibake)})")
    if problems:
        raise DataError(
            f"{origin}: " + "; ".join(problems) + ".",
            expected=f"one non-empty sentence per item, at most {max_chars:,} characters, each character encoded once "
            "in UTF-8",
            fix="split long texts into sentences, leave out empty ones, repair double-encoded text "
            "(text.encode('cp1252').decode('utf-8'))",
        )


def read_sources(
    path: str | Path, column: str | None, *, max_chars: int = DEFAULT_MAX_CHARS, encoding: str | None = None
) -> tuple[list[str], list[int]]:
    """Sentences to translate and their line numbers: the ``column`` of a CSV/TSV/Parquet table (or its only
    column), or every line of a text file.

    Example:
        >>> read_sources("new.csv", "en")
        (['Tuesday, March 5, 2024'], [2])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path} does not exist or is not a file.",
            expected="a table with the source column, or a text file with one sentence a line",
            fix="check the path",
        )
    if path.suffix.lower() in (".csv", ".tsv", ".tab", ".parquet", ".pq"):
        header, rows, starts = _table_rows(path, encoding)
        if column not in header and len(header) != 1:
            raise DataError(
                f"{path.name} has no column {column!r} to translate.",
                expected=f"the source column of the run ({column!r}); the file has: {', '.join(header) or '(none)'}",
                fix=f"name the column with the sentences {column!r}, or pass a file with that one column",
            )
        index = header.index(column) if column in header else 0
        short = [starts[r] for r, row in enumerate(rows) if len(row) <= index]
        if short:
            raise DataError(
                f"{path.name}: line{'s' if len(short) > 1 else ''} {_name_lines(short)} "
                f"{'have' if len(short) > 1 else 'has'} fewer fields than the header ({len(header)}).",
                expected=f"every row with a {header[index]!r} field",
                fix="quote fields that contain the delimiter, and check for a broken line",
            )
        sources, lines = [_clean(row[index]) for row in rows], starts
    else:
        sources = [_clean(line) for line in decode_lines(path.read_bytes(), path.name, encoding)]
        lines = list(range(1, len(sources) + 1))
    check_sources(sources, [f"line {n:,}" for n in lines], path.name, max_chars)
    return sources, lines
