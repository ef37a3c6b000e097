"""predict_rows: the network's output for every row, in chunks whose shapes stay few, equal to Keras' own predict."""

from __future__ import annotations

import numpy as np
import pytest

from deepwise.backend import keras_module
from deepwise.models.inference import chunk_rows, padded_rows, predict_rows, smallest_rows


@pytest.fixture(scope="module")
def models():
    keras = keras_module()
    keras.utils.set_random_seed(0)
    features = keras.Input((5,), name="features")
    code = keras.Input((1,), name="cat__c", dtype="int32")
    hidden = keras.layers.Dense(8, activation="relu")(
        keras.layers.Concatenate()([features, keras.layers.Flatten()(keras.layers.Embedding(4, 2)(code))])
    )
    two_outputs = keras.Model([features, code], [keras.layers.Dense(3, activation="softmax")(hidden), hidden])
    single = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    return single, two_outputs


@pytest.mark.parametrize("n", [1, 7, 8, 9, 100, 1000])
def test_matches_keras_predict_for_any_row_count(models, n):
    single, _ = models
    x = np.random.default_rng(n).normal(size=(n, 5)).astype(np.float32)
    np.testing.assert_allclose(predict_rows(single, x, largest=64), single.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_dict_inputs_and_several_outputs(models):
    _, two_outputs = models
    rng = np.random.default_rng(1)
    x = {"features": rng.normal(size=(70, 5)).astype(np.float32), "cat__c": rng.integers(0, 4, (70, 1))}
    proba, hidden = predict_rows(two_outputs, x, largest=32)
    expected = two_outputs.predict(x, verbose=0)
    assert proba.shape == (70, 3) and hidden.shape == (70, 8)
    np.testing.assert_allclose(proba, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden, expected[1], rtol=1e-5, atol=1e-6)


def _recorder(seen: set):
    def record(batch):
        seen.add(len(batch))
        return batch[:, :1]

    return record


def test_chunk_shapes_stay_few():
    """Whatever the row counts, the batches a model of wide rows sees are full chunks or powers of two from 8 up."""
    seen: set = set()
    record = _recorder(seen)
    for n in range(1, 300):
        x = np.arange(n * 2048, dtype=np.float32).reshape(n, 2048)  # 8 KiB rows: padded from 8 rows up
        out = predict_rows(record, x, largest=64)
        np.testing.assert_array_equal(out[:, 0], np.arange(n) * 2048)  # padding rows never leak into the output
    assert seen == {8, 16, 32, 64}
    assert padded_rows(1) == 8 and padded_rows(9) == 16 and padded_rows(16) == 16 and padded_rows(9, 128) == 128


def test_narrow_rows_share_one_shape():
    """A table's callers pad its rows (a few numbers each) to 128 rows at least: validation, test and importance
    rows of a small table meet one program."""
    seen: set = set()
    record = _recorder(seen)
    for n in (1, 29, 53, 71, 128):
        x = np.ones((n, 10), np.float32)
        predict_rows(record, x, smallest=smallest_rows(x))
    assert seen == {128}
    seen.clear()
    x = np.arange(1000 * 10, dtype=np.float32).reshape(1000, 10)
    out = predict_rows(record, x, largest=128, smallest=smallest_rows(x))
    np.testing.assert_array_equal(out[:, 0], np.arange(1000) * 10)
    assert seen == {128}  # 7 full chunks and the last 104 rows padded to 128, not to a new shape
    seen.clear()
    predict_rows(record, np.ones((1, 10), np.float32))  # other callers (one document, one image) keep 8
    assert seen == {8}
    assert smallest_rows(np.zeros((1, 10), np.float32)) == 128
    assert smallest_rows(np.zeros((1, 28, 28, 1), np.float32)) == 16  # 3 KiB rows: 64 KiB is 21 rows
    assert smallest_rows(np.zeros((1, 224, 224, 3), np.float32)) == 8


def test_wide_rows_get_smaller_chunks():
    assert chunk_rows(np.zeros((2, 10), np.float32)) == 16_384
    assert chunk_rows(np.zeros((2, 100_000), np.float32)) == 128  # 64 MiB of 400 kB rows
    assert chunk_rows({"a": np.zeros((2, 3)), "b": np.zeros((2, 1), np.int32)}) == 16_384


def test_no_rows_is_an_error(models):
    with pytest.raises(ValueError, match="at least one row"):
        predict_rows(models[0], np.zeros((0, 5), np.float32))
