"""Reading sentence pairs: tables, aligned files, and the bad inputs named by line."""

from __future__ import annotations

import codecs

import pytest

from deepwise.errors import DataError
from deepwise.kinds.translation.read import read_aligned, read_pairs


def write(path, text: str | bytes):
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_table_with_two_columns_infers_the_source(tmp_path):
    csv = write(tmp_path / "pairs.csv", 'en,fr\n"Tuesday, March 5, 2024",mardi 5 mars 2024\nMarch 5,5 mars\n')
    pairs = read_pairs(csv, target="fr")
    assert pairs.source_name == "en" and pairs.target_name == "fr"
    assert pairs.sources == ["Tuesday, March 5, 2024", "March 5"]
    assert pairs.targets == ["mardi 5 mars 2024", "5 mars"]
    assert pairs.lines == [2, 3]


def test_table_line_numbers_count_quoted_newlines(tmp_path):
    csv = write(tmp_path / "pairs.csv", 'en,fr\n"two\nlines",deux\nx,\n')
    with pytest.raises(DataError, match=r"empty side.*line 4"):
        read_pairs(csv, target="fr")


def test_table_needs_a_clear_source_column(tmp_path):
    csv = write(tmp_path / "pairs.csv", "id,en,fr\n1,a,b\n")
    with pytest.raises(DataError, match=r"2 columns besides the target.*\n.*\nFix: pass the source column.*id, en"):
        read_pairs(csv, target="fr")
    assert read_pairs(csv, target="fr", source="en").sources == ["a"]
    with pytest.raises(DataError, match="target column 'de' is not in pairs.csv"):
        read_pairs(csv, target="de")


def test_tsv_and_parquet(tmp_path):
    import pandas as pd

    tsv = write(tmp_path / "pairs.tsv", "en\tfr\nMarch 5, 2024\t5 mars 2024\n")
    assert read_pairs(tsv, target="fr").targets == ["5 mars 2024"]
    parquet = tmp_path / "pairs.parquet"
    pd.DataFrame({"en": ["May 1"], "fr": ["1 mai"]}).to_parquet(parquet)
    assert read_pairs(parquet, target="fr").sources == ["May 1"]


def test_aligned_files(tmp_path):
    src = write(tmp_path / "train.en", "March 5, 2024\r\nMay 1\n")
    tgt = write(tmp_path / "train.fr", "5 mars 2024\n1 mai")
    pairs = read_aligned(src, tgt)
    assert pairs.sources == ["March 5, 2024", "May 1"] and pairs.targets == ["5 mars 2024", "1 mai"]


def test_misaligned_files_name_the_counts_and_the_orphan_line(tmp_path):
    src = write(tmp_path / "a.en", "one\ntwo\nthree\n")
    tgt = write(tmp_path / "a.fr", "un\ndeux\n")
    with pytest.raises(DataError) as err:
        read_aligned(src, tgt)
    message = str(err.value)
    assert "a.en has 3 lines and a.fr 2" in message and "line 3 of a.en has no partner" in message
    assert "Fix:" in message


def test_empty_pairs_are_named_or_dropped(tmp_path):
    src = write(tmp_path / "a.en", "one\n\nthree\n")
    tgt = write(tmp_path / "a.fr", "un\ndeux\ntrois\n")
    with pytest.raises(DataError, match=r"1 pair has an empty side in a.en \+ a.fr \(line 2\)"):
        read_aligned(src, tgt)
    pairs = read_aligned(src, tgt, drop_bad=True)
    assert pairs.sources == ["one", "three"] and pairs.lines == [1, 3]
    assert "left out" in pairs.notes[0]


def test_a_10000_character_sentence_is_named(tmp_path):
    long = "word " * 2000
    csv = write(tmp_path / "pairs.csv", f"en,fr\na,b\n{long},c\n")
    with pytest.raises(DataError, match=r"longer than 1,000 characters in pairs.csv \(line 3; line 3 has 9,999\)"):
        read_pairs(csv, target="fr")
    assert len(read_pairs(csv, target="fr", max_chars=20_000)) == 2


def test_mixed_encodings_name_the_lines(tmp_path):
    raw = "en,fr\ncoffee,café\n".encode() + "tea,thé\n".encode("cp1252") + b"milk,lait\n"
    csv = write(tmp_path / "pairs.csv", raw)
    with pytest.raises(DataError) as err:
        read_pairs(csv, target="fr")
    message = str(err.value)
    assert "line 3 is not UTF-8" in message and "mixes encodings" in message and "'tea,thé'" in message


def test_a_whole_file_in_another_encoding(tmp_path):
    csv = write(tmp_path / "pairs.csv", "en,fr\ntea,thé\n".encode("cp1252"))
    with pytest.raises(DataError, match="whole file is in another encoding"):
        read_pairs(csv, target="fr")
    assert read_pairs(csv, target="fr", encoding="cp1252").targets == ["thé"]


def test_byte_order_marks(tmp_path):
    utf16 = write(tmp_path / "a.fr", codecs.BOM_UTF16_LE + "thé\n".encode("utf-16-le"))
    utf8 = write(tmp_path / "a.en", codecs.BOM_UTF8 + b"tea\n")
    pairs = read_aligned(utf8, utf16)
    assert pairs.sources == ["tea"] and pairs.targets == ["thé"]


def test_double_encoded_text_is_named(tmp_path):
    src = write(tmp_path / "a.en", "coffee\ntea\n")
    tgt = write(tmp_path / "a.fr", "cafÃ©\nthé\n")
    with pytest.raises(DataError, match=r"encoded twice.*line 1"):
        read_aligned(src, tgt)


def test_unicode_is_normalized(tmp_path):
    src = write(tmp_path / "a.en", "coffee\n")
    tgt = write(tmp_path / "a.fr", "cafe\u0301\n")  # e + combining accent
    assert read_aligned(src, tgt).targets == ["caf\u00e9"]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_pairs(tmp_path / "nope.csv", target="fr")
