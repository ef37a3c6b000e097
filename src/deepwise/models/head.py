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


def dense_head(
    x,
    task: TaskSpec,
    n_classes: int,
    config: ModelConfig,
    target_stats: dict[str, float] | None,
    linear_input=None,
):
    """Hidden dense layers (with dropout / batch norm) and the task's output layer: shared by every model.

    ``linear_input``: a tensor (the network's inputs) joined to the output by one linear layer beside the hidden
    layers (wide & deep): the output is ``activation(deep(x) + W·inputs + b)``, so the network represents a straight
    line (or logistic regression) from the first step and the hidden layers learn what the line misses.
    """
    keras = keras_module()
    layers = keras.layers
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    for i, units in enumerate(config.hidden_units, start=1):
        x = layers.Dense(units, activation=config.activation, kernel_regularizer=regularizer, name=f"dense_{i}")(x)
        if config.batch_norm:
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        if config.dropout > 0:
            x = layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    units = task.output_units(n_classes)
    if linear_input is None:
        out = layers.Dense(units, activation=task.activation, name="output")(x)
    else:
        # The hidden path starts small (weights a tenth of Glorot's), so the untrained network is close to the
        # fitted linear start (models/linear_start.py) and can still grow: zero stalled it, Glorot's full size
        # started it far from the line (bench/tabular_zoo.py).
        small = keras.initializers.VarianceScaling(0.01, "fan_avg", "uniform")
        deep = layers.Dense(units, kernel_initializer=small, name="output")(x)
        line = layers.Dense(units, kernel_regularizer=regularizer, name="linear")(linear_input)
        out = layers.Add(name="deep_plus_linear")([deep, line])
        if task.activation not in (None, "linear"):
            out = layers.Activation(task.activation, name="output_activation")(out)
    if task.name == "regression" and target_stats is not None:
        # The network learns a standardized target; this layer returns predictions in the target's own units.
        out = layers.Rescaling(scale=target_stats["std"], offset=target_stats["mean"], name="to_target_units")(out)
    return out
