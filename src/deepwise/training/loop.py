"""Step 6: train the network with early stopping, checkpoints and progress, optionally fine-tune a reused base, and
survive Ctrl-C or a crash (the run is marked interrupted or failed, and resumes from its last checkpoint).

Example:
    >>> fitted = fit_run(run_dir, data, manifest, timer, console, history=[], resume=None)
    >>> fitted.best_epoch, len(fitted.history)
    (41, 61)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.models.cnn import unfreeze_top
from deepwise.monitor import end_run, monitoring_callbacks
from deepwise.records import MANIFEST, STATUS_FAILED, STATUS_INTERRUPTED, Manifest, Timer, write_record
from deepwise.training.callbacks import callback_classes
from deepwise.training.model import build_model, compile_network, probe_step_time
from deepwise.training.resources import describe_estimate, gpu_estimate, on_cpu, training_flops


@dataclass
class Fitted:
    """A trained network and how it got there."""

    model: Any
    history: list[dict]
    stopper: Any  # the early-stopping callback (None when early stopping is off)
    fine_tune_from: int | None  # epochs of the first phase, when fine-tuning followed

    @property
    def best_epoch(self) -> int:
        return (self.stopper.best_epoch + 1) if self.stopper is not None else len(self.history)


@dataclass
class Restored:
    """Where a resumed run continues: after which epoch, with which early-stopping state."""

    initial_epoch: int = 0
    early_stopping: dict | None = None
    fit_done: bool = False  # training had finished; writing the run had not
    fine_tune_from: int | None = None


def restore(model, data, resume: tuple[dict, dict] | None) -> Restored:
    """Put a checkpoint's weights, optimizer state and early-stopping state back into a freshly built model."""
    if resume is None:
        return Restored()
    meta, saved = resume
    state = Restored(initial_epoch=int(meta["epochs_done"]), fit_done=bool(meta.get("fit_done")))
    state.fine_tune_from = meta.get("fine_tune_from")
    if state.fine_tune_from is not None:  # stopped while fine-tuning: the same layers unfrozen, the same optimizer
        start_fine_tune(model, data)
    model.set_weights(saved["weights"])
    if not state.fit_done:
        model.optimizer.build(model.trainable_variables)
        for var, value in zip(model.optimizer.variables, saved["optimizer"], strict=True):
            var.assign(value)
    if "early_stopping" in meta:
        state.early_stopping = dict(meta["early_stopping"], best_weights=saved["best"] or None)
    return state


