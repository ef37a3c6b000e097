"""What a convolutional network does with one image: its feature maps layer by layer ("how each layer may look")
and a saliency map (which pixels move the predicted class's score), as matplotlib figures.

Used by the image report (``kinds/images/report.py``: PNG data URIs in the page) and by ``deepwise explain`` (PNG
files). Saliency is SmoothGrad (Smilkov et al. 2017): the gradient of the class score with respect to the pixels,
averaged over noisy copies of the image, which is far less speckled than one plain gradient; it needs the JAX
backend (``jax.grad`` through Keras' ``stateless_call``), and is ``None`` under the others.

Example:
    >>> maps = feature_maps(model, image)            # [(layer name, [h, w, channels]), ...]
    >>> uri = to_data_uri(feature_map_figure(*maps[0]))
    >>> heat = saliency(model, image, target=3)       # [h, w] in 0..1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.backend import keras_module

#: channels shown per layer; SmoothGrad's noisy copies and their spread (a fraction of the image's range)
MAX_MAPS, SMOOTHGRAD_SAMPLES, SMOOTHGRAD_NOISE = 16, 16, 0.1
MAP_LAYERS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")


def feature_maps(model: Any, image: np.ndarray, max_layers: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The outputs ``[h, w, channels]`` of each convolution and pooling layer for one image (the model's input,
    without the batch axis); at most ``max_layers``, spread from the first to the last such layer."""
    keras = keras_module()
    layers = [layer for layer in model.layers if type(layer).__name__.startswith(MAP_LAYERS)]
    if not layers:  # a transferred network: the convolutions are inside the reused base, which reads the image
        nested = [
            layer for layer in model.layers
            if hasattr(layer, "layers") and tuple(layer.input.shape[1:]) == tuple(np.shape(image))
        ]  # fmt: skip
        if nested:
            return feature_maps(nested[0], image, max_layers)
    if max_layers is not None and len(layers) > max_layers:
        keep = np.unique(np.linspace(0, len(layers) - 1, max_layers).round().astype(int))
        layers = [layers[i] for i in keep]
    if not layers:
        return []
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outputs = probe.predict(np.asarray(image)[None], verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [(layer.name, np.asarray(out)[0]) for layer, out in zip(layers, outputs, strict=True)]


def saliency(model: Any, image: np.ndarray, target: int, seed: int = 0) -> np.ndarray | None:
    """SmoothGrad: |d score(target) / d pixel|, averaged over noisy copies, max over channels; ``[h, w]`` in 0..1.
    ``None`` when the backend is not JAX."""
    keras = keras_module()
    if keras.backend.backend() != "jax":
        return None
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]

    def score(x):
        out, _ = model.stateless_call(trainable, frozen, x, training=False)
        out = jnp.reshape(out, (x.shape[0], -1))
        if out.shape[1] > 1:
            return jnp.sum(out[:, target])
        return jnp.sum(out[:, 0]) if target == 1 else -jnp.sum(out[:, 0])  # one sigmoid unit: class 1 vs 0

    x = np.asarray(image, dtype=np.float32)
    spread = SMOOTHGRAD_NOISE * (float(x.max() - x.min()) or 1.0)
    noisy = x[None] + np.random.default_rng(seed).normal(0, spread, (SMOOTHGRAD_SAMPLES, *x.shape))
    grads = np.asarray(jax.grad(score)(jnp.asarray(noisy, dtype=jnp.float32)))
    found = np.abs(grads).mean(axis=0).max(axis=-1)
    return found / (found.max() or 1.0)


def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1) -> tuple[Any, np.ndarray]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90, layout="constrained")
    return fig, np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)


def feature_map_figure(layer: str, maps: np.ndarray, max_maps: int = MAX_MAPS) -> Any:
    """A grid of one layer's feature maps (``[h, w, channels]``, up to ``max_maps``), each scaled to its own range."""
    n = min(maps.shape[-1], max_maps)
    cols = min(n, 8)
    rows = int(np.ceil(n / cols))
    fig, axes = _figure(1.2 * cols, 1.2 * rows + 0.35, rows, cols)
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(maps[..., i], cmap="viridis")
            ax.set_title(f"{i + 1}", fontsize=7)
    fig.suptitle(f"{layer}: {n} of {maps.shape[-1]} channels, {maps.shape[0]}x{maps.shape[1]}", fontsize=8)
    return fig


def _shown(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image as imshow takes it: grey levels with a grey colour map, or RGB scaled to 0..1."""
    x = np.asarray(image, dtype=np.float32)
    top = 255.0 if x.max() > 1.0 else 1.0
    if x.shape[-1] == 1:
        return x[..., 0] / top, "gray"
    return np.clip(x / top, 0, 1), None


def saliency_figure(image: np.ndarray, heat: np.ndarray, title: str) -> Any:
    """The image and the same image under its saliency map, side by side."""
    fig, axes = _figure(5.0, 2.8, 1, 2)
    shown, cmap = _shown(image)
    for ax, name in zip(axes, ("image", "saliency (SmoothGrad)"), strict=True):
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    axes[1].imshow(heat, cmap="inferno", alpha=0.6)
    fig.suptitle(title, fontsize=8)
    return fig


def save_png(fig: Any, path: Any) -> Any:
    """Write a figure to a PNG file and return the path."""
    fig.savefig(path, format="png")
    return path


__all__ = ["feature_map_figure", "feature_maps", "saliency", "saliency_figure", "save_png"]
