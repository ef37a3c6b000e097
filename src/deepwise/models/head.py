"""The dense layers every deepwise network ends in, and the embedding size of a categorical input.

Example:
    >>> out = dense_head(features, TASKS["binary"], n_classes=2, config=ModelConfig(), target_stats=None)
"""

from __future__ import annotations

from deepwise.backend import keras_module
from deepwise.config import ModelConfig
from deepwise.tasks import TaskSpec


def embedding_dim(vocab_size: int) -> int:
    """A common rule of thumb (fastai's): grows slowly with the number of categories, at most 16 here."""
    return int(min(16, round(1.6 * vocab_size**0.56)))


def dense_head(x, task: TaskSpec, n_classes: int, config: ModelConfig, target_stats: dict[str, float] | None):
    """Hidden dense layers (with dropout / batch norm) and the task's output layer: shared by every model."""
    keras = keras_module()
    layers = keras.layers
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    for i, units in enumerate(config.hidden_units, start=1):
        x = layers.Dense(units, activation=config.activation, kernel_regularizer=regularizer, name=f"dense_{i}")(x)
        if config.batch_norm:
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        if config.dropout > 0:
            x = layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    out = layers.Dense(task.output_units(n_classes), activation=task.activation, name="output")(x)
    if task.name == "regression" and target_stats is not None:
        # The network learns a standardized target; this layer returns predictions in the target's own units.
        out = layers.Rescaling(scale=target_stats["std"], offset=target_stats["mean"], name="to_target_units")(out)
    return out
