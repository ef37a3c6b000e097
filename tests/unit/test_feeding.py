"""kinds/feeding.py: training batches all of one shape (one compiled step), validation in few batches."""

from __future__ import annotations

import numpy as np

from deepwise.kinds.feeding import full_batches, validation_batch_size


def _epoch(dataset) -> list[np.ndarray]:
    return [dataset[i][1] for i in range(len(dataset))]


def test_every_batch_is_full_every_row_comes_each_epoch_and_a_new_few_come_twice():
    x, y = np.arange(223 * 2, dtype="float32").reshape(223, 2), np.arange(223)
    dataset = full_batches(x, y, 32, seed=0)
    assert len(dataset) == 7
    first = _epoch(dataset)
    assert all(len(batch) == 32 for batch in first) and set(np.concatenate(first)) == set(range(223))
    assert len(np.unique(first[-1])) == 32  # the filled-up last batch holds no row twice
    features, labels = dataset[0]
    np.testing.assert_array_equal(features[:, 0], labels * 2)  # rows stay paired with their targets
    dataset.on_epoch_end()
    second = _epoch(dataset)
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    resumed = full_batches(x, y, 32, seed=0, epoch=1)  # a resumed run continues the same orders
    np.testing.assert_array_equal(np.concatenate(_epoch(resumed)), np.concatenate(second))


def test_fewer_rows_than_a_batch_make_one_batch_and_dict_inputs_are_cut_alike():
    x = {"features": np.ones((20, 3), "float32"), "city": np.arange(20)}
    dataset = full_batches(x, np.arange(20), 32, seed=1)
    assert len(dataset) == 1
    inputs, labels = dataset[0]
    np.testing.assert_array_equal(inputs["city"], labels)


def test_validation_rows_go_in_one_batch_when_small():
    assert validation_batch_size(np.ones((52, 18), "float32")) == 52
    assert validation_batch_size(np.ones((100_000, 18), "float32")) == 4096
    assert validation_batch_size(np.ones((1000, 28, 28, 1), "float32")) == 334  # about 1 MiB of images
