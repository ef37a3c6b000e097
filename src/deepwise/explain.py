"""``deepwise explain RUN``: what the user's own network is made of and what it looks at.

- Every layer: what it computes in words, its output shape and its parameter count (and where that count comes
  from: "16 x 10 weights + 10 biases").
- A network on table rows (an MLP): what the first hidden units compute, as formulas of the named inputs ("unit 3 =
  relu(+0.81 bill_length_mm - 0.52 body_mass_g ... + 0.10)"): numbers are standardized and categories 0/1, so the
  weights compare.
- A network on images (a CNN): "how each layer may look": the feature maps of one test image, layer by layer, and a
  saliency map (SmoothGrad: the gradient of the predicted class's score with respect to the pixels, averaged over
  noisy copies; JAX backend) for the most confident right and the most confident wrong test prediction. PNGs in
  ``RUN/explain/``.

Example:
    >>> found = explain("runs/penguins-20260101-120000")
    >>> found["layers"][1]["computes"]
    'activation(W·x + b): 10 inputs -> 64 units (relu)'
    >>> found["units"][0]["formula"]
    'unit 1 = relu(+0.92 flipper_length_mm -0.71 bill_depth_mm ... +0.05)'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepwise.records import write_json
from deepwise.run import load_run

#: units and weights shown per formula
TOP_UNITS, TOP_WEIGHTS = 4, 4


def _shape(layer: Any) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return ""
    return "x".join("?" if s is None else str(s) for s in shape[1:])


def _param_origin(layer: Any) -> str:
    """Where a layer's parameter count comes from, in a few words."""
    weights = [tuple(w.shape) for w in layer.weights]
    if not weights:
        return "no weights"
    parts = []
    for shape, variable in zip(weights, layer.weights, strict=True):
        what = variable.name.split("/")[-1]
        parts.append(f"{' x '.join(map(str, shape))} {what}" if len(shape) > 1 else f"{shape[0]} {what}")
    return " + ".join(parts)


def describe_layer(layer: Any) -> str:
    """What one Keras layer computes, in words."""
    kind = type(layer).__name__
    config = layer.get_config()
    activation = config.get("activation")
    if kind == "Dense":
        n_in = layer.kernel.shape[0]
        return f"activation(W·x + b): {n_in} inputs -> {config['units']} units ({activation})"
    if kind in ("Conv2D", "Conv1D"):
        size = "x".join(map(str, config["kernel_size"]))
        value = "the sum of the window times the filter, plus a bias"
        return f"{config['filters']} filters of {size} slide over the input; each output value is " + (
            f"{activation}({value})" if activation not in (None, "linear") else value
        )
    if kind.startswith(("MaxPooling", "AveragePooling")):
        how = "largest" if kind.startswith("Max") else "mean"
        return f"keeps the {how} value of each {'x'.join(map(str, config['pool_size']))} window (no weights)"
    if kind.startswith("Global"):
        return "one number per channel: the " + ("mean" if "Average" in kind else "largest") + " over all positions"
    if kind == "Dropout":
        return f"during training only, sets a random {config['rate']:.0%} of its inputs to 0 (no weights)"
    if kind == "BatchNormalization":
        return "standardizes each channel with running statistics, then scales and shifts it (learned)"
    if kind == "Flatten":
        return "lays the input out as one long vector (no weights)"
    if kind == "Embedding":
        return f"a learned vector of {config['output_dim']} numbers for each of {config['input_dim']} categories"
    if kind in ("Rescaling", "Normalization"):
        return "shifts and scales the values (fixed, from the training data)"
    if kind in ("GRU", "LSTM", "SimpleRNN"):
        return f"reads the sequence step by step, carrying a state of {config['units']} numbers"
    if kind in ("Activation", "ReLU"):
        return f"applies {activation or 'relu'} to each value (no weights)"
    if kind == "Identity":
        return "passes its input on unchanged (names the vector the head reads)"
    if kind == "InputLayer":
        return "the input"
    if kind == "Concatenate":
        return "joins its inputs side by side"
    if hasattr(layer, "layers"):
        return f"a network of {len(layer.layers)} layers (reused from an earlier run or a pretrained model)"
    return kind


def layer_table(model: Any) -> list[dict[str, Any]]:
    """One row per layer: name, type, what it computes, output shape, parameters and where they come from."""
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "computes": describe_layer(layer),
            "output_shape": _shape(layer),
            "parameters": int(layer.count_params()) if layer.built else 0,
            "from": _param_origin(layer),
            "trainable": bool(layer.trainable),
        }
        for layer in model.layers
    ]


def unit_formulas(model: Any, feature_names: list[str]) -> list[dict[str, Any]]:
    """What the strongest units of the first hidden Dense layer compute, as formulas of the named inputs."""
    dense = next((layer for layer in model.layers if type(layer).__name__ == "Dense"), None)
    if dense is None or dense.kernel.shape[0] != len(feature_names):
        return []
    kernel, bias = (np.asarray(w) for w in dense.get_weights()[:2])
    activation = dense.get_config()["activation"]
    strongest = np.argsort(-np.linalg.norm(kernel, axis=0), kind="stable")[:TOP_UNITS]
    units = []
    for unit in strongest:
        order = np.argsort(-np.abs(kernel[:, unit]), kind="stable")[:TOP_WEIGHTS]
        terms = " ".join(f"{kernel[i, unit]:+.2f} {feature_names[i]}" for i in order)
        more = " ..." if len(feature_names) > TOP_WEIGHTS else ""
        units.append(
            {
                "unit": int(unit) + 1,
                "formula": f"unit {unit + 1} = {activation}({terms}{more} {bias[unit]:+.2f})",
                "weights": {feature_names[i]: round(float(kernel[i, unit]), 4) for i in order},
            }
        )
    return units


def explain(run_path: str | Path, output: str | Path | None = None) -> dict[str, Any]:
    """Explain a run's network (see the module docstring); writes ``explain.json`` (and PNGs) to ``output``
    (default ``RUN/explain``) and returns what it wrote."""
    run = load_run(run_path)
    model = run.model
    folder = Path(output) if output is not None else run.path / "explain"
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {
        "run": str(run.path),
        "parameters": int(model.count_params()),
        "layers": layer_table(model),
    }
    names = getattr(run.preprocessor, "feature_names_", None)
    if names:
        found["units"] = unit_formulas(model, list(names))
        found["units_note"] = (
            "numbers are standardized (mean 0, sd 1 on the training rows) and categories are 0/1 columns, so the "
            "weights compare: a large weight means the unit reacts strongly to that input"
        )
    views = run.kind.explain_views(run, folder)  # images: feature maps and saliency (kinds/images/explain.py)
    if views is not None:
        found["images"] = views
    write_json(folder / "explain.json", found)
    return found


__all__ = ["describe_layer", "explain", "layer_table", "unit_formulas"]
