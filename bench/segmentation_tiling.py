"""Predicting a large image in tiles: peak memory and megapixels/s of deepwise's segmentation predictor, next to
the bare Keras model predicting the same tiles (target: a 4,096 x 4,096 image under 2 GB).

A segmentation run is trained at the start on a small generated set (bright disks, 64 x 64, one epoch: the weights
do not change the cost of a prediction; the U-Net is what the default plan gives such images and the nuclei image:
depth 3, 16 filters, about 470,000 parameters). A random uint8 image of SIDE x SIDE is written as an uncompressed
TIFF, which deepwise reads as a memory map. Then, in one child process (its peak RSS is the measure):

- **deepwise mask**: ``SegmentationPredictor.mask`` on the memory-mapped image: 512-pixel tiles overlapping by the
  U-Net's receptive radius (64 px at depth 3), four a batch, the centre of each kept, uint8 labels out;
- **deepwise predict**: ``Run.predictor.predict_to_csv`` as ``deepwise predict RUN image.tif -o OUT`` does: the
  same tiles, the guard on a subsample, the mask PNG and the CSV written;
- **bare Keras**: the same windows cut from an in-memory copy of the image into the same float32 batches,
  ``model.predict_on_batch`` and ``argmax`` into a preallocated uint8 array (no reading, no guard, no writing).

Each is timed ``--repeats`` times after one warm-up batch (compilation); the best time is reported. Peak RSS
(``ru_maxrss``) is read with the run loaded, after compiling, and after each step: it only rises, so the value after a
step is the peak up to then.

Usage:
    python bench/segmentation_tiling.py                 # 4,096 x 4,096 (about 2 minutes on 2 cores)
    python bench/segmentation_tiling.py --quick         # 1,024 x 1,024, one repeat
    python bench/segmentation_tiling.py --side 8192     # larger
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

GIB = 1024**3


def peak_rss() -> int:
    """This process's peak resident memory in bytes (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def train_run(folder: Path) -> Path:
    import deepwise
    from deepwise.kinds.segmentation.synthetic import high_contrast_set, write_set

    data = write_set(folder / "data", *high_contrast_set(12, 64, seed=0))
    config = {
        "problem": {"target": "label"},
        "data": {"path": str(data)},
        "training": {"epochs": 1, "report": False},
        "segmentation": {"steps_per_epoch": 2},
    }
    return deepwise.train(config, runs_dir=folder / "runs", verbose=False).path


def bare_tiles(model, image: np.ndarray, tile: int, margin: int, multiple: int, batch_size: int) -> np.ndarray:
    """The same windows as deepwise's tiling, predicted by the bare model (image in memory, sides multiples of
    ``multiple``)."""
    from deepwise.kinds.segmentation.tiling import tile_windows

    h, w = image.shape[:2]
    out = np.empty((h, w), dtype=np.uint8)
    windows = list(tile_windows(h, w, tile, margin))
    batch = np.empty((batch_size, tile, tile, image.shape[-1]), dtype=np.float32)
    for first in range(0, len(windows), batch_size):
        group = windows[first : first + batch_size]
        for b, ((y0, x0), _) in enumerate(group):
            batch[b] = image[y0 : y0 + tile, x0 : x0 + tile]
        probs = np.asarray(model.predict_on_batch(batch))
        for b, ((y0, x0), (ky0, ky1, kx0, kx1)) in enumerate(group):
            out[ky0:ky1, kx0:kx1] = probs[b, ky0 - y0 : ky1 - y0, kx0 - x0 : kx1 - x0].argmax(-1)
    return out


