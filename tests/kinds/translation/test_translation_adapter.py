"""The translation adapter before training: the split, the tokenizers, the teacher-forcing arrays, the resolved
config and its explanation, the JSON state, the data checks, and the config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepwise.config import Config
from deepwise.errors import ConfigError, DataError
from deepwise.kinds.translation.data import TRANSLATION_BATCH_SIZE, TRANSLATION_PATIENCE, split_pairs
from deepwise.kinds.translation.fit import whole_batches
from deepwise.kinds.translation.state import TranslationPreprocessor
from deepwise.kinds.translation.tokenize import END, PAD, START


def config(path, **sections) -> Config:
    return Config.model_validate({"problem": {"target": "fr", **sections.pop("problem", {})},
                                  "data": {"path": str(path), **sections.pop("data", {})}, **sections})  # fmt: skip


@pytest.fixture(scope="module")
def prepared(dates_csv, translation_kind):
    from deepwise.train import prepare

    return prepare(config(dates_csv))  # the kind's prepare, then the automatic training settings


def test_split_keeps_identical_sources_together():
    sources = [f"s{i % 50}" for i in range(200)]  # each source four times
    train, val, test = split_pairs(sources, seed=0, fractions=(0.65, 0.15, 0.2))
    assert len(train) + len(val) + len(test) == 200
    sides = [{sources[i] for i in part} for part in (train, val, test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert abs(len(test) / 200 - 0.2) < 0.05
    assert (split_pairs(sources, seed=0, fractions=(0.65, 0.15, 0.2))[2] == test).all()


def test_prepare_resolves_the_config_and_splits(prepared):
    cfg = prepared.config
    assert prepared.task.name == "translation" and cfg.problem.task == "translation" and cfg.translation.source == "en"
    assert cfg.model.type == "gru" and cfg.data.split.test == 0.2
    assert cfg.training.batch_size == TRANSLATION_BATCH_SIZE and cfg.training.early_stopping.patience == \
        TRANSLATION_PATIENCE
    assert prepared.split_sizes() == {"train": 520, "validation": 120, "test": 160}
    train, test = prepared.texts["train"], prepared.texts["test"]
    assert not set(train.sources) & set(test.sources)
    assert len(prepared.y["train"]) == 520


def test_teacher_forcing_arrays(prepared):
    arrays = prepared.arrays["train"]
    assert arrays["source"].dtype == np.int32 and (arrays["decoder_input"][:, 0] == START).all()
    assert (arrays["decoder_input"][:, 1:] == arrays["decoder_target"][:, :-1]).all()
    assert ((arrays["decoder_target"] == END).sum(axis=1) == 1).all()
    x, y = whole_batches(arrays, 64)
    assert len(y) == 576 and (y[520:] == PAD).all() and x["source"].shape == (576, arrays["source"].shape[1])
    px, py = prepared.probe_batch(64)
    assert py.shape == (64, y.shape[1]) and set(px) == {"source", "decoder_input"}


def test_explanation_says_tokens_lengths_and_decoding(prepared):
    text = "\n".join(prepared.problem.explain())
    for words in ("Task: translation. inferred", "characters", "<s>", "</s>", "maximum length", "the longest training",
                  "GRU encoder-decoder", "greedy", "chrF", "copy the source", "retrieval"):
        assert words in text, words


def test_json_state_round_trip(prepared):
    prep = prepared.prep
    again = TranslationPreprocessor.from_dict(json.loads(prep.to_json()))
    assert again.network == prep.network and again.tokenizer.to_json() == prep.tokenizer.to_json()
    assert again.flagger.to_json() == prep.flagger.to_json() and again.guard_sources == prep.guard_sources
    assert set(again.guard_sources) <= set(prepared.texts["train"].sources)
    specs = again.input_specs()
    assert specs["source"]["shape"] == (prepared.arrays["train"]["source"].shape[1],)
    assert specs["decoder_input"]["shape"] == (prepared.arrays["train"]["decoder_input"].shape[1],)


def test_data_checks(prepared):
    findings = prepared.inspect()
    assert findings[0].code == "overview" and "800 sentence pairs" in findings[0].message
    assert not findings.problems
    assert findings.by_code("size") == []  # 520 training pairs of short strings: enough


def test_aligned_files_and_their_fingerprint(tmp_path, date_pairs, translation_kind):
    from deepwise.kinds.translation.data import prepare_translation

    (tmp_path / "train.en").write_text("\n".join(date_pairs[0][:300]) + "\n", encoding="utf-8")
    (tmp_path / "train.fr").write_text("\n".join(date_pairs[1][:300]) + "\n", encoding="utf-8")
    aligned = config(tmp_path / "train.en", translation={"target_path": "train.fr"})
    data = prepare_translation(aligned)
    assert data.config.translation.target_path == str(tmp_path / "train.fr")
    assert data.prep.source_column == "train.en" and data.n_rows == 300
    before = data.fingerprint
    (tmp_path / "train.fr").write_text("\n".join(date_pairs[1][1:301]) + "\n", encoding="utf-8")
    assert prepare_translation(aligned).fingerprint != before  # the target file counts too


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"model": {"type": "mlp"}}, "model.type 'mlp' does not translate"),
        ({"translation": {"architecture": "transformer", "units": 30}}, "not a multiple of its heads"),
        ({"training": {"distribution": "data_parallel"}}, "data_parallel is not available"),
    ],
)
def test_config_errors(dates_csv, translation_kind, sections, message):
    from deepwise.kinds.translation.data import prepare_translation

    with pytest.raises(ConfigError, match=message):
        prepare_translation(config(dates_csv, **sections))


def test_too_few_pairs_to_split(tmp_path, translation_kind):
    from deepwise.kinds.translation.data import prepare_translation

    (tmp_path / "two.csv").write_text("en,fr\nMay 1,1 mai\nMay 2,2 mai\n", encoding="utf-8")
    with pytest.raises(DataError, match="too few to split"):
        prepare_translation(config(tmp_path / "two.csv", problem={"task": "translation"}))


@pytest.fixture(scope="module")
def predictor(prepared):
    from types import SimpleNamespace

    from deepwise.kinds.translation.predict import TranslationPredictor

    return TranslationPredictor(SimpleNamespace(preprocessor=prepared.prep))


def test_what_predict_reads(predictor, tmp_path):
    import pandas as pd

    assert predictor.sources([" May 1, 2024 ", "Jun 2"])[0] == ["May 1, 2024", "Jun 2"]
    frame = pd.DataFrame({"en": ["May 1"], "other": [1]}, index=[7])
    sources, index = predictor.sources(frame)
    assert sources == ["May 1"] and index.tolist() == [7]
    (tmp_path / "new.csv").write_text('en\n"May 1, 2024"\nJun 2\n', encoding="utf-8")
    (tmp_path / "new.txt").write_text("May 1, 2024\nJun 2\n", encoding="utf-8")
    assert predictor.sources(tmp_path / "new.csv")[0] == predictor.sources(str(tmp_path / "new.txt"))[0]


@pytest.mark.parametrize(
    "data, message",
    [
        ("Tuesday, March 5, 2024", "(?s)not a file.*pass a list"),
        ([], "holds no sentence"),
        (["May 1", None], r"1 item\(s\) to translate are not text \(sources\[1\]\)"),
        (["May 1", "  "], r"1 empty sentence \(sources\[1\]\)"),
        (["x" * 10_000], r"longer than 1,000 characters \(sources\[0\]; sources\[0\] has 10,000\)"),
        ({"en": "May 1"}, "received dict"),
    ],
)
def test_what_predict_refuses(predictor, data, message):
    with pytest.raises(DataError, match=message):
        predictor.sources(data)


def test_predict_needs_the_source_column(predictor, tmp_path):
    import pandas as pd

    with pytest.raises(DataError, match="no column 'en'"):
        predictor.sources(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    (tmp_path / "two.csv").write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(DataError, match="two.csv has no column 'en'"):
        predictor.sources(tmp_path / "two.csv")
    with pytest.raises(DataError, match="lacks the column"):
        predictor.labelled(pd.DataFrame({"en": ["May 1"]}))


def test_init_writes_a_translation_config(dates_csv, translation_kind, tmp_path):
    from deepwise.config import load_config
    from deepwise.formulate import formulate

    problem = formulate(dates_csv, target="fr")
    assert problem.output == "translation" and problem.inputs == ["en"]
    problem.write(tmp_path / "deepwise.yaml")
    written = load_config(tmp_path / "deepwise.yaml")
    assert written.problem.task == "translation" and written.translation.source == "en"


def test_subword_tokens(dates_csv, translation_kind):
    from deepwise.kinds.translation.data import prepare_translation

    data = prepare_translation(config(dates_csv, translation={"tokenizer": "subword", "vocab_size": 200}))
    assert data.prep.tokenizer.source.kind == "subword" and data.prep.tokenizer.source.vocab_size <= 200
    assert "subwords" in "\n".join(data.problem.explain())
    source = data.arrays["train"]["source"]
    assert source.shape[1] < 30  # fewer tokens than characters
