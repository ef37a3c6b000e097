"""A multi-layer perceptron for tables: dense layers over the preprocessed features.

Example:
    >>> model = build_mlp(prep.input_specs(), TASKS["multiclass"], n_classes=3, config=ModelConfig())
    >>> model.get_layer("linear")  # the linear path beside the hidden layers (model.linear_path)
    <Dense name=linear, built=True>
"""

from __future__ import annotations

from typing import Any

from deepwise.backend import keras_module
from deepwise.config import ModelConfig
from deepwise.models.head import dense_head, embedding_dim
from deepwise.tasks import TaskSpec


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
    linear = x if config.linear_path is not False else None  # on unless switched off (ModelConfig.linear_path)
    out = dense_head(x, task, n_classes, config, target_stats, linear_input=linear)
    model_inputs = inputs["features"] if list(inputs) == ["features"] else inputs
    return keras.Model(model_inputs, out, name=name)


def describe_model(model, config: ModelConfig) -> str:
    """Plain-language description of the network for learners."""
    layers_text = " -> ".join(str(u) for u in config.hidden_units)
    return (
        f"A multi-layer perceptron: {len(config.hidden_units)} hidden dense layer(s) of {layers_text} units "
        f"with {config.activation} activation"
        + (f" and dropout {config.dropout:g}" if config.dropout else "")
        + f", {model.count_params():,} parameters. A dense layer computes activation(W·x + b): every output "
        "unit is a weighted sum of all inputs plus a bias; training adjusts the weights W and biases b to "
        "lower the loss."
        + (
            " Beside the hidden layers, one linear layer joins the inputs straight to the output (wide & deep); it "
            "starts at the linear model fitted on the training rows, so the hidden layers learn what a straight "
            "line misses."
            if any(layer.name == "linear" for layer in model.layers)
            else ""
        )
    )
