"""How much does deepwise cost on top of hand-written Keras? Same MLP, same arrays, same backend, one process.

For each data set (penguins, and scikit-learn's wine and breast_cancer written to CSV) this times:

- ``keras``: the MLP written by hand with ``keras.layers`` (Dense 64 relu, Dropout 0.1, Dense 32 relu, Dropout 0.1,
  softmax/sigmoid output), compiled with Adam(1e-3) and the task's loss and metrics, trained with
  ``model.fit(x, y, validation_data=..., epochs=E, batch_size=32, verbose=0)`` on the arrays that
  ``deepwise.train.prepare`` produces. Timed twice: after one ``train_on_batch`` warm-up (``keras fit``, like
  deepwise, whose probe compiles the train step before its fit timer starts) and cold, compilation included
  (``keras cold``).
- ``deepwise``: ``deepwise.train(config)`` with early stopping off and the same number of epochs; the fit time is
  ``manifest.json`` ``timings["fit"]``, the probe time ``timings["probe"]``, and the whole call is timed as well.
  Three ways: ``quiet`` (``verbose=False``), ``console`` (``verbose=True``, a rich Console writing to a StringIO,
  i.e. output redirected to a file) and ``tty`` (the same, but rich told it is a terminal, so it redraws the
  progress bar as it would on screen).

Each measurement is repeated ``--repeats`` times, alternating which side goes first, and the median is reported.
The main ratio is deepwise fit (quiet) / keras fit (warm); the target is at most 1.10.

Usage:
    python bench/overhead.py                 # 100 epochs, 3 repeats (a few minutes on 2 cores)
    python bench/overhead.py --quick         # smoke run: 5 epochs, 1 repeat
    python bench/overhead.py --epochs 200 --repeats 5 --json results.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402

import deepwise  # noqa: E402  (chooses the backend before Keras is imported)
from deepwise.runs import read_json  # noqa: E402
from deepwise.train import model_input, prepare, resolve_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"
TARGET_RATIO = 1.10
DEEPWISE_MODES = ("quiet", "console", "tty")

# The output layer and loss written by hand (not taken from deepwise), per task.
HEADS = {
    "multiclass": ("softmax", "sparse_categorical_crossentropy"),
    "binary": ("sigmoid", "binary_crossentropy"),
}


# ------------------------------------------------------------------------------------------------------ data sets


def datasets(directory: Path) -> dict[str, tuple[Path, str]]:
    """name -> (CSV path, target column)."""
    from sklearn import datasets as sk

    out = {"penguins": (PENGUINS, "species")}
    for name in ("wine", "breast_cancer"):
        path = directory / f"{name}.csv"
        getattr(sk, f"load_{name}")(as_frame=True).frame.to_csv(path, index=False)
        out[name] = (path, "target")
    return out


def config_dict(path: Path, target: str, epochs: int) -> dict:
    return {
        "problem": {"target": target},
        "data": {"path": str(path)},
        "training": {"epochs": epochs, "batch_size": 32, "early_stopping": {"enabled": False}},
    }


# ---------------------------------------------------------------------------------------------------- deepwise


def time_deepwise(config: dict, runs_dir: Path, mode: str) -> dict[str, float]:
    """One deepwise.train; fit/probe from the manifest, whole = the call's wall time."""
    if mode == "quiet":
        kwargs = {"verbose": False}
    else:
        console = Console(file=io.StringIO(), force_terminal=mode == "tty", width=120)
        kwargs = {"verbose": True, "console": console}
    start = time.perf_counter()
    run = deepwise.train(config, runs_dir=runs_dir, **kwargs)
    whole = time.perf_counter() - start
    timings = read_json(run.path / "manifest.json")["timings"]
    return {"fit": timings["fit"], "probe": timings["probe"], "whole": whole, "params": run.manifest["parameters"]}


# -------------------------------------------------------------------------------------------------- plain Keras


def keras_arrays(config: dict):
    """The exact arrays deepwise trains on (same split, same preprocessing)."""
    data = prepare(resolve_config(config))
    if data.task.name not in HEADS or list(data.x["train"]) != ["features"]:
        raise SystemExit(f"bench: the hand-written model covers one-array classification only ({data.task.name})")
    x = model_input(data.x["train"])
    xv = model_input(data.x["validation"])
    n_out = data.n_classes if data.task.name == "multiclass" else 1
    return data.task.name, n_out, x, data.y["train"], xv, data.y["validation"], data.config.seed


def hand_written_model(task: str, n_features: int, n_out: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    activation, loss = HEADS[task]
    inputs = keras.Input(shape=(n_features,), dtype="float32", name="features")
    h = keras.layers.Dense(64, activation="relu")(inputs)
    h = keras.layers.Dropout(0.1)(h)
    h = keras.layers.Dense(32, activation="relu")(h)
    h = keras.layers.Dropout(0.1)(h)
    outputs = keras.layers.Dense(n_out, activation=activation)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss, metrics=["accuracy"])
    return model


def time_keras(arrays, epochs: int, warm: bool) -> tuple[float, int]:
    task, n_out, x, y, xv, yv, seed = arrays
    model = hand_written_model(task, x.shape[1], n_out, seed)
    if warm:
        model.train_on_batch(x[:32], y[:32])  # compile the train step, as deepwise's probe does
    start = time.perf_counter()
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return time.perf_counter() - start, model.count_params()


# ------------------------------------------------------------------------------------------------------- driver


