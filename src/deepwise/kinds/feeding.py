"""Feeding ``model.fit`` from arrays in memory, shared by every kind whose inputs fit there.

Example:
    >>> fit_arrays(model, config, x, y, callbacks, epochs=200, initial_epoch=0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise import distributed
from deepwise.config import Config
from deepwise.prepare.tabular import FEATURES


def model_input(arrays: dict[str, np.ndarray]) -> Any:
    """Keras input for a dict of named arrays (a bare array when there is one, named ``features``)."""
    return arrays[FEATURES] if list(arrays) == [FEATURES] else arrays


def merged_splits(splits: dict[str, np.ndarray], config: Config) -> dict[str, np.ndarray]:
    """With ``data.split.train_on_validation`` (a final refit) the training examples include the validation ones."""
    if config.data.split.train_on_validation:
        splits = dict(splits, train=np.sort(np.concatenate([splits["train"], splits["validation"]])))
    return splits


def fit_arrays(
    model,
    config: Config,
    x: dict[str, dict[str, np.ndarray]],
    y: dict[str, np.ndarray],
    callbacks: list,
    epochs: int,
    initial_epoch: int,
) -> None:
    """``model.fit`` on the training arrays, validated on the validation arrays; under
    ``training.distribution: data_parallel`` each process trains on its share of the rows."""
    batch_size = config.training.batch_size
    inputs, targets = model_input(x["train"]), y["train"]
    if config.training.distribution == "data_parallel":
        inputs, targets = distributed.shard(inputs, targets)  # this process's rows; equal steps in every process
        batch_size = distributed.per_process_batch(batch_size)
    model.fit(
        inputs,
        targets,
        validation_data=(model_input(x["validation"]), y["validation"]),
        batch_size=batch_size,
        shuffle=True,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=0,
    )
