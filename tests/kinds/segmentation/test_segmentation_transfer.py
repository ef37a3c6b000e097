"""Transfer learning for segmentation (``model.from_run``): a new U-Net starts from an earlier segmentation run's
encoder; runs of another kind, other channels or a conflicting size are user errors (problem, expected, fix).

The earlier run here is tiny (one epoch of 2 batches on bright disks): these tests check what is copied and what is
refused, not whether transfer helps (README's segmentation section gives that measurement). Tests that need it are
slow (training it, baselines and guard included, takes 15-50 s on 2 busy cores); the refusals that need no earlier
segmentation run are fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepwise
from deepwise.config import Config
from deepwise.errors import ConfigError, DeepwiseError, RunError
from deepwise.kinds.segmentation.synthetic import high_contrast_set, shapes_set, write_set
from deepwise.kinds.segmentation.transfer import is_encoder_layer
from deepwise.train import prepare
from deepwise.training.model import build_model

TINY = {"training": {"epochs": 1, "report": False}, "segmentation": {"steps_per_epoch": 2}}


def _config(folder: Path, **extra) -> dict:
    config = {"problem": {"target": "label"}, "data": {"path": str(folder)}, **TINY}
    for section, values in extra.items():
        config[section] = {**config.get(section, {}), **values}
    return config


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A segmentation run on 12 images of bright disks (64 x 64, grayscale): a U-Net of depth 3, 16 filters."""
    root = tmp_path_factory.mktemp("earlier")
    folder = write_set(root / "disks", *high_contrast_set(12, 64, seed=0))
    return deepwise.train(_config(folder), runs_dir=root / "runs", verbose=False)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """Another set: 4 classes (background, circle, rectangle, triangle) on textured backgrounds."""
    return write_set(tmp_path_factory.mktemp("shapes") / "shapes", *shapes_set(12, 64, seed=1))


def _encoder_weights(model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in model.layers
            if layer.weights and is_encoder_layer(layer.name)}  # fmt: skip


