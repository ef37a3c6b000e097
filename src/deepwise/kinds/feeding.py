"""Feeding ``model.fit`` from arrays in memory, shared by every kind whose inputs fit there.

Example:
    >>> fit_arrays(model, config, x, y, callbacks, epochs=200, initial_epoch=0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise import distributed
from deepwise.config import Config
from deepwise.models.inference import row_bytes
from deepwise.models.linear_start import linear_path_of
from deepwise.prepare.tabular import FEATURES
from deepwise.training.model import full_batch_size
from deepwise.training.validation import validation_callback

VALIDATION_ROWS = 4096
VALIDATION_BYTES = 2**20


def model_input(arrays: dict[str, np.ndarray]) -> Any:
    """Keras input for a dict of named arrays (a bare array when there is one, named ``features``)."""
    return arrays[FEATURES] if list(arrays) == [FEATURES] else arrays


def merged_splits(splits: dict[str, np.ndarray], config: Config) -> dict[str, np.ndarray]:
    """With ``data.split.train_on_validation`` (a final refit) the training examples include the validation ones."""
    if config.data.split.train_on_validation:
        splits = dict(splits, train=np.sort(np.concatenate([splits["train"], splits["validation"]])))
    return splits


def validation_batch_size(x: Any) -> int:
    """The validation rows in as few batches as stay small (up to 4,096 rows and about 1 MiB of inputs: all of a
    table's, a few hundred images): an evaluation per epoch is then one or a few calls of one compiled program,
    instead of a call per training-size batch plus a second program compiled for the shorter last batch (penguins:
    one ``test_step`` compilation of 0.17 s fewer)."""
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    return int(max(1, min(rows, VALIDATION_ROWS, VALIDATION_BYTES // row_bytes(x))))


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
    validation = model_input(x["validation"])
    val_batch = validation_batch_size(validation)
    data_parallel = config.training.distribution == "data_parallel"
    # narrow rows are validated through the predict program and NumPy (training/validation.py): no test program
    # to compile, 0.13 ms an epoch instead of Keras' 1.3 ms; a data-parallel model keeps Keras' validation
    numpy_validation = None if data_parallel else validation_callback(model, validation, y["validation"])
    if initial_epoch == 0:
        keep_a_fitted_start(model, callbacks, validation, y["validation"], val_batch, numpy_validation)
    training = {"x": inputs, "y": targets, "batch_size": batch_size, "shuffle": True}
    if not data_parallel:  # its shards keep Keras' own batching, in lockstep across processes
        training = {"x": full_batches(inputs, targets, batch_size, config.seed, initial_epoch)}
    validating: dict[str, Any] = {"validation_data": (validation, y["validation"]), "validation_batch_size": val_batch}
    if numpy_validation is not None:
        validating, callbacks = {}, [numpy_validation, *callbacks]  # first: the others read what it writes
    model.fit(
        **training,
        **validating,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=0,
    )


def keep_a_fitted_start(
    model, callbacks: list, validation: Any, y_validation: np.ndarray, batch_size: int, numpy_validation=None
) -> None:
    """A network whose linear path starts as the fitted linear model (:mod:`deepwise.models.linear_start`) has to
    beat that start on the validation loss: early stopping counts the start as epoch 0, so if no epoch of training
    does better, its weights are the ones kept (the run's ``best_epoch`` is then 0). Without this the kept epoch
    was the best of the trained ones even when all were worse (diabetes: R² 0.38 against the linear start's 0.46,
    a loss beyond the test noise in bench/tabular_zoo.py)."""
    stopper = next((c for c in callbacks if hasattr(c, "carry_over")), None)
    if stopper is None or stopper.resume_state or linear_path_of(model) is None:
        return
    if numpy_validation is not None:  # as each epoch will be validated
        # evaluate built the compiled loss and metrics from the validation rows; without that, fit builds them
        # from a first look at the training batches, which moves the batches' order on by an epoch (other runs)
        first = {k: v[:1] for k, v in validation.items()} if isinstance(validation, dict) else validation[:1]
        if hasattr(model, "_symbolic_build"):  # Keras' own, private: its evaluate calls it the same way
            model._symbolic_build(data_batch=(first, y_validation[:1]))
        else:
            model.evaluate(first, y_validation[:1], verbose=0)
        start = numpy_validation.score_of(model)
    else:
        start = model.evaluate(validation, y_validation, batch_size=batch_size, verbose=0, return_dict=True)
    stopper.best = float(start["loss"])
    stopper.best_epoch = -1
    stopper.carry_over(model.get_weights())


def full_batches(x: Any, y: np.ndarray, batch_size: int, seed: int, epoch: int = 0):
    """The training rows as a Keras ``PyDataset`` of full batches only: each epoch a new seeded order in which every
    row comes once, and the last batch, when short, is filled up with rows drawn again from the earlier batches (a
    different few each epoch).

    Why: under JAX the shorter last batch is a second shape, so Keras compiles the training step twice; one shape
    compiles it once. Measured on penguins (223 training rows, 2 cores): 100 epochs in 1.2-1.6 s instead of
    2.0-2.1 s; on 5,000 rows 3.9 s instead of 4.1 s. Leaving the rows over out instead (``drop_last``) cost the Basel
    forecast 0.04 h of RMSE (3.31 against 3.27); filling keeps every row in every epoch.
    """
    from deepwise.backend import keras_module

    keras = keras_module()
    size = full_batch_size(len(y), batch_size)

    class FullBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = epoch
            self.order = self._order()

        def _order(self) -> np.ndarray:
            rng = np.random.default_rng([seed, self.epoch])
            order = rng.permutation(len(y))
            short = -len(y) % size  # rows the last batch lacks: repeated ones, drawn from the other batches
            return np.concatenate([order, rng.choice(order[: len(y) - len(y) % size], short, replace=False)])

        def __len__(self) -> int:
            return -(-len(y) // size)

        def __getitem__(self, i: int):
            rows = self.order[i * size : (i + 1) * size]
            taken = {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]
            return taken, y[rows]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = self._order()

    return FullBatches()