def measure(name: str, config: dict, runs_dir: Path, epochs: int, repeats: int) -> dict:
    arrays = keras_arrays(config)
    samples: dict[str, list[float]] = {
        "keras_fit": [],
        "keras_cold": [],
        **{f"dw_{m}_{k}": [] for m in DEEPWISE_MODES for k in ("fit", "probe", "whole")},
    }
    params = {}

    def run_keras():
        seconds, params["keras"] = time_keras(arrays, epochs, warm=True)
        samples["keras_fit"].append(seconds)
        samples["keras_cold"].append(time_keras(arrays, epochs, warm=False)[0])

    def run_deepwise():
        for mode in DEEPWISE_MODES:
            result = time_deepwise(config, runs_dir, mode)
            params["deepwise"] = result["params"]
            for key in ("fit", "probe", "whole"):
                samples[f"dw_{mode}_{key}"].append(result[key])

    for r in range(repeats):
        order = (run_deepwise, run_keras) if r % 2 == 0 else (run_keras, run_deepwise)
        for step in order:
            step()
        print(
            f"  {name} repeat {r + 1}/{repeats}: keras fit {samples['keras_fit'][-1]:.2f} s, "
            f"deepwise fit {samples['dw_quiet_fit'][-1]:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    if params["keras"] != params["deepwise"]:
        raise SystemExit(
            f"bench: {name}: hand-written model has {params['keras']} parameters, deepwise's has "
            f"{params['deepwise']}; the architectures differ"
        )
    result = {k: statistics.median(v) for k, v in samples.items()}
    result["samples"] = samples
    result["params"] = params["keras"]
    result["train_rows"] = int(len(arrays[3]))
    return result


def print_table(results: dict[str, dict], epochs: int, repeats: int) -> float:
    print(f"\nMedian of {repeats} run(s), {epochs} epochs, batch 32, backend {os.environ['KERAS_BACKEND']}:\n")
    head = (
        f"{'data set':<14}{'rows':>6}{'keras fit':>11}{'dw fit':>9}{'ratio':>7}"
        f"{'dw fit console':>16}{'dw fit tty':>12}{'keras cold':>12}{'dw probe+fit':>14}{'ratio':>7}{'dw whole':>10}"
    )
    print(head)
    print("-" * len(head))
    totals = {"keras": 0.0, "dw": 0.0, "cold": 0.0, "dw_pf": 0.0}
    for name, r in results.items():
        ratio = r["dw_quiet_fit"] / r["keras_fit"]
        probe_fit = r["dw_quiet_probe"] + r["dw_quiet_fit"]
        cold_ratio = probe_fit / r["keras_cold"]
        totals["keras"] += r["keras_fit"]
        totals["dw"] += r["dw_quiet_fit"]
        totals["cold"] += r["keras_cold"]
        totals["dw_pf"] += probe_fit
        print(
            f"{name:<14}{r['train_rows']:>6}{r['keras_fit']:>10.2f}s{r['dw_quiet_fit']:>8.2f}s{ratio:>6.2f}x"
            f"{r['dw_console_fit']:>15.2f}s{r['dw_tty_fit']:>11.2f}s{r['keras_cold']:>11.2f}s"
            f"{probe_fit:>13.2f}s{cold_ratio:>6.2f}x{r['dw_quiet_whole']:>9.2f}s"
        )
    overall = totals["dw"] / totals["keras"]
    overall_cold = totals["dw_pf"] / totals["cold"]
    print("-" * len(head))
    print(
        f"{'all':<14}{'':>6}{totals['keras']:>10.2f}s{totals['dw']:>8.2f}s{overall:>6.2f}x"
        + " " * 50
        + f"{overall_cold:>6.2f}x"
    )
    print(
        "\nratio (1st) = deepwise fit, quiet API / keras fit after a train_on_batch warm-up  "
        f"[target <= {TARGET_RATIO:.2f}x: {'met' if overall <= TARGET_RATIO else 'NOT met'}]"
    )
    print("ratio (2nd) = deepwise probe + fit / keras fit with compilation included (no warm-up)")
    print("dw fit console / tty = deepwise fit with verbose=True, rich output to a StringIO as a file / as a terminal")
    print("dw whole = the whole deepwise.train call: read CSV, preprocess, build, probe, fit, evaluate, save")
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 epochs, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    args = parser.parse_args(argv)
    epochs, repeats = (5, 1) if args.quick else (args.epochs, args.repeats)

    import jax
    import keras

    print(
        f"deepwise {deepwise.__version__} · keras {keras.__version__} · jax {jax.__version__} · numpy "
        f"{np.__version__} · python {platform.python_version()} · {os.cpu_count()} CPU(s) · {platform.platform()}"
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="deepwise-bench-") as tmp:
        tmp_path = Path(tmp)
        sets = datasets(tmp_path)
        # Warm-up (not timed): process-wide first-use costs (JAX/XLA start, imports) must hit neither side.
        path, target = sets["penguins"]
        warm = config_dict(path, target, 2)
        deepwise.train(warm, runs_dir=tmp_path / "runs", verbose=False)
        time_keras(keras_arrays(warm), 2, warm=True)
        for name, (path, target) in sets.items():
            results[name] = measure(name, config_dict(path, target, epochs), tmp_path / "runs", epochs, repeats)
    print_table(results, epochs, repeats)
    if args.json:
        args.json.write_text(json.dumps({"epochs": epochs, "repeats": repeats, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
