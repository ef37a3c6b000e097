"""The checkpoint of a run being trained: one atomic file with the weights, the optimizer's state, early stopping's
state and the history, so that ``--resume`` loses at most the epoch in progress.

Example:
    >>> save_checkpoint(run_dir, model, epochs_done=12, rows=history, stopper=None)
    >>> meta, saved = load_checkpoint(run_dir)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.errors import RunError
from deepwise.records import CHECKPOINTS, atomic_write_bytes, utc_now

CHECKPOINT_FILE = "state.npz"


def save_checkpoint(
    run_dir: Path, model, epochs_done: int, rows: list[dict], stopper, fit_done: bool = False, fine_tune_from=None
) -> None:
    """One atomic file with weights, optimizer state, early-stopping state and history."""
    arrays: dict[str, np.ndarray] = {}
    for i, w in enumerate(model.get_weights()):
        arrays[f"w{i}"] = np.asarray(w)
    for i, v in enumerate(model.optimizer.variables):
        arrays[f"opt{i}"] = np.asarray(v.numpy())
    meta: dict[str, Any] = {"epochs_done": epochs_done, "history": rows, "saved_at": utc_now(), "fit_done": fit_done}
    if fine_tune_from is not None:
        meta["fine_tune_from"] = fine_tune_from
    if stopper is not None:
        meta["early_stopping"] = stopper.state()
        for i, w in enumerate(stopper.best_weights or []):
            arrays[f"best{i}"] = np.asarray(w)
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(run_dir / CHECKPOINTS / CHECKPOINT_FILE, buffer.getvalue())


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    path = run_dir / CHECKPOINTS / CHECKPOINT_FILE
    if not path.is_file():
        raise RunError(
            f"The run '{run_dir}' has no checkpoint to resume from (it stopped before the first one was saved).",
            expected=f"{CHECKPOINTS}/{CHECKPOINT_FILE} in the run directory",
            fix="start a new run with `deepwise train` (nothing was learned worth keeping).",
        )
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))

        def group(prefix: str) -> list[np.ndarray]:
            keys = sorted(
                (k for k in z.files if k.startswith(prefix) and k[len(prefix) :].isdigit()),
                key=lambda k: int(k[len(prefix) :]),
            )
            return [z[k] for k in keys]

        return meta, {"weights": group("w"), "optimizer": group("opt"), "best": group("best")}
