"""``deepwise explain`` for an image run: the feature maps of one test image layer by layer ("how each layer may
look", as PNG grids) and SmoothGrad saliency for the most confident right and wrong test predictions.

Example:
    >>> views = image_views(load_run("runs/digits-20260101-120000"), Path("runs/digits-.../explain"))
    >>> views["feature_maps"][0]["layer"]
    'conv1'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepwise.render.network_views import feature_map_figure, feature_maps, saliency, saliency_figure, save_png


def _feature_map_pngs(model: Any, image: np.ndarray, folder: Path) -> list[dict[str, Any]]:
    """The outputs of each convolution and pooling layer for one image, one PNG grid per layer."""
    found = []
    for layer, maps in feature_maps(model, image):
        path = save_png(feature_map_figure(layer, maps), folder / f"feature_maps_{layer}.png")
        found.append({"layer": layer, "shape": list(maps.shape), "png": path.name})
    return found


def image_views(run: Any, folder: Path) -> dict[str, Any]:
    """Feature maps of one test image, and saliency for the most confident right and wrong test predictions."""
    from deepwise.evaluation import class_probabilities
    from deepwise.prepare.tabular import FEATURES

    data = run.prepared()
    if data.streamed:
        return {"note": "the images were streamed from disk; explain reads in-memory image runs only"}
    pixels = data.x["test"][FEATURES]
    truth = np.asarray(data.y["test"]).astype(int).reshape(-1)
    proba = class_probabilities(run.task, data.predict(run.model, "test"))
    predicted, confidence = proba.argmax(axis=1), proba.max(axis=1)
    classes = [str(c) for c in run.preprocessor.classes_]
    right, wrong = np.flatnonzero(predicted == truth), np.flatnonzero(predicted != truth)
    views: dict[str, Any] = {
        "feature_maps": _feature_map_pngs(run.model, pixels[right[0] if len(right) else 0], folder)
    }
    for name, pool in (("most_confident_right", right), ("most_confident_wrong", wrong)):
        if not len(pool):
            continue
        i = int(pool[np.argmax(confidence[pool])])
        heat = saliency(run.model, pixels[i], int(predicted[i]), seed=run.config.seed)
        if heat is None:
            views["saliency_note"] = "saliency maps need the JAX backend"
            break
        title = f"test image {i}: predicted {classes[predicted[i]]} ({confidence[i]:.0%}), truth {classes[truth[i]]}"
        path = save_png(saliency_figure(pixels[i], heat, title), folder / f"saliency_{name}.png")
        views[name] = {"test_index": i, "title": title, "png": path.name}
    return views
