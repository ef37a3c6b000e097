"""Which configs the translation kind claims: said in the config, aligned files, or two free-text columns."""

from __future__ import annotations

import pandas as pd
import pytest
from translation_pairs import write_pairs

from deepwise.config import Config
from deepwise.kinds.translation.detect import claims_translation, is_free_text


def config(path, target="fr", **sections) -> Config:
    return Config.model_validate({"problem": {"target": target, **sections.pop("problem", {})},
                                  "data": {"path": str(path)}, **sections})  # fmt: skip


def test_two_free_text_columns_are_translation(dates_csv):
    assert claims_translation(config(dates_csv))


def test_said_in_the_config_or_aligned_files(tmp_path):
    missing = tmp_path / "missing.csv"
    assert claims_translation(config(missing, problem={"task": "translation"}))
    assert claims_translation(config(tmp_path / "train.en", translation={"target_path": "train.fr"}))
    assert not claims_translation(config(missing))  # nothing to read: the table kind says what is wrong


def test_a_class_target_is_not_translation(tmp_path, date_pairs):
    sources = date_pairs[0][:300]
    labelled = pd.DataFrame({"text": sources, "label": ["long" if len(s) > 12 else "short" for s in sources]})
    labelled.to_csv(tmp_path / "classes.csv", index=False)
    assert not claims_translation(config(tmp_path / "classes.csv", target="label"))
    assert not claims_translation(config(tmp_path / "classes.csv", target="label", problem={"task": "multiclass"}))


def test_numbers_and_extra_columns_are_not_claimed(tmp_path, date_pairs):
    numbers = pd.DataFrame({"x": range(100), "y": [i * 1.5 for i in range(100)]})
    numbers.to_csv(tmp_path / "numbers.csv", index=False)
    assert not claims_translation(config(tmp_path / "numbers.csv", target="y"))
    three = pd.DataFrame({"id": range(300), "en": date_pairs[0][:300], "fr": date_pairs[1][:300]})
    three.to_csv(tmp_path / "three.csv", index=False)
    assert not claims_translation(config(tmp_path / "three.csv"))
    assert claims_translation(config(tmp_path / "three.csv", translation={"source": "en"}))


def test_parquet_tables(tmp_path, date_pairs):
    pd.DataFrame({"en": date_pairs[0][:100], "fr": date_pairs[1][:100]}).to_parquet(tmp_path / "p.parquet")
    assert claims_translation(config(tmp_path / "p.parquet"))


def test_only_the_first_rows_are_read(tmp_path, make_dates):
    pairs = make_dates.make_pairs(3000, seed=2)
    path = write_pairs(tmp_path / "big.csv", pairs[:2000] + [("1", "2")] * 1000)  # numbers after row 2,000
    assert claims_translation(config(path))


@pytest.mark.parametrize(
    "values, free",
    [
        ([f"{d} March 2024" for d in range(1, 29)], True),
        (["3/5/24", "Mar 5, 2024"] * 10 + [f"May {d}" for d in range(1, 9)], False),  # half repeats: categories
        ([str(i) for i in range(50)], False),
        (["spam", "ham"] * 30, False),
        (["a b"] * 5, False),  # too few to tell
    ],
)
def test_free_text(values, free):
    assert is_free_text(pd.Series(values)) is free
