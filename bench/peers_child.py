"""One tool, one data set: train on train.csv, predict test.csv, write the predictions (run by bench/peers.py).

Runs under the tool's own virtual environment (see bench/peers_setup.sh), so it imports only that tool:

    python bench/peers_child.py TOOL TASK TARGET TRAIN TEST OUT WORKDIR

TOOL: deepwise | ludwig | autokeras | sklearn. TASK: classification | regression. For images TRAIN and TEST are
folders holding images.npy + labels.npy (Ludwig reads the PNGs listed in TRAIN-png/index.csv). The parent times
the whole process: interpreter start, imports, training and predicting the test rows.
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


def main() -> None:
    tool, task, target, train, test, out, workdir = sys.argv[1:8]
    os.makedirs(workdir, exist_ok=True)
    runner = {"deepwise": run_deepwise, "sklearn": run_sklearn, "autokeras": run_autokeras, "ludwig": run_ludwig}
    predictions = runner[tool](task, target, Path(train), Path(test), Path(workdir))
    Path(out).write_text(json.dumps([p.item() if hasattr(p, "item") else p for p in predictions]))


if __name__ == "__main__":
    main()
