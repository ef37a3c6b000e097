"""One tool, one data set: train on train.csv, predict test.csv, write the predictions (run by bench/peers.py).

Runs under the tool's own virtual environment (see bench/peers_setup.sh), so it imports only that tool:

    python bench/peers_child.py TOOL TASK TARGET TRAIN TEST OUT WORKDIR

TOOL: deepwise | keras | ludwig | autokeras | sklearn. TASK: classification | regression. For images TRAIN and TEST are
folders holding images.npy + labels.npy (Ludwig reads the PNGs listed in TRAIN-png/index.csv). OUT receives
``{"predictions": [...], "peak_mb": ...}``. The parent times the whole process: interpreter start, imports, training
and predicting the test rows.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def is_images(path: Path) -> bool:
    return path.is_dir()


def run_deepwise(task, target, train, test, workdir):
    import deepwise

    run = deepwise.train(str(train), target=None if is_images(train) else target, runs_dir=workdir, verbose=False)
    data = str(test / "images.npy") if is_images(test) else str(test)
    return run.predict(data)["prediction"].to_numpy()


def run_sklearn(task, target, train, test, workdir):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x_train, y_train, x_test = _tables(train, test, target)
    model = HistGradientBoostingClassifier() if task == "classification" else HistGradientBoostingRegressor()
    model.fit(x_train, y_train)
    return model.predict(x_test)


def _tables(train, test, target):
    if is_images(train):
        x_train = np.load(train / "images.npy").reshape(-1, 28 * 28) / 255.0
        x_test = np.load(test / "images.npy").reshape(-1, 28 * 28) / 255.0
        return x_train, np.load(train / "labels.npy"), x_test
    tr, te = pd.read_csv(train), pd.read_csv(test)
    te = te.drop(columns=[target], errors="ignore")
    both = pd.get_dummies(pd.concat([tr.drop(columns=[target]), te], keys=["tr", "te"]), dtype=float)
    return both.loc["tr"].to_numpy(), tr[target].to_numpy(), both.loc["te"].to_numpy()


def run_keras(task, target, train, test, workdir):
    """A Keras network written by hand, the way a user writes one without any framework on top.

    Tables: scikit-learn imputes (median / most frequent), standardizes the numbers and one-hot encodes the
    categories; the target is label-encoded (classification) or standardized (regression). An MLP Dense 64-64 relu,
    Adam(1e-3), at most 200 epochs of batch 32 on the first 80 % of train.csv with the last 20 % for validation
    (``validation_split=0.2``), early stopping on the validation loss with patience 20, restoring the best weights.
    MNIST: the CNN of keras.io's "Simple MNIST convnet" example (conv 32 and 64 with max-pooling, dropout 0.5,
    softmax), trained as that example does (batch 128, 15 epochs) with the same validation split and callback.
    """
    import keras
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    keras.utils.set_random_seed(0)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True)
    if is_images(train):
        x_train = np.load(train / "images.npy")[..., None].astype("float32") / 255.0
        x_test = np.load(test / "images.npy")[..., None].astype("float32") / 255.0
        y_train = np.load(train / "labels.npy")
        model = keras.Sequential(
            [
                keras.Input(shape=x_train.shape[1:]),
                keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Flatten(),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(int(y_train.max()) + 1, activation="softmax"),
            ]
        )
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.2, callbacks=[stop], verbose=0)
        return model.predict(x_test, verbose=0).argmax(axis=1)
    tr, te = pd.read_csv(train), pd.read_csv(test)
    features = tr.drop(columns=[target])
    numbers = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    categories = [c for c in features.columns if c not in numbers]
    columns = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            (
                "categories",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                categories,
            ),
        ],
        sparse_threshold=0,
    )
    x_train = columns.fit_transform(features).astype("float32")
    x_test = columns.transform(te[features.columns]).astype("float32")
    if task == "classification":
        labels = LabelEncoder()
        y_train = labels.fit_transform(tr[target].astype(str))
        head, loss = keras.layers.Dense(len(labels.classes_), activation="softmax"), "sparse_categorical_crossentropy"
    else:
        scale = StandardScaler()
        y_train = scale.fit_transform(tr[[target]].to_numpy(dtype="float64")).ravel()
        head, loss = keras.layers.Dense(1), "mse"
    model = keras.Sequential(
        [
            keras.Input(shape=(x_train.shape[1],)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            head,
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(x_train, y_train, batch_size=32, epochs=200, validation_split=0.2, callbacks=[stop], verbose=0)
    out = model.predict(x_test, verbose=0)
    if task == "classification":
        return labels.inverse_transform(out.argmax(axis=1))
    return scale.inverse_transform(out).ravel()


def run_autokeras(task, target, train, test, workdir):
    import autokeras as ak

    if is_images(train):
        x = np.load(train / "images.npy")[..., None]
        model = ak.ImageClassifier(max_trials=1, overwrite=True, directory=workdir, seed=0)
        model.fit(x, np.load(train / "labels.npy"), verbose=0)
        return np.asarray(model.predict(np.load(test / "images.npy")[..., None], verbose=0)).reshape(-1)
    tr, te = pd.read_csv(train), pd.read_csv(test)
    cls = ak.StructuredDataClassifier if task == "classification" else ak.StructuredDataRegressor
    model = cls(max_trials=1, overwrite=True, directory=workdir, seed=0)
    text = [c for c in tr.columns if c != target and not pd.api.types.is_numeric_dtype(tr[c])]
    tr[text], te[text] = tr[text].fillna("NA"), te[text].fillna("NA")  # its encoder cannot sort NaN among strings
    x_train = tr.drop(columns=[target])
    y_train = tr[target].astype(str).to_numpy() if task == "classification" else tr[target].to_numpy()
    model.fit(x_train.to_numpy(), y_train, verbose=0)  # AutoKeras 3 takes numpy arrays only
    return np.asarray(model.predict(te[x_train.columns].to_numpy(), verbose=0)).reshape(-1)


def run_ludwig(task, target, train, test, workdir):
    import logging

    from ludwig.api import LudwigModel

    if is_images(train):
        tr = pd.read_csv(train.parent / f"{train.name}-png" / "index.csv")
        te = pd.read_csv(test.parent / f"{test.name}-png" / "index.csv")
        inputs = [{"name": "image_path", "type": "image"}]
    else:
        tr, te = pd.read_csv(train), pd.read_csv(test)
        inputs = [
            {"name": c, "type": "number" if pd.api.types.is_numeric_dtype(tr[c]) else "category"}
            for c in tr.columns
            if c != target
        ]
    kind = "category" if task == "classification" else "number"
    if kind == "category":
        tr[target] = tr[target].astype(str)
    config = {"input_features": inputs, "output_features": [{"name": target, "type": kind}]}
    model = LudwigModel(config, logging_level=logging.ERROR)
    model.train(dataset=tr, output_directory=str(workdir), skip_save_processed_input=True)
    predictions, _ = model.predict(dataset=te)
    return predictions[f"{target}_predictions"].to_numpy()


def peak_memory_mb() -> float:
    """This process's peak resident memory (and its children's), in MB.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this program's own memory. Not ``ru_maxrss``:
    Linux carries the parent's resident size over fork and exec into it, so a child started by a 1 GB parent
    reports at least 1 GB whatever it uses (measured: 870 MB for ``python -c pass`` under an 870 MB parent).
    """
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss (bytes on macOS)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(own / 2**20 if sys.platform == "darwin" else own / 1024, children)
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return max(kib / 1024, children)


def main() -> None:
    tool, task, target, train, test, out, workdir = sys.argv[1:8]
    os.makedirs(workdir, exist_ok=True)
    runner = {
        "deepwise": run_deepwise,
        "keras": run_keras,
        "sklearn": run_sklearn,
        "autokeras": run_autokeras,
        "ludwig": run_ludwig,
    }
    predictions = runner[tool](task, target, Path(train), Path(test), Path(workdir))
    listed = [p.item() if hasattr(p, "item") else p for p in predictions]
    Path(out).write_text(json.dumps({"predictions": listed, "peak_mb": peak_memory_mb()}))


if __name__ == "__main__":
    main()
