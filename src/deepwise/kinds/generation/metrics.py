"""Image-to-image scores per test image (PSNR, SSIM), the paired bootstrap over test images, and the verdict.

Images are float arrays in [0, 1] shaped (n, height, width, channels). PSNR is computed for every image at once
with NumPy (the same number as ``skimage.metrics.peak_signal_noise_ratio``, checked in the tests); SSIM is
scikit-image's ``structural_similarity``, one image at a time. The verdict resamples the test IMAGES (not pixels:
pixels of one image are not independent), the network and a baseline scored on the same resample.

Example:
    >>> scores = psnr_per_image(outputs, targets)
    >>> image_verdict(targets, outputs, {"identity": inputs, "median": medians}, n_train=4000)["code"]
    'deep_learning_helps'
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_PSNR_DB = 100.0  # an exact copy has infinite PSNR; capped so that means and differences stay finite
MIN_TRAIN_PAIRS = 100  # fewer training pairs than this and the verdict is not_enough_data


def _as_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:  # (n, h, w): one channel
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected images shaped (n, height, width[, channels]); got {images.shape}")
    return images


def _crop(images: np.ndarray, border: int) -> np.ndarray:
    if border <= 0:
        return images
    return images[:, border:-border, border:-border, :]


def psnr_per_image(
    outputs: np.ndarray, targets: np.ndarray, data_range: float = 1.0, border: int = 0
) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in dB (higher is better), capped at 100 dB for exact copies.

    ``border``: pixels left out at each edge (a filter's edge handling is a detail, not the computation).

    Example:
        >>> psnr_per_image(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1)).round(1).tolist()
        [20.0, 20.0]
    """
    a, b = _crop(_as_batch(outputs), border), _crop(_as_batch(targets), border)
    if a.shape != b.shape:
        raise ValueError(f"outputs {a.shape} and targets {b.shape} differ in shape")
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        scores = 10.0 * np.log10(data_range**2 / mse)
    return np.minimum(scores, MAX_PSNR_DB)


def pooled_psnr(outputs: np.ndarray, targets: np.ndarray, data_range: float = 1.0, border: int = 0) -> float:
    """PSNR of all images together (one mean squared error over every pixel), capped at 100 dB.

    Example:
        >>> round(pooled_psnr(np.zeros((1, 4, 4)), np.full((1, 4, 4), 0.01)), 1)
        40.0
    """
    a, b = _crop(_as_batch(outputs), border), _crop(_as_batch(targets), border)
    mse = float(((a - b) ** 2).mean())
    return MAX_PSNR_DB if mse <= 0 else float(min(MAX_PSNR_DB, 10.0 * np.log10(data_range**2 / mse)))


def _ssim_window(height: int, width: int) -> int:
    side = min(7, height, width)
    return side if side % 2 == 1 else side - 1


