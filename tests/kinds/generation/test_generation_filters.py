"""The fixed-filter finder on real images (MNIST digits, scikit-image's photographs): blur, edges, fewer gray
levels and a contrast stretch are found and named; denoising targets are not mistaken for a filter."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data, filters

from deepwise.kinds.generation.filters import (
    DEFAULT_THRESHOLD_DB,
    FilterFinding,
    apply_filter,
    find_fixed_filter,
    fit_linear_kernel,
)
from deepwise.kinds.generation.image2image import cut_tiles
from deepwise.kinds.generation.kernels import describe_curve, describe_spatial_kernel, gaussian_kernel
from deepwise.kinds.generation.metrics import image_verdict, pooled_psnr


@pytest.fixture(scope="module")
def digits(mnist_images) -> np.ndarray:
    return mnist_images[:160]


@pytest.fixture(scope="module")
def photo_tiles() -> np.ndarray:
    return cut_tiles(data.camera() / 255.0, 32).astype(np.float32)[::2]  # 128 tiles of the cameraman


def _per_image(images: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(img[..., 0]) for img in images])[..., None].astype(np.float32)


def _find(inputs: np.ndarray, targets: np.ndarray) -> FilterFinding:
    half = len(inputs) // 2
    return find_fixed_filter(inputs[:half], targets[:half], inputs[half:], targets[half:], max_pairs=80)


@pytest.mark.slow  # 7-14 s; test_finding_is_json_and_reapplies names a blur of digits in the fast suite
def test_blur_is_a_gaussian_blur(photo_tiles):
    x = photo_tiles
    finding = _find(x, _per_image(x, lambda g: filters.gaussian(g, sigma=1.5)))
    assert finding.reproduces_targets and finding.family == "linear_kernel"
    assert finding.name.startswith("Gaussian blur (sigma about 1.5")


@pytest.mark.slow  # 4-24 s each: every named scikit-image filter (Canny, ...) is tried
@pytest.mark.parametrize("source", ["digits", "photo_tiles"])
def test_edge_detector_is_named(source, request):
    x = request.getfixturevalue(source)
    sobel = np.round(_per_image(x, filters.sobel) * 255) / 255  # as saved in an 8-bit PNG
    finding = _find(x, sobel)
    assert finding.reproduces_targets and finding.name == "Sobel edge magnitude"
    assert finding.psnr_db > 55  # only the 8-bit rounding is left


@pytest.mark.slow  # 14 s on a shared 2-core machine
def test_fewer_gray_levels_and_contrast_stretch(photo_tiles):
    quantized = _find(photo_tiles, np.round(photo_tiles * 3) / 3)
    assert quantized.reproduces_targets and "4 levels" in quantized.name
    stretched = _find(photo_tiles, np.clip((photo_tiles - 0.2) / 0.6, 0, 1))
    assert stretched.reproduces_targets and stretched.name.startswith("a contrast stretch (inputs 0.20..0.80")


@pytest.mark.slow  # 9-12 s; the end-to-end test checks sigma 0.4 on digits through the kind
@pytest.mark.parametrize("sigma", [0.1])
def test_denoising_targets_are_not_a_computation(digits, photo_tiles, sigma):
    rng = np.random.default_rng(0)
    for clean in (digits, photo_tiles):
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1).astype(np.float32)
        finding = _find(noisy, clean)
        assert not finding.reproduces_targets, finding.name
        assert finding.psnr_db < DEFAULT_THRESHOLD_DB - 10  # far below: the threshold is not a knife edge


def test_finding_is_json_and_reapplies(digits):
    digits = digits[:60]  # 30 pairs to fit, 30 to score: enough for a 13x13 kernel (fast suite)
    blurred = _per_image(digits, lambda g: filters.gaussian(g, sigma=1.0))
    finding = _find(digits, blurred)
    again = FilterFinding.from_json(json.loads(json.dumps(finding.to_json())))
    assert pooled_psnr(apply_filter(again.params, digits), blurred, border=again.border) > 50
    verdict = image_verdict(blurred, blurred, {"identity": digits}, n_train=1000, fixed_filter=again.to_json())
    assert verdict["code"] == "looks_like_a_computation" and "Gaussian blur" in verdict["message"]


def test_linear_kernel_recovers_a_box_filter(photo_tiles):
    from scipy import ndimage as ndi

    target = ndi.uniform_filter(photo_tiles, size=(1, 3, 3, 1), mode="reflect")
    kernel = np.asarray(fit_linear_kernel(photo_tiles, target, 3)["kernel"])[:, :, 0, 0]
    assert np.allclose(kernel, 1 / 9, atol=1e-3)
    assert describe_spatial_kernel(kernel) == "box (mean) blur 3x3"


def test_names_of_kernels_and_curves():
    assert describe_spatial_kernel(gaussian_kernel(9, 2.0)).startswith("Gaussian blur (sigma about 2.00")
    sobel = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]) / 4
    assert describe_spatial_kernel(sobel).startswith("Sobel derivative across rows")
    xs = np.linspace(0, 1, 256)
    assert describe_curve(xs, 1 - xs, 256) == "inversion (a negative image)"
    assert describe_curve(xs, xs**2.2, 256) == "gamma curve (gamma about 2.20)"
