"""Text networks: every architecture builds, learns BBC headlines, survives empty documents and a save/load."""

from __future__ import annotations

import numpy as np
import pytest
from text_corpus import bbc_titles, split

import deepwise.backend  # noqa: F401  (JAX before Keras)
from deepwise.backend import keras_module
from deepwise.errors import ConfigError
from deepwise.kinds.text.models import (
    build_text_model,
    build_vector_model,
    describe_text_model,
    text_vector_model,
    train_text_model,
)
from deepwise.kinds.text.tokenize import TextTokenizer
from deepwise.models.inference import predict_rows


@pytest.fixture(scope="module")
def titles():
    texts, labels, classes = bbc_titles()
    train, val, test = split(labels)
    tokenizer = TextTokenizer().fit(texts[train])
    ids = {name: tokenizer.transform(texts[rows]) for name, rows in (("train", train), ("val", val), ("test", test))}
    ys = {"train": labels[train], "val": labels[val], "test": labels[test]}
    return tokenizer, ids, ys


@pytest.mark.parametrize(
    "architecture",
    ["pooling", pytest.param("conv1d", marks=pytest.mark.slow), pytest.param("transformer", marks=pytest.mark.slow)],
)
def test_each_architecture_learns_bbc_headlines(titles, architecture):
    tokenizer, ids, ys = titles
    model = build_text_model(tokenizer.vocab_size, tokenizer.max_length, "multiclass", 5, architecture=architecture,
                             seed=0)
    train_text_model(model, {"tokens": ids["train"]}, ys["train"], {"tokens": ids["val"]}, ys["val"], "multiclass",
                     epochs=12, patience=3)
    accuracy = (predict_rows(model, {"tokens": ids["test"]}).argmax(1) == ys["test"]).mean()
    majority = np.bincount(ys["train"]).max() / len(ys["train"])
    print(f"{architecture}: headline accuracy {accuracy:.3f} (majority {majority:.3f})")
    assert accuracy > 0.6 > majority + 0.3  # five topics from a 5-word headline; 0.23 by guessing the largest
    assert f"{model.count_params():,}" in describe_text_model(model, architecture, tokenizer.max_length)


@pytest.mark.parametrize("architecture", ["pooling", "conv1d", "transformer"])
def test_empty_documents_give_finite_outputs_and_the_model_saves_and_loads(tmp_path, architecture):
    keras = keras_module()
    model = build_text_model(50, 16, "multiclass", 3, architecture=architecture, seed=1)
    ids = np.zeros((4, 16), np.int32)
    ids[1, :5] = [5, 6, 7, 1, 9]
    ids[2, :] = 3
    out = predict_rows(model, {"tokens": ids})
    assert out.shape == (4, 3) and np.isfinite(out).all() and np.allclose(out.sum(1), 1, atol=1e-5)
    path = tmp_path / "text.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert np.allclose(predict_rows(restored, {"tokens": ids}), out, atol=1e-6)
    assert predict_rows(text_vector_model(model), {"tokens": ids}).shape[0] == 4


def test_a_bag_of_embeddings_ignores_word_order():
    model = build_text_model(50, 16, "binary", seed=2)
    vectors = text_vector_model(model)
    short = np.zeros((1, 16), np.int32)
    short[0, :3] = [4, 5, 6]
    reordered = short.copy()
    reordered[0, :3] = [6, 5, 4]
    a, b = (predict_rows(vectors, {"tokens": x}) for x in (short, reordered))
    assert np.allclose(a, b, atol=1e-6)


def test_mixed_inputs_and_regression_in_target_units():
    model = build_text_model(100, 8, "regression", extra_inputs={"table": 3},
                             target_stats={"mean": 50.0, "std": 10.0}, seed=3)
    assert sorted(t.name for t in model.inputs) == ["table", "tokens"]
    x = {"tokens": np.ones((5, 8), np.int32), "table": np.zeros((5, 3), np.float32)}
    out = predict_rows(model, x)
    assert out.shape == (5, 1) and np.all(np.abs(out - 50.0) < 40.0)
    head = build_vector_model({"sentence_embedding": 384, "table": 3}, "binary", seed=0)
    assert predict_rows(head, {"sentence_embedding": np.zeros((2, 384), np.float32),
                               "table": np.zeros((2, 3), np.float32)}).shape == (2, 1)


def test_bad_model_settings_are_refused():
    with pytest.raises(ConfigError, match="pooling"):
        build_text_model(10, 8, architecture="lstm")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_text_model(10, 8, "multiclass", 1)
