"""Recognise free text, clean text values, and read a folder of class sub-folders of ``.txt`` files.

A column is **free text** when its values are several words long (median >= 3 whitespace-separated words), they
vary (at least 20 % distinct values, or 1,000 distinct values) and their words come from a real vocabulary (at least
30 distinct words with a letter in them). Otherwise short values that are (nearly) all distinct are an
**identifier** (codes, names, URLs: nothing a model can generalize from), and repeated values are a **category**.
Every verdict carries its reason in words and the numbers behind it.

Reading files: UTF-8 (a byte-order mark is honoured, UTF-16 included); bytes that are not UTF-8 are replaced by
U+FFFD and counted per file; a file that looks binary (NUL bytes, or more than 5 % control characters) stops the
read with an error naming it; empty and whitespace-only files are left out and named; a document over
``max_document_bytes`` (default 1 MB, far more than the ~16,000 characters a 512-token model reads) keeps its
beginning and is named.

Example:
    >>> verdict = detect_column_kind(frame["review"])
    >>> verdict.kind, verdict.reason
    ('text', 'free text: a median of 41 words per value, 99.8 % distinct values, 12,408 distinct words')
    >>> folder = read_text_folder("bbc/")          # bbc/<class>/*.txt
    >>> len(folder.texts), folder.classes
"""

from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError

MIN_MEDIAN_WORDS = 3
MIN_DISTINCT_SHARE = 0.2
MANY_DISTINCT_VALUES = 1_000
MIN_VOCABULARY = 30
IDENTIFIER_DISTINCT_SHARE = 0.9
SAMPLE_VALUES = 5_000
MAX_DOCUMENT_BYTES = 1_000_000
MAX_CELL_CHARS = 1_000_000
BINARY_CONTROL_SHARE = 0.05
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # control characters other than tab, newlines, form feed
TEXT_SUFFIXES = (".txt",)


@dataclass
class ColumnVerdict:
    """What a column holds: ``kind`` is ``text``, ``identifier``, ``category``, ``numeric`` or ``empty``."""

    column: str
    kind: str
    reason: str
    stats: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "kind": self.kind, "reason": self.reason, "stats": self.stats}


def _column_stats(values: pd.Series) -> dict[str, float]:
    strings = values.astype(str)
    sample = strings.sample(n=SAMPLE_VALUES, random_state=0) if len(strings) > SAMPLE_VALUES else strings
    words = sample.str.split()
    word_counts = words.str.len().to_numpy()
    vocabulary = Counter(w.lower() for ws in words for w in ws if any(c.isalpha() for c in w))
    chars = sample.str.len().to_numpy()
    digits = sample.str.count(r"\d").to_numpy()
    return {
        "values": int(len(values)),
        "distinct_values": int(strings.nunique()),
        "distinct_share": float(strings.nunique() / max(1, len(strings))),
        "median_words": float(np.median(word_counts)) if len(word_counts) else 0.0,
        "median_chars": float(np.median(chars)) if len(chars) else 0.0,
        "share_with_spaces": float((word_counts > 1).mean()) if len(word_counts) else 0.0,
        "distinct_words": int(len(vocabulary)),
        "digit_share": float(digits.sum() / max(1, chars.sum())),
    }


def detect_column_kind(values: pd.Series, name: str | None = None) -> ColumnVerdict:
    """Decide whether a column is free text, an identifier, a category, numbers or empty, and say why.

    Example:
        >>> detect_column_kind(pd.Series(["A-1043", "B-2211", "C-0007"]), "code").kind
        'identifier'
    """
    column = str(name if name is not None else values.name)
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return ColumnVerdict(column, "numeric", f"'{column}' holds numbers ({values.dtype}), not text")
    present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        return ColumnVerdict(column, "empty", f"'{column}' has no non-empty values")
    as_numbers = pd.to_numeric(present, errors="coerce")
    if as_numbers.notna().mean() >= 0.95:
        return ColumnVerdict(column, "numeric", f"'{column}': {as_numbers.notna().mean():.0%} of its values read "
                             "as numbers")
    s = _column_stats(present)
    numbers = (f"words per value: median {s['median_words']:g}; {s['distinct_share']:.1%} distinct values "
               f"({s['distinct_values']:,} of {s['values']:,}), {s['distinct_words']:,} distinct words")
    varied = s["distinct_share"] >= MIN_DISTINCT_SHARE or s["distinct_values"] >= MANY_DISTINCT_VALUES
    if s["median_words"] >= MIN_MEDIAN_WORDS and varied and s["distinct_words"] >= MIN_VOCABULARY:
        return ColumnVerdict(column, "text", f"'{column}' is free text: {numbers}", s)
    if s["median_words"] >= MIN_MEDIAN_WORDS and varied:
        kind = "identifier" if s["distinct_share"] >= IDENTIFIER_DISTINCT_SHARE else "category"
        return ColumnVerdict(column, kind, f"'{column}' is not free text: its values are several words long but "
                             f"use only {s['distinct_words']} distinct words (at least {MIN_VOCABULARY} expected), "
                             f"a template filled with codes or numbers: {numbers}", s)
    if s["median_words"] >= MIN_MEDIAN_WORDS:
        return ColumnVerdict(column, "category", f"'{column}' is a category, not free text: its phrases repeat "
                             f"(fewer than {MIN_DISTINCT_SHARE:.0%} distinct values): {numbers}", s)
    if s["distinct_share"] >= IDENTIFIER_DISTINCT_SHARE and s["values"] >= 20:
        return ColumnVerdict(column, "identifier", f"'{column}' looks like an identifier (codes, names, links): "
                             f"short values (fewer than {MIN_MEDIAN_WORDS} words) that are nearly all different: "
                             f"{numbers}", s)
    return ColumnVerdict(column, "category", f"'{column}' is a category: short values (fewer than "
                         f"{MIN_MEDIAN_WORDS} words) that repeat: {numbers}", s)


