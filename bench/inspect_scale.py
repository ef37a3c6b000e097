"""Benchmark: `inspect` on a 1,000,000-row, 50-column CSV (reading included). Not a test.

Generates the table in a temporary folder (44 numeric columns, 5 categorical, a binary target; some missing
values, a skewed column, a correlated pair and a planted leak), then times ``inspect(path, target="label")`` and
reports the peak resident memory of this process.

Example:
    $ .venv/bin/python bench/inspect_scale.py            # or --rows 200000 for a quicker look
    inspect 1,000,000 x 50: 23.4 s (read 8.1 s), peak RSS 1.9 GB (target: < 60 s, < 4 GB)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

N_NUMERIC, N_CATEGORICAL = 44, 5
TARGET_SECONDS, TARGET_GB = 60, 4


def make_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for i in range(N_NUMERIC):
        columns[f"x{i:02d}"] = rng.normal(size=rows).astype(np.float32)
    columns["x01"] = np.exp(columns["x01"]).astype(np.float32)  # skewed
    columns["x02"] = (columns["x03"] * 2.0 + rng.normal(scale=0.01, size=rows)).astype(np.float32)  # correlated
    logit = columns["x04"] + 0.5 * columns["x05"] - 0.5 * columns["x06"]
    label = (logit + rng.normal(size=rows) > 0.8).astype(np.int8)
    columns["x07"] = (label + rng.normal(scale=0.05, size=rows)).astype(np.float32)  # planted leak
    arrays = {}
    for name, values in columns.items():
        mask = rng.random(rows) < 0.02 if name in ("x10", "x11") else None
        arrays[name] = pa.array(values, mask=mask)
    for j in range(N_CATEGORICAL):
        levels = np.array([f"level_{k}" for k in range(3 + 7 * j)])
        arrays[f"cat{j}"] = pa.array(levels[rng.integers(0, len(levels), rows)])
    arrays["label"] = pa.array(label)
    return pa.table(arrays)


def peak_rss_gb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9  # bytes on macOS, KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # used by the child process
    args = parser.parse_args()
    if args.write:
        pacsv.write_csv(make_table(args.rows), args.write)
        return

    from deepwise.data.tables import read_table
    from deepwise.inspection import inspect

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        start = time.perf_counter()
        # a separate process writes the file, so that the peak memory below is reading and inspecting only
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--write", str(path)], check=True)
        print(f"wrote {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - start:.1f} s", flush=True)

        start = time.perf_counter()
        shape = read_table(path).shape
        read_s = time.perf_counter() - start

        start = time.perf_counter()
        findings = inspect(path, target="label")
        total_s = time.perf_counter() - start
    for f in findings:
        print(f"  {f.severity:8s} {f.code:20s} {', '.join(f.columns[:5])}")
    print(
        f"inspect {shape[0]:,} x {shape[1]}: {total_s:.1f} s (read alone: {read_s:.1f} s), peak RSS "
        f"{peak_rss_gb():.1f} GB (target: < {TARGET_SECONDS} s, < {TARGET_GB} GB)"
    )


if __name__ == "__main__":
    main()
