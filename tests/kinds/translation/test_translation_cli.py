"""Bad sentence pairs through the CLI: a clear error (exit 2), no traceback, and no run written."""

from __future__ import annotations

import json

import pytest
from translation_pairs import write_pairs


@pytest.fixture
def good(date_pairs) -> list[tuple[str, str]]:
    return list(zip(date_pairs[0][:60], date_pairs[1][:60], strict=True))


def train_table(cli, path, runs):
    return cli("train", path, "--target", "fr", "--task", "translation", "--runs-dir", runs)


def assert_refused(result, runs, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in " ".join(result.output.split()), (word, result.output)
    assert not runs.exists() or not any(runs.iterdir())


def test_an_empty_side(cli, tmp_path, good, translation_kind):
    path = write_pairs(tmp_path / "pairs.csv", good[:10] + [("May 5, 2024", "")] + good[10:])
    assert_refused(train_table(cli, path, tmp_path / "runs"), tmp_path / "runs", "1 pair has an empty side",
                   "line 12", "Fix:")  # fmt: skip


def test_no_pairs_at_all(cli, tmp_path, translation_kind):
    (tmp_path / "pairs.csv").write_text("en,fr\n", encoding="utf-8")
    assert_refused(train_table(cli, tmp_path / "pairs.csv", tmp_path / "runs"), tmp_path / "runs",
                   "no usable sentence pairs")  # fmt: skip


def test_a_10000_character_sentence(cli, tmp_path, good, translation_kind):
    path = write_pairs(tmp_path / "pairs.csv", good[:5] + [("word " * 2000, "mot")] + good[5:])
    assert_refused(train_table(cli, path, tmp_path / "runs"), tmp_path / "runs",
                   "longer than 1,000 characters", "line 7 has 9,999", "translation.max_chars")  # fmt: skip


def test_mixed_encodings(cli, tmp_path, good, translation_kind):
    path = write_pairs(tmp_path / "pairs.csv", good)
    path.write_bytes(path.read_bytes() + "tea,thé\n".encode("cp1252"))
    assert_refused(train_table(cli, path, tmp_path / "runs"), tmp_path / "runs", "line 62 is not UTF-8",
                   "mixes encodings", "re-save line 62")  # fmt: skip


def test_misaligned_files(cli, tmp_path, date_pairs, translation_kind):
    (tmp_path / "train.en").write_text("\n".join(date_pairs[0][:50]) + "\n", encoding="utf-8")
    (tmp_path / "train.fr").write_text("\n".join(date_pairs[1][:49]) + "\n", encoding="utf-8")
    config = {"problem": {"target": "fr"}, "data": {"path": "train.en"}, "translation": {"target_path": "train.fr"}}
    (tmp_path / "deepwise.yaml").write_text(json.dumps(config), encoding="utf-8")
    result = cli("train", tmp_path / "deepwise.yaml", "--runs-dir", tmp_path / "runs")
    assert_refused(result, tmp_path / "runs", "train.en has 50 lines and train.fr 49", "not aligned",
                   "line 50 of train.en has no partner")  # fmt: skip


def test_a_network_that_cannot_translate(cli, tmp_path, good, translation_kind):
    path = write_pairs(tmp_path / "pairs.csv", good)
    (tmp_path / "deepwise.yaml").write_text(
        json.dumps({"problem": {"target": "fr"}, "data": {"path": str(path)}, "model": {"type": "cnn"}}),
        encoding="utf-8",
    )
    result = cli("train", tmp_path / "deepwise.yaml", "--runs-dir", tmp_path / "runs")
    assert_refused(result, tmp_path / "runs", "model.type 'cnn' does not translate", "translation.architecture")
