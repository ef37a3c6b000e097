"""The generative kinds without training: which rule claims a config, the bad inputs they refuse (user-facing
errors), the simple image generators, and the verdict's arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from deepwise.config import Config
from deepwise.errors import ConfigError, DataError
from deepwise.kinds import kind_for_config
from deepwise.kinds.generation.synth_common import auc_standard_error, generation_verdict
from deepwise.kinds.generation.synth_images import baseline_samples, prepare_image_generation
from deepwise.kinds.generation.synth_predict import check_count
from deepwise.kinds.generation.synth_table import prepare_table_generation


def _config(path, target="label", data=None, **sections) -> Config:
    return Config(problem={"target": target, "task": "generate"}, data={"path": str(path), **(data or {})}, **sections)


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """200 of scikit-learn's 8x8 digits as PNGs in class folders."""
    root = tmp_path_factory.mktemp("digits")
    data = load_digits()
    for i, (image, label) in enumerate(zip(data.images[:200], data.target[:200], strict=True)):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(np.round(image / 16 * 255).astype(np.uint8)).save(root / str(label) / f"{i:03d}.png")
    return root


def test_the_task_decides_the_kind_and_the_run_says_which_rule(penguins_csv, digit_folder):
    assert kind_for_config(_config(penguins_csv, "species")).name == "generative_table"
    assert kind_for_config(_config(digit_folder)).name == "generative_images"
    plain = Config(problem={"target": "species"}, data={"path": str(penguins_csv)})
    assert kind_for_config(plain).name == "table"  # without task: generate, a table is still a prediction problem
    data = prepare_table_generation(_config(penguins_csv, "species"))
    assert "Rule: problem.task is 'generate' and data.path is a table" in data.problem.task_reason
    assert data.x["train"].dtype == np.float32 and len(data.x["test"]) == round(0.2 * 344)
    images = prepare_image_generation(_config(digit_folder))
    assert images.x["train"].shape[1:] == (8, 8, 1) and images.prep.classes_ == [str(d) for d in range(10)]
    assert "class sub-folders" in images.problem.task_reason


def test_bad_input_is_a_user_facing_error(penguins_csv, digit_folder, tmp_path):
    with pytest.raises(DataError, match="'spieces'.*not in") as err:
        prepare_table_generation(_config(penguins_csv, "spieces"))
    assert "species" in err.value.expected and err.value.fix
    flat = tmp_path / "flat"
    flat.mkdir()
    for file in sorted((digit_folder / "3").glob("*.png"))[:5]:
        (flat / file.name).write_bytes(file.read_bytes())
    with pytest.raises(DataError, match="without classes"):
        prepare_image_generation(_config(flat))
    with pytest.raises(DataError, match="multiples of 4"):
        prepare_image_generation(_config(digit_folder, data={"image_size": [10, 10]}))
    with pytest.raises(ConfigError, match="does not generate"):
        prepare_table_generation(_config(penguins_csv, "species", model={"type": "mlp"}))
    pd.DataFrame({"a": range(10), "b": range(10)}).to_csv(tmp_path / "tiny.csv", index=False)
    with pytest.raises(DataError, match="10 rows"):
        prepare_table_generation(_config(tmp_path / "tiny.csv", "a"))
    for bad in (0, -3, 2.5, 10**7):
        with pytest.raises(ConfigError, match="Cannot generate"):
            check_count(bad)


def test_simple_image_generators_make_images_of_the_training_shape():
    x = (load_digits().images[:300] / 16.0)[..., None].astype(np.float32)
    made = baseline_samples(x, 10, 50, seed=0)
    assert set(made) == {"independent_pixels", "pca_gaussian", "pca_mixture"}
    for images in made.values():
        assert images.shape == (50, 8, 8, 1) and 0 <= images.min() and images.max() <= 1
    again = baseline_samples(x, 10, 50, seed=0)
    assert all(np.array_equal(made[k], again[k]) for k in made)  # seeded


def test_the_verdict_counts_a_lead_only_beyond_the_noise():
    assert round(auc_standard_error(0.5, 250, 250), 4) == 0.0258
    assert auc_standard_error(0.9, 250, 250) < auc_standard_error(0.6, 250, 250)  # separable: surer
    helps = generation_verdict("real_vs_synthetic_auc", False, (0.6, 0.03), {"gaussian_copula": (0.85, 0.02)}, 250)
    assert helps["code"] == "deep_learning_helps" and helps["evidence"]["best_baseline"] == "gaussian_copula"
    tie = generation_verdict("real_vs_synthetic_auc", False, (0.80, 0.03), {"gaussian_copula": (0.82, 0.03)}, 250)
    assert tie["code"] == "simpler_model_suffices" and "gaussian copula" in tie["message"]
    few = generation_verdict("confident_share", True, (0.9, 0.01), {"pca_gaussian": (0.2, 0.01)}, 50)
    assert few["code"] == "not_enough_data"
    best = generation_verdict("confident_share", True, (0.5, 0.01), {"a": (0.2, 0.01), "b": (0.7, 0.01)}, 500)
    assert best["evidence"]["best_baseline"] == "b" and best["code"] == "simpler_model_suffices"
