"""Predict on tables: deepwise's ``Run.predict`` on raw rows vs the same model in hand-written Keras.

For penguins and scikit-learn's wine and breast_cancer (the tables of overhead.py), one deepwise run each
(defaults), then the rows of its test split, raw as read from the CSV, predicted three ways:

- **deepwise**: ``run.predict(rows)`` (checks the columns, preprocesses, predicts, formats probabilities, and scores
  every row with the OOD guard), and the same call with the guard switched off;
- **hand-written pipeline**: what a Keras user writes to predict raw rows: a scikit-learn ``ColumnTransformer``
  (median imputation + standardization for numbers, most-frequent imputation + one-hot for categories) fitted on
  the run's training rows, then ``model.predict`` of the same network written by hand (the run's layers: Dense 64
  and 32 with dropout, trained 50 epochs on the pipeline's own columns, which are laid out differently from
  deepwise's), then the class labels from ``argmax``. "same labels" is how often the two agree;
- **bare model**: ``model.predict`` on rows already preprocessed (no reading of raw rows at all).

Each at two sizes: the test split, and the test rows repeated to ``--rows`` (the per-row regime). Every timing is
the median of ``--repeats`` calls after a warm-up (compilation excluded on all sides). The ratio against the
hand-written pipeline is the like-for-like one (both start from raw rows); the bare model is shown for what the
preprocessing costs on either side.

    .venv/bin/python bench/overhead_predict.py              # about 1 min on 2 idle cores
    .venv/bin/python bench/overhead_predict.py --data penguins --rows 10000 --repeats 3      # quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from overhead import datasets as tables  # noqa: E402  (the same three tables as the fit benchmark)

TARGET = 1.05


def median_ms(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def hand_written(run, train_rows: pd.DataFrame, train_labels: pd.Series):
    """The scikit-learn preprocessing and Keras MLP a Keras user would write, fitted on the run's training rows."""
    import keras
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = run.preprocessor
    transformer = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(prep.numeric)),
            (
                "categories",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                list(prep.categorical),
            ),
        ],
        sparse_threshold=0,
    ).fit(train_rows)
    classes = np.asarray(prep.classes_, dtype=object)
    x_train = transformer.transform(train_rows).astype(np.float32)
    y_train = pd.Series(train_labels.astype(str)).map({str(c): i for i, c in enumerate(classes)}).to_numpy()
    model = keras.Sequential(
        [keras.Input((x_train.shape[1],))]
        + [layer for units in (64, 32) for layer in (keras.layers.Dense(units, "relu"), keras.layers.Dropout(0.1))]
        + [keras.layers.Dense(len(classes), "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=50, batch_size=32, verbose=0)

    def predict(rows: pd.DataFrame) -> np.ndarray:
        x = transformer.transform(rows).astype(np.float32)
        return classes[model.predict(x, verbose=0, batch_size=1024).argmax(axis=1)]

    return predict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data", default="penguins,wine,breast_cancer", help="comma-separated data sets")
    args = parser.parse_args(argv)
    names = args.data.split(",")
    if set(names) - {"penguins", "wine", "breast_cancer"}:
        parser.error(f"--data {args.data}: choose among penguins, wine, breast_cancer")
    import deepwise

    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (path, target) in tables(Path(tmp)).items():
            if name not in names:
                continue
            run = deepwise.train(
                {"problem": {"target": target}, "data": {"path": str(path)}, "training": {"report": False}},
                runs_dir=Path(tmp) / "runs",
                verbose=False,
            )
            frame = pd.read_csv(path)
            test_index, train_index = _split_rows(run)
            pipeline = hand_written(run, frame.iloc[train_index], frame[target].iloc[train_index])
            for size_name, rows in (
                ("test split", frame.iloc[test_index].drop(columns=[target])),
                (f"{args.rows:,} rows", _repeat(frame.iloc[test_index].drop(columns=[target]), args.rows)),
            ):
                timings, agree = measure(run, rows, pipeline, args.repeats)
                rows_out.append((name, f"{size_name} ({len(rows):,})", *timings, agree))
                print(f"{name} {size_name}: " + ", ".join(f"{t:.1f} ms" for t in timings), flush=True)
    print(
        "\n| data | rows | deepwise | without the guard | hand-written pipeline | bare model.predict | ratio | "
        "ratio without the guard | same labels |\n|---|---|---|---|---|---|---|---|---|"
    )
    for name, size, ours_ms, no_guard_ms, theirs_ms, bare_ms, agree in rows_out:
        print(
            f"| {name} | {size} | {ours_ms:.1f} ms | {no_guard_ms:.1f} ms | {theirs_ms:.1f} ms | {bare_ms:.1f} ms | "
            f"{ours_ms / theirs_ms:.2f}x | {no_guard_ms / theirs_ms:.2f}x | {agree:.1%} |"
        )
    print(f"\nTarget (issue 9): at most {TARGET:.2f}x against the hand-written pipeline.")
    return 0


def measure(run, rows: pd.DataFrame, pipeline, repeats: int) -> tuple[list[float], float]:
    """Milliseconds of: deepwise, deepwise without the guard, the hand-written pipeline, the bare model."""
    from deepwise.kinds.feeding import model_input

    prepared = model_input(run.preprocessor.transform(rows))

    def ours():
        return run.predict(rows)

    def ours_without_guard():
        return run.predict(rows, guard=False)

    def theirs():
        return pipeline(rows)

    def bare():
        return run.model.predict(prepared, verbose=0, batch_size=1024)

    agree = float(np.mean(ours()["prediction"].astype(str).to_numpy() == theirs().astype(str)))
    return [median_ms(fn, repeats) for fn in (ours, ours_without_guard, theirs, bare)], agree


def _split_rows(run) -> tuple[np.ndarray, np.ndarray]:
    """The run's own test and training rows (the split is rebuilt from the run's resolved config)."""
    from deepwise.train import prepare

    data = prepare(run.config)
    return np.asarray(data.splits["test"]), np.asarray(data.splits["train"])


def _repeat(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    return rows.iloc[np.arange(n) % len(rows)].reset_index(drop=True)


if __name__ == "__main__":
    sys.exit(main())