def ssim_per_image(outputs: np.ndarray, targets: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity of each image (scikit-image, 7x7 window or the largest odd one that fits; 1 is best).

    Example:
        >>> ssim_per_image(np.ones((1, 8, 8)), np.ones((1, 8, 8))).tolist()
        [1.0]
    """
    from skimage.metrics import structural_similarity

    a, b = _as_batch(outputs), _as_batch(targets)
    if a.shape != b.shape:
        raise ValueError(f"outputs {a.shape} and targets {b.shape} differ in shape")
    window = _ssim_window(a.shape[1], a.shape[2])
    if window < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels; got {a.shape[1]}x{a.shape[2]}")
    return np.array(
        [
            structural_similarity(x, y, data_range=data_range, channel_axis=-1, win_size=window)
            for x, y in zip(a, b, strict=True)
        ]
    )


def paired_image_bootstrap(
    scores_a: np.ndarray, scores_b: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """mean(a) - mean(b) over the same test images, with a 95 % interval from resampling the images.

    Example:
        >>> paired_image_bootstrap(np.array([20.0, 21, 22]), np.array([18.0, 19, 20]))["difference"]
        2.0
    """
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"expected two equal, non-empty 1-D score arrays; got {a.shape} and {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"difference": float(diff.mean()), "ci95_low": float(lo), "ci95_high": float(hi), "resamples": n_boot}


def image_scores(outputs: np.ndarray, targets: np.ndarray, ssim: bool = True) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM over the test images, and the per-image PSNR the bootstrap resamples.

    Example:
        >>> image_scores(np.zeros((2, 8, 8)), np.full((2, 8, 8), 0.1))["psnr"]
        20.0
    """
    psnr = psnr_per_image(outputs, targets)
    result: dict[str, Any] = {"psnr": float(psnr.mean()), "psnr_per_image": psnr}
    if ssim:
        result["ssim"] = float(ssim_per_image(outputs, targets).mean())
    return result


def image_verdict(
    targets: np.ndarray,
    network_output: np.ndarray,
    baseline_outputs: dict[str, np.ndarray],
    n_train: int,
    fixed_filter: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Does the network enhance images better than classical filters? Mean PSNR over test images, bootstrapped.

    ``baseline_outputs`` must contain ``identity`` (the input as it is: doing nothing); ``fixed_filter`` is the
    finder's result as a dict (``FilterFinding.to_json()``): when it reproduces the targets the verdict is
    ``looks_like_a_computation``. Returns ``{"code", "message", "evidence"}`` with deepwise's verdict codes.

    Example:
        >>> image_verdict(y, net, {"identity": x, "median": med}, n_train=4000)["code"]
        'deep_learning_helps'
    """
    if "identity" not in baseline_outputs:
        raise ValueError("baseline_outputs needs 'identity' (the unchanged input)")
    net = psnr_per_image(network_output, targets)
    base = {name: psnr_per_image(out, targets) for name, out in baseline_outputs.items()}
    means = {name: float(s.mean()) for name, s in base.items()}
    simple = {k: v for k, v in means.items() if k != "identity"} or means
    best = max(simple, key=simple.get)
    vs_best = paired_image_bootstrap(net, base[best], seed=seed)
    vs_identity = paired_image_bootstrap(net, base["identity"], seed=seed)
    evidence = {
        "metric": "psnr_db",
        "network": float(net.mean()),
        "baselines": means,
        "best_baseline": best,
        "network_minus_best_baseline": vs_best,
        "network_minus_identity": vs_identity,
        "n_test": int(len(net)),
        "n_train": int(n_train),
        "bootstrap": f"{vs_best['resamples']} resamples of the test images, every method scored on the same resample",
        "fixed_filter": fixed_filter,
    }
    noise = (
        f"(95 % interval of the difference from {vs_best['resamples']:,} bootstrap resamples of the {len(net):,} "
        f"test images: {vs_best['ci95_low']:+.2f} to {vs_best['ci95_high']:+.2f} dB)"
    )

    def result(code: str, message: str) -> dict[str, Any]:
        return {"code": code, "message": message, "evidence": evidence}

    if fixed_filter is not None and fixed_filter.get("reproduces_targets"):
        return result(
            "looks_like_a_computation",
            f"The targets are a fixed computation of the inputs: {fixed_filter['name']} reproduces held-out targets "
            f"at {fixed_filter['psnr_db']:.1f} dB PSNR (threshold {fixed_filter['threshold_db']:.0f} dB). Use the "
            "filter itself: it is exact, fast and explainable; a network only approximates it.",
        )
    if n_train < MIN_TRAIN_PAIRS:
        return result(
            "not_enough_data",
            f"Only {n_train} training pairs: too few for a network to learn an image-to-image mapping reliably. "
            f"The network scored {net.mean():.2f} dB PSNR, {best} {means[best]:.2f} dB. Collect more pairs.",
        )
    if vs_identity["ci95_high"] < 0:
        return result(
            "worse_than_chance",
            f"The network's outputs are further from the targets than the unchanged inputs ({net.mean():.2f} dB vs "
            f"{means['identity']:.2f} dB PSNR): it damages the images. Do not use it.",
        )
    if vs_best["ci95_low"] > 0:
        return result(
            "deep_learning_helps",
            f"The network beats the best classical method, {best}, by {vs_best['difference']:+.2f} dB PSNR "
            f"({net.mean():.2f} vs {means[best]:.2f} dB) {noise}. Remember that its output is a plausible guess, "
            "not a measurement: it may add detail that was never in the input.",
        )
    how = "is WORSE than" if vs_best["ci95_high"] < 0 else "does not beat"
    return result(
        "simpler_model_suffices",
        f"The network ({net.mean():.2f} dB PSNR) {how} {best} ({means[best]:.2f} dB) beyond the noise "
        f"{noise}. Use {best}: it is predictable and invents nothing.",
    )
