"""``deepwise export RUN --format script`` for an image run: the CNN as a plain Keras script to read and run.

The script lists the images as deepwise does (a folder of class sub-folders, sorted; or ``images.npy`` with
``labels.npy``), makes the same stratified train / validation / test split, decodes and resizes each image with
Pillow exactly as deepwise does (grayscale or RGB, bilinear), builds the same CNN (augmentation layers if the run
had them, rescaling to 0-1, 3x3 convolutions with max-pooling, global pooling or flatten, the dense head), trains
it with the run's optimizer, batch size and early stopping, and prints its test accuracy next to the run's.

Available for image classification runs with a CNN from scratch; a pretrained base or ``model.from_run`` needs
weights the script cannot rebuild, and raises an error that says so.

Example:
    >>> Path("train.py").write_text(image_script(load_run("runs/digits-20260101-120000")))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepwise.kinds.script import check_random_split, unsupported
from deepwise.models.cnn import BN_MOMENTUM, default_pooling


def image_script(run: Any) -> str:
    """The Python source of a standalone script that retrains the run's CNN on the run's images."""
    cfg = run.config
    model = cfg.model
    if model.type != "cnn" or model.from_run:
        what = "a CNN transferred from an earlier run" if model.from_run else f"a {model.type} image model"
        raise unsupported(run, what)
    if cfg.data.image_column:
        raise unsupported(run, "an image run read from a CSV of paths")
    check_random_split(run)
    data = Path(str(cfg.data.path))
    arrays = data.suffix == ".npy" or (data / "images.npy").is_file()
    aug = cfg.data.augmentation
    metrics = run.metrics
    size = list(cfg.data.image_size)
    values: dict[str, Any] = {
        "data": str(data),
        "arrays": arrays,
        "image_size": size,
        "channels": int(cfg.data.channels),
        "seed": int(cfg.seed),
        "validation": float(cfg.data.split.validation),
        "test": float(cfg.data.split.test_fraction(False)),
        "stratify": bool(cfg.data.split.stratify),
        "conv_filters": list(model.conv_filters),
        "batch_norm": bool(model.batch_norm),
        "bn_momentum": BN_MOMENTUM,
        "pooling": model.pooling or default_pooling(size),
        "hidden_units": list(model.hidden_units),
        "activation": model.activation,
        "dropout": float(model.dropout or 0.0),
        "l2": float(model.l2),
        "flip": bool(aug.flip),
        "rotation": float(aug.rotation),
        "zoom": float(aug.zoom),
        "translation": float(aug.translation),
        "contrast": float(aug.contrast),
        "learning_rate": float(cfg.training.learning_rate),
        "batch_size": int(cfg.training.batch_size or 16),
        "epochs": int(cfg.training.epochs),
        "patience": int(cfg.training.early_stopping.patience or 20),
        "min_delta": float(cfg.training.early_stopping.min_delta or 0.0),
        "early_stopping": bool(cfg.training.early_stopping.enabled),
        "run_score": round(float(metrics["test"]["accuracy"]), 4),
    }
    binary = metrics.get("output", run.task) == "binary" or len(run.preprocessor.classes_) == 2
    return SCRIPT.format(
        **{key: repr(value) for key, value in values.items()},
        name_plain=run.path.name,
        optimizer={"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}[cfg.training.optimizer],
        output_layer=OUTPUT_BINARY if binary else OUTPUT_CLASSES,
        loss='"binary_crossentropy"' if binary else '"sparse_categorical_crossentropy"',
        score=SCORE_BINARY if binary else SCORE_CLASSES,
    )


OUTPUT_CLASSES = 'outputs = keras.layers.Dense(len(classes), activation="softmax", name="output")(x)\n'
OUTPUT_BINARY = 'outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)  # P(the second class)\n'
SCORE_CLASSES = "predicted = model.predict(x_test, verbose=0).argmax(axis=1)\n"
SCORE_BINARY = 'predicted = (model.predict(x_test, verbose=0).reshape(-1) >= 0.5).astype("int32")\n'

SCRIPT = '''\
"""{name_plain} as plain Keras: the image classifier deepwise trained, rebuilt step by step.

Written by `deepwise export {name_plain} --format script`. It needs only Keras (with a backend: JAX, TensorFlow or
PyTorch), NumPy, scikit-learn and Pillow. Run it with `python train.py`; it prints its test accuracy next to the
run's ({run_score}). Scores differ a little between runs of a network (random initial weights, random batches).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # deepwise's backend; Keras picks TensorFlow when this is unset

from pathlib import Path

import keras
import numpy as np
from PIL import Image
from sklearn.model_selection import train_test_split

DATA = Path({data})
IMAGE_SIZE, CHANNELS = {image_size}, {channels}  # [height, width]; 1 = grayscale, 3 = colour
SEED = {seed}
keras.utils.set_random_seed(SEED)  # https://keras.io/api/utils/python_utils/#setrandomseed-function


# 1. The images and their classes: a folder of class sub-folders (each file's class is its folder's name), or
#    images.npy with labels.npy beside it.
def to_pixels(image):
    """One image (a Pillow image) as uint8 pixels [height, width, channels], resized as deepwise resizes it."""
    image = image.convert("L" if CHANNELS == 1 else "RGB")
    if image.size != (IMAGE_SIZE[1], IMAGE_SIZE[0]):
        image = image.resize((IMAGE_SIZE[1], IMAGE_SIZE[0]), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8).reshape(IMAGE_SIZE[0], IMAGE_SIZE[1], CHANNELS)


