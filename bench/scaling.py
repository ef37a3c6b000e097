"""Training time per epoch and peak memory as a table grows: 10k, 100k, 1M and 10M rows of 20 columns.

Targets (issue 9): time per epoch grows linearly with the rows; peak memory stays bounded; the 10M-row table
trains (streamed from disk, chosen automatically) with peak memory under 2 GB.

The table is generated (no real 10M-row table ships offline): 18 numeric inputs (Gaussian), one categorical input
of 12 levels, and a binary target from a noisy non-linear rule of them (so a network has something to learn that
a linear model misses). Each size is written once as CSV (or Parquet with --format parquet) and trained by
`deepwise.train` in its own child process with the defaults except `training.epochs` (early stopping off, so every
size trains the same epochs); the peak memory is the child's ``ru_maxrss`` from ``os.wait4``. The time per epoch is
the last epoch's ``seconds`` in history.csv (the first epoch also compiles).

    .venv/bin/python bench/scaling.py                          # 10k .. 10M rows, CSV: about 20 min on 2 cores
    .venv/bin/python bench/scaling.py --rows 10000,100000      # quick look (1 min)
    .venv/bin/python bench/scaling.py --format parquet --folder /tmp/scaling --json scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGET_GB = 2.0
N_NUMERIC = 18
LEVELS = [f"site_{i:02d}" for i in range(12)]


def log(message: str) -> None:
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"[load {load}] {message}", flush=True)


def write_table(path: Path, rows: int, fmt: str, seed: int = 0) -> None:
    """``rows`` generated rows written in chunks of 1M (memory stays small while writing)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1, len(LEVELS))
    writer = None
    try:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            x = rng.normal(0, 1, (n, N_NUMERIC)).astype(np.float32)
            site = rng.integers(0, len(LEVELS), n)
            logit = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] ** 2 - 0.5 + effect[site] + 0.3 * x[:, 4]
            y = (logit + rng.normal(0, 0.5, n) > 0).astype(np.int8)
            columns = {f"x{i}": np.round(x[:, i], 4) for i in range(N_NUMERIC)}
            columns["site"] = np.array(LEVELS, dtype=object)[site]
            columns["label"] = y
            table = pa.table(columns)
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, table.schema) if fmt == "parquet" else pacsv.CSVWriter(path, table.schema)
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


CHILD = r"""
import json, sys, time
import deepwise
from deepwise.train import resolve_config
path, epochs, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cfg = resolve_config(path, target="label")
cfg.training.epochs = epochs
cfg.training.early_stopping.enabled = False
start = time.perf_counter()
run = deepwise.train(cfg, runs_dir=runs, verbose=False)
wall = time.perf_counter() - start
manifest = json.load(open(run.path / "manifest.json"))
print("RESULT " + json.dumps({
    "wall_s": wall,
    "timings": manifest["timings"],
    "streamed": bool(manifest["data"].get("streamed")),
    "split": manifest["data"]["split"],
    "epoch_seconds": run.history["seconds"].tolist(),
    "accuracy": run.metrics["test"]["accuracy"],
    "baselines": {k: v["accuracy"] for k, v in run.metrics["baselines"].items()},
    "verdict": run.metrics["verdict"]["code"],
}))
"""


def train_child(path: Path, epochs: int, runs: Path) -> dict:
    """Train in a child process; its peak resident memory is the ``ru_maxrss`` of ``os.wait4``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(epochs), str(runs)], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("RESULT ")]
        if code != 0 or not lines:
            raise SystemExit(f"training on {path} failed (exit {code}):\n{err.read()[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["peak_gb"] = usage.ru_maxrss * 1024 / 1e9
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="10000,100000,1000000,10000000")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--folder", type=Path, help="keep the generated tables here (reused when present)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(v) for v in args.rows.split(",")]
    folder = args.folder or Path(tempfile.mkdtemp(prefix="deepwise-scaling-"))
    folder.mkdir(parents=True, exist_ok=True)
    log(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; tables in {folder}")
    results = []
    for rows in sizes:
        path = folder / f"table-{rows}.{args.format}"
        if not path.exists():
            start = time.perf_counter()
            write_table(path, rows, args.format)
            log(f"wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s")
        result = train_child(path, args.epochs, folder / "runs")
        result.update(rows=rows, file_mb=path.stat().st_size / 1e6)
        results.append(result)
        log(
            f"{rows:>10,} rows: {'streamed' if result['streamed'] else 'in memory'}, prepare "
            f"{result['timings'].get('prepare', 0):.1f} s, last epoch {result['epoch_seconds'][-1]:.2f} s, "
            f"peak {result['peak_gb']:.2f} GB, whole train {result['wall_s']:.0f} s, test accuracy "
            f"{result['accuracy']:.3f}"
        )
    print()
    print(
        "| rows | file | mode | prepare | epoch | epoch per 1M rows | fit | evaluate + baselines | whole train "
        "| peak memory | test accuracy | best baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        t = r["timings"]
        epoch = r["epoch_seconds"][-1]
        best = max((v for k, v in r["baselines"].items() if k != "dummy"), default=float("nan"))
        print(
            f"| {r['rows']:,} | {r['file_mb']:.0f} MB | {'streamed' if r['streamed'] else 'memory'} "
            f"| {t.get('prepare', 0):.1f} s | {epoch:.2f} s | {epoch / r['rows'] * 1e6:.1f} s "
            f"| {t.get('fit', 0):.1f} s | {t.get('evaluate', 0) + t.get('baselines', 0):.1f} s | {r['wall_s']:.0f} s "
            f"| {r['peak_gb']:.2f} GB | {r['accuracy']:.3f} | {best:.3f} |"
        )
    biggest = results[-1]
    per_row = [r["epoch_seconds"][-1] / r["rows"] for r in results if r["rows"] >= 100_000]
    if len(per_row) >= 2:
        print(
            f"\nepoch time per row, largest / smallest size >= 100k rows: {per_row[-1] / per_row[0]:.2f}x "
            "(1.0 = exactly linear)"
        )
    print(
        f"peak memory at {biggest['rows']:,} rows: {biggest['peak_gb']:.2f} GB (target < {TARGET_GB} GB): "
        f"{'met' if biggest['peak_gb'] < TARGET_GB else 'NOT met'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
