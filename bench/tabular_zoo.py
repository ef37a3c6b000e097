"""The default tabular network against gradient boosting and the linear model on 15 real tables (issue 24, item 2).

Every table installs with a Python package (scikit-learn, palmerpenguins, mlxtend, statsmodels; nothing
downloads). Each is trained by the default one-liner (``deepwise.train`` with only the target given); the same
training rows then fit deepwise's two simple baselines (scikit-learn's HistGradientBoosting and the linear/logistic
model, exactly as the run's verdict fits them), and each is compared with the network on the same test rows by a
paired bootstrap (1,000 resamples; accuracy for classes, R² for numbers): win (the interval above 0), tie (it
contains 0) or loss (below 0).

    .venv/bin/python bench/tabular_zoo.py                         # 15 tables, default training (~5 min, 2 cores)
    .venv/bin/python bench/tabular_zoo.py --only penguins,wine    # some tables
    .venv/bin/python bench/tabular_zoo.py --quick                 # penguins and diabetes, 30 epochs
    .venv/bin/python bench/tabular_zoo.py --set model.linear_path=false   # without the linear path
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import deepwise  # noqa: E402


def _sklearn(name: str, target: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.rename(columns={"target": target})
        if hasattr(bunch, "target_names") and name != "diabetes":
            frame[target] = np.asarray(bunch.target_names)[frame[target].to_numpy()]
        return frame

    return load


def _penguins() -> pd.DataFrame:
    with resources.as_file(resources.files("palmerpenguins") / "data" / "penguins.csv") as path:
        return pd.read_csv(path)


def _statsmodels(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def _autompg() -> pd.DataFrame:
    from mlxtend.data import autompg_data

    x, y = autompg_data()
    columns = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin", "car"]
    frame = pd.DataFrame(x, columns=columns[: x.shape[1]]).drop(columns=["car"], errors="ignore")
    frame["mpg"] = y
    return frame.apply(pd.to_numeric, errors="coerce")


def _fair() -> pd.DataFrame:
    frame = _statsmodels("fair")
    frame["had_affair"] = np.where(frame.pop("affairs") > 0, "yes", "no")
    return frame


def _star98() -> pd.DataFrame:
    frame = _statsmodels("star98")
    frame["share_above"] = frame["NABOVE"] / (frame.pop("NABOVE") + frame.pop("NBELOW"))
    return frame


def _anes96() -> pd.DataFrame:
    frame = _statsmodels("anes96").drop(columns=["logpopul"], errors="ignore")
    frame["vote"] = np.where(frame["vote"] > 0, "Dole", "Clinton")
    return frame


def _modechoice() -> pd.DataFrame:
    frame = _statsmodels("modechoice").drop(columns=["individual"])
    frame["mode"] = frame["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"})
    frame["choice"] = np.where(frame["choice"] > 0, "chosen", "not")
    return frame


def _grunfeld() -> pd.DataFrame:
    return _statsmodels("grunfeld").astype({"firm": str})


#: name -> (loader, target)
TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {
    "penguins": (_penguins, "species"),
    "penguins_mass": (lambda: _penguins().drop(columns=["species"]).assign(species=_penguins()["species"]),
                      "body_mass_g"),  # fmt: skip
    "iris": (_sklearn("iris", "species"), "species"),
    "wine": (_sklearn("wine", "cultivar"), "cultivar"),
    "breast_cancer": (_sklearn("breast_cancer", "diagnosis"), "diagnosis"),
    "diabetes": (_sklearn("diabetes", "progression"), "progression"),
    "digits": (_sklearn("digits", "digit"), "digit"),
    "autompg": (_autompg, "mpg"),
    "fair": (_fair, "had_affair"),
    "randhie": (lambda: _statsmodels("randhie"), "mdvis"),
    "star98": (_star98, "share_above"),
    "anes96": (_anes96, "vote"),
    "modechoice": (_modechoice, "choice"),
    "grunfeld": (_grunfeld, "invest"),
    "engel": (lambda: _statsmodels("engel"), "foodexp"),
}


def compare(name: str, folder: Path, epochs: int | None, overrides: dict | None = None) -> dict:
    from deepwise.evaluation.baselines import fit_baselines
    from deepwise.evaluation.verdict import paired_bootstrap

    loader, target = TABLES[name]
    frame = loader()
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    config = {
        "problem": {"target": target},
        "data": {"path": str(path)},
        "training": {"report": False, **({"epochs": epochs} if epochs else {})},
    }
    started = time.perf_counter()
    run = deepwise.train(config, runs_dir=folder / "runs", verbose=False, force=True, overrides=overrides)
    seconds = time.perf_counter() - started
    data = run.prepared()
    task = data.task.name
    network = data.predict(run.model, "test")
    fitted = fit_baselines(task, *data.baseline_inputs(), data.n_classes, run.config.seed)
    metric = "r2" if task == "regression" else "accuracy"
    row = {"table": name, "target": target, "task": task, "rows": len(frame), "test_rows": len(data.y["test"]),
           "metric": metric, "network": run.metrics["test"][metric], "seconds": round(seconds, 1),
           "verdict": run.metrics["verdict"]["code"]}  # fmt: skip
    for baseline in ("gradient_boosting", "linear"):
        diff = paired_bootstrap(task, data.y["test"], network, fitted[baseline]["output"], seed=run.config.seed)
        row[baseline] = run.metrics["baselines"][baseline][metric]
        row[f"vs_{baseline}"] = [diff["difference"], diff["ci95_low"], diff["ci95_high"]]
        row[f"{baseline}_result"] = "win" if diff["ci95_low"] > 0 else "loss" if diff["ci95_high"] < 0 else "tie"
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated: " + ", ".join(TABLES))
    parser.add_argument("--epochs", type=int, help="epochs of every run (default: deepwise's, early stopping)")
    parser.add_argument("--quick", action="store_true", help="smoke run: penguins and diabetes, 30 epochs")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config value for every run, e.g. model.linear_path=false (YAML value; repeatable)")
    args = parser.parse_args(argv)
    if args.quick:
        args.only, args.epochs = "penguins,diabetes", 30
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'table':<14} {'task':<10} {'rows':>6} {'metric':<8} {'network':>8} {'boosting':>9} {'':<5} "
              f"{'linear':>7} {'':<5} {'seconds':>7}")  # fmt: skip
        for name in args.only.split(",") if args.only else TABLES:
            row = compare(name, Path(tmp), args.epochs, overrides or None)
            rows.append(row)
            print(
                f"{name:<14} {row['task']:<10} {row['rows']:>6} {row['metric']:<8} {row['network']:>8.3f} "
                f"{row['gradient_boosting']:>9.3f} {row['gradient_boosting_result']:<5} {row['linear']:>7.3f} "
                f"{row['linear_result']:<5} {row['seconds']:>7.1f}",
                flush=True,
            )
    n = len(rows)
    count = {b: {r: sum(row[f"{b}_result"] == r for row in rows) for r in ("win", "tie", "loss")}
             for b in ("gradient_boosting", "linear")}  # fmt: skip
    gb, lin = count["gradient_boosting"], count["linear"]
    print(f"\nzoo: {n} tables; vs gradient boosting {gb['win']} wins, {gb['tie']} ties, {gb['loss']} losses "
          f"(ties or wins {(gb['win'] + gb['tie']) / max(n, 1):.0%}; target 70 %); vs linear {lin['win']} wins, "
          f"{lin['tie']} ties, {lin['loss']} losses (target: no loss)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