if {arrays}:
    images_file = DATA if DATA.suffix == ".npy" else DATA / "images.npy"
    array = np.load(images_file, allow_pickle=False)
    labels_file = images_file.with_name(images_file.name.replace("images", "labels"))
    labels = [str(v) for v in np.load(labels_file, allow_pickle=False)]
    if array.dtype != np.uint8:  # floats in 0..1 are scaled to 0..255
        array = np.clip(np.nan_to_num(array * (255.0 if array.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    pixels = np.stack([to_pixels(Image.fromarray(a if a.ndim == 2 else a[..., :3])) for a in array])
else:
    files, labels = [], []
    for folder in sorted(d for d in DATA.iterdir() if d.is_dir() and not d.name.startswith(".")):
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        files += found
        labels += [folder.name] * len(found)
    pixels = np.stack([to_pixels(Image.open(path)) for path in files])

classes = sorted(set(labels))
y = np.array([classes.index(label) for label in labels], dtype="int32")
print(f"{{len(y)}} images of {{len(classes)}} classes, {{IMAGE_SIZE[0]}}x{{IMAGE_SIZE[1]}}x{{CHANNELS}} pixels")

# 2. Train / validation / test images: the same two seeded, stratified splits deepwise makes. The test images are
#    used once, at the end; validation images decide when to stop training.
positions = np.arange(len(y))
n_test, n_validation = int(np.ceil({test} * len(y))), int(np.ceil({validation} * len(y)))
stratify = np.array(labels) if {stratify} else None
rest, test = train_test_split(positions, test_size=n_test, random_state=SEED, stratify=stratify)
train, validation = train_test_split(
    rest, test_size=n_validation, random_state=SEED, stratify=None if stratify is None else stratify[rest]
)
train, validation, test = np.sort(train), np.sort(validation), np.sort(test)
x_train, x_validation, x_test = pixels[train], pixels[validation], pixels[test]

# 3. The network takes raw pixels (0-255). Augmentation layers change training batches only
#    (https://keras.io/api/layers/preprocessing_layers/image_augmentation/); a Rescaling layer maps pixels to 0-1.
inputs = keras.Input(shape=(IMAGE_SIZE[0], IMAGE_SIZE[1], CHANNELS), name="features")
x = inputs
FLIP, ROTATION, ZOOM, TRANSLATION, CONTRAST = {flip}, {rotation}, {zoom}, {translation}, {contrast}
if FLIP:
    x = keras.layers.RandomFlip("horizontal", seed=SEED)(x)
if ROTATION:
    x = keras.layers.RandomRotation(ROTATION, seed=SEED)(x)
if ZOOM:
    x = keras.layers.RandomZoom(ZOOM, seed=SEED)(x)
if TRANSLATION:
    x = keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=SEED)(x)
if CONTRAST:
    x = keras.layers.RandomContrast(CONTRAST, value_range=(0, 255), seed=SEED)(x)
x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)

# 4. Convolution blocks (https://keras.io/api/layers/convolution_layers/convolution2d/): 3x3 filters that slide over
#    the image, then max-pooling (https://keras.io/api/layers/pooling_layers/max_pooling2d/) halves its height and
#    width (small images stay at least 4x4). Then one vector per image: flatten (keeps where each feature is) or
#    global average pooling.
CONV_FILTERS, BATCH_NORM, POOLING = {conv_filters}, {batch_norm}, {pooling}
for block, filters in enumerate(CONV_FILTERS, start=1):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=not BATCH_NORM, name=f"conv{{block}}")(x)
    if BATCH_NORM:
        x = keras.layers.BatchNormalization(momentum={bn_momentum}, name=f"conv{{block}}_bn")(x)
    x = keras.layers.Activation({activation}, name=f"conv{{block}}_act")(x)
    if min(x.shape[1], x.shape[2]) > 4:
        x = keras.layers.MaxPooling2D(2, name=f"pool{{block}}")(x)
x = {{"average": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D,
      "flatten": keras.layers.Flatten}}[POOLING](name="embedding")(x)

# 5. Dense layers (https://keras.io/api/layers/core_layers/dense/), each followed by dropout
#    (https://keras.io/api/layers/regularization_layers/dropout/), then one output per class.
HIDDEN_UNITS, DROPOUT, L2 = {hidden_units}, {dropout}, {l2}
for i, units in enumerate(HIDDEN_UNITS, start=1):
    regularizer = keras.regularizers.L2(L2) if L2 > 0 else None
    x = keras.layers.Dense(units, activation={activation}, kernel_regularizer=regularizer, name=f"dense_{{i}}")(x)
    if BATCH_NORM:
        x = keras.layers.BatchNormalization(name=f"batch_norm_{{i}}")(x)
    if DROPOUT > 0:
        x = keras.layers.Dropout(DROPOUT, name=f"dropout_{{i}}")(x)
{output_layer}model = keras.Model(inputs, outputs)
model.summary()

# 6. The loss and optimizer (https://keras.io/api/losses/, https://keras.io/api/optimizers/), and training with
#    early stopping on the validation loss, keeping the best epoch's weights
#    (https://keras.io/api/callbacks/early_stopping/).
model.compile(optimizer=keras.optimizers.{optimizer}(learning_rate={learning_rate}), loss={loss})
callbacks = (
    [keras.callbacks.EarlyStopping(monitor="val_loss", patience={patience}, min_delta={min_delta},
                                   restore_best_weights=True)]
    if {early_stopping} else []
)
history = model.fit(
    x_train, y[train], validation_data=(x_validation, y[validation]),
    epochs={epochs}, batch_size={batch_size}, callbacks=callbacks, verbose=0,
)
print(f"trained {{len(history.history['loss'])}} epochs")

# 7. The one test measurement.
{score}score = float((predicted == y[test]).mean())
print(f"test accuracy: {{score:.4f}} (the deepwise run: {run_score})")
'''
