"""How much does deepwise cost on top of hand-written Keras? Same MLP, same arrays, same backend, one process.

For each data set (penguins, and scikit-learn's wine and breast_cancer written to CSV) this times:

- ``keras``: the MLP written by hand with ``keras.layers`` (Dense 64 relu, Dropout 0.1, Dense 32 relu, Dropout 0.1,
  softmax/sigmoid output), compiled with Adam(1e-3) and the task's loss and metrics, trained with
  ``model.fit(x, y, validation_data=..., epochs=E, batch_size=32, verbose=0)`` on the arrays that
  ``deepwise.train.prepare`` produces. Timed twice: after one ``train_on_batch`` warm-up (``keras fit``; this
  mirrors deepwise, whose probe runs ``train_on_batch`` before its fit timer starts) and on a fresh model with no
  warm-up (``keras cold``). Note: with Keras 3.15 on JAX the warm-up does not spare fit any compilation, because
  ``train_on_batch`` calls the jitted train step with ``(x, y, None)`` and ``fit`` with ``(x, y)``, two different
  pytrees, so fit compiles its own step; the same holds for deepwise's probe.
- ``deepwise``: ``deepwise.train(config)`` with early stopping off and the same number of epochs; the fit time is
  ``manifest.json`` ``timings["fit"]``, the probe time ``timings["probe"]``, and the whole call is timed as well.
  Three ways: ``quiet`` (``verbose=False``), ``console`` (``verbose=True``, a rich Console writing to a StringIO,
  i.e. output redirected to a file) and ``tty`` (the same, but rich is told it is a terminal, so it redraws the
  progress bar as it would on screen).

On small tables a fit of 100 epochs is mostly XLA compilation (about 1.5 s of 2 s on 2 CPU cores), and compile
times vary by tenths of a second from run to run. So the JAX compile events (trace, lowering, XLA compile) that
happen inside each ``Model.fit`` are summed too, and the ratio is also shown with them taken out: that second ratio
is the per-epoch cost of deepwise's own code (callbacks, progress, checkpoints), without compile noise.

Each measurement is repeated ``--repeats`` times, alternating which side goes first, and the median is reported.
The headline ratio is deepwise fit (quiet) / keras fit; the target is at most 1.10.

Usage:
    python bench/overhead.py                 # 100 epochs, 3 repeats (3 min on 2 quiet cores, up to 15 when busy)
    python bench/overhead.py --quick         # smoke run: penguins only, 5 epochs, 1 repeat
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
from deepwise.kinds.feeding import model_input  # noqa: E402
from deepwise.records import read_json  # noqa: E402
from deepwise.train import prepare, resolve_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"
TARGET_RATIO = 1.10
DEEPWISE_MODES = ("quiet", "console", "tty")
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)

# The output layer and loss written by hand (not taken from deepwise), per task.
HEADS = {
    "multiclass": ("softmax", "sparse_categorical_crossentropy"),
    "binary": ("sigmoid", "binary_crossentropy"),
}


# ------------------------------------------------------------------------------------------- fit and compile clock


class FitClock:
    """Wraps ``keras.Model.fit`` (for both sides alike) to record each call's wall time and JAX compile time."""

    def __init__(self) -> None:
        import jax.monitoring
        import keras

        self.compile_s = 0.0
        self.calls: list[tuple[float, float, float]] = []  # (wall, compile, process CPU) seconds per fit
        jax.monitoring.register_event_duration_secs_listener(self._on_event)
        original = keras.Model.fit
        clock = self

        def fit(model, *args, **kwargs):
            compiled, start, cpu = clock.compile_s, time.perf_counter(), time.process_time()
            try:
                return original(model, *args, **kwargs)
            finally:
                wall = time.perf_counter() - start
                clock.calls.append((wall, clock.compile_s - compiled, time.process_time() - cpu))

        keras.Model.fit = fit

    def _on_event(self, event: str, duration: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            self.compile_s += duration

    def last_fit(self) -> tuple[float, float, float]:
        return self.calls[-1]


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
        "model": {"linear_path": False},  # the same MLP as the hand-written one (the default adds a linear path)
        "training": {"epochs": epochs, "batch_size": 32, "early_stopping": {"enabled": False}},
    }


# ---------------------------------------------------------------------------------------------------- deepwise


def time_deepwise(config: dict, runs_dir: Path, mode: str, clock: FitClock) -> dict[str, float]:
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
    _, compile_s, cpu = clock.last_fit()
    return {
        "fit": timings["fit"],
        "fit_compile": compile_s,
        "fit_cpu": cpu,
        "probe": timings.get("probe", 0.0),  # a quiet run (verbose=False) runs no probe
        "whole": whole,
        "phases": timings,
        "params": run.manifest["parameters"],
    }


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


