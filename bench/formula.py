"""Benchmark: the formula finder (``deepwise.formula.find_formula``) on generated tables of several shapes. Not a
test.

For each shape (rows x numeric columns) and each target kind (a median of 3 columns, a power law of 2 columns, a
target with no formula, a rule "a > b" as a class label), times ``find_formula`` (best of ``--repeats``) and, on
the same data in the same run, one ``LinearRegression().fit`` on every row and column (the reference: the cost of
the cheapest baseline deepwise already fits), and prints both and their ratio. Target: at most 2 s for 100,000 x 50.

Example:
    $ nice -n 10 .venv/bin/python bench/formula.py                    # 10k x 10, 100k x 50, 100k x 200, 1M x 20
    $ nice -n 10 .venv/bin/python bench/formula.py --shapes 100000x50 --repeats 1
    shape         target        finder s  linreg s   ratio  found  formula
    100000x50     median        0.41      0.19       2.2    True   y = median(x03, x07, x11)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from deepwise.formula import find_formula

TARGET_SECONDS = 2.0  # for 100,000 rows x 50 columns


def make_frame(rows: int, columns: int, target: str, seed: int = 0) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 10.0, size=(rows, columns))
    frame = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(columns)])
    if target == "median":
        frame["y"] = np.median(x[:, [3, 7, min(11, columns - 1)]], axis=1)
    elif target == "power_law":
        frame["y"] = 3.2 * x[:, 1] ** 1.5 / x[:, 2]
    elif target == "no_formula":
        frame["y"] = np.sin(x[:, 0]) * x[:, 1] + rng.normal(size=rows)
    else:  # rule
        frame["y"] = x[:, 0] > x[:, 4]
    return frame, ("binary" if target == "rule" else "regression")


def best_time(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="10000x10,100000x50,100000x200,1000000x20")
    parser.add_argument("--targets", default="median,power_law,no_formula,rule")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    find_formula(make_frame(500, 12, "median")[0], "y", "regression")  # imports and first calls out of the timing
    print(f"{'shape':13s} {'target':12s} {'finder s':>9s} {'linreg s':>9s} {'ratio':>6s}  found  formula")
    for shape in args.shapes.split(","):
        rows, columns = (int(v) for v in shape.lower().split("x"))
        for target in args.targets.split(","):
            frame, task = make_frame(rows, columns, target)
            x, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy(dtype=np.float64)
            reference, _ = best_time(lambda x=x, y=y: LinearRegression().fit(x, y), args.repeats)
            seconds, result = best_time(lambda frame=frame, task=task: find_formula(frame, "y", task), args.repeats)
            shown = result.formula or f"(near miss) {result.near_miss['formula']}"
            flag = " over target" if rows == 100_000 and columns == 50 and seconds > TARGET_SECONDS else ""
            print(
                f"{shape:13s} {target:12s} {seconds:9.3f} {reference:9.3f} {seconds / reference:6.1f}  "
                f"{str(result.found):5s}  {shown[:70]}{flag}"
            )


if __name__ == "__main__":
    main()
