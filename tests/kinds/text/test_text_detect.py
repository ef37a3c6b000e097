"""Recognising free text in real tables, and reading folders of .txt files, bad ones included."""

from __future__ import annotations

import codecs

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from text_corpus import BBC_ROOT, bbc

from deepwise.errors import DataError
from deepwise.kinds.text.detect import (
    check_text_labels,
    clean_texts,
    detect_column_kind,
    find_text_columns,
    read_text_file,
    read_text_folder,
)


@pytest.fixture(scope="module")
def bbc_frame() -> pd.DataFrame:
    texts, labels, classes = bbc()
    return pd.DataFrame({
        "body": texts,
        "headline": [t.split("\n", 1)[0] for t in texts],
        "section": [classes[i] for i in labels],
        "characters": [len(t) for t in texts],
        "file_id": [f"bbc-{i:05d}" for i in range(len(texts))],
        "order_note": [f"Order {i} shipped to customer {i * 7}" for i in range(len(texts))],
    })


def test_free_text_identifiers_categories_and_numbers_are_told_apart(bbc_frame):
    verdicts = find_text_columns(bbc_frame, exclude=["section"])
    kinds = {column: verdict.kind for column, verdict in verdicts.items()}
    assert kinds == {"body": "text", "headline": "text", "characters": "numeric", "file_id": "identifier",
                     "order_note": "identifier"}
    assert "free text" in verdicts["body"].reason and "distinct words" in verdicts["body"].reason
    assert verdicts["body"].stats["median_words"] > 100
    assert "template" in verdicts["order_note"].reason  # several words, but only 4 distinct ones
    assert detect_column_kind(bbc_frame["section"]).kind == "category"


def test_country_names_and_codes_of_a_real_table_are_not_text():
    frame = sm.datasets.fertility.load_pandas().data
    verdicts = find_text_columns(frame)
    assert verdicts["Country Name"].kind == "identifier"
    assert verdicts["Country Code"].kind == "identifier"
    assert verdicts["Indicator Name"].kind == "category"  # one repeated phrase
    assert all(v.kind in ("numeric", "empty") for c, v in verdicts.items() if c[0].isdigit())


def test_numbers_stored_as_strings_and_empty_columns():
    assert detect_column_kind(pd.Series(["1.5", "2", "3.25", None] * 10), "x").kind == "numeric"
    assert detect_column_kind(pd.Series(["", "  ", None]), "blank").kind == "empty"


def test_clean_texts_reports_every_repair():
    texts, report = clean_texts(["fine text", None, float("nan"), b"caf\xe9 au lait", "   ", 7, "x" * 50],
                                max_chars=20)
    assert texts[1] == texts[2] == "" and texts[5] == "7" and len(texts[6]) == 20
    assert "\ufffd" in texts[3]
    assert report == {"values": 7, "missing": 2, "empty_or_whitespace": 3, "replaced_bytes": 1,
                      "cut_to_max_chars": 1, "max_chars": 20}


def test_reads_the_bbc_folder():
    folder = read_text_folder(BBC_ROOT)
    assert len(folder.texts) == 2225 and folder.classes == ["business", "entertainment", "politics", "sports", "tech"]
    assert folder.report["classes"]["sports"] == 511
    # one BBC file holds a byte that is not UTF-8: replaced, counted and named
    assert folder.report["replaced_files"] == {"sports/199.txt": 1}
    assert any("sports/199.txt" in line for line in folder.describe())


def _write_corpus(root, texts_by_class):
    for label, texts in texts_by_class.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            data = text if isinstance(text, bytes) else text.encode("utf-8")
            (root / label / f"{i:03d}.txt").write_bytes(data)


def test_bad_files_are_repaired_or_refused_with_their_names(tmp_path):
    texts, labels, classes = bbc()
    sport = [t for t, y in zip(texts, labels, strict=True) if classes[y] == "sports"][:5]
    tech = [t for t, y in zip(texts, labels, strict=True) if classes[y] == "tech"][:5]
    latin1 = "Le café était fermé à Noël, déjà.".encode("latin-1")
    big = ("Markets rallied as shares rose. " * (50 * 2**20 // 32)).encode()
    _write_corpus(tmp_path / "docs", {
        "sport": [*sport, "", "  \n\t ", latin1],
        "tech": [*tech, big, codecs.BOM_UTF16_LE + "Gadget news in UTF-16".encode("utf-16-le")],
    })
    (tmp_path / "docs" / "tech" / "notes.md").write_text("ignored")
    folder = read_text_folder(tmp_path / "docs")
    r = folder.report
    assert len(folder.texts) == 13 and r["empty_files"] == ["sport/005.txt", "sport/006.txt"]
    assert r["replaced_files"] == {"sport/007.txt": 7}  # café était fermé à Noël déjà: seven latin-1 bytes
    assert r["truncated_files"] == ["tech/005.txt"] and r["ignored_files"] == 1
    assert max(len(t) for t in folder.texts) <= 1_000_000
    assert "Gadget news in UTF-16" in folder.texts
    with pytest.raises(DataError, match="sport/007.txt"):
        read_text_folder(tmp_path / "docs", errors="strict")

    (tmp_path / "docs" / "tech" / "image.txt").write_bytes(bytes(range(256)) * 40)
    with pytest.raises(DataError, match=r"tech/image.txt") as error:
        read_text_folder(tmp_path / "docs")
    assert "Fix:" in str(error.value)


def test_a_cut_document_does_not_end_in_a_broken_character(tmp_path):
    path = tmp_path / "accents.txt"
    path.write_text("é" * 1000, encoding="utf-8")  # 2 bytes per character
    text, info = read_text_file(path, max_bytes=1001)
    assert info == {"replaced": 0, "truncated": True, "bytes": 2000, "binary": False}
    assert text == "é" * 500


def test_folders_that_cannot_be_learned_are_refused(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        read_text_folder(tmp_path / "missing")
    _write_corpus(tmp_path / "one", {"only": ["a text", "another text"]})
    with pytest.raises(DataError, match="1 class folder"):
        read_text_folder(tmp_path / "one")
    _write_corpus(tmp_path / "lonely", {"a": ["one text", "two texts"], "b": ["a single document"]})
    with pytest.raises(DataError, match="single document"):
        read_text_folder(tmp_path / "lonely")


def test_labels_unique_per_row_are_refused():
    texts, labels, _ = bbc()
    with pytest.raises(DataError, match="different values in 300 documents"):
        check_text_labels([f"doc-{i}" for i in range(300)])
    assert check_text_labels(np.array(labels))["classes"] == 5
