"""A multi-layer perceptron for tables: dense layers over the preprocessed features.

Example:
    >>> model = build_mlp(prep.input_specs(), TASKS["multiclass"], n_classes=3, config=ModelConfig())
    >>> model.count_params()
    3075
"""

from __future__ import annotations

from typing import Any

from deepwise.backend import keras_module
from deepwise.config import ModelConfig
from deepwise.tasks import TaskSpec


def embedding_dim(vocab_size: int) -> int:
    """A common rule of thumb (fastai's): grows slowly with the number of categories, at most 16 here."""
    return int(min(16, round(1.6 * vocab_size**0.56)))


def build_mlp(
    input_specs: dict[str, dict[str, Any]],
    task: TaskSpec,
    n_classes: int,
    config: ModelConfig,
    target_stats: dict[str, float] | None = None,
    name: str = "deepwise_mlp",
):
    """Build (not compile) the Keras model described by ``config``."""
    keras = keras_module()
    layers = keras.layers
    inputs = {key: keras.Input(shape=spec["shape"], dtype=spec["dtype"], name=key) for key, spec in input_specs.items()}
    parts = [inputs["features"]] if input_specs["features"]["shape"][0] > 0 else []
    for key, spec in input_specs.items():
        if "vocab_size" in spec:
            emb = layers.Embedding(spec["vocab_size"], embedding_dim(spec["vocab_size"]), name=f"embed_{key}")
            parts.append(layers.Flatten(name=f"flat_{key}")(emb(inputs[key])))
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="concat")(parts)
    out = dense_head(x, task, n_classes, config, target_stats)
    model_inputs = inputs["features"] if list(inputs) == ["features"] else inputs
    return keras.Model(model_inputs, out, name=name)


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


def describe_model(model, config: ModelConfig) -> str:
    """Plain-language description of the network for learners."""
    if config.type != "mlp":
        from deepwise.models.sequence import describe_sequence_model

        return describe_sequence_model(model, config)
    layers_text = " -> ".join(str(u) for u in config.hidden_units)
    return (
        f"A multi-layer perceptron: {len(config.hidden_units)} hidden dense layer(s) of {layers_text} units "
        f"with {config.activation} activation"
        + (f" and dropout {config.dropout:g}" if config.dropout else "")
        + f", {model.count_params():,} parameters. A dense layer computes activation(W·x + b): every output "
        "unit is a weighted sum of all inputs plus a bias; training adjusts the weights W and biases b to "
        "lower the loss."
    )
