"""Classical image-to-image baselines, scored on the same test images as the network.

- ``identity``: the input as it is (doing nothing; gray copied into RGB for colourising, pixels repeated for
  super-resolution), the floor every method must beat;
- ``gaussian``, ``median``, ``non_local_means`` (scikit-image): denoising and smoothing, their one parameter
  (sigma, window size, strength) chosen on training pairs;
- ``bicubic``: bicubic upscaling, when the targets are larger than the inputs;
- ``mean_chroma``: for colourising (gray input, colour target), the input's lightness with the average colour
  (CIE Lab a*, b* of the training targets, pixel by pixel).

Parameters are chosen by mean PSNR on at most ``max_pairs`` training pairs, never on test images, and are plain
JSON (``fit_baselines`` -> ``{"median": {"size": 3}, ...}``).

Example:
    >>> params = fit_baselines(train_inputs, train_targets)
    >>> outputs = baseline_outputs(params, test_inputs, test_targets.shape[1:])
    >>> sorted(outputs)
    ['gaussian', 'identity', 'median', 'non_local_means']
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from deepwise.kinds.generation.metrics import psnr_per_image

GAUSSIAN_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
MEDIAN_SIZES = (3, 5, 7)
NL_MEANS_STRENGTHS = (0.4, 0.6, 0.8, 1.0, 1.3)  # h as a multiple of the noise level estimate_noise gives
MAX_FIT_PAIRS = 200


def align_inputs(inputs: np.ndarray, target_shape: tuple[int, ...], order: int = 3) -> np.ndarray:
    """Inputs brought to the targets' size and channels: upscaled (``order`` 3 bicubic, 0 pixel repetition),
    gray copied into RGB, RGB turned into gray (luminance).

    Example:
        >>> align_inputs(np.zeros((2, 14, 14, 1)), (28, 28, 3)).shape
        (2, 28, 28, 3)
    """
    x = np.asarray(inputs, dtype=np.float32)
    height, width, channels = (int(v) for v in target_shape[-3:])
    if x.shape[1:3] != (height, width):
        factor = height // x.shape[1]
        if order == 0:
            x = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
        else:
            x = np.clip(ndi.zoom(x, (1, factor, factor, 1), order=order, mode="reflect", grid_mode=True), 0, 1)
            x = x.astype(np.float32)
    if x.shape[-1] != channels:
        if channels == 3:
            x = np.repeat(x[..., :1], 3, axis=-1)
        else:
            x = (x[..., :3] @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32))[..., None]
    return x


def _per_image(images: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(img) for img in images]).astype(np.float32)


def _gaussian(images: np.ndarray, sigma: float) -> np.ndarray:
    return ndi.gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect").astype(np.float32)


def _median(images: np.ndarray, size: int) -> np.ndarray:
    return ndi.median_filter(images, size=(1, size, size, 1), mode="reflect").astype(np.float32)


_NOISE_MASK = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def estimate_noise(image: np.ndarray) -> float:
    """Standard deviation of white noise in one image (h, w, c), Immerkaer's fast method (1996), channels averaged.

    (scikit-image's ``estimate_sigma`` needs PyWavelets, which deepwise does not install.)

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(estimate_noise(0.5 + rng.normal(0, 0.1, (256, 256, 1))), 2)
        0.1
    """
    h, w = image.shape[:2]
    if h < 3 or w < 3:
        return 0.0
    total = sum(np.abs(ndi.correlate(image[..., c].astype(np.float64), _NOISE_MASK))[1:-1, 1:-1].sum()
                for c in range(image.shape[-1]))
    return float(np.sqrt(np.pi / 2) * total / (6.0 * (h - 2) * (w - 2) * image.shape[-1]))


def _nl_means(images: np.ndarray, strength: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    side = min(images.shape[1:3])
    patch = 5 if side >= 16 else 3
    distance = max(1, min(6, side // 4))

    def one(img: np.ndarray) -> np.ndarray:
        sigma = estimate_noise(img)
        if not np.isfinite(sigma) or sigma <= 0:
            return img
        out = denoise_nl_means(
            img, h=strength * sigma, sigma=sigma, patch_size=patch, patch_distance=distance, fast_mode=True,
            channel_axis=-1,
        )
        return out.reshape(img.shape)

    return _per_image(images, one)


def _mean_chroma(images: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    from skimage.color import lab2rgb

    lab = np.empty(images.shape[:3] + (3,), dtype=np.float64)
    lab[..., 0] = np.clip(images[..., 0], 0, 1) * 100.0
    lab[..., 1:] = chroma[None]
    return np.clip(lab2rgb(lab, channel_axis=-1), 0, 1).astype(np.float32)


def applicable_baselines(input_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> list[str]:
    """The baselines that make sense for inputs of ``input_shape`` and targets of ``target_shape`` (h, w, c).

    Example:
        >>> applicable_baselines((28, 28, 1), (28, 28, 3))
        ['identity', 'mean_chroma']
    """
    names = ["identity"]
    if input_shape[-1] == 1 and target_shape[-1] == 3:
        return names + ["mean_chroma"]
    if tuple(input_shape[:2]) != tuple(target_shape[:2]):
        names.append("bicubic")
    return names + ["gaussian", "median", "non_local_means"]


def apply_baseline(name: str, params: dict[str, Any], inputs: np.ndarray, target_shape: tuple[int, ...]):
    """One fitted baseline's outputs for ``inputs``, at the targets' size and channels.

    Example:
        >>> apply_baseline("median", {"size": 3}, noisy, (28, 28, 1)).shape
        (1000, 28, 28, 1)
    """
    upscaled = tuple(inputs.shape[1:3]) != tuple(target_shape[-3:-1])
    if name == "identity":
        return align_inputs(inputs, target_shape, order=0)
    if name == "mean_chroma":
        return _mean_chroma(inputs, np.asarray(params["chroma"], dtype=np.float64))
    x = align_inputs(inputs, target_shape, order=3)
    if name == "bicubic":
        return x
    if name == "gaussian":
        return _gaussian(x, params["sigma"])
    if name == "median":
        return _median(x, params["size"])
    if name == "non_local_means":
        return _nl_means(x, params["strength"])
    raise ValueError(f"unknown baseline {name!r} (upscaled input: {upscaled})")


def _best(grid: tuple, key: str, name: str, inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    scores = {}
    for value in grid:
        out = apply_baseline(name, {key: value}, inputs, targets.shape[1:])
        scores[value] = float(psnr_per_image(out, targets).mean())
    best = max(scores, key=scores.get)
    return {key: best, "train_psnr_db": round(scores[best], 3), "searched": list(grid)}


def fit_baselines(
    train_inputs: np.ndarray, train_targets: np.ndarray, max_pairs: int = MAX_FIT_PAIRS, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Choose each applicable baseline's parameter on (at most ``max_pairs``) training pairs; JSON-able.

    Example:
        >>> fit_baselines(noisy_digits, digits)["median"]["size"]
        3
    """
    n = len(train_inputs)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, size=min(n, max_pairs), replace=False))
    x, y = np.asarray(train_inputs)[pick], np.asarray(train_targets)[pick]
    params: dict[str, dict[str, Any]] = {}
    for name in applicable_baselines(x.shape[1:], y.shape[1:]):
        if name in ("identity", "bicubic"):
            params[name] = {}
        elif name == "mean_chroma":
            from skimage.color import rgb2lab

            lab = rgb2lab(y.astype(np.float64), channel_axis=-1)
            params[name] = {"chroma": lab[..., 1:].mean(axis=0).round(4).tolist()}
        elif name == "gaussian":
            params[name] = _best(GAUSSIAN_SIGMAS, "sigma", name, x, y)
        elif name == "median":
            params[name] = _best(MEDIAN_SIZES, "size", name, x, y)
        elif name == "non_local_means":
            params[name] = _best(NL_MEANS_STRENGTHS, "strength", name, x, y)
    return params


def baseline_outputs(
    params: dict[str, dict[str, Any]], inputs: np.ndarray, target_shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Every fitted baseline's outputs for ``inputs`` (e.g. the test images).

    Example:
        >>> sorted(baseline_outputs(fit_baselines(x, y), x_test, y.shape[1:]))
        ['gaussian', 'identity', 'median', 'non_local_means']
    """
    return {name: apply_baseline(name, p, inputs, target_shape) for name, p in params.items()}
