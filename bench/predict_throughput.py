"""How fast does a run predict: rows per second for a batch (in memory and CSV to CSV through the CLI) and the
latency of one row, each next to the bare Keras model on the same, already preprocessed, rows.

deepwise's predict adds reading, preprocessing, the out-of-distribution guard and writing to the model's own work;
the ratio says what that costs. The run is a penguins run trained at the start (defaults, seed 42); the rows are
penguins rows drawn with replacement.

Usage:
    python bench/predict_throughput.py                  # 1,000,000 rows (about a minute on 2 cores)
    python bench/predict_throughput.py --rows 100000    # quicker
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import deepwise  # noqa: E402
from deepwise.kinds.feeding import model_input  # noqa: E402
from deepwise.models.inference import chunk_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=200, help="single-row calls to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = pd.read_csv(PENGUINS).drop(columns=["species"])
        rows = frame.sample(args.rows, replace=True, random_state=0).reset_index(drop=True)
        csv = tmp / "rows.csv"
        rows.to_csv(csv, index=False)
        run = deepwise.train(PENGUINS, target="species", runs_dir=tmp / "runs", verbose=False)
        model, prep = run.model, run.preprocessor
        x = model_input(prep.transform(rows))
        model.predict(model_input(prep.transform(rows.head(4096))), batch_size=4096, verbose=0)  # compile
        size = chunk_rows(x)  # Run.predict's chunk: warm up its full chunk and the padded last one
        run.predict(rows.head(size + args.rows % size))

        start = time.perf_counter()
        model.predict(x, batch_size=4096, verbose=0)
        keras_s = time.perf_counter() - start
        start = time.perf_counter()
        out = run.predict(rows)
        api_s = time.perf_counter() - start
        start = time.perf_counter()
        run.predict(rows, guard=False)
        api_no_guard_s = time.perf_counter() - start
        cli_s = {}
        for flags in ((), ("--no-guard",)):
            start = time.perf_counter()
            cli = subprocess.run(
                [sys.executable, "-m", "deepwise.cli", "predict", str(run.path), str(csv), "-o", str(tmp / "o.csv")]
                + list(flags),
                capture_output=True,
                text=True,
            )
            cli_s[flags] = time.perf_counter() - start
            if cli.returncode != 0:
                sys.exit(f"deepwise predict failed:\n{cli.stdout}\n{cli.stderr}")

        one = rows.head(1)
        one_x = model_input(prep.transform(one))
        keras_one, api_one = [], []
        for _ in range(args.single):
            t = time.perf_counter()
            model.predict_on_batch(one_x)
            keras_one.append(time.perf_counter() - t)
            t = time.perf_counter()
            run.predict(one)
            api_one.append(time.perf_counter() - t)

    n = args.rows
    print(f"deepwise predict, penguins run, {n:,} rows; {platform.machine()}, {os.cpu_count()} CPU cores")
    print(f"  bare Keras model.predict on preprocessed arrays: {keras_s:6.2f} s  {n / keras_s:12,.0f} rows/s")
    print(
        f"  Run.predict (preprocess + model + guard), in memory: {api_s:6.2f} s  {n / api_s:12,.0f} rows/s  "
        f"({api_s / keras_s:.1f}x the bare model; {out['ood'].mean():.2%} flagged)"
    )
    print(
        f"  Run.predict(guard=False), in memory:                {api_no_guard_s:6.2f} s  "
        f"{n / api_no_guard_s:12,.0f} rows/s  ({api_no_guard_s / keras_s:.1f}x the bare model)"
    )
    for flags, seconds in cli_s.items():
        name = " ".join(("deepwise predict", *flags))
        print(f"  {name} CSV -> CSV (process start included): {seconds:6.2f} s  {n / seconds:12,.0f} rows/s")
    ms = {name: (np.median(t) * 1e3, np.percentile(t, 99) * 1e3) for name, t in (("k", keras_one), ("a", api_one))}
    print(
        f"  one row: bare model median {ms['k'][0]:.2f} ms (p99 {ms['k'][1]:.2f}), "
        f"Run.predict median {ms['a'][0]:.2f} ms (p99 {ms['a'][1]:.2f})"
    )
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
