"""Translation through deepwise's standard flow: quality on Babel's dates, training throughput next to the bare
Keras model, and the time to decode 1,000 sentences.

Usage (on a 2-core machine shared with others, say so when quoting):
    nice -n 10 .venv/bin/python bench/translation_speed.py [--pairs 5000] [--epochs 4]      # speed (quick: --pairs 500)
    nice -n 10 .venv/bin/python bench/translation_speed.py --quality [--target fr] [--numbers 0] [--seed 0]

``--quality`` runs ``deepwise.train`` with the translation defaults (what ``deepwise train dates.csv --target fr
--task translation`` does) and prints the headline numbers: chrF, BLEU and exact match of the network and of both
baselines, the verdict, epochs, invented-content flag precision and recall (on the test outputs and on planted
inventions), the guard's test rate, and the decoding time of the test split.

By default it trains the same network on the same pairs twice for ``--epochs`` epochs: through deepwise (its fit, with
the whole-batch padding, the probe, the recorder and early stopping's bookkeeping) and as a bare ``model.compile`` +
``model.fit`` with Keras defaults and sample weights; target tokens per second are measured on the epochs after the
first (which compiles), validation pass included in both. Then it decodes 1,000 sentences with the saved run, greedy
and beam 4, each twice (the first call compiles).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import deepwise
from deepwise.backend import keras_module
from deepwise.kinds import register
from deepwise.kinds.translation import TranslationKind

ROOT = Path(__file__).resolve().parents[1]


def write_dates(folder: Path, pairs: int, seed: int, target: str, numbers: float) -> Path:
    spec = importlib.util.spec_from_file_location("make_dates", ROOT / "examples" / "translation" / "make_dates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = folder / f"dates-{target}-{seed}.csv"
    args = ["-o", str(path), "--pairs", str(pairs), "--seed", str(seed), "--target", target, "--numbers", str(numbers)]
    module.main(args)
    return path


def quality(args, folder: Path) -> dict:
    path = write_dates(folder, args.pairs, args.seed, args.target, args.numbers)
    started, load = time.perf_counter(), os.getloadavg()
    run = deepwise.train(path, target=args.target, runs_dir=folder / "runs", verbose=False,
                         overrides={"problem.task": "translation", "seed": args.seed})  # fmt: skip
    seconds = time.perf_counter() - started
    m = run.metrics
    extra = m["translation"]
    keep = ("chrf", "bleu", "exact_match")
    return {
        "data": {"pairs": args.pairs, "target": args.target, "numbers": args.numbers, "seed": args.seed},
        "load_average": [load, os.getloadavg()],
        "train_seconds": round(seconds, 1),
        "epochs": m["epochs_trained"],
        "best_epoch": m["best_epoch"],
        "test": {k: m["test"][k] for k in keep},
        "baselines": {name: {k: v[k] for k in keep} for name, v in m["baselines"].items()},
        "verdict": m["verdict"]["message"],
        "tokens_per_s": extra["training_speed"]["tokens_per_s"],
        "decode": extra["decode"],
        "invented": {k: extra["invented"][k] for k in ("rate", "guessed_rate", "vs_references", "planted")},
        "invented_examples": extra["invented"]["examples"][:3],
        "guard_test_rate": m["guard"]["test_flag_rate"],
        "worst": extra["worst"][:3],
        "run": str(run.path),
    }


def bare_keras(data, epochs: int) -> float:
    """Target tokens/s of plain compile + fit (Keras defaults, sample weights for padding), epochs after the first."""
    keras = keras_module()
    model = data.build_network()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    train, val = data.arrays["train"], data.arrays["validation"]
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    def inputs(a):
        return {"source": a["source"], "decoder_input": a["decoder_input"]}

    model.fit(inputs(train), train["decoder_target"], sample_weight=train["weights"], batch_size=64, epochs=epochs,
              validation_data=(inputs(val), val["decoder_target"], val["weights"]), verbose=0, callbacks=[Clock()])
    steady = times[1:] or times
    return float(train["weights"].sum()) / float(np.median(steady))


def speed(args, folder: Path) -> dict:
    path = write_dates(folder, args.pairs, 0, "fr", 0.0)
    config = {"problem": {"target": "fr", "task": "translation"}, "data": {"path": str(path)},
              "training": {"epochs": args.epochs, "early_stopping": {"enabled": False}, "report": False}}
    result: dict = {"load_average_before": os.getloadavg(), "pairs": args.pairs, "epochs": args.epochs}
    run = deepwise.train(config, runs_dir=folder / "runs", verbose=False)
    seconds = run.history["seconds"].to_numpy()
    tokens = run.metrics["translation"]["training_speed"]["target_tokens_per_epoch"]
    result["deepwise_tokens_per_s"] = tokens / float(np.median(seconds[1:] if len(seconds) > 1 else seconds))
    result["deepwise_first_epoch_s"] = float(seconds[0])
    from deepwise.train import prepare

    result["bare_keras_tokens_per_s"] = bare_keras(prepare(run.config), args.epochs)
    predictor = run.predictor
    known = predictor.prep.guard_sources
    sources = (known * (1000 // len(known) + 1))[:1000]  # 1,000 sentences, repeated when the data has fewer
    for name, decoding, beam in (("greedy", "greedy", 1), ("beam4", "beam", 4)):
        predictor.prep.decoding, predictor.prep.beam = decoding, beam
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            predictor.translate(sources)
            timings.append(round(time.perf_counter() - started, 2))
        result[f"decode_{len(sources)}_{name}_s"] = {"first_call_with_compile": timings[0], "compiled": timings[1]}
    result["load_average_after"] = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", action="store_true", help="train with the defaults and print the metrics "
                        "(default: tokens/s next to bare Keras, and decoding 1,000 sentences)")  # fmt: skip
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4, help="--speed: epochs of each training")
    parser.add_argument("--target", default="fr")
    parser.add_argument("--numbers", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    register(TranslationKind())
    with tempfile.TemporaryDirectory() as tmp:
        out = quality(args, Path(tmp)) if args.quality else speed(args, Path(tmp))
        print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
