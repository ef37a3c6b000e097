"""How much does a random split overstate the score of rows that carry dates? The weather table (one row per day,
an ISO date column), a target of the same day predicted from the other columns, trained twice by deepwise: split in
time order (the default for dated rows) and at random (``data.split.chronological: false``).

    .venv/bin/python bench/time_split.py            # four targets, full training
    .venv/bin/python bench/time_split.py --quick    # one target, 20 epochs (the slow test suite runs this)

Prints a table: test R² of the network and of the best simple model under each split, and the difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import deepwise  # noqa: E402

WEATHER = ROOT / "examples" / "weather" / "weather_prediction_dataset.csv"
TARGETS = ["BASEL_sunshine", "DE_BILT_sunshine", "STOCKHOLM_temp_mean", "MUENCHEN_precipitation"]


def dated_table(folder: Path) -> Path:
    frame = pd.read_csv(WEATHER)
    frame["DATE"] = pd.to_datetime(frame["DATE"].astype(str)).dt.strftime("%Y-%m-%d")
    path = folder / "weather_dated.csv"
    frame.to_csv(path, index=False)
    return path


def measure(path: Path, target: str, chronological: bool, epochs: int, runs: Path) -> dict:
    config = {
        "problem": {"target": target, "task": "regression"},
        "data": {"path": str(path), "split": {"chronological": chronological}},
        "training": {"epochs": epochs, "report": False},
    }
    start = time.perf_counter()
    run = deepwise.train(config, runs_dir=runs, verbose=False, force=True)
    evidence = run.metrics.verdict.evidence
    return {
        "network": run.metrics["test"]["r2"],
        "best": evidence["baselines"][evidence["best_baseline"]],
        "best_name": evidence["best_baseline"],
        "verdict": run.metrics.verdict.code,
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one target, 20 epochs")
    args = parser.parse_args()
    targets, epochs = (TARGETS[:1], 20) if args.quick else (TARGETS, 200)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = dated_table(Path(tmp))
        for target in targets:
            chrono = measure(path, target, True, epochs, Path(tmp) / "runs")
            random = measure(path, target, False, epochs, Path(tmp) / "runs")
            rows.append((target, chrono, random))
    print("| target | network R², time order | network R², random | best simple, time order | best simple, random |"
          " random minus time order (network) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for target, chrono, random in rows:
        print(
            f"| {target} | {chrono['network']:.3f} ({chrono['verdict']}) "
            f"| {random['network']:.3f} ({random['verdict']}) "
            f"| {chrono['best_name']} {chrono['best']:.3f} | {random['best_name']} {random['best']:.3f} "
            f"| {random['network'] - chrono['network']:+.3f} |"
        )


if __name__ == "__main__":
    main()