@pytest.mark.slow
def test_a_new_unet_starts_from_the_earlier_runs_encoder(earlier, shapes):
    data = prepare(Config.model_validate(_config(shapes, model={"from_run": str(earlier.path)})))
    model = build_model(data)  # what training starts from (seeded, compiled)
    before = _encoder_weights(earlier.model)
    after = _encoder_weights(model)
    assert set(after) == set(before) and len(after) == 16  # 3 levels + bottleneck: 2 convolutions, 2 batch norms
    for name, weights in before.items():
        for a, b in zip(weights, after[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    # the decoder and the output layer are new: 4 classes here, 2 in the earlier run
    assert model.get_layer("classes").get_weights()[0].shape[-1] == 4
    assert not np.array_equal(model.get_layer("up0_conv1").get_weights()[0],
                              earlier.model.get_layer("up0_conv1").get_weights()[0])  # fmt: skip
    # the input standardization is this set's own (the shapes' pixels are brighter on average than the disks')
    assert not np.allclose(model.get_layer("standardize").mean, earlier.model.get_layer("standardize").mean)
    assert data.config.model.freeze_base is False  # as for an earlier deepwise CNN: the encoder trains on
    assert all(w.trainable for w in model.weights if "down0_conv1" in w.path)
    text = data.describe_network(model)
    assert "Transfer learning from the earlier run" in text and "trained on with the decoder" in text


@pytest.mark.slow
def test_freeze_base_keeps_the_encoder_fixed(earlier, shapes):
    config = _config(shapes, model={"from_run": str(earlier.path), "freeze_base": True})
    data = prepare(Config.model_validate(config))
    model = build_model(data)
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable]
    assert sorted(frozen) == sorted(_encoder_weights(model)) and "up0_conv1" not in frozen
    assert "fixed (only the decoder learns)" in data.describe_network(model)


def _message(err: DeepwiseError) -> str:
    assert err.expected and err.fix, "a user error says what was expected and how to fix it"
    return err.message


def test_a_run_of_another_kind_is_refused(penguins_run, shapes):
    with pytest.raises(ConfigError) as caught:
        prepare(Config.model_validate(_config(shapes, model={"from_run": str(penguins_run.path)})))
    text = _message(caught.value)
    assert "is a table run" in text and "segmentation run" in text


def test_a_folder_that_is_no_run_is_refused(tmp_path, shapes):
    with pytest.raises(RunError) as caught:
        prepare(Config.model_validate(_config(shapes, model={"from_run": str(tmp_path)})))
    assert "is not a deepwise run" in _message(caught.value)


@pytest.mark.slow
def test_other_channels_are_refused(earlier, tmp_path):
    images, masks, names = high_contrast_set(12, 64, seed=2)
    colour = write_set(tmp_path / "colour", [np.repeat(im, 3, axis=-1) for im in images], masks, names)
    with pytest.raises(ConfigError) as caught:
        prepare(Config.model_validate(_config(colour, model={"from_run": str(earlier.path)})))
    text = _message(caught.value)
    assert "1 channel(s)" in text and "have 3" in text


def test_fine_tune_layers_are_refused(penguins_run, shapes):
    fine_tune = _config(shapes, model={"from_run": str(penguins_run.path), "fine_tune_layers": 4})
    with pytest.raises(ConfigError) as caught:
        prepare(Config.model_validate(fine_tune))
    assert "fine_tune_layers: 4 is not available for segmentation" in _message(caught.value)


@pytest.mark.slow
def test_a_conflicting_size_is_refused_from_the_cli(earlier, shapes, cli, tmp_path):
    import yaml

    conflicting = _config(shapes, model={"from_run": str(earlier.path)}, segmentation={"depth": 2})
    with pytest.raises(ConfigError) as caught:
        prepare(Config.model_validate(conflicting))
    assert "segmentation.depth: 2 differs from the earlier run's 3" in _message(caught.value)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(conflicting))
    result = cli("train", config_file, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "segmentation.depth" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_an_image_classifier_is_refused_with_the_reason(tmp_path, shapes):
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for i, (img, y) in enumerate(zip(d.images[:200], d.target[:200], strict=True)):
        (tmp_path / "digits" / str(y)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255 / 16).astype(np.uint8)).save(tmp_path / "digits" / str(y) / f"{i}.png")
    classifier = deepwise.train({"data": {"path": str(tmp_path / "digits")}, "problem": {"target": "label"},
                                 "training": {"epochs": 1, "report": False}}, runs_dir=tmp_path / "runs",
                                verbose=False)  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        prepare(Config.model_validate(_config(shapes, model={"from_run": str(classifier.path)})))
    text = _message(caught.value)
    assert "image classification run" in text and "two per level" in text


@pytest.mark.slow
def test_a_transferred_run_trains_saves_and_predicts(earlier, shapes, tmp_path):
    """The whole path with a frozen encoder: after training the encoder still holds the earlier run's weights, the
    decoder has learned, and the saved run predicts 4-class masks."""
    config = _config(shapes, model={"from_run": str(earlier.path), "freeze_base": True})
    run = deepwise.train(config, runs_dir=tmp_path / "runs", verbose=False)
    before, after = _encoder_weights(earlier.model), _encoder_weights(run.model)
    for name, weights in before.items():
        for a, b in zip(weights, after[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    fresh = prepare(Config.model_validate(config))
    assert not np.array_equal(run.model.get_layer("up0_conv1").get_weights()[0],
                              build_model(fresh).get_layer("up0_conv1").get_weights()[0])  # fmt: skip
    assert run.config.model.from_run == str(earlier.path)
    frame = run.predict(str(shapes / "images"))
    assert len(frame) == 12 and {"share_circle", "share_triangle"} <= set(frame.columns)
