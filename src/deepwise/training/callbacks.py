"""The Keras callbacks of a run: early stopping whose state survives an interruption, and the recorder that keeps
the history, shows progress and writes checkpoints for ``--resume``.

Example:
    >>> early_stopping_cls, recorder_cls = callback_classes()
    >>> stopper = early_stopping_cls(monitor="val_loss", patience=20, restore_best_weights=True)
"""

from __future__ import annotations

import functools
import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.training.checkpoint import save_checkpoint


def live_progress_possible(console: Any) -> bool:
    """A live progress bar needs a terminal, or in Jupyter the ipywidgets package (rich draws it in a widget)."""
    return not getattr(console, "is_jupyter", False) or importlib.util.find_spec("ipywidgets") is not None


#: without a live bar (Jupyter without ipywidgets), a line of progress every this many epochs (and the last)
PLAIN_PROGRESS_LINES = 10


# One piece: both Keras callback classes are defined here, once Keras is imported (importing deepwise must not
# import Keras); early stopping's state and the recorder's checkpoints are read and written together.
@functools.cache
def callback_classes():
    """``(ResumableEarlyStopping, RunRecorder)``: Keras callback classes, defined once Keras is imported (so that
    importing deepwise does not import Keras)."""
    keras = keras_module()

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """Keras' EarlyStopping whose state can be carried across an interruption."""

        def __init__(self, resume_state: dict[str, Any] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.resume_state = resume_state
            # Keras sets these in on_train_begin only; a resume with nothing left to fit reads them all the same
            self.best, self.best_epoch = None, 0
            self._apply_resume_state()

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self._apply_resume_state()

        def _apply_resume_state(self) -> None:
            if self.resume_state:
                self.wait = self.resume_state["wait"]
                self.best = self.resume_state["best"]
                self.best_epoch = self.resume_state["best_epoch"]
                self.best_weights = self.resume_state.get("best_weights")

        def _is_improvement(self, monitor_value, reference_value) -> bool:
            # Keras compares through keras.ops.less / greater: under JAX a program compiled for two scalars
            # (0.02-0.04 s cold) and dispatched twice an epoch; NumPy compares them, in float32 as JAX does
            if reference_value is None:
                return True
            shifted = np.float32(float(monitor_value) - float(self.min_delta))  # min_delta is negative for "min"
            if self.monitor_op is keras.ops.greater:
                return bool(shifted > np.float32(reference_value))
            return bool(shifted < np.float32(reference_value))

        def state(self) -> dict[str, Any]:
            return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch}

        def carry_over(self, weights: list) -> None:
            """The next fit (fine-tuning) has to beat this fit's best epoch, whose weights are ``weights``."""
            self.resume_state = {**self.state(), "wait": 0, "best_weights": weights}

    class RunRecorder(keras.callbacks.Callback):
        """Records history rows, prints progress and writes checkpoints for ``--resume``."""

        def __init__(self, run_dir: Path, epochs: int, every_s: float, history: list[dict], console, stopper):
            super().__init__()
            self.run_dir = run_dir
            self.epochs = epochs
            self.every_s = every_s
            self.rows = history
            self.console = console
            self.stopper = stopper
            self.fine_tune_from: int | None = None  # the epoch after which fine-tuning started
            self.last_save = time.monotonic()
            self.epoch_start = 0.0
            self.progress = None
            self.task_id = None
            self.plain_every = 0  # > 0: no live bar (Jupyter without ipywidgets), a line every this many epochs

        def on_train_begin(self, logs=None):
            self.plain_every = 0
            if self.console is not None and not live_progress_possible(self.console):
                self.plain_every = max(1, self.epochs // PLAIN_PROGRESS_LINES)
                self.console.print(
                    "  (a line every few epochs; for a live progress bar in Jupyter: pip install 'deepwise[notebook]')",
                    markup=False,
                )
            elif self.console is not None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                self.progress = Progress(
                    TextColumn("[bold]epoch"),
                    MofNCompleteColumn(),
                    BarColumn(),
                    TimeElapsedColumn(),
                    TextColumn("{task.description}"),
                    console=self.console,
                    transient=False,
                )
                self.progress.start()
                self.task_id = self.progress.add_task("", total=self.epochs, completed=len(self.rows))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            row["seconds"] = round(time.perf_counter() - self.epoch_start, 4)
            self.rows.append(row)
            if self.progress is not None:
                shown = " ".join(
                    f"{k} {v:.4g}" for k, v in row.items() if k in ("loss", "val_loss") or k.startswith("val_")
                )
                self.progress.update(self.task_id, completed=epoch + 1, description=shown)
            elif self.plain_every and ((epoch + 1) % self.plain_every == 0 or epoch + 1 == self.epochs):
                shown = " ".join(f"{k} {v:.4g}" for k, v in row.items() if k in ("loss", "val_loss"))
                self.console.print(f"  epoch {epoch + 1}/{self.epochs} · {shown} · {row['seconds']:.2f} s")
            if self.every_s == 0 or time.monotonic() - self.last_save >= self.every_s:
                self.save(epoch + 1)

        def on_train_end(self, logs=None):
            self.close()

        def close(self):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

        def save(self, epochs_done: int, fit_done: bool = False) -> None:
            save_checkpoint(
                self.run_dir, self.model, epochs_done, self.rows, self.stopper, fit_done, self.fine_tune_from
            )
            self.last_save = time.monotonic()

    return ResumableEarlyStopping, RunRecorder
