"""How fast is ``deepwise tune``: one worker vs two on this machine, and what does Optuna itself cost per trial?

Runs the same 20-trial study on penguins (30 epochs per trial, default search space, same seed) twice, in fresh
study folders: ``--workers 1`` (trials in this process) and ``--workers 2`` (two spawned worker processes sharing
the SQLite study). Reports the wall time of each and the speed-up.

Optuna's own overhead per trial is read from the 1-worker study, from timestamps Optuna and deepwise record:

- inside a trial: Optuna's trial duration (start to end) minus the time ``deepwise.train`` took
  (``user_attrs["train_seconds"]``): suggesting values, writing user attrs, finishing the trial;
- between trials: from one trial's end to the next one's start (sampling with TPE, storage reads and writes,
  deepwise's stop check);
- during training: the per-epoch ``trial.report`` + ``should_prune`` calls (``optuna_seconds_in_callbacks``).

Where the training time itself goes is shown from the trial runs' ``manifest.json`` timings (prepare, fit,
baselines, ...), which is deepwise's cost per trial, not Optuna's.

Usage:
    python bench/tune_workers.py                  # 20 trials, 1 vs 2 workers (a few minutes on 2 cores)
    python bench/tune_workers.py --trials 6       # quicker
    python bench/tune_workers.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

# One OpenMP thread per process for the scikit-learn baselines every trial fits, in both set-ups (the 2 workers
# get it anyway): with more, OpenMP's spinning threads fight XLA's and other processes' on 2 cores, and a 0.1 s
# baseline fit was measured taking 5-140 s, which would swamp what this benchmark compares. Override by setting
# OMP_NUM_THREADS yourself.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import optuna  # noqa: E402

from deepwise.records import read_json  # noqa: E402
from deepwise.tune import tune  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"


def config(epochs: int) -> dict:
    return {
        "problem": {"target": "species"},
        "data": {"path": str(PENGUINS)},
        "model": {"type": "mlp"},
        "training": {"epochs": epochs},
    }


def run(trials: int, workers: int, epochs: int, folder: Path) -> dict:
    started = datetime.now()
    start = time.perf_counter()
    result = tune(config(epochs), trials=trials, workers=workers, study_dir=folder, verbose=False)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="penguins", storage=f"sqlite:///{folder / 'study.db'}")
    first = min(t.datetime_start for t in study.trials)
    train = [t.user_attrs["train_seconds"] for t in study.trials if "train_seconds" in t.user_attrs]
    return {
        "workers": workers,
        "wall_s": wall,
        "result": result,
        "until_first_trial_s": (first - started).total_seconds(),  # preflight, imports, worker start-up
        "train_s_mean": statistics.mean(train),
    }


def optuna_overhead(folder: Path, name: str = "penguins") -> dict:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'study.db'}")
    trials = sorted(study.trials, key=lambda t: t.datetime_start)
    inside, between, callbacks, train = [], [], [], []
    for prev, t in zip([None, *trials[:-1]], trials, strict=True):
        attrs = t.user_attrs
        if t.datetime_complete is None or "train_seconds" not in attrs:
            continue
        duration = (t.datetime_complete - t.datetime_start).total_seconds()
        inside.append(duration - attrs["train_seconds"])
        callbacks.append(attrs.get("optuna_seconds_in_callbacks", 0.0))
        train.append(attrs["train_seconds"])
        if prev is not None and prev.datetime_complete is not None:
            between.append((t.datetime_start - prev.datetime_complete).total_seconds())
    stages: dict[str, list[float]] = {}
    for t in trials:
        run_dir = t.user_attrs.get("run_dir")
        manifest = Path(run_dir or "") / "manifest.json"
        if run_dir and manifest.is_file():
            for key, value in read_json(manifest).get("timings", {}).items():
                stages.setdefault(key, []).append(value)
    per_trial = statistics.mean(inside) + (statistics.mean(between) if between else 0) + statistics.mean(callbacks)
    return {
        "trials": len(train),
        "train_s_mean": statistics.mean(train),
        "optuna_inside_trial_s_mean": statistics.mean(inside),
        "optuna_between_trials_s_mean": statistics.mean(between) if between else 0.0,
        "optuna_in_callbacks_s_mean": statistics.mean(callbacks),
        "optuna_per_trial_s": per_trial,
        "optuna_share_of_train": per_trial / statistics.mean(train),
        "deepwise_stages_s_median": {k: statistics.median(v) for k, v in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp:
        one = run(args.trials, 1, args.epochs, Path(tmp) / "w1")
        two = run(args.trials, 2, args.epochs, Path(tmp) / "w2")
        overhead = optuna_overhead(Path(tmp) / "w1")
    speedup = one["wall_s"] / two["wall_s"]
    report = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "optuna": optuna.__version__},
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "trials": args.trials,
        "epochs": args.epochs,
        "wall_s": {"1_worker": one["wall_s"], "2_workers": two["wall_s"]},
        "until_first_trial_s": {"1_worker": one["until_first_trial_s"], "2_workers": two["until_first_trial_s"]},
        "train_s_mean_per_trial": {"1_worker": one["train_s_mean"], "2_workers": two["train_s_mean"]},
        "speedup": speedup,
        "best_validation": {"1_worker": one["result"].best.value, "2_workers": two["result"].best.value},
        "states": {
            "1_worker": {s: one["result"].count(s) for s in ("COMPLETE", "PRUNED", "FAIL")},
            "2_workers": {s: two["result"].count(s) for s in ("COMPLETE", "PRUNED", "FAIL")},
        },
        "optuna_overhead": overhead,
    }
    print(f"{args.trials}-trial study, penguins, {args.epochs} epochs per trial, {os.cpu_count()} CPU cores")
    for label, r in (("1 worker ", one), ("2 workers", two)):
        print(
            f"  {label}: {r['wall_s']:7.1f} s  (first trial after {r['until_first_trial_s']:.1f} s; "
            f"{r['train_s_mean']:.2f} s of training per trial)"
        )
    print(f"  speed-up of 2 workers: {speedup:.2f}x")
    o = overhead
    print(
        f"  Optuna per trial: {o['optuna_per_trial_s'] * 1000:.0f} ms (inside a trial "
        f"{o['optuna_inside_trial_s_mean'] * 1000:.0f} ms, between trials "
        f"{o['optuna_between_trials_s_mean'] * 1000:.0f} ms, report/prune callbacks "
        f"{o['optuna_in_callbacks_s_mean'] * 1000:.0f} ms) vs "
        f"{o['train_s_mean']:.2f} s of training per trial: {o['optuna_share_of_train']:.1%}"
    )
    stages = ", ".join(f"{k} {v:.2f}" for k, v in o["deepwise_stages_s_median"].items())
    print(f"  deepwise.train per trial (median s): {stages}")
    print(f"  load average before/after: {load_before} / {report['load_average_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
