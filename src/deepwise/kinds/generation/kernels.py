"""Naming fitted filters: a linear kernel or a point-wise curve, described in words a researcher recognises.

"Gaussian blur (sigma about 1.50)", "unsharp-mask sharpening", "Sobel derivative", "gamma curve (gamma about
0.50)", "quantization to 4 levels"... A fitted kernel is compared with the textbook kernel of each kind by cosine
similarity (at least :data:`MATCH` to take its name); otherwise it is described by its shape (weights summing to 1
and all positive: a smoothing kernel; summing to 0: a derivative).

Example:
    >>> describe_spatial_kernel(gaussian_kernel(9, 1.5))
    'Gaussian blur (sigma about 1.50, 9x9)'
"""

from __future__ import annotations

import numpy as np

MATCH = 0.98  # cosine similarity between a fitted kernel and a named one for the name to be used
CURVE_TOLERANCE = 0.02  # largest deviation (of the [0, 1] range) for a curve to count as linear / gamma
SIGMAS = np.round(np.arange(0.3, 5.01, 0.05), 2)


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """A normalised 2-D Gaussian kernel of ``size`` x ``size``.

    Example:
        >>> round(float(gaussian_kernel(5, 1.0).sum()), 6)
        1.0
    """
    d = np.arange(size) - size // 2
    g = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2.0 * sigma**2))
    return g / g.sum()


def _embed(small: np.ndarray, size: int) -> np.ndarray | None:
    if small.shape[0] > size:
        return None
    out = np.zeros((size, size))
    start = (size - small.shape[0]) // 2
    out[start : start + small.shape[0], start : start + small.shape[1]] = small
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return 0.0 if na == 0 or nb == 0 else float((a * b).sum() / (na * nb))


_DERIVATIVES = {
    "Sobel derivative across rows (finds horizontal edges)": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]),
    "Sobel derivative across columns (finds vertical edges)": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
    "Prewitt derivative across rows (finds horizontal edges)": np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]]),
    "Prewitt derivative across columns (finds vertical edges)": np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]]),
    "Laplacian (4-neighbour)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "Laplacian (8-neighbour)": np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]]),
}


def _smoothing_name(kernel: np.ndarray) -> str:
    size = kernel.shape[0]
    center = size // 2
    if kernel[center, center] >= 0.98:
        return "identity (the targets equal the inputs)"
    cosines = [_cosine(kernel, gaussian_kernel(size, s)) for s in SIGMAS]
    best = int(np.argmax(cosines))
    boxes = {box: _cosine(kernel, _embed(np.full((box, box), 1.0 / box**2), size)) for box in range(3, size + 1, 2)}
    best_box = max(boxes, key=boxes.get) if boxes else 0
    if best_box and boxes[best_box] >= max(MATCH, cosines[best]):  # a large-sigma Gaussian looks like a box
        return f"box (mean) blur {best_box}x{best_box}"
    if cosines[best] >= MATCH:
        return f"Gaussian blur (sigma about {SIGMAS[best]:.2f}, {size}x{size})"
    return f"a smoothing (blurring) kernel, {size}x{size}, weights positive and summing to 1"


def _sharpening_name(kernel: np.ndarray) -> str:
    size = kernel.shape[0]
    delta = _embed(np.ones((1, 1)), size)
    best_cos, best = 0.0, (0.0, 0.0)
    for sigma in SIGMAS:
        basis = delta - gaussian_kernel(size, sigma)
        amount = float((kernel - delta).ravel() @ basis.ravel() / max(1e-12, basis.ravel() @ basis.ravel()))
        cos = _cosine(kernel, delta + amount * basis)
        if cos > best_cos:
            best_cos, best = cos, (float(sigma), amount)
    if best_cos >= MATCH and best[1] > 0:
        return f"unsharp-mask sharpening (sigma about {best[0]:.2f}, amount about {best[1]:.2f})"
    return f"a sharpening kernel, {size}x{size} (weights sum to 1, strong centre)"


