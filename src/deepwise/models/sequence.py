"""Models over windows of a time series: an MLP over the flattened window, Conv1D, LSTM and GRU.

Example:
    >>> model = build_sequence_model({"features": {"shape": (7, 20), "dtype": "float32"}}, TASKS["regression"],
    ...                              n_classes=1, config=ModelConfig(type="gru"), target_stats={"mean": 0, "std": 1})
"""

from __future__ import annotations

from typing import Any

from deepwise.backend import keras_module
from deepwise.config import ModelConfig
from deepwise.models.head import dense_head
from deepwise.tasks import TaskSpec


def build_sequence_model(
    input_specs: dict[str, dict[str, Any]],
    task: TaskSpec,
    n_classes: int,
    config: ModelConfig,
    target_stats: dict[str, float] | None = None,
):
    """Build (not compile) the model for ``[batch, window, features]`` inputs."""
    keras = keras_module()
    layers = keras.layers
    window, _ = input_specs["features"]["shape"]
    inputs = keras.Input(shape=input_specs["features"]["shape"], dtype="float32", name="features")
    x = inputs
    if config.type == "mlp":
        x = layers.Flatten(name="flatten_window")(x)
    elif config.type == "conv1d":
        kernel = min(config.kernel_size, window)
        x = layers.Conv1D(config.filters, kernel, padding="causal", activation=config.activation, name="conv_1")(x)
        x = layers.Conv1D(config.filters, kernel, padding="causal", activation=config.activation, name="conv_2")(x)
        x = layers.GlobalAveragePooling1D(name="pool")(x)
    elif config.type == "lstm":
        x = layers.LSTM(config.recurrent_units, name="lstm")(x)
    elif config.type == "gru":
        x = layers.GRU(config.recurrent_units, name="gru")(x)
    linear = x if config.type == "mlp" and config.linear_path is True else None  # off by default: see ModelConfig
    out = dense_head(x, task, n_classes, config, target_stats, linear_input=linear)
    return keras.Model(inputs, out, name=f"deepwise_{config.type}")


def describe_sequence_model(model, config: ModelConfig) -> str:
    body = {
        "conv1d": f"two causal 1-D convolutions of {config.filters} filters (each sees {config.kernel_size} steps) "
        "and an average over the window",
        "lstm": f"an LSTM of {config.recurrent_units} units reading the window step by step",
        "gru": f"a GRU of {config.recurrent_units} units reading the window step by step",
    }[config.type]
    head = " -> ".join(str(u) for u in config.hidden_units) or "none"
    return (
        f"{body}, then dense layers ({head}) and the output layer; {model.count_params():,} parameters. "
        "Recurrent and convolutional layers share their weights across time steps, so they learn patterns "
        "that can occur anywhere in the window."
    )
