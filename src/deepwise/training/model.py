"""Step 5's last part and step 6's settings: compile the network, time a few real steps, and fill in the automatic
training settings (batch size, early stopping's patience).

Example:
    >>> model = compile_network(data.build_network(), data)
    >>> first_s, step_s = probe_step_time(model, *data.probe_batch(32), 32)
"""

from __future__ import annotations

import math
import time

import numpy as np

from deepwise.backend import keras_module
from deepwise.config import Config
from deepwise.models.init import host_initializers

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def build_model(data):
    """The network of the prepared data (``data.build_network()``), seeded, with initial weights from NumPy, and
    compiled with the task's loss and metrics."""
    keras = keras_module()
    cfg = data.config
    keras.utils.set_random_seed(cfg.seed)
    with host_initializers(cfg.seed):  # initial weights from NumPy: building compiles nothing (models/init.py)
        model = data.build_network()
        compile_network(model, data, cfg.training.learning_rate, cfg.training.optimizer)
        model.optimizer.build(model.trainable_variables)  # its zeroed slots too (Keras would at the first step)
    return model


def compile_network(model, data, learning_rate: float, optimizer: str = "adam") -> None:
    """Compile with the optimizer, the task's loss and metrics, and :data:`STEPS_PER_EXECUTION`."""
    keras = keras_module()
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    model.compile(
        optimizer=optimizers[optimizer](learning_rate=learning_rate),
        loss=data.loss(),
        metrics=data.keras_metrics(),
        steps_per_execution=steps_per_execution(data.config),
    )


#: early stopping's automatic patience: the epochs that make about this many training steps (within 5-20 epochs).
#: Measured (MNIST 5k CNN): the best epoch came 10-27 epochs in; waiting 20 more epochs at 100-200 steps each cost
#: a third of the training time and changed nothing, while tiny sets (5-10 steps an epoch) need the 20.
PATIENCE_STEPS = 1000


#: early stopping's automatic min_delta, as a share of the loss of the best constant prediction: an epoch has to
#: lower the validation loss by at least this much of "knowing nothing" to count as better. Without it the network
#: that separates penguins perfectly trained all 200 epochs, its validation log-loss going from 0.0086 (epoch 91) to
#: 0.0056, with the same test accuracy; with it, 111 epochs. bench/README.md has the zoo and forecasts with it.
MIN_DELTA_SHARE = 1e-3


def resolve_training(training, n_train: int, default_batch_size: int = 32, constant_loss: float | None = None) -> None:
    """Fill in the automatic training settings in place: ``batch_size`` (the kind's default),
    ``early_stopping.patience`` and ``early_stopping.min_delta`` (:data:`MIN_DELTA_SHARE` of ``constant_loss``, the
    validation loss of the best constant prediction; 0 when the kind has none)."""
    if training.batch_size is None:
        training.batch_size = default_batch_size
    if training.early_stopping.patience is None:
        steps = max(1, math.ceil(n_train / training.batch_size))
        training.early_stopping.patience = int(min(20, max(5, round(PATIENCE_STEPS / steps))))
    if training.early_stopping.min_delta is None:
        reference = constant_loss if constant_loss is not None and math.isfinite(constant_loss) else 0.0
        training.early_stopping.min_delta = float(f"{MIN_DELTA_SHARE * reference:.4g}")


#: training steps per call into Keras' step loop: Keras' per-call Python work (state sync, callbacks) is paid once per
#: 16 batches instead of every batch. Measured: 1.6x faster epochs for a 64-32 MLP at batch 32, 1.2x for 1024-512
#: (bench/flops.py explains where the time goes). No extra compilation: the same jitted step runs 16 times.
STEPS_PER_EXECUTION = 16


def steps_per_execution(cfg: Config) -> int:
    """:data:`STEPS_PER_EXECUTION`, or 1 for data-parallel training (its steps are kept in lockstep per batch) and
    under PyTorch (Keras' torch trainer runs one step per call)."""
    if cfg.training.distribution == "data_parallel" or keras_module().backend.backend() == "torch":
        return 1
    return STEPS_PER_EXECUTION


def full_batch_size(n: int, batch_size: int) -> int:
    """The rows of every training step (``kinds/feeding.py`` trains on full batches only): ``batch_size``, or all
    ``n`` rows when there are fewer."""
    return max(1, min(n, batch_size))


def probe_step_time(model, x, y, batch_size: int, steps: int = 3) -> tuple[float, float]:
    """Time a few real training steps, then put weights and optimizer state back as they were.

    Returns (seconds for the first step, which includes compilation; seconds per later step). The probe runs
    through ``model.fit`` so that the compiled step is the one fit reuses: it costs a few steps of training time.
    """
    model.optimizer.build(model.trainable_variables)
    # every variable, the dropout layers' random-seed states included: a run with the probe (printed estimate) and
    # one without it (quiet) then train the same network
    saved = [(v, np.array(v.numpy())) for v in [*model.variables, *model.optimizer.variables]]
    batch = full_batch_size(len(y), batch_size)  # the shape every training step will have (kinds/feeding.py)

    def take(n: int):
        def rows(a):
            return np.concatenate([a[:batch]] * n)

        return ({k: rows(v) for k, v in x.items()} if isinstance(x, dict) else rows(x)), rows(y)

    xb, yb = take(1)
    start = time.perf_counter()
    model.fit(xb, yb, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    first = time.perf_counter() - start
    xs, ys = take(steps)
    start = time.perf_counter()
    model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    per_step = (time.perf_counter() - start) / steps
    for var, value in saved:
        var.assign(value)
    model.reset_metrics()
    return first, per_step
