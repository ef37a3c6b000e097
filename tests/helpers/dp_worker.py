"""One process of the data-parallel test: train the penguins MLP on this process's shard, write results.

Usage: python dp_worker.py OUT_DIR EPOCHS   (DEEPWISE_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID in the env)
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from deepwise import distributed

PENGUINS = Path(__file__).resolve().parents[2] / "examples" / "penguins" / "penguins.csv"


def main(out_dir: str, epochs: int) -> None:
    info = distributed.initialize()
    if info.num_processes > 1:
        distributed.data_parallel()
    from deepwise.config import config_from_dict
    from deepwise.evaluation import score
    from deepwise.kinds.feeding import model_input
    from deepwise.train import prepare
    from deepwise.training.model import build_model

    cfg = config_from_dict(
        {
            "problem": {"target": "species"},
            "data": {"path": str(PENGUINS)},
            "model": {"type": "mlp"},
            "training": {"epochs": epochs, "batch_size": 32},
        }
    )
    data = prepare(cfg)
    model = build_model(data)
    x, y = distributed.shard(model_input(data.x["train"]), data.y["train"])
    start = time.perf_counter()
    history = model.fit(
        x, y, batch_size=distributed.per_process_batch(32), epochs=epochs, shuffle=True, verbose=0
    ).history
    seconds = time.perf_counter() - start
    weights = [np.asarray(w) for w in model.get_weights()]
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
    local = distributed.local_copy(model, lambda: build_model(data))
    output = local.predict(model_input(data.x["test"]), verbose=0)
    test = score(data.task.name, data.y["test"], output, data.prep.classes_)
    out = Path(out_dir)
    # every process reports its weight digest (to check they agree); only the main process writes results
    (out / f"weights-{info.process_id}.sha256").write_text(digest)
    if distributed.is_main_process():
        result = {
            "accuracy": test["accuracy"],
            "processes": info.num_processes,
            "local_rows": int(len(y)),
            "train_rows": int(len(data.y["train"])),
            "final_loss": float(history["loss"][-1]),
            "fit_seconds": seconds,
        }
        (out / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