def time_keras(arrays, epochs: int, warm: bool, clock: FitClock) -> dict[str, float]:
    task, n_out, x, y, xv, yv, seed = arrays
    model = hand_written_model(task, x.shape[1], n_out, seed)
    if warm:
        model.train_on_batch(x[:32], y[:32])  # as deepwise's probe does before its fit timer starts
    start = time.perf_counter()
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    fit = time.perf_counter() - start
    _, compile_s, cpu = clock.last_fit()
    return {"fit": fit, "fit_compile": compile_s, "fit_cpu": cpu, "params": model.count_params()}


# ------------------------------------------------------------------------------------------------------- driver


def measure(name: str, config: dict, runs_dir: Path, epochs: int, repeats: int, clock: FitClock) -> dict:
    arrays = keras_arrays(config)
    samples: dict[str, list[float]] = {}
    params = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    def run_keras():
        warm = time_keras(arrays, epochs, True, clock)
        params["keras"] = warm["params"]
        add("keras_fit", warm["fit"])
        add("keras_fit_net", warm["fit"] - warm["fit_compile"])
        add("keras_fit_cpu", warm["fit_cpu"])
        add("keras_cold", time_keras(arrays, epochs, False, clock)["fit"])

    def run_deepwise():
        for mode in DEEPWISE_MODES:
            result = time_deepwise(config, runs_dir, mode, clock)
            params["deepwise"] = result["params"]
            for key in ("fit", "probe", "whole", "fit_cpu"):
                add(f"dw_{mode}_{key}", result[key])
            add(f"dw_{mode}_fit_net", result["fit"] - result["fit_compile"])
            if mode == "quiet":
                for phase, seconds in result["phases"].items():
                    add(f"phase_{phase}", seconds)

    for r in range(repeats):
        order = (run_deepwise, run_keras) if r % 2 == 0 else (run_keras, run_deepwise)
        for step in order:
            step()
        print(
            f"  {name} repeat {r + 1}/{repeats}: keras fit {samples['keras_fit'][-1]:.2f} s "
            f"({samples['keras_fit_net'][-1]:.2f} s without compiling), deepwise fit "
            f"{samples['dw_quiet_fit'][-1]:.2f} s ({samples['dw_quiet_fit_net'][-1]:.2f} s without compiling)",
            file=sys.stderr,
            flush=True,
        )
    if params["keras"] != params["deepwise"]:
        raise SystemExit(
            f"bench: {name}: the hand-written model has {params['keras']} parameters, deepwise's "
            f"{params['deepwise']}; the architectures differ"
        )
    result: dict = {k: statistics.median(v) for k, v in samples.items()}
    result["samples"] = samples
    result["params"] = params["keras"]
    result["train_rows"] = int(len(arrays[3]))
    return result


def _row(cells: list[tuple[str, int]]) -> str:
    return "".join(text.rjust(width) if i else text.ljust(width) for i, (text, width) in enumerate(cells))


def _table(title: str, header: list[str], widths: list[int], rows: list[list[str]], footer: list[str] | None) -> None:
    print(title)
    line = _row(list(zip(header, widths, strict=True)))
    print(line)
    print("-" * len(line))
    for cells in rows:
        print(_row(list(zip(cells, widths, strict=True))))
    if footer:
        print("-" * len(line))
        print(_row(list(zip(footer, widths, strict=True))))
    print()