def child(run_path: str, image_path: str, out: str, repeats: int) -> None:
    """Runs in its own process: load the run, predict, print one JSON line of times and peak RSS."""
    import deepwise
    from deepwise.kinds.segmentation.read import open_image_lazily
    from deepwise.kinds.segmentation.tiling import DEFAULT_BATCH, padded_size
    from deepwise.kinds.segmentation.unet import receptive_radius

    run = deepwise.load_run(run_path)
    predictor, prep, model = run.predictor, run.preprocessor, run.model
    image = open_image_lazily(image_path)
    pixels = image.shape[0] * image.shape[1]
    tile, margin = prep.tile, padded_size(receptive_radius(prep.depth), prep.multiple)  # as predict_tiled
    found: dict = {"side": image.shape[0], "tile": tile, "margin": margin, "rss_loaded": peak_rss()}
    model.predict_on_batch(np.zeros((DEFAULT_BATCH, tile, tile, prep.channels), dtype=np.float32))  # compile
    found["rss_compiled"] = peak_rss()
    times: dict[str, list[float]] = {"deepwise_mask": [], "deepwise_predict": [], "bare": []}
    in_memory = np.asarray(image)[..., None] if np.asarray(image).ndim == 2 else np.asarray(image)
    for _ in range(repeats):
        start = time.perf_counter()
        mask = predictor.mask(predictor._checked(image, image_path))
        times["deepwise_mask"].append(time.perf_counter() - start)
        found["rss_after_mask"] = peak_rss()
        start = time.perf_counter()
        predictor.predict_to_csv(image_path, Path(out), chunked=None, guard=True)
        times["deepwise_predict"].append(time.perf_counter() - start)
        found["rss_after_predict"] = peak_rss()
        start = time.perf_counter()
        bare = bare_tiles(model, in_memory, tile, margin, prep.multiple, DEFAULT_BATCH)
        times["bare"].append(time.perf_counter() - start)
        found["rss_after_bare"] = peak_rss()
    found["same_labels"] = bool(np.array_equal(mask, bare))
    found["seconds"] = {k: min(v) for k, v in times.items()}
    found["megapixels_per_s"] = {k: pixels / 1e6 / s for k, s in found["seconds"].items()}
    print(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096, help="the image is SIDE x SIDE pixels (a multiple of 8)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1,024 x 1,024, one repeat")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child[:3], int(args.child[3]))
        return
    if args.quick:
        args.side, args.repeats = 1024, 1
    if args.side % 8:
        parser.error("--side must be a multiple of 8 (the U-Net's downsampling)")
    import tifffile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        run_path = train_run(tmp)
        train_s = time.perf_counter() - start
        image = np.random.default_rng(0).integers(0, 256, (args.side, args.side), dtype=np.uint8)
        image_path = tmp / "large.tif"
        tifffile.imwrite(image_path, image)  # uncompressed: read as a memory map
        del image
        command = [sys.executable, __file__, "--child", str(run_path), str(image_path), str(tmp / "out"),
                   str(args.repeats)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"the child process failed:\n{done.stderr[-4000:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
    mp = args.side * args.side / 1e6
    seconds, speed = found["seconds"], found["megapixels_per_s"]
    peak = found["rss_after_predict"]
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; the run trained in "
          f"{train_s:.0f} s")  # fmt: skip
    print(f"image {args.side:,} x {args.side:,} ({mp:.1f} megapixels), tiles {found['tile']} px, margin "
          f"{found['margin']} px; tiled labels equal the bare model's: {found['same_labels']}")  # fmt: skip
    print()
    print("| what | seconds | megapixels/s | x the bare model's time | peak RSS after |")
    print("|---|---|---|---|---|")
    rss = {"deepwise_mask": "rss_after_mask", "deepwise_predict": "rss_after_predict", "bare": "rss_after_bare"}
    labels = {
        "deepwise_mask": "deepwise `SegmentationPredictor.mask` (memory-mapped TIFF)",
        "deepwise_predict": "deepwise predict (+ guard, mask PNG, CSV)",
        "bare": "bare Keras, same tiles (image in memory)",
    }
    for key, label in labels.items():
        print(f"| {label} | {seconds[key]:.2f} | {speed[key]:.2f} | {seconds[key] / seconds['bare']:.2f}x | "
              f"{found[rss[key]] / GIB:.2f} GB |")  # fmt: skip
    print()
    verdict = "under" if peak < 2 * GIB else "OVER"
    print(f"peak RSS of the predicting process: {found['rss_loaded'] / GIB:.2f} GB with the run loaded, "
          f"{found['rss_compiled'] / GIB:.2f} GB after compiling a batch of tiles, {peak / GIB:.2f} GB after "
          f"deepwise predict ({verdict} 2 GB); deepwise mask {speed['deepwise_mask']:.2f} MP/s = "
          f"{seconds['deepwise_mask'] / seconds['bare']:.2f}x the bare model's time")  # fmt: skip
    if not found["same_labels"]:
        sys.exit("the tiled labels differ from the bare model's on the same tiles")


if __name__ == "__main__":
    main()