def find_text_columns(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> dict[str, ColumnVerdict]:
    """The verdict for every column of ``frame`` except ``exclude`` (e.g. the target), in column order.

    Example:
        >>> [c for c, v in find_text_columns(df, exclude=["label"]).items() if v.kind == "text"]
        ['review']
    """
    skip = set(exclude)
    return {str(c): detect_column_kind(frame[c], str(c)) for c in frame.columns if c not in skip}


def clean_texts(values: Iterable[Any], max_chars: int = MAX_CELL_CHARS) -> tuple[list[str], dict[str, Any]]:
    """Text values as ``str``: missing -> ``""``, bytes decoded as UTF-8 (bad bytes replaced and counted), values
    over ``max_chars`` characters cut; returns the texts and a report of what was done.

    Example:
        >>> clean_texts(["ok", None, b"caf\\xe9", "   "])[1]["empty_or_whitespace"]
        2
    """
    texts: list[str] = []
    missing = replaced = cut = blank = 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing += 1
            text = ""
        elif isinstance(value, bytes):
            text = value.decode("utf-8", errors="replace")
            replaced += text.count("\ufffd")
        else:
            text = value if isinstance(value, str) else str(value)
        if len(text) > max_chars:
            text = text[:max_chars]
            cut += 1
        if not text.strip():
            blank += 1
        texts.append(text)
    report = {"values": len(texts), "missing": missing, "empty_or_whitespace": blank,
              "replaced_bytes": replaced, "cut_to_max_chars": cut, "max_chars": max_chars}
    return texts, report


def check_text_labels(labels: Iterable[Any], target: str = "target") -> dict[str, Any]:
    """Refuse labels that cannot be learned (one class, or a different label in nearly every document); return
    the class counts.

    Example:
        >>> check_text_labels(["sport", "tech", "sport", "tech"])["classes"]
        2
    """
    counts = Counter(str(label) for label in labels)
    n = sum(counts.values())
    if len(counts) < 2:
        raise DataError(f"The {target} has a single class ({next(iter(counts), 'none')!r}) in {n} documents.",
                        expected="at least two classes, each with two or more documents",
                        fix="add documents of the other classes, or choose another target")
    if n >= 20 and len(counts) > 0.5 * n:
        raise DataError(
            f"The {target} has {len(counts):,} different values in {n:,} documents: nearly every document has its "
            "own label, so no class has examples to learn from (is it an identifier or a file name?).",
            expected="a label shared by several documents (a class), or a number to predict (regression)",
            fix="choose the column that holds the class, or give numbers for a regression target",
        )
    single = sorted(c for c, k in counts.items() if k < 2)
    if single:
        raise DataError(f"The {target} classes {', '.join(map(repr, single[:10]))} have a single document each.",
                        expected="at least two documents per class (one to train on, one to test)",
                        fix="add documents to those classes or remove them")
    return {"classes": len(counts), "documents": n, "counts": dict(sorted(counts.items()))}


# ---------------------------------------------------------------------------------------------- folders of files
@dataclass
class TextFolder:
    """Documents read from ``root/<class>/*.txt``: texts, labels and the files they came from, plus a report."""

    texts: list[str]
    labels: list[str]
    files: list[str]
    classes: list[str]
    report: dict[str, Any]

    def describe(self) -> list[str]:
        """The report in sentences, for the user."""
        r = self.report
        lines = [f"Read {len(self.texts):,} documents in {len(self.classes)} classes from {r['root']}."]
        if r["empty_files"]:
            lines.append(f"Left out {len(r['empty_files'])} empty or whitespace-only file(s): "
                         f"{', '.join(r['empty_files'][:5])}.")
        if r["replaced_files"]:
            total = sum(r["replaced_files"].values())
            names = ", ".join(list(r["replaced_files"])[:5])
            lines.append(f"{total:,} byte(s) that are not UTF-8 were replaced by U+FFFD in "
                         f"{len(r['replaced_files'])} file(s): {names}.")
        if r["truncated_files"]:
            lines.append(f"{len(r['truncated_files'])} file(s) are larger than {r['max_document_bytes']:,} bytes "
                         f"and were read up to that size: {', '.join(r['truncated_files'][:5])}.")
        if r["ignored_files"]:
            lines.append(f"Ignored {r['ignored_files']} file(s) that do not end in {', '.join(TEXT_SUFFIXES)}.")
        return lines


def _decode(raw: bytes, encoding: str, errors: str, cut: bool) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[len(codecs.BOM_UTF8):], "utf-8"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    return decoder.decode(raw, final=not cut)  # a cut file may end inside a character: leave those bytes out


def read_text_file(path: str | Path, max_bytes: int = MAX_DOCUMENT_BYTES, encoding: str = "utf-8",
                   errors: str = "replace") -> tuple[str, dict[str, Any]]:
    """One document: its text and ``{"replaced": n, "truncated": bool, "bytes": size, "binary": bool}``.

    Example:
        >>> text, info = read_text_file("bbc/tech/001.txt")
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        raw = handle.read(max_bytes)
    cut = size > max_bytes
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        text = _decode(raw, encoding, errors, cut)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid {encoding}: byte {exc.start} ({raw[exc.start:exc.start + 1]!r}).",
                        expected=f"text files in {encoding}",
                        fix="convert the file (e.g. iconv -f latin1 -t utf-8), or let deepwise replace bad bytes "
                        "(text encoding_errors: replace)") from None
    replaced = text.count("\ufffd") if errors == "replace" else 0
    head = text[:65536]
    controls = len(_CONTROL.findall(head))
    binary = (not utf16 and b"\x00" in raw[:8192]) or controls > BINARY_CONTROL_SHARE * max(1, len(head))
    return text, {"replaced": replaced, "truncated": cut, "bytes": size, "binary": binary}


def read_text_folder(root: str | Path, max_document_bytes: int = MAX_DOCUMENT_BYTES, encoding: str = "utf-8",
                     errors: str = "replace") -> TextFolder:
    """Read ``root/<class>/*.txt`` into texts and labels (the sub-folder names), with a report of every repair.

    ``errors="replace"`` (default) replaces and counts bytes that are not ``encoding``; ``"strict"`` refuses the
    first such file, naming it. Files that look binary are always refused, naming them.

    Example:
        >>> folder = read_text_folder("bbc/")
        >>> folder.texts[0][:30], folder.labels[0]
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder.", expected="a folder with one sub-folder of .txt files per class",
                        fix="pass the folder that holds the class folders (e.g. data/ with data/sport/*.txt)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    texts, labels, files, empty, binary, truncated = [], [], [], [], [], []
    replaced: dict[str, int] = {}
    ignored = 0
    for class_dir in class_dirs:
        for path in sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() not in TEXT_SUFFIXES:
                ignored += 1
                continue
            name = str(path.relative_to(root))
            text, info = read_text_file(path, max_document_bytes, encoding, errors)
            if info["binary"]:
                binary.append(name)
                continue
            if info["replaced"]:
                replaced[name] = info["replaced"]
            if info["truncated"]:
                truncated.append(name)
            if not text.strip():
                empty.append(name)
                continue
            texts.append(text)
            labels.append(class_dir.name)
            files.append(name)
    if binary:
        raise DataError(f"{len(binary)} file(s) in {root} do not look like text (NUL bytes, or over "
                        f"{BINARY_CONTROL_SHARE:.0%} control characters): {', '.join(binary[:10])}.",
                        expected=f"plain-text .txt files in {encoding}",
                        fix="remove those files, or convert them to UTF-8 text (e.g. iconv -f latin1 -t utf-8)")
    classes = sorted(set(labels))
    if len(classes) < 2:
        found = ", ".join(p.name for p in sorted(root.iterdir())[:10]) or "nothing"
        raise DataError(f"{root} has {len(classes)} class folder(s) with non-empty .txt files (found: {found}).",
                        expected="at least two sub-folders, one per class, each holding .txt files",
                        fix="arrange the documents as <folder>/<class>/<name>.txt")
    check_text_labels(labels, target=f"folder {root}")
    report = {"root": str(root), "documents": len(texts), "classes": dict(Counter(labels)), "empty_files": empty,
              "replaced_files": replaced, "truncated_files": truncated, "ignored_files": ignored,
              "max_document_bytes": max_document_bytes, "encoding": encoding, "errors": errors}
    return TextFolder(texts=texts, labels=labels, files=files, classes=classes, report=report)
