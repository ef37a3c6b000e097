"""Classical baselines (parameters chosen on training pairs), the noise estimate, and the out-of-distribution guard
that flags photographs given to a digit model."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from deepwise.kinds.generation.baselines import (
    align_inputs,
    applicable_baselines,
    baseline_outputs,
    estimate_noise,
    fit_baselines,
)
from deepwise.kinds.generation.guard import ImageGuard, fit_image_guard
from deepwise.kinds.generation.image2image import cut_tiles
from deepwise.kinds.generation.metrics import psnr_per_image


@pytest.fixture(scope="module")
def digits(mnist_images) -> np.ndarray:
    return mnist_images[:2000]


def test_noise_estimate():
    rng = np.random.default_rng(0)
    photo = data.camera() / 255.0
    for sigma in (0.05, 0.1, 0.2):
        noisy = photo + rng.normal(0, sigma, photo.shape)
        assert estimate_noise(noisy[..., None]) == pytest.approx(sigma, rel=0.15)


def test_denoising_baselines_beat_doing_nothing():
    rng = np.random.default_rng(0)
    clean = cut_tiles(data.camera() / 255.0, 32).astype(np.float32)[:80]
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    params = fit_baselines(noisy[:40], clean[:40], max_pairs=20)
    assert set(params) == {"identity", "gaussian", "median", "non_local_means"}
    outputs = baseline_outputs(params, noisy[40:], clean.shape[1:])
    scores = {name: psnr_per_image(out, clean[40:]).mean() for name, out in outputs.items()}
    assert max(scores, key=scores.get) == "non_local_means"  # the classic best on photographs
    assert all(scores[name] > scores["identity"] for name in ("gaussian", "median", "non_local_means"))


def test_colourising_and_upscaling_baselines():
    colour = cut_tiles(data.astronaut() / 255.0, 32).astype(np.float32)[:40]
    gray = align_inputs(colour, (32, 32, 1))
    assert applicable_baselines((32, 32, 1), (32, 32, 3)) == ["identity", "mean_chroma"]
    params = fit_baselines(gray[:20], colour[:20])
    outputs = baseline_outputs(params, gray[20:], colour.shape[1:])
    assert outputs["mean_chroma"].shape == colour[20:].shape
    assert psnr_per_image(outputs["mean_chroma"], colour[20:]).mean() > psnr_per_image(
        outputs["identity"], colour[20:]
    ).mean()
    small = colour[:, ::2, ::2]
    assert "bicubic" in applicable_baselines(small.shape[1:], colour.shape[1:])
    params = fit_baselines(small[:20], colour[:20], max_pairs=10)
    outputs = baseline_outputs(params, small[20:], colour.shape[1:])
    assert psnr_per_image(outputs["bicubic"], colour[20:]).mean() > psnr_per_image(
        outputs["identity"], colour[20:]
    ).mean()


def test_guard_flags_photographs_not_digits(digits, tmp_path):
    guard = fit_image_guard(digits[:1500])  # 300 of them calibrate the 99th percentile: ~1 % false alarms
    assert guard.flag(digits[1500:]).mean() <= 0.05  # 100 calibration images once gave 6 % on 100 test digits
    photos = cut_tiles(data.camera() / 255.0, 28).astype(np.float32)
    assert guard.flag(photos).mean() >= 0.9
    guard.save(tmp_path / "guard.npz")
    again = ImageGuard.load(tmp_path / "guard.npz")
    assert np.allclose(again.score(photos[:10]), guard.score(photos[:10]))