def fit_run(
    path: Path,
    data,
    manifest: Manifest,
    timer: Timer,
    out,
    history: list[dict],
    resume: tuple[dict, dict] | None,
    extra_callbacks: list | None = None,
) -> Fitted:
    """Build (or restore) the network and train it; the last checkpoint says ``fit_done`` when this returns."""
    cfg = data.config
    tcfg = cfg.training
    with timer("build"):
        model = build_model(data)
    state = restore(model, data, resume)
    if out:
        out.print(f"  Model: {data.describe_network(model)}")
    # the probe feeds the printed estimate (and builds a subclassed network, e.g. a VAE, that a resumed run whose
    # training had finished never calls): a quiet run of a built network skips it; fit compiles the same step
    if out or not model.built:
        with timer("probe"):
            compile_s, step_s = probe_step_time(model, *data.probe_batch(tcfg.batch_size), tcfg.batch_size)
    if out:
        steps_per_epoch = data.steps_per_epoch(tcfg.batch_size)
        epoch_s = step_s * steps_per_epoch * 1.15  # plus the validation pass
        remaining = tcfg.epochs - state.initial_epoch
        out.print(
            f"  Parameters: {model.count_params():,} · probe: {step_s * 1000:.1f} ms per step, "
            f"≈ {epoch_s:.2f} s per epoch of {steps_per_epoch} steps, at most ≈ {epoch_s * remaining:.0f} s for "
            f"{remaining} epochs (plus {compile_s:.1f} s compilation, done)."
        )
        if on_cpu():
            flops = training_flops(model, tcfg.batch_size)
            out.print(describe_estimate(gpu_estimate(flops, step_s * 1.15, steps_per_epoch, remaining)))
    early_stopping_cls, recorder_cls = callback_classes()
    stopper = None
    callbacks: list = []
    if tcfg.early_stopping.enabled:
        stopper = early_stopping_cls(
            resume_state=state.early_stopping,
            monitor=data.early_stopping_monitor[0],
            mode=data.early_stopping_monitor[1],
            patience=tcfg.early_stopping.patience,
            min_delta=tcfg.early_stopping.min_delta,
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    recorder = recorder_cls(path, tcfg.epochs, tcfg.checkpoint_every_s, history, out, stopper)
    recorder.set_model(model)  # fit sets it too; a resume with nothing left to fit saves through it all the same
    callbacks.append(recorder)
    callbacks.extend(monitoring_callbacks(path, cfg, tcfg.tensorboard, tcfg.mlflow))
    callbacks.extend(extra_callbacks or [])
    if not state.fit_done:
        data.start_baselines()  # on a second thread, where the kind's baselines need only the data
    try:
        with timer("fit"):
            _fit_phases(model, data, callbacks, history, out, recorder, state)
    except KeyboardInterrupt:
        recorder.close()
        try:
            recorder.save(len(history))
        except (RuntimeError, TypeError, ValueError):
            # Ctrl-C landed inside a JAX step: its buffers were donated (RuntimeError), or Keras had detached the
            # variables' values for the loop and not put them back (a value of None: TypeError). The weights are
            # unreadable now; the checkpoint is written whole or not at all, so the last one on disk (written at
            # an epoch end) is what --resume continues from.
            pass
        mark(path, manifest, STATUS_INTERRUPTED, timer)
        end_run(path, "KILLED")  # the MLflow run (if any) would otherwise stay RUNNING
        raise
    except Exception:
        recorder.close()
        mark(path, manifest, STATUS_FAILED, timer)
        end_run(path, "FAILED")
        raise
    if not state.fit_done:
        recorder.save(len(history), fit_done=True)  # a crash while writing the run resumes here, without training
    tuned_from = recorder.fine_tune_from if recorder.fine_tune_from is not None else state.fine_tune_from
    return Fitted(model, history, stopper, tuned_from)


def _fit_phases(model, data, callbacks: list, history: list[dict], out, recorder, state: Restored) -> None:
    """The training phase (or what is left of it), then fine-tuning when the config asks for it."""
    cfg = data.config
    stopper = recorder.stopper
    if state.fit_done:
        if out:
            out.print("  Training had finished; writing the run (evaluation, baselines, model).")
    elif state.fine_tune_from is not None:
        recorder.fine_tune_from = state.fine_tune_from
        if out:
            out.print(f"  Continuing the fine-tuning phase (it started after epoch {state.fine_tune_from}).")
        data.fit(model, callbacks, state.fine_tune_from + cfg.model.fine_tune_epochs, state.initial_epoch)
    elif state.initial_epoch < cfg.training.epochs:
        data.fit(model, callbacks, cfg.training.epochs, state.initial_epoch)
    elif stopper is not None and stopper.resume_state and stopper.resume_state.get("best_weights"):
        model.set_weights(stopper.resume_state["best_weights"])
    wants_fine_tuning = cfg.model.fine_tune_layers and cfg.model.fine_tune_epochs
    if wants_fine_tuning and not state.fit_done and state.fine_tune_from is None:
        fine_tune(model, data, callbacks, history, out, recorder)


def start_fine_tune(model, data) -> int:
    """Unfreeze the top layers of the reused base and compile with the fine-tuning learning rate; returns how many."""
    cfg = data.config
    n = unfreeze_top(model, cfg.model.fine_tune_layers)
    if n:
        compile_network(model, data, cfg.model.fine_tune_learning_rate)
    return n


def fine_tune(model, data, callbacks: list, history: list[dict], out, recorder) -> None:
    """Second phase of transfer learning: unfreeze the top layers and train on at a lower learning rate."""
    cfg = data.config
    n = start_fine_tune(model, data)
    if n == 0:
        return
    if out:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        out.print(
            f"  Fine-tuning the top {n} layer(s) of the base at learning rate {cfg.model.fine_tune_learning_rate:g} "
            f"for up to {cfg.model.fine_tune_epochs} epoch(s): {trainable:,} trainable parameters now."
        )
    done = len(history)
    recorder.fine_tune_from = done  # checkpoints from here on say so: a resume unfreezes the same layers first
    if recorder.stopper is not None:
        # The best epoch of both phases is kept: fine-tuning that never beats the head's validation loss ends
        # with the head's weights, not with the least bad fine-tuning epoch.
        recorder.stopper.carry_over(model.get_weights())
    data.fit(model, callbacks, done + cfg.model.fine_tune_epochs, done)


def mark(path: Path, manifest: Manifest, status: str, timer: Timer) -> None:
    """Record a run that did not finish; best effort (the disk may be what failed)."""
    if manifest.status == "complete":
        return  # everything was written; what failed came after (printing the summary)
    manifest.status = status
    manifest.timings = timer.timings
    try:
        write_record(path / MANIFEST, manifest)
    except OSError:
        pass
