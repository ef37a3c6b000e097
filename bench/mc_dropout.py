"""Monte-Carlo dropout (the lesson's idea) next to deepwise's split-conformal intervals and sets: which one holds the
truth 90 % of the time?

For each data set and seed the default one-liner is trained once. Conformal: its ``metrics.json`` "conformal" (the
quantile fitted on the validation split, coverage measured on the test split). MC dropout: the same trained network
applied ``--passes`` times to the test rows with dropout left on (``model(x, training=True)``, Gal & Ghahramani 2016);

- numbers: the interval mean ± 1.645 standard deviations of the passes (a 90 % normal interval);
- classes: the smallest set of classes whose mean probability adds up to at least 0.9.

Nothing is calibrated for MC dropout (that is the point of the comparison): its spread measures how unsure the
weights are, not how noisy the target is.

    .venv/bin/python bench/mc_dropout.py                                   # four tables, seeds 0-2
    .venv/bin/python bench/mc_dropout.py --data penguins --seeds 0 --passes 20    # quick look

Prints a table: coverage and mean width / set size of both methods; the result line starts with "mc_dropout:".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from coverage import config_for  # noqa: E402

import deepwise  # noqa: E402
from deepwise.evaluation import class_probabilities  # noqa: E402
from deepwise.evaluation.conformal import measure  # noqa: E402
from deepwise.kinds import prepare  # noqa: E402
from deepwise.kinds.feeding import model_input  # noqa: E402

DATA = ["penguins", "wine", "breast_cancer", "diabetes"]
Z90 = 1.6449  # the standard normal's 95th percentile: mean ± Z90 sd holds 90 % of a normal


def mc_passes(model, x, passes: int, seed: int) -> np.ndarray:
    """[passes, rows, outputs]: the network's output with dropout on, one random mask per pass."""
    import keras

    keras.utils.set_random_seed(seed)
    return np.stack([np.asarray(model(x, training=True)) for _ in range(passes)])


def mc_coverage(task: str, samples: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Coverage of the MC-dropout 90 % interval or set on the test rows, and its mean width or set size."""
    if task == "regression":
        mean, sd = samples[..., 0].mean(axis=0), samples[..., 0].std(axis=0)
        covered = np.abs(np.asarray(y, dtype=float).reshape(-1) - mean) <= Z90 * sd
        return float(covered.mean()), float(np.mean(2 * Z90 * sd))
    proba = np.mean([class_probabilities(task, s) for s in samples], axis=0)
    order = np.argsort(-proba, axis=1)
    cumulative = np.cumsum(np.take_along_axis(proba, order, axis=1), axis=1)
    size = (cumulative < 0.9).sum(axis=1) + 1  # classes until the mass reaches 0.9
    rank = np.argmax(order == np.asarray(y).astype(int).reshape(-1, 1), axis=1)
    return float(np.mean(rank < size)), float(size.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=",".join(DATA), help="comma-separated: " + ", ".join(DATA))
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--passes", type=int, default=100, help="forward passes with dropout on")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    conformal_all, mc_all = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("| data | seeds | conformal coverage (mean) | conformal width / set size | MC-dropout coverage (mean) "
              "| MC-dropout width / set size |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for name in args.data.split(","):
            base = config_for(name, folder)
            rows = []
            for seed in seeds:
                config = {**base, "seed": seed, "training": {"report": False}}
                run = deepwise.train(config, runs_dir=folder / "runs", verbose=False, force=True)
                data = prepare(run.config)  # the same split and preprocessing (same seed, same rows)
                task = data.task.name
                samples = mc_passes(run.model, model_input(data.x["test"]), args.passes, seed)
                conformal = run.metrics["conformal"]
                again = measure(task, conformal, data.predict(run.model, "test"), data.y["test"])["test_coverage"]
                assert abs(again - conformal["test_coverage"]) < 1e-9, "prepare() did not rebuild the run's test split"
                width = conformal.get("mean_width", conformal.get("mean_set_size"))
                rows.append((conformal["test_coverage"], width, *mc_coverage(task, samples, data.y["test"])))
            c_cov, c_size, m_cov, m_size = (statistics.mean(r[i] for r in rows) for i in range(4))
            conformal_all.append(c_cov)
            mc_all.append(m_cov)
            conformal_seeds = " / ".join(f"{r[0]:.3f}" for r in rows)
            mc_seeds = " / ".join(f"{r[2]:.3f}" for r in rows)
            print(f"| {name} | {len(seeds)} | {conformal_seeds} ({c_cov:.3f}) | {c_size:.3g} "
                  f"| {mc_seeds} ({m_cov:.3f}) | {m_size:.3g} |", flush=True)  # fmt: skip
    print(f"mc_dropout: nominal 0.90, conformal mean coverage {statistics.mean(conformal_all):.3f}, "
          f"MC dropout {statistics.mean(mc_all):.3f}, {args.passes} passes")  # fmt: skip


if __name__ == "__main__":
    main()