def describe_spatial_kernel(kernel: np.ndarray) -> str:
    """Words for one 2-D correlation kernel (height x width, odd size).

    Example:
        >>> describe_spatial_kernel(np.array([[0, 0, 0], [0, 1.0, 0], [0, 0, 0]]))
        'identity (the targets equal the inputs)'
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    size = kernel.shape[0]
    total, scale = float(kernel.sum()), float(np.abs(kernel).sum()) or 1.0
    center = kernel[size // 2, size // 2]
    if abs(total - 1) < 0.05 and kernel.min() >= -0.02 * np.abs(kernel).max():
        return _smoothing_name(kernel)
    if abs(total - 1) < 0.05 and center > 1:
        return _sharpening_name(kernel)
    if abs(total) < 0.05 * scale:
        for name, small in _DERIVATIVES.items():
            embedded = _embed(small.astype(np.float64), size)
            if embedded is not None and abs(_cosine(kernel, embedded)) >= MATCH:
                return name
        return f"a derivative (edge) kernel, {size}x{size}, weights summing to 0"
    return f"a {size}x{size} linear convolution (weights sum to {total:.2f})"


def _affine_name(slope: float, offset: float) -> str:
    if abs(slope - 1) < CURVE_TOLERANCE and abs(offset) < CURVE_TOLERANCE:
        return "identity (the targets equal the inputs)"
    if slope < 0:
        return "inversion (a negative image)" if abs(slope + 1) < 0.05 else f"inverted brightness ({slope:.2f}x)"
    return f"a linear brightness/contrast change (x{slope:.2f} {offset:+.2f})"


def describe_kernel(kernel: np.ndarray, bias: np.ndarray) -> str:
    """Words for a fitted kernel of shape (k, k, in_channels, out_channels) with its bias.

    Example:
        >>> describe_kernel(gaussian_kernel(5, 1.0)[:, :, None, None], np.zeros(1))
        'Gaussian blur (sigma about 1.00, 5x5)'
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    size, _, cin, cout = kernel.shape
    peak = np.abs(kernel).max() or 1.0
    if cin == cout:
        cross = max((np.abs(kernel[:, :, c, o]).max() for c in range(cin) for o in range(cout) if c != o), default=0)
        same = all(np.abs(kernel[:, :, c, c] - kernel[:, :, 0, 0]).max() < 0.02 * peak for c in range(cin))
        if cross < 0.02 * peak and same:
            if size == 1:
                return _affine_name(float(kernel[0, 0, 0, 0]), float(np.mean(bias)))
            return describe_spatial_kernel(kernel[:, :, 0, 0]) + (" on each colour channel" if cin > 1 else "")
    if cin == 3 and cout == 1:
        if size == 1:
            w = kernel[0, 0, :, 0]
            return f"conversion to gray (weights R {w[0]:.2f}, G {w[1]:.2f}, B {w[2]:.2f})"
        return describe_spatial_kernel(kernel.sum(axis=2)[:, :, 0]) + " of the gray image"
    return f"a {size}x{size} linear filter mixing the colour channels"


def describe_curve(xs: np.ndarray, ys: np.ndarray, target_levels: int) -> str:
    """Words for a fitted monotone point-wise curve (input value -> output value), sampled at ``xs``.

    ``target_levels``: how many distinct values the targets take (few: a quantization).

    Example:
        >>> describe_curve(np.linspace(0, 1, 11), np.linspace(0, 1, 11) ** 0.5, 256)
        'gamma curve (gamma about 0.50)'
    """
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    levels = np.unique(np.round(ys, 3))
    if len(levels) <= 32 and target_levels <= 32:
        return f"quantization to {len(levels)} levels (fewer gray levels / colour depth)"
    slope, offset = np.polyfit(xs, ys, 1) if len(xs) > 1 else (1.0, 0.0)
    if np.abs(ys - (slope * xs + offset)).max() < CURVE_TOLERANCE:
        return _affine_name(float(slope), float(offset))
    inside = (ys > 0.01) & (ys < 0.99)
    if inside.sum() >= 2 and inside.sum() < len(ys):
        s2, o2 = np.polyfit(xs[inside], ys[inside], 1)
        stretched = np.clip(s2 * xs + o2, 0, 1)
        if np.abs(ys - stretched).max() < CURVE_TOLERANCE and s2 > 0:
            lo, hi = -o2 / s2, (1 - o2) / s2
            return f"a contrast stretch (inputs {lo:.2f}..{hi:.2f} mapped to 0..1, clipped)"
    positive = (xs > 0.02) & (ys > 0.02)
    if positive.sum() >= 2:
        gamma = float((np.log(xs[positive]) @ np.log(ys[positive])) / (np.log(xs[positive]) @ np.log(xs[positive])))
        if np.abs(ys - np.clip(xs, 0, None) ** gamma).max() < CURVE_TOLERANCE:
            return f"gamma curve (gamma about {gamma:.2f})"
    direction = "increasing" if ys[-1] >= ys[0] else "decreasing"
    return f"a monotone ({direction}) point-wise tone curve"