def print_tables(results: dict[str, dict], epochs: int, repeats: int) -> float:
    s, x = "{:.2f} s".format, "{:.2f}x".format
    print(f"\nMedian of {repeats} run(s), {epochs} epochs, batch 32, backend {os.environ['KERAS_BACKEND']}.\n")
    keys = dict.fromkeys(k for r in results.values() for k in r if k != "samples")
    total = {k: sum(r.get(k, 0.0) for r in results.values()) for k in keys}
    for r in (*results.values(), total):
        r["dw_probe_fit"] = r["dw_quiet_probe"] + r["dw_quiet_fit"]
    overall = total["dw_quiet_fit"] / total["keras_fit"]

    def fit_cells(r):
        return [
            s(r["keras_fit"]),
            s(r["dw_quiet_fit"]),
            x(r["dw_quiet_fit"] / r["keras_fit"]),
            s(r["keras_fit_net"]),
            s(r["dw_quiet_fit_net"]),
            x(r["dw_quiet_fit_net"] / r["keras_fit_net"]),
            s(r["keras_fit_cpu"]),
            s(r["dw_quiet_fit_cpu"]),
            x(r["dw_quiet_fit_cpu"] / r["keras_fit_cpu"]),
        ]

    _table(
        "1. Model.fit, hand-written Keras vs deepwise.train(verbose=False)",
        [
            "data set",
            "rows",
            "keras fit",
            "deepwise fit",
            "ratio",
            "keras net",
            "dw net",
            "ratio",
            "keras CPU",
            "dw CPU",
            "ratio",
        ],
        [14, 6, 11, 14, 8, 11, 10, 8, 11, 10, 8],
        [[name, str(r["train_rows"]), *fit_cells(r)] for name, r in results.items()],
        ["all", "", *fit_cells(total)],
    )
    print(
        "fit = wall time of Model.fit (deepwise: manifest timings['fit']); net = fit minus the JAX compile time "
        "(trace, lowering, XLA) inside it;\nCPU = process CPU time during the fit (all threads; less sensitive to "
        "other programs on the machine).\n"
        f"Overall fit ratio {overall:.2f}x: target <= {TARGET_RATIO:.2f}x "
        f"{'met' if overall <= TARGET_RATIO else 'NOT met'}."
    )
    best = sum(min(r["samples"]["dw_quiet_fit"]) for r in results.values()) / sum(
        min(r["samples"]["keras_fit"]) for r in results.values()
    )
    print(f"Best-of-{repeats} fit ratio (fastest run of each side): {best:.2f}x.\n")

    def mode_cells(r):
        return [
            s(r["dw_quiet_fit"]),
            s(r["dw_console_fit"]),
            s(r["dw_tty_fit"]),
            s(r["dw_quiet_fit_net"]),
            s(r["dw_console_fit_net"]),
            s(r["dw_tty_fit_net"]),
            s(r["dw_quiet_probe"]),
            s(r["dw_probe_fit"]),
            s(r["keras_cold"]),
            x(r["dw_probe_fit"] / r["keras_cold"]),
        ]

    _table(
        "2. deepwise output modes, and the probe (compilation included on both sides)",
        [
            "data set",
            "fit quiet",
            "console",
            "tty",
            "net quiet",
            "console",
            "tty",
            "probe",
            "probe+fit",
            "keras cold",
            "ratio",
        ],
        [14, 11, 10, 10, 11, 10, 10, 9, 11, 12, 8],
        [[name, *mode_cells(r)] for name, r in results.items()],
        ["all", *mode_cells(total)],
    )
    print(
        "console / tty = verbose=True with rich writing to a StringIO as a file / as a terminal (progress bar "
        "redrawn).\nkeras cold = fit of a fresh hand-written model without warm-up; ratio = deepwise (probe + fit) "
        "/ keras cold.\n"
    )

    phases = [k.removeprefix("phase_") for k in total if k.startswith("phase_")]
    _table(
        "3. The whole deepwise.train(verbose=False) call, by phase (manifest timings)",
        ["data set", "whole", *phases],
        [14, 10, *(max(10, len(p) + 2) for p in phases)],
        [[name, s(r["dw_quiet_whole"]), *(s(r.get(f"phase_{p}", 0.0)) for p in phases)] for name, r in results.items()],
        None,
    )
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--data", default="penguins,wine,breast_cancer", help="comma-separated data sets")
    parser.add_argument("--quick", action="store_true", help="smoke run: penguins only, 5 epochs, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    args = parser.parse_args(argv)
    epochs, repeats = (5, 1) if args.quick else (args.epochs, args.repeats)
    names = ["penguins"] if args.quick else args.data.split(",")
    if set(names) - {"penguins", "wine", "breast_cancer"}:
        parser.error(f"--data {args.data}: choose among penguins, wine, breast_cancer")

    import jax
    import keras

    print(
        f"deepwise {deepwise.__version__} · keras {keras.__version__} · jax {jax.__version__} · numpy "
        f"{np.__version__} · python {platform.python_version()} · {os.cpu_count()} CPU(s) · {platform.platform()}"
    )
    if hasattr(os, "getloadavg"):
        print("Load average at the start (1/5/15 min): {:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg()))
    clock = FitClock()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="deepwise-bench-") as tmp:
        tmp_path = Path(tmp)
        sets = datasets(tmp_path)
        # Warm-up (not timed): process-wide first-use costs (JAX/XLA start, imports) must hit neither side.
        path, target = sets["penguins"]
        warm = config_dict(path, target, 2)
        deepwise.train(warm, runs_dir=tmp_path / "runs", verbose=False)
        time_keras(keras_arrays(warm), 2, True, clock)
        for name in names:
            path, target = sets[name]
            config = config_dict(path, target, epochs)
            results[name] = measure(name, config, tmp_path / "runs", epochs, repeats, clock)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    sys.stdout.flush()
    print_tables(results, epochs, repeats)
    if load:
        print(
            f"Load average at the end (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            f"on {os.cpu_count()} CPUs"
        )
    if args.json:
        summary = {"epochs": epochs, "repeats": repeats, "load_average_end": load, "results": results}
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
