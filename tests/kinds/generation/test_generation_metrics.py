"""PSNR and SSIM against scikit-image's own functions, the paired bootstrap over images, and the verdict's codes."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deepwise.kinds.generation.baselines import apply_baseline
from deepwise.kinds.generation.image2image import cut_tiles
from deepwise.kinds.generation.metrics import (
    MAX_PSNR_DB,
    image_verdict,
    paired_image_bootstrap,
    pooled_psnr,
    psnr_per_image,
    ssim_per_image,
)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    clean = cut_tiles(data.astronaut() / 255.0, 32)[:60]  # colour tiles
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    return clean, noisy


def test_psnr_matches_scikit_image(pairs):
    clean, noisy = pairs
    ours = psnr_per_image(noisy, clean)
    theirs = [peak_signal_noise_ratio(c, n, data_range=1.0) for c, n in zip(clean, noisy, strict=True)]
    assert np.allclose(ours, theirs, atol=1e-9)
    gray = clean[..., :1]
    assert psnr_per_image(gray[..., 0], gray[..., 0]).tolist() == [MAX_PSNR_DB] * len(gray)  # exact copies
    mse = np.mean((noisy - clean) ** 2)
    assert pooled_psnr(noisy, clean) == pytest.approx(10 * np.log10(1 / mse))


def test_ssim_matches_scikit_image(pairs):
    clean, noisy = pairs
    ours = ssim_per_image(noisy, clean)
    theirs = [structural_similarity(c, n, data_range=1.0, channel_axis=-1) for c, n in zip(clean, noisy, strict=True)]
    assert np.allclose(ours, theirs, atol=1e-9)
    small = ssim_per_image(clean[:3, :5, :5], clean[:3, :5, :5])  # 5x5 images: a 5x5 window
    assert np.allclose(small, 1.0)


def test_bootstrap_interval_covers_the_difference():
    rng = np.random.default_rng(1)
    a = rng.normal(20, 2, 500)
    b = a - 1 + rng.normal(0, 0.5, 500)
    result = paired_image_bootstrap(a, b, seed=0)
    assert result["ci95_low"] < result["difference"] < result["ci95_high"]
    assert 0.9 < result["ci95_low"] and result["ci95_high"] < 1.1


def test_verdict_codes(pairs):
    clean, noisy = pairs
    baselines = {"identity": noisy, "median": apply_baseline("median", {"size": 3}, noisy, clean.shape[1:])}
    close = np.clip(clean + 0.01, 0, 1)
    assert image_verdict(clean, close, baselines, n_train=1000)["code"] == "deep_learning_helps"
    helps_not = image_verdict(clean, baselines["median"], baselines, n_train=1000)
    assert helps_not["code"] == "simpler_model_suffices"
    assert image_verdict(clean, 1 - clean, baselines, n_train=1000)["code"] == "worse_than_chance"
    assert image_verdict(clean, close, baselines, n_train=20)["code"] == "not_enough_data"
    evidence = helps_not["evidence"]
    assert evidence["best_baseline"] == "median" and evidence["n_test"] == len(clean)
