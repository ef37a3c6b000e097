"""The same deepwise runs under each Keras backend: JAX (deepwise's default), TensorFlow and PyTorch.

Each backend runs in its own process and environment: JAX in `.venv`, TensorFlow in `.venv-tensorflow`, PyTorch in
`.venv-torch` (`make test-backends` creates both). A backend whose environment is missing is reported as not
installed, not measured. Every run trains a fixed number of epochs (no early stopping) so that the backends do the
same work; printed: the fit time, the time per epoch after the first (which compiles), the whole process, and the
test score.

    .venv/bin/python bench/backends.py                  # penguins, digits 8x8 and the Basel forecast, 3 backends
    .venv/bin/python bench/backends.py --quick          # penguins only, 10 epochs

The result line starts with "backends:".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = {"jax": ROOT / ".venv/bin/python", "tensorflow": ROOT / ".venv-tensorflow/bin/python",
          "torch": ROOT / ".venv-torch/bin/python"}  # fmt: skip

CHILD = r"""
import json, sys, time
import numpy as np, pandas as pd
import deepwise
name, epochs, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
root = "{root}"
fixed = {{"epochs": epochs, "report": False, "early_stopping": {{"enabled": False}}}}
if name == "penguins":
    config = {{"problem": {{"target": "species"}}, "data": {{"path": root + "/examples/penguins/penguins.csv"}}}}
elif name == "digits":
    from sklearn.datasets import load_digits
    digits = load_digits()
    np.save(folder + "/images.npy", (digits.images * 255 / 16).astype(np.uint8))
    np.save(folder + "/labels.npy", digits.target)
    config = {{"problem": {{"target": "label"}}, "data": {{"path": folder}}}}
else:
    frame = pd.read_csv(root + "/examples/weather/weather_prediction_dataset.csv")
    frame[["DATE", "BASEL_sunshine", "BASEL_temp_mean", "BASEL_humidity"]].to_csv(folder + "/basel.csv", index=False)
    config = {{"problem": {{"target": "BASEL_sunshine", "task": "forecasting"}},
              "data": {{"path": folder + "/basel.csv", "time_column": "DATE"}}}}
run = deepwise.train({{**config, "training": fixed}}, runs_dir=folder + "/runs", verbose=False)
seconds = [float(s) for s in run.history["seconds"]] if "seconds" in run.history else []
main = run.metrics["main_metric"]
epoch = float(np.median(seconds[1:] or seconds or [0]))
print("RESULT " + json.dumps({{"fit": run.manifest["timings"]["fit"], "epoch": epoch, "metric": main,
      "score": run.metrics["test"][main], "backend": run.manifest["versions"]["backend"]}}))
"""


def measure(backend: str, data: str, epochs: int) -> dict | None:
    python = PYTHON[backend]
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [str(python), "-c", CHILD.format(root=ROOT), data, str(epochs), folder],
            env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        whole = time.perf_counter() - started
    line = next((row for row in done.stdout.splitlines() if row.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{backend} on {data} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(line[7:]), "whole": whole}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--quick", action="store_true", help="penguins only, 10 epochs")
    args = parser.parse_args()
    jobs = [("penguins", 10)] if args.quick else [("penguins", 100), ("digits", 10), ("weather", 20)]
    print("| data | epochs | backend | fit | per epoch (after the first) | whole process | test score |")
    print("|---|---|---|---|---|---|---|")
    measured = []
    for data, epochs in jobs:
        for backend in args.backends.split(","):
            found = measure(backend, data, epochs)
            if found is None:
                print(f"| {data} | {epochs} | {backend} | not installed (`make test-backends` creates it) | | | |")
                continue
            assert found["backend"] == backend, found
            measured.append(backend)
            print(f"| {data} | {epochs} | {backend} | {found['fit']:.1f} s | {found['epoch'] * 1000:.0f} ms "
                  f"| {found['whole']:.1f} s | {found['metric']} {found['score']:.3f} |", flush=True)  # fmt: skip
    print(f"backends: measured {', '.join(sorted(set(measured)))}", file=sys.stdout)


if __name__ == "__main__":
    main()
